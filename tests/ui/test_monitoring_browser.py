"""The Monitoring page in a real browser: headless Debian Chromium against one real `champion serve`.

The server stores what it captured every 0.2 s (`CHAMPION_CAPTURE_FLUSH_SECONDS`), so the test
waits for the page to show what the predictions it sent made: first the baseline, then the drift
of the one feature it shifted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from champion.models.software_specs import CATALOGUE
from tests.model_files import FEATURES, ModelFiles
from tests.servers import running_server
from tests.ui.conftest import Site, V, make_users


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles) -> Iterator[Site]:
    """This module's own server (it flushes captured predictions every 0.2 s): the space "research"
    (alice admin, bob viewer) with "churn-api" serving a classifier on x1, x2, x3."""
    root = tmp_path_factory.mktemp("ui-monitoring-browser")
    with (
        running_server(root, tls=False, CHAMPION_CAPTURE_FLUSH_SECONDS="0.2") as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        people = make_users(server, ("alice", "bob", "carol"))
        site = Site(server, http, people, "", "", "", {"original": model_files.classifier_named})
        site.space = site.api("POST", "/v2/spaces", json={"name": "research"}).json()["metadata"]["id"]
        members = [
            {"id": people["alice"].id, "type": "user", "role": "admin"},
            {"id": people["bob"].id, "type": "user", "role": "viewer"},
        ]
        assert site.api("POST", f"/v2/spaces/{site.space}/members", json={"members": members}).status_code == 200
        body = {"name": "churn", "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}}
        created = site.api("POST", "/ml/v4/models", params={**V, "space_id": site.space}, json=body)
        site.model = created.json()["metadata"]["id"]
        content = model_files.classifier_named.read_bytes()
        put = site.api("PUT", f"/ml/v4/models/{site.model}/content", params={"space_id": site.space}, content=content)
        assert put.status_code == 201, put.text
        new = {"name": "churn-api", "online": {}, "asset": {"id": site.model}, "space_id": site.space}
        site.deployment = site.api("POST", "/ml/v4/deployments", params=V, json=new).json()["metadata"]["id"]
        assert site.settle()["entity"]["status"]["state"] == "ready"
        yield site


def predict(site: Site, rows: np.ndarray) -> None:
    for start in range(0, len(rows), 150):
        values = rows[start : start + 150].round(4).tolist()
        body = {"input_data": [{"fields": FEATURES, "values": values}]}
        url = f"/ml/v4/deployments/{site.deployment}/predictions"
        response = site.api("POST", url, params=V, json=body)
        assert response.status_code == 200, response.text


def reload_until(page: Page, shown: Callable[[], Locator], timeout: float = 20) -> None:
    """Reload until `shown()` is on the page: the server flushes in the background, the page is a snapshot."""
    deadline = time.monotonic() + timeout
    while shown().count() == 0:
        assert time.monotonic() < deadline, f"never shown: {shown()}"
        time.sleep(0.3)
        page.reload()


def drift_row(page: Page, feature: str) -> Locator:
    return page.locator("table.drift tbody tr").filter(has=page.get_by_role("rowheader", name=feature, exact=True))


def test_the_drift_table_shows_the_shifted_feature_failing(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("alice")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if _bad(m) else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", lambda r: None if r.url.startswith(site.url) else problems.append(f"fetched {r.url}"))

    page.goto(f"{site.url}/ui/deployments/{site.deployment}")
    page.get_by_role("navigation", name="Deployment pages").get_by_role("link", name="Monitoring").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Monitoring: churn-api")
    expect(page.locator("#no-baseline")).to_contain_text("has captured 0 so far")
    expect(page.get_by_text("No actuals yet")).to_be_visible()

    rng = np.random.default_rng(7)
    predict(site, rng.normal(size=(600, 3)))  # like the training data: the baseline
    reload_until(page, lambda: page.locator("table.drift"))
    shifted = rng.normal(size=(600, 3))
    shifted[:, 1] += 1.5
    predict(site, shifted)
    reload_until(page, lambda: drift_row(page, "x2").locator(".badge.failing"))

    expect(drift_row(page, "x2").locator(".badge")).to_have_text("failing")
    for steady in ("x1", "x3"):
        expect(drift_row(page, steady).locator(".badge")).to_have_text("passing")
    expect(drift_row(page, "x2").get_by_role("cell").last).to_have_text("1,200")
    # Charts: inline SVG drawn by the server, named for assistive technology.
    for name in ("Requests", "Mean latency", "x2: baseline and this period"):
        chart = page.get_by_role("img", name=name, exact=True)
        expect(chart).to_be_visible()
        assert chart.evaluate("node => node.namespaceURI") == "http://www.w3.org/2000/svg"
    for name in ("Requests", "x2: baseline and this period"):
        bars = page.get_by_role("img", name=name, exact=True).locator("rect.bar")
        assert bars.evaluate_all("bars => bars.filter(b => b.getBBox().height > 0).length") > 0

    # Another feature's histogram, then another period and metric: the choices are kept in the URL.
    drift_row(page, "x1").get_by_role("link").click()
    expect(page.get_by_role("img", name="x1: baseline and this period", exact=True)).to_be_visible()
    page.get_by_label("Period", exact=True).select_option(label="Last 24 hours")
    page.get_by_label("Drift metric", exact=True).select_option("hellinger")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=24h**")
    expect(page.get_by_role("columnheader", name="Score (hellinger)")).to_be_visible()
    expect(drift_row(page, "x2").locator(".badge")).to_have_text("failing")
    expect(page.get_by_role("img", name="x1: baseline and this period", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="Challengers")).to_contain_text("No challengers yet.")

    page.get_by_role("link", name="Information").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("churn-api")
    assert problems == []


def test_a_viewer_opens_the_page(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("bob")
    response = page.goto(f"{site.url}/ui/deployments/{site.deployment}/monitoring")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Service health")).to_be_visible()
    expect(page.get_by_role("img", name="Requests", exact=True)).to_be_visible()


def _bad(message: ConsoleMessage) -> bool:
    return message.type in ("error", "warning")
