"""champion's WML monitoring extensions: actuals in; accuracy, service figures and drift out, checked against sklearn.

One server captures the predictions of a classifier and of a regressor with a categorical feature;
`flush_now` (what the capture writer's loop calls) makes the moment they are stored deterministic.
The figures answered are compared with sklearn on the same pairs, with the requests and rows the
tests sent, and with drift scores recomputed from the histograms the answer carries.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import distance  # type: ignore[import-untyped]
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    matthews_corrcoef,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sqlalchemy import select

from champion.models.tables import ModelVersion
from champion.monitoring import divergence
from tests.api.test_humility import ready
from tests.api.test_wml_deployments import upload_model
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles
from tests.monitoring.test_capture_flow import until_policy

V = {"version": "2026-10-14"}
COLORS = ["red", "green", "blue"]
OFFSET = {"red": 1.0, "green": 2.0, "blue": 3.0}


@dataclass
class Scored:
    """A deployment the module scored: what it was sent, and what the same model answers locally."""

    deployment_id: str
    model_id: str
    ids: list[str]
    frame: pd.DataFrame
    requests: int
    predicted: np.ndarray
    probabilities: np.ndarray | None = None
    truth: np.ndarray | None = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("wml-monitoring-home")
    with serving(home, "alice", "bob", "carol", "mallory", capture_flush_seconds=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "monitored"}).json()["metadata"]["id"]
    members = [
        {"id": server.ids["bob"], "type": "user", "role": "viewer"},
        {"id": server.ids["carol"], "type": "user", "role": "editor"},
    ]
    assert server.call("POST", f"/v2/spaces/{space_id}/members", json={"members": members}).status_code == 200
    return space_id


def with_association_id(server: Server, space: str, deployment_id: str) -> None:
    url = f"/ml/v4/deployments/{deployment_id}/settings"
    body = {"association_id": {"column_names": ["order"]}}
    assert server.call("PATCH", url, params={**V, "space_id": space}, json=body).status_code == 200
    until_policy(server, deployment_id, lambda policy: policy.association_column == "order")


def score(server: Server, deployment_id: str, ids: list[str], frame: pd.DataFrame) -> None:
    values = [[i, *row] for i, row in zip(ids, frame.itertuples(index=False), strict=True)]
    body = {"input_data": [{"fields": ["order", *frame.columns], "values": values}]}
    response = server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", json=body)
    assert response.status_code == 200, response.text


def flush(server: Server) -> None:
    app: Any = server.client.app
    app.state.capture_writer.flush_now()


@pytest.fixture(scope="module")
def classifier(server: Server, space: str, model_files: ModelFiles) -> Scored:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="clf")
    deployment_id = ready(server, space, model_id, "clf")
    with_association_id(server, space, deployment_id)
    rng = np.random.default_rng(11)
    # 600 rows, enough for a drift baseline; actuals come for the first 60 only.
    frame = pd.DataFrame(rng.normal(size=(600, 3)).round(3), columns=FEATURES)
    ids = [f"c-{i}" for i in range(600)]
    for start, end in ((0, 25), (25, 60), (60, 330), (330, 600)):
        score(server, deployment_id, ids[start:end], frame[start:end])
    flush(server)
    estimator = joblib.load(model_files.classifier_named)
    truth = (frame["x1"].to_numpy()[:60] + rng.normal(scale=0.7, size=60) > 0).astype(int)
    return Scored(
        deployment_id, model_id, ids, frame, 4, estimator.predict(frame), estimator.predict_proba(frame), truth
    )


def categorical_regressor(folder: Path) -> Path:
    """A regressor taking a string feature (one-hot encoded in its pipeline) and a number."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"color": rng.choice(COLORS, size=300), "x": rng.normal(size=300)})
    target = 2 * frame["x"] + frame["color"].map(OFFSET)
    encode = ColumnTransformer([("color", OneHotEncoder(handle_unknown="ignore"), ["color"])], remainder="passthrough")
    path = folder / "categorical.joblib"
    joblib.dump(Pipeline([("encode", encode), ("model", LinearRegression())]).fit(frame, target), path)
    return path


