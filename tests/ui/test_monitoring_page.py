"""The Monitoring page in-process: what it shows is the monitoring service's answer, laid out.

Predictions go through the WML face, the capture writer is flushed by hand (`flush_now`, what its
loop calls; its own interval is an hour here, so nothing flushes behind a test's back), and actuals
are submitted through the service. Each check compares the page with the service's own figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from sklearn.linear_model import LogisticRegression

from champion.monitoring import accuracy_metrics, drift
from champion.monitoring import service as monitoring
from champion.monitoring.types import ActualIn
from champion.ui.monitoring import WINDOWS, accuracy_names, figure
from champion.users.service import Actor
from tests.api.test_humility import ready
from tests.api.test_wml_deployments import upload_model
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles
from tests.monitoring.test_capture_flow import score, settings, until_policy
from tests.ui.conftest import sign_in

ODD = '<img src=x onerror="alert(1)">&co'
"""A name that is markup: it must reach the page as text, in the tables and inside the SVG."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("ui-monitoring"), "alice", "bob", "carol", capture_flush_seconds=3600) as s:
        yield s


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    """alice is admin, bob a viewer; carol is no member."""
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "watched"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space_id}/members", json=members).status_code == 200
    return space_id


def flush(server: Server) -> None:
    server.client.app.state.capture_writer.flush_now()


def alice(server: Server) -> Actor:
    return Actor(user_id=server.ids["alice"], name="alice", is_admin=False)


def page_of(server: Server, deployment_id: str, **query: str) -> str:
    response = server.client.get(f"/ui/deployments/{deployment_id}/monitoring", params=query)
    assert response.status_code == 200, response.text
    return response.text


def drift_row(html: str, feature: str) -> str:
    found = re.search(rf'<tr[^>]*data-feature="{re.escape(str(escape(feature)))}">(.*?)</tr>', html, re.S)
    assert found, html
    return found.group(1)


def send_drifting(server: Server, deployment_id: str, fields: list[str], *, seed: int, ids: bool = False) -> None:
    """600 rows like the training data (flushed alone: they make the baseline), then 600 with the
    second feature moved by 1.5 standard deviations."""
    rng = np.random.default_rng(seed)
    for batch, shift in ((0, 0.0), (1, 1.5)):
        rows = rng.normal(size=(600, len(fields)))
        rows[:, 1] += shift
        for start in range(0, 600, 150):
            chunk = rows[start : start + 150].round(4).tolist()
            names = fields
            if ids:
                chunk = [[f"r{batch}-{start + i}", *r] for i, r in enumerate(chunk)]
                names = ["order", *fields]
            assert score(server, deployment_id, names, chunk).status_code == 200
        flush(server)


@pytest.fixture(scope="module")
def watched(server: Server, space: str, model_files: ModelFiles) -> str:
    """A classifier with a drift baseline, a shifted x2, and actuals for some of its predictions."""
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="clf")
    deployment_id = ready(server, space, model, "watched")
    settings(server, space, deployment_id, {"association_id": {"column_names": ["order"]}})
    until_policy(server, deployment_id, lambda policy: policy.association_column == "order")
    send_drifting(server, deployment_id, FEATURES, seed=1, ids=True)
    truth = [ActualIn(association_id=f"r0-{i}", value=i % 2) for i in range(200)]
    with server.context.sessions() as session:
        monitoring.submit_actuals(session, alice(server), deployment_id=deployment_id, actuals=truth)
    return deployment_id


@pytest.fixture(scope="module")
def fresh(server: Server, space: str, model_files: ModelFiles) -> str:
    """A classifier with 40 captured rows: too few for a baseline, and no actuals."""
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="fresh")
    deployment_id = ready(server, space, model, "fresh")
    rows = np.random.default_rng(2).normal(size=(40, 3)).round(3).tolist()
    assert score(server, deployment_id, FEATURES, rows).status_code == 200
    flush(server)
    return deployment_id