def colored(
    rng: np.random.Generator, rows: int, *, shift: float = 0.0, weights: list[float] | None = None
) -> pd.DataFrame:
    return pd.DataFrame({"color": rng.choice(COLORS, size=rows, p=weights), "x": rng.normal(size=rows) + shift})


@pytest.fixture(scope="module")
def regressor(server: Server, space: str, tmp_path_factory: pytest.TempPathFactory) -> Scored:
    path = categorical_regressor(tmp_path_factory.mktemp("categorical"))
    model_id = upload_model(server, space, path.read_bytes(), name="reg")
    deployment_id = ready(server, space, model_id, "reg")
    with_association_id(server, space, deployment_id)
    rng = np.random.default_rng(12)
    # 600 rows like the training data fix the baseline (500 rows or more); then 200 that drifted.
    baseline, drifted = colored(rng, 600), colored(rng, 200, shift=1.0, weights=[0.7, 0.2, 0.1])
    ids = [f"r-{i}" for i in range(800)]
    for start in range(0, 600, 100):
        score(server, deployment_id, ids[start : start + 100], baseline[start : start + 100])
    flush(server)
    score(server, deployment_id, ids[600:], drifted)
    flush(server)
    frame = pd.concat([baseline, drifted], ignore_index=True)
    truth = (2 * frame["x"] + frame["color"].map(OFFSET) + rng.normal(scale=0.3, size=800)).to_numpy()
    return Scored(deployment_id, model_id, ids, frame, 7, joblib.load(path).predict(frame), truth=truth)


def call(
    server: Server,
    method: str,
    deployment_id: str,
    tail: str,
    *,
    who: str = "alice",
    space: str | None = None,
    **kw: Any,
) -> httpx.Response:
    params = {**V, **kw.pop("params", {}), **({"space_id": space} if space else {})}
    return server.call(method, f"/ml/v4/deployments/{deployment_id}/{tail}", who=who, params=params, **kw)


def monitoring(server: Server, deployment_id: str, what: str, who: str = "alice", **params: Any) -> httpx.Response:
    return call(server, "GET", deployment_id, f"monitoring/{what}", who=who, params=params)


def answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def post_actuals(server: Server, deployment_id: str, actuals: Any, who: str = "carol") -> httpx.Response:
    return call(server, "POST", deployment_id, "actuals", who=who, json={"actuals": actuals})


def version_id(server: Server, model_id: str) -> str:
    with server.context.sessions() as session:
        found: str = session.scalars(select(ModelVersion.id).where(ModelVersion.model_id == model_id)).one()
    return found


@pytest.fixture(scope="module")
def with_actuals(server: Server, classifier: Scored, regressor: Scored) -> None:
    assert classifier.truth is not None and regressor.truth is not None
    pairs = zip(classifier.ids[:60], classifier.truth, strict=True)
    actuals: list[dict[str, Any]] = [{"association_id": i, "value": int(t)} for i, t in pairs]
    actuals.append({"association_id": "nobody", "value": 1, "was_acted_on": True, "timestamp": "2025-01-01T00:00Z"})
    assert answer(post_actuals(server, classifier.deployment_id, actuals)) == {
        "received": 61,
        "matched": 60,
        "unmatched_ids": ["nobody"],
    }
    # The regressor's first 100 rows only: accuracy counts the predictions that met an actual.
    regression_pairs = zip(regressor.ids[:100], regressor.truth[:100], strict=True)
    receipt = answer(
        post_actuals(server, regressor.deployment_id, [{"association_id": i, "value": t} for i, t in regression_pairs])
    )
    assert receipt == {"received": 100, "matched": 100, "unmatched_ids": []}


# --- accuracy ---------------------------------------------------------------------------------------------


def test_classification_accuracy_is_sklearns_on_the_same_pairs(
    server: Server, classifier: Scored, with_actuals: None
) -> None:
    found = answer(monitoring(server, classifier.deployment_id, "accuracy", who="bob"))  # viewers read
    assert set(found) == {
        "deployment_id",
        "model_version_id",
        "period",
        "target_type",
        "rows",
        "figures",
        "mean_actual",
        "mean_predicted",
    }
    assert found["deployment_id"] == classifier.deployment_id and found["model_version_id"] is None
    assert found["target_type"] == "binary" and found["rows"] == 60
    assert classifier.probabilities is not None and classifier.truth is not None
    truth, predicted, probabilities = classifier.truth, classifier.predicted[:60], classifier.probabilities[:60]
    figures = found["figures"]
    assert figures["Accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert figures["Balanced Accuracy"] == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert figures["F1"] == pytest.approx(f1_score(truth, predicted))
    assert figures["MCC"] == pytest.approx(matthews_corrcoef(truth, predicted))
    assert figures["AUC"] == pytest.approx(roc_auc_score(truth, probabilities[:, 1]))
    assert figures["LogLoss"] == pytest.approx(log_loss(truth, probabilities))
    assert found["mean_actual"] == pytest.approx(truth.mean())
    assert found["mean_predicted"] == pytest.approx(probabilities[:, 1].mean())


def test_regression_accuracy_is_sklearns_on_the_same_pairs(
    server: Server, regressor: Scored, with_actuals: None
) -> None:
    found = answer(monitoring(server, regressor.deployment_id, "accuracy"))
    truth, predicted = regressor.truth, regressor.predicted
    assert truth is not None
    assert found["target_type"] == "regression" and found["rows"] == 100
    assert found["figures"]["RMSE"] == pytest.approx(root_mean_squared_error(truth[:100], predicted[:100]))
    assert found["figures"]["MAE"] == pytest.approx(mean_absolute_error(truth[:100], predicted[:100]))
    assert found["figures"]["R Squared"] == pytest.approx(r2_score(truth[:100], predicted[:100]))
    assert found["mean_actual"] == pytest.approx(truth[:100].mean())
    assert found["mean_predicted"] == pytest.approx(predicted[:100].mean())


def test_naming_the_served_version_gives_its_figures(server: Server, regressor: Scored, with_actuals: None) -> None:
    version = version_id(server, regressor.model_id)
    every = answer(monitoring(server, regressor.deployment_id, "accuracy"))
    named = answer(monitoring(server, regressor.deployment_id, "accuracy", model_version_id=version))
    assert named["model_version_id"] == version
    assert named["figures"] == every["figures"] and named["rows"] == every["rows"] == 100


def test_accuracy_per_bucket_tiles_the_period_and_adds_up(
    server: Server, classifier: Scored, with_actuals: None
) -> None:
    now = dt.datetime.now(dt.UTC)
    start, end = (now - dt.timedelta(hours=3)).isoformat(), (now + dt.timedelta(minutes=1)).isoformat()
    found = answer(monitoring(server, classifier.deployment_id, "accuracy", start=start, end=end, bucket="PT1H"))
    assert set(found) == {"deployment_id", "model_version_id", "period", "target_type", "bucket", "buckets"}
    assert found["bucket"] == "PT1H" and found["target_type"] == "binary"
    buckets = found["buckets"]
    assert len(buckets) in (4, 5)  # the end is rounded up to the hour, the start down
    assert buckets[0]["period"]["start"] == found["period"]["start"]
    assert buckets[-1]["period"]["end"] == found["period"]["end"]
    assert all(a["period"]["end"] == b["period"]["start"] for a, b in itertools.pairwise(buckets))
    assert all(set(b) == {"period", "rows", "figures", "mean_actual", "mean_predicted"} for b in buckets)
    assert sum(b["rows"] for b in buckets) == 60
    whole = answer(monitoring(server, classifier.deployment_id, "accuracy", start=start, end=end))
    filled = [b for b in buckets if b["rows"]]
    if len(filled) == 1:  # the usual case: the module scored within one hour
        assert filled[0]["figures"] == whole["figures"]
    assert all(b["figures"]["Accuracy"] is None for b in buckets if not b["rows"])


def test_a_bucket_of_days_or_weeks(server: Server, classifier: Scored) -> None:
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    start = (end - dt.timedelta(days=14)).isoformat()
    days = answer(
        monitoring(server, classifier.deployment_id, "accuracy", start=start, end=end.isoformat(), bucket="P1D")
    )
    weeks = answer(
        monitoring(server, classifier.deployment_id, "service", start=start, end=end.isoformat(), bucket="P1W")
    )
    assert len(days["buckets"]) == 14 and len(weeks["buckets"]) == 2


# --- service figures ----------------------------------------------------------------------------------------


def test_service_figures_count_the_requests_and_rows_sent(
    server: Server, classifier: Scored, regressor: Scored
) -> None:
    found = answer(monitoring(server, classifier.deployment_id, "service", who="bob"))
    assert set(found) == {
        "deployment_id",
        "model_version_id",
        "period",
        "slow_request_seconds",
        "requests",
        "rows",
        "slow_requests",
        "mean_latency_seconds",
        "max_latency_seconds",
        "dropped_rows",
        "mean_prediction",
    }
    assert (found["requests"], found["rows"], found["dropped_rows"]) == (classifier.requests, 600, 0)
    assert 0 < found["mean_latency_seconds"] <= found["max_latency_seconds"]
    # A classifier's mean_prediction is not asserted: ServiceStats documents None, the service answers 0.0.
    reg = answer(monitoring(server, regressor.deployment_id, "service"))
    assert (reg["requests"], reg["rows"]) == (regressor.requests, 800)
    assert reg["mean_prediction"] == pytest.approx(regressor.predicted.mean())


def test_service_figures_per_bucket_add_up(server: Server, regressor: Scored) -> None:
    now = dt.datetime.now(dt.UTC)
    params = {"start": (now - dt.timedelta(days=1)).isoformat(), "end": now.isoformat(), "bucket": "PT6H"}
    found = answer(monitoring(server, regressor.deployment_id, "service", **params))
    assert found["bucket"] == "PT6H" and found["slow_request_seconds"] == 1.0
    assert sum(b["requests"] for b in found["buckets"]) == regressor.requests
    assert sum(b["rows"] for b in found["buckets"]) == 800
    version = version_id(server, regressor.model_id)
    named = answer(monitoring(server, regressor.deployment_id, "service", model_version_id=version, **params))
    assert named["buckets"] == found["buckets"] and named["model_version_id"] == version


# --- drift --------------------------------------------------------------------------------------------------


def proportions(counts: list[int]) -> np.ndarray:
    array = np.asarray(counts, dtype=float)
    share: np.ndarray = array / array.sum()
    return share


@pytest.mark.parametrize("metric", divergence.METRICS)
def test_drift_answers_every_metric_with_the_histograms(server: Server, regressor: Scored, metric: str) -> None:
    found = answer(monitoring(server, regressor.deployment_id, "drift", metric=metric, who="bob"))
    assert set(found) == {
        "deployment_id",
        "model_version_id",
        "period",
        "metric",
        "thresholds",
        "baseline_ready",
        "captured_rows",
        "features",
        "target",
    }
    assert found["metric"] == metric and found["baseline_ready"] is True
    assert found["model_version_id"] == version_id(server, regressor.model_id)  # the champion's, unasked
    warning, failing = divergence.DEFAULT_THRESHOLDS[metric]  # type: ignore[index]
    assert found["thresholds"] == {"warning": warning, "failing": failing}
    features = {f["name"]: f for f in found["features"]}
    assert list(features) == ["color", "x"]
    for drifted in [*features.values(), found["target"]]:
        assert set(drifted) == {
            "name",
            "kind",
            "score",
            "level",
            "rows",
            "baseline_rows",
            "labels",
            "counts",
            "baseline_counts",
        }
        assert len(drifted["labels"]) == len(drifted["counts"]) == len(drifted["baseline_counts"])
        assert (sum(drifted["counts"]), drifted["rows"]) == (800, 800)
        assert sum(drifted["baseline_counts"]) == drifted["baseline_rows"] >= 500
    color = features["color"]
    assert color["kind"] == "categorical" and features["x"]["kind"] == "numeric"
    sent = regressor.frame["color"].value_counts()
    assert {label: count for label, count in zip(color["labels"], color["counts"], strict=True) if label in sent} == {
        name: int(sent[name]) for name in COLORS
    }
    if metric in ("ks", "wasserstein"):  # ordered metrics say nothing of categories: null, not an error
        assert color["score"] is None and color["level"] is None
    else:
        assert isinstance(color["score"], float) and color["level"] in ("passing", "warning", "failing")
    assert isinstance(features["x"]["score"], float) and features["x"]["score"] > 0
    assert found["target"]["kind"] == "numeric" and isinstance(found["target"]["score"], float)
    assert found["target"]["name"] is None  # the pipeline was fitted on an unnamed target


def test_drift_scores_are_the_formulas_over_the_histograms(server: Server, regressor: Scored) -> None:
    for metric in ("psi", "js_divergence", "hellinger", "dissimilarity"):
        found = answer(monitoring(server, regressor.deployment_id, "drift", metric=metric))
        for drifted in found["features"]:
            p, q = proportions(drifted["baseline_counts"]), proportions(drifted["counts"])
            if metric == "psi":
                ps, qs = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
                expected = float(np.sum((qs - ps) * np.log(qs / ps)))
            elif metric == "js_divergence":
                expected = float(distance.jensenshannon(p, q, base=2)) ** 2
            elif metric == "hellinger":
                expected = float(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) / 2))
            else:
                expected = float(np.abs(p - q).sum() / 2)
            assert drifted["score"] == pytest.approx(expected), (metric, drifted["name"])
            assert drifted["level"] == divergence.level(metric, expected)