@pytest.fixture(scope="module")
def odd(server: Server, space: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A deployment and a feature named with markup, with a baseline so the feature is in the drift table."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(200, 2)), columns=[ODD, "plain"])
    path = Path(tmp_path_factory.mktemp("odd")) / "odd.joblib"
    joblib.dump(LogisticRegression().fit(frame, (frame[ODD] > 0).astype(int)), path)
    model = upload_model(server, space, path.read_bytes(), name="odd")
    deployment_id = ready(server, space, model, ODD)
    send_drifting(server, deployment_id, [ODD, "plain"], seed=4)
    return deployment_id


def test_the_page_shows_service_accuracy_and_drift(server: Server, watched: str) -> None:
    sign_in(server, "alice")
    html = page_of(server, watched)
    with server.context.sessions() as session:
        end = monitoring.period(None, None).end
        span = monitoring.period(end - WINDOWS[1].length, end)
        service = monitoring.service_stats(session, alice(server), deployment_id=watched, span=span)
        accuracy = monitoring.accuracy(session, alice(server), deployment_id=watched, span=span)
        found = monitoring.drift_of(session, alice(server), deployment_id=watched, span=span)
    assert '<option value="7d" selected>Last 7 days</option>' in html  # the default period
    assert '<option value="psi" selected>psi</option>' in html  # the default metric
    # Service health: the service's totals, and two charts over 28 six-hour buckets.
    assert service.requests == 8 and f"<dd>{service.requests}</dd>" in html
    assert f"<dd>{service.rows:,}</dd>" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') >= 3
    assert 'aria-label="Requests"' in html and 'aria-label="Mean latency"' in html
    # Accuracy: the classifier's figures (Accuracy and the default tiles), as the service computed them.
    assert accuracy.rows == 200 and "No actuals yet" not in html
    for name in (accuracy_metrics.ACCURACY, *accuracy_metrics.DEFAULT_CLASSIFICATION):
        assert f"<dt>{name}</dt><dd>{escape(figure(accuracy.figures[name]))}</dd>" in html
        assert f'aria-label="{name}"' in html  # one chart per metric
    # Drift: the shifted feature fails, the others pass, with the service's scores and row counts.
    scores = {d.name: d for d in found.features}
    assert scores["x2"].level == "failing" and scores["x1"].level == "passing"
    x2 = drift_row(html, "x2")
    assert '<span class="badge failing">failing</span>' in x2
    assert figure(scores["x2"].score) in x2 and "1,200" in x2
    assert '<span class="badge passing">passing</span>' in drift_row(html, "x1")
    assert found.target is not None and ">Prediction</a>" in drift_row(html, drift.TARGET)  # no target name here
    # The histogram shown unasked is the feature that drifted most.
    assert 'class="chosen" data-feature="x2"' in html
    assert 'aria-label="x2: baseline and this period"' in html
    assert "No drift baseline yet" not in html
    # No challengers yet: the section says so (tests/ui/test_challengers_page.py shows them compared).
    section = html.split('<section class="card" id="challengers"')[1].split("</section>")[0]
    assert "No challengers yet." in section and "<table" not in section


def test_the_selectors_change_the_question(server: Server, watched: str) -> None:
    sign_in(server, "alice")
    day = page_of(server, watched, period="24h", metric="hellinger", feature="x1")
    assert '<option value="24h" selected>Last 24 hours</option>' in day
    assert '<option value="hellinger" selected>hellinger</option>' in day
    assert "Score (hellinger)" in day and 'aria-label="x1: baseline and this period"' in day
    assert '<input type="hidden" name="feature" value="x1">' in day  # kept when the period changes
    # Each row links to its histogram with the period and metric kept.
    assert (
        f'href="/ui/deployments/{watched}/monitoring?period=24h&amp;metric=hellinger&amp;feature=x3#histogram"' in day
    )
    prediction = page_of(server, watched, feature="")  # the empty name is the prediction's (drift.TARGET)
    assert 'aria-label="Prediction: baseline and this period"' in prediction
    ordered = page_of(server, watched, metric="ks")
    assert "ks gives no score for a categorical feature" in drift_row(ordered, drift.TARGET)
    gone = page_of(server, watched, feature="no-such-feature")  # an old link: the default choice
    assert 'class="chosen" data-feature="x2"' in gone


@pytest.mark.parametrize(
    ("query", "message"),
    [({"period": "1y"}, "unknown period"), ({"metric": "chi2"}, "unknown drift metric")],
)
def test_an_unknown_period_or_metric_is_a_400_page(
    server: Server, watched: str, query: dict[str, str], message: str
) -> None:
    sign_in(server, "alice")
    response = server.client.get(f"/ui/deployments/{watched}/monitoring", params=query)
    assert response.status_code == 400 and message in response.text
    assert "<h1>Bad request</h1>" in response.text or "Something went wrong" in response.text


def test_without_a_baseline_or_actuals_the_page_says_so(server: Server, fresh: str) -> None:
    sign_in(server, "alice")
    html = page_of(server, fresh)
    notice = html.split('id="no-baseline"')[1].split("</div>")[0]
    assert f"first {drift.BASELINE_ROWS} captured rows" in notice and "captured 40 so far" in notice
    assert '<table class="drift">' not in html
    assert "<strong>No actuals yet</strong>" in html
    assert "no association id column set" in html


def test_a_regressor_shows_the_regression_metrics(server: Server, space: str, model_files: ModelFiles) -> None:
    model = upload_model(server, space, model_files.regressor.read_bytes(), name="reg")
    deployment_id = ready(server, space, model, "regressor")
    settings(server, space, deployment_id, {"association_id": {"column_names": ["order"]}})
    until_policy(server, deployment_id, lambda policy: policy.association_column == "order")
    rows = np.random.default_rng(5).normal(size=(30, 3)).round(3)
    values: list[list[Any]] = [[f"g{i}", *r] for i, r in enumerate(rows.tolist())]
    assert score(server, deployment_id, ["order", *FEATURES], values).status_code == 200
    flush(server)
    truth = [ActualIn(association_id=f"g{i}", value=float(r[0] * 2 + 0.1)) for i, r in enumerate(rows)]
    with server.context.sessions() as session:
        monitoring.submit_actuals(session, alice(server), deployment_id=deployment_id, actuals=truth)
    sign_in(server, "alice")
    html = page_of(server, deployment_id)
    assert accuracy_names("regression") == tuple(accuracy_metrics.DEFAULT_REGRESSION)
    for name in accuracy_metrics.DEFAULT_REGRESSION:
        assert f"<dt>{name}</dt>" in html
    assert f"<dt>{accuracy_metrics.ACCURACY}</dt>" not in html
    assert "<dt>RMSE</dt><dd>0.1</dd>" in html  # every prediction is off by exactly 0.1


def test_markup_in_names_is_shown_as_text(server: Server, odd: str) -> None:
    sign_in(server, "alice")
    html = page_of(server, odd, feature=ODD)
    assert ODD not in html and "<img" not in html
    shown = str(escape(ODD))
    assert f"Monitoring: {shown}</h1>" in html
    assert f">{shown}</a></th>" in drift_row(html, ODD)  # the drift table
    assert f'aria-label="{shown}: baseline and this period"' in html  # the histogram's SVG
    assert '<span class="badge failing">failing</span>' in drift_row(html, "plain")


def test_a_viewer_sees_it_and_a_non_member_gets_the_404_page(server: Server, watched: str) -> None:
    sign_in(server, "bob")
    viewer = page_of(server, watched)
    assert '<span class="badge failing">failing</span>' in drift_row(viewer, "x2")
    sign_in(server, "carol")
    response = server.client.get(f"/ui/deployments/{watched}/monitoring", params={"period": "1y"})
    assert response.status_code == 404 and "<h1>Not found</h1>" in response.text
    assert "x2" not in response.text and "unknown period" not in response.text
    server.client.cookies.clear()
    signed_out = server.client.get(f"/ui/deployments/{watched}/monitoring", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/?next=")


def test_the_information_sheet_links_to_the_page(server: Server, watched: str) -> None:
    sign_in(server, "bob")
    sheet = server.client.get(f"/ui/deployments/{watched}").text
    assert f'<a href="/ui/deployments/{watched}/monitoring" >Monitoring</a>' in sheet
    html = page_of(server, watched)
    assert f'<a href="/ui/deployments/{watched}/monitoring" aria-current="page">Monitoring</a>' in html