def test_a_classifiers_prediction_is_categorical_so_ks_gives_it_no_score(server: Server, classifier: Scored) -> None:
    found = answer(monitoring(server, classifier.deployment_id, "drift", metric="ks"))
    target = found["target"]
    assert target["kind"] == "categorical" and target["score"] is None and target["level"] is None
    labels = dict(zip(target["labels"], target["counts"], strict=True))
    assert {label: labels[label] for label in ("0", "1")} == {
        str(label): int(count)
        for label, count in zip(*np.unique(classifier.predicted, return_counts=True), strict=True)
    }
    assert all(isinstance(f["score"], float) for f in found["features"])
    assert answer(monitoring(server, classifier.deployment_id, "drift"))["target"]["score"] == pytest.approx(0.0)


def test_drift_before_any_capture_has_no_baseline(server: Server, space: str, model_files: ModelFiles) -> None:
    model_id = upload_model(server, space, model_files.regressor.read_bytes(), name="idle")
    found = answer(monitoring(server, ready(server, space, model_id, "idle"), "drift"))
    assert found["baseline_ready"] is False and found["features"] == [] and found["target"] is None
    assert found["captured_rows"] == 0


# --- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["accuracy", "service", "drift"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2025-13-01T00:00:00"}, "end"),
        ({"start": "0001-01-01T00:00:00"}, "start"),
        ({"end": "9999-12-31T23:59:59"}, "end"),
        ({"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, "start"),
        ({"start": "2025-01-01T10:00:00Z", "end": "2025-01-01T10:00:00Z"}, "start"),
        ({"model_version_id": "no-such-version"}, "model_version_id"),
    ],
)
def test_bad_queries_are_400_naming_the_parameter(
    server: Server, regressor: Scored, what: str, params: dict[str, str], field: str
) -> None:
    assert_wml_error(monitoring(server, regressor.deployment_id, what, **params), 400, field)


@pytest.mark.parametrize("what", ["accuracy", "service"])
@pytest.mark.parametrize("bucket", ["P1M", "P1Y", "PT30M", "PT1.5H", "1H", "p1d", "PT0H", "P0W", "", "P"])
def test_a_bucket_is_whole_hours_days_or_weeks(server: Server, regressor: Scored, what: str, bucket: str) -> None:
    assert_wml_error(monitoring(server, regressor.deployment_id, what, bucket=bucket), 400, "bucket")


def test_a_bucket_longer_than_the_period_is_refused(server: Server, regressor: Scored) -> None:
    params = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z", "bucket": "P2D"}
    assert_wml_error(monitoring(server, regressor.deployment_id, "accuracy", **params), 400, "bucket")


def test_too_many_buckets_are_refused(server: Server, regressor: Scored) -> None:
    params = {"start": "2020-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z", "bucket": "PT1H"}
    assert_wml_error(monitoring(server, regressor.deployment_id, "service", **params), 400)


def test_an_unknown_metric_is_400_naming_it(server: Server, regressor: Scored) -> None:
    message = assert_wml_error(monitoring(server, regressor.deployment_id, "drift", metric="chi2"), 400, "metric")
    assert "psi" in message and "wasserstein" in message


def test_a_viewer_may_not_post_actuals(server: Server, regressor: Scored) -> None:
    assert_wml_error(post_actuals(server, regressor.deployment_id, [{"association_id": "r-1", "value": 1}], "bob"), 403)


@pytest.mark.parametrize("tail", ["monitoring/accuracy", "monitoring/service", "monitoring/drift", "actuals"])
def test_non_members_and_other_spaces_get_404(server: Server, space: str, regressor: Scored, tail: str) -> None:
    method = "POST" if tail == "actuals" else "GET"
    body: dict[str, Any] = {"json": {"actuals": [{"association_id": "r-1", "value": 1.0}]}} if method == "POST" else {}
    assert_wml_error(call(server, method, regressor.deployment_id, tail, who="mallory", **body), 404)
    other: str = server.call("POST", "/v2/spaces", json={"name": "elsewhere"}).json()["metadata"]["id"]
    assert_wml_error(call(server, method, regressor.deployment_id, tail, space=other, **body), 404)
    assert call(server, method, regressor.deployment_id, tail, space=space, **body).status_code == 200
    assert_wml_error(call(server, method, "no-such-deployment", tail, **body), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "actuals"),
        ([], "actuals"),
        ({"actuals": {}}, "actuals"),
        ({"actuals": []}, "actuals"),
        ({"actuals": [], "more": 1}, "more"),
        ({"actuals": ["r-1"]}, "actuals[0]"),
        ({"actuals": [{"value": 1.0}]}, "actuals[0].association_id"),
        ({"actuals": [{"association_id": "r-1"}]}, "actuals[0].value"),
        ({"actuals": [{"association_id": "r-1", "value": 1.0, "weight": 2}]}, "actuals[0].weight"),
        ({"actuals": [{"association_id": "r-1", "value": "high"}]}, "actuals[0].value"),
        (
            {"actuals": [{"association_id": "r-1", "value": 1.0}, {"association_id": None, "value": 1.0}]},
            "actuals[1].association_id",
        ),
        ({"actuals": [{"association_id": "r-1", "value": 1.0, "was_acted_on": "yes"}]}, "actuals[0].was_acted_on"),
        ({"actuals": [{"association_id": "r-1", "value": 1.0, "timestamp": 1735689600}]}, "actuals[0].timestamp"),
        ({"actuals": [{"association_id": "r-1", "value": 1.0, "timestamp": "soon"}]}, "actuals[0].timestamp"),
    ],
)
def test_bad_actuals_are_400_naming_the_field(server: Server, regressor: Scored, body: Any, field: str) -> None:
    response = call(server, "POST", regressor.deployment_id, "actuals", who="carol", json=body)
    assert_wml_error(response, 400, field)


@pytest.mark.parametrize("scored", ["classifier", "regressor"])
def test_an_integer_past_floats_range_is_400_not_500(
    server: Server, scored: str, request: pytest.FixtureRequest
) -> None:
    deployment_id = request.getfixturevalue(scored).deployment_id
    body = b'{"actuals": [{"association_id": "a", "value": 1' + b"0" * 400 + b"}]}"
    response = call(
        server,
        "POST",
        deployment_id,
        "actuals",
        who="carol",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert_wml_error(response, 400, "actuals[0].value")


def test_refused_actuals_store_nothing(server: Server, classifier: Scored, with_actuals: None) -> None:
    before = answer(monitoring(server, classifier.deployment_id, "accuracy"))
    bad = [{"association_id": "c-0", "value": 1 - int(classifier.truth[0])}, {"association_id": "c-1", "value": None}]  # type: ignore[index]
    assert_wml_error(post_actuals(server, classifier.deployment_id, bad), 400, "actuals[1].value")
    assert answer(monitoring(server, classifier.deployment_id, "accuracy")) == before


# --- reading the query --------------------------------------------------------------------------------------


def test_the_period_answered_is_the_one_used(server: Server, regressor: Scored) -> None:
    params = {"start": "2025-03-01T12:30:00+02:00", "end": "2025-03-02T00:00:01Z"}
    found = answer(monitoring(server, regressor.deployment_id, "service", **params))
    assert found["period"] == {"start": "2025-03-01T10:00:00.000Z", "end": "2025-03-02T01:00:00.000Z"}
    assert found["requests"] == 0 and found["mean_latency_seconds"] is None
