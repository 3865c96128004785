"""Challengers in a real browser: headless Debian Chromium against one real `champion serve`.

The server stores what it captured every 0.2 s (`CHAMPION_CAPTURE_FLUSH_SECONDS`). The champion
answers 200 rows carrying association ids, half of which get actuals; an editor adds two
challengers on the Monitoring page, replays the traffic through them, reads the figures, and
promotes one through the Replace asset dialog and its checks, after which the deployment serves it;
a viewer sees the same table without the actions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from champion.models.software_specs import CATALOGUE
from tests.model_files import FEATURES, ModelFiles, build_variants
from tests.replacement.test_replay import flipped, model_bytes
from tests.servers import running_server
from tests.ui.conftest import Site, V, make_users


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles) -> Iterator[Site]:
    """The space "research" (alice admin, dave editor, bob viewer): the model "churn" with revision 1
    (serving on "churn-api") and revision 2 (a retrain), and the model "contrarian" (labels every row
    the other way round). The champion has answered 200 captured rows, 100 of them with actuals."""
    root = tmp_path_factory.mktemp("ui-challengers-browser")
    retrained = build_variants(root / "variants")["retrained"]
    contrarian = root / "contrarian.joblib"
    contrarian.write_bytes(model_bytes(flipped()))
    with (
        running_server(root, tls=False, CHAMPION_CAPTURE_FLUSH_SECONDS="0.2") as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        people = make_users(server, ("alice", "dave", "bob"))
        files = {"original": model_files.classifier_named, "retrained": retrained, "contrarian": contrarian}
        site = Site(server, http, people, "", "", "", files)
        site.space = site.api("POST", "/v2/spaces", json={"name": "research"}).json()["metadata"]["id"]
        roles = {"alice": "admin", "dave": "editor", "bob": "viewer"}
        members = [{"id": people[name].id, "type": "user", "role": role} for name, role in roles.items()]
        assert site.api("POST", f"/v2/spaces/{site.space}/members", json={"members": members}).status_code == 200
        site.model = new_model(site, "churn", "original", "retrained")
        new_model(site, "contrarian", "contrarian")
        new = {"name": "churn-api", "online": {}, "asset": {"id": site.model, "rev": "1"}, "space_id": site.space}
        site.deployment = site.api("POST", "/ml/v4/deployments", params=V, json=new).json()["metadata"]["id"]
        assert site.settle()["entity"]["status"]["state"] == "ready"
        capture(site)
        yield site


def new_model(site: Site, name: str, *revisions: str) -> str:
    body = {"name": name, "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}}
    model_id: str = site.api("POST", "/ml/v4/models", params={**V, "space_id": site.space}, json=body).json()[
        "metadata"
    ]["id"]
    for revision in revisions:
        content = site.files[revision].read_bytes()
        put = site.api("PUT", f"/ml/v4/models/{model_id}/content", params={"space_id": site.space}, content=content)
        assert put.status_code == 201, put.text
    return model_id


def capture(site: Site) -> None:
    """200 predictions with association ids, stored by the server's capture; actuals for every other one."""
    base = f"/ml/v4/deployments/{site.deployment}"
    query = {**V, "space_id": site.space}
    patched = site.api("PATCH", f"{base}/settings", params=query, json={"association_id": {"column_names": ["id"]}})
    assert patched.status_code == 200, patched.text
    time.sleep(1)  # every process's follower compiles the association id column into its view (it polls every 100 ms)
    rows = np.random.default_rng(11).normal(size=(200, 3)).round(4)
    values = [[f"r{i}", *row] for i, row in enumerate(rows.tolist())]
    body = {"input_data": [{"fields": ["id", *FEATURES], "values": values}]}
    response = site.api("POST", f"{base}/predictions", params=V, json=body)
    assert response.status_code == 200, response.text
    actuals = [{"association_id": f"r{i}", "value": int(rows[i, 0] > 0)} for i in range(0, 200, 2)]
    assert site.api("POST", f"{base}/actuals", params=query, json={"actuals": actuals}).status_code in (200, 202)
    deadline = time.monotonic() + 20
    while site.api("GET", f"{base}/monitoring/drift", params=query).json()["captured_rows"] < 200:
        assert time.monotonic() < deadline, "the predictions were never stored"
        time.sleep(0.2)


def challenger_row(page: Page, name: str) -> Locator:
    section = page.get_by_role("region", name="Challengers")
    return section.get_by_role("row").filter(has=page.get_by_role("rowheader", name=re.compile(f"^{name} ")))


def percent(cell: Locator) -> float:
    return float(cell.inner_text().strip().rstrip("%"))


def add_challenger(page: Page, revision: str, name: str = "") -> None:
    page.get_by_role("button", name="Add challenger").click()
    dialog = page.get_by_role("dialog", name="Add challenger")
    dialog.get_by_label("Model revision").select_option(label=revision)
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Add challenger").click()
    page.wait_for_url("**/monitoring?challenger=*")


def test_add_replay_compare_and_promote_a_challenger(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("dave")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if _bad(m) else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", lambda r: None if r.url.startswith(site.url) else problems.append(f"fetched {r.url}"))

    page.goto(f"{site.url}/ui/deployments/{site.deployment}/monitoring")
    section = page.get_by_role("region", name="Challengers")
    expect(section).to_contain_text("No challengers yet.")

    # Two challengers: a revision of the serving model (named for it) and another model (named by hand).
    add_challenger(page, "churn — revision 2")
    expect(challenger_row(page, "churn revision 2")).to_contain_text("Not replayed yet")
    expect(challenger_row(page, "churn revision 2")).to_have_class("chosen")  # the one just added
    add_challenger(page, "contrarian — revision 1", "contrarian")
    expect(challenger_row(page, "contrarian")).to_contain_text("Not replayed yet")
    page.get_by_role("button", name="Add challenger").click()
    dialog = page.get_by_role("dialog", name="Add challenger")
    expect(dialog.get_by_role("option", name="churn — revision 1 (the champion)")).to_have_count(1)
    expect(dialog.get_by_role("option", name="churn — revision 2 (a challenger already)")).to_have_count(1)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)

    # Replay now: shown running (unless it already ended: a warm trial process replays 200 rows in
    # milliseconds), and the page shows the figures by itself once the replay has ended.
    page.get_by_role("button", name="Replay now").click()
    page.wait_for_url("**/monitoring?replay=*")
    status = page.locator("#replay-status")
    expect(status).to_contain_text(re.compile("Replaying|Replay finished"))
    expect(status).to_contain_text("Replay finished: replayed 200 captured rows through 2 challengers", timeout=60_000)
    retrained, contrarian = challenger_row(page, "churn revision 2"), challenger_row(page, "contrarian")
    for row in (retrained, contrarian):
        cells = row.get_by_role("cell")
        expect(cells.nth(0)).to_have_text("200")  # rows replayed
        expect(cells.nth(1)).to_have_text("0")  # failed rows
        expect(cells.nth(5)).to_contain_text("100 rows")  # the accuracy is over the replayed rows with actuals
        expect(cells.nth(4)).to_have_text(re.compile(r"^\d[\d.e+-]* ms$"))  # time per row
    assert percent(retrained.get_by_role("cell").nth(2)) > 80  # agreement with the champion
    assert percent(contrarian.get_by_role("cell").nth(2)) < 20
    champion_accuracy = float(retrained.get_by_role("cell").nth(6).inner_text())
    assert float(contrarian.get_by_role("cell").nth(5).inner_text().split()[0]) < champion_accuracy
    expect(section.locator("#last-replay")).to_contain_text("Figures of the replay of 200 captured rows")

    # Replace with this challenger: the Replace asset dialog on its model and revision, then the usual checks.
    retrained.get_by_role("button", name="Replace with this challenger").click()
    replace = page.get_by_role("dialog", name="Replace asset")
    expect(replace.get_by_label("Asset")).to_have_value(f"{site.model}:2")
    expect(replace.get_by_role("button", name="Replace", exact=True)).to_be_disabled()
    replace.get_by_label("Reason").select_option("ACCURACY")
    replace.get_by_role("button", name="Validate").click()
    checks = replace.get_by_role("list").get_by_role("listitem")
    expect(checks.filter(has_text="targetType")).to_contain_text("passing")
    expect(checks.filter(has_text="permission")).to_contain_text("passing")
    replace.get_by_role("button", name="Replace", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("churn-api")
    notification = page.get_by_role("status").filter(has_text="updated and is ready")
    expect(notification).to_contain_text("churn revision 2", timeout=30_000)
    assert site.settle()["entity"]["asset"] == {"id": site.model, "rev": "2"}
    assert site.served_by() == f"{site.model}:2"
    history = site.api("GET", f"/ml/v4/deployments/{site.deployment}/replacements").json()["resources"]
    assert (history[0]["entity"]["reason"], history[0]["entity"]["outcome"]) == ("ACCURACY", "succeeded")

    # Back on the Monitoring page, the promoted challenger is marked as the champion now.
    page.get_by_role("navigation", name="Deployment pages").get_by_role("link", name="Monitoring").click()
    promoted = challenger_row(page, "churn revision 2")
    expect(promoted).to_contain_text("the champion now")
    expect(promoted.get_by_role("button", name="Replace with this challenger")).to_have_count(0)
    # Its figures are still those of the last replay, against the champion of then: the page says so.
    expect(page.locator("#earlier-reference")).to_contain_text("churn — revision 1, the champion then")

    # Remove asks first.
    contrarian = challenger_row(page, "contrarian")
    contrarian.get_by_role("button", name="Remove").click()
    confirm = page.get_by_role("dialog", name="Remove contrarian?")
    confirm.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("region", name="Challengers").get_by_role("status")).to_have_text(
        "The challenger was removed."
    )
    expect(challenger_row(page, "contrarian")).to_have_count(0)
    assert problems == []

    # A viewer sees the same table, without the actions.
    viewer = page_for("bob")
    viewer.goto(f"{site.url}/ui/deployments/{site.deployment}/monitoring")
    section = viewer.get_by_role("region", name="Challengers")
    expect(challenger_row(viewer, "churn revision 2").get_by_role("cell").first).to_have_text("200")
    expect(section.get_by_role("rowheader", name=re.compile("^Champion"))).to_be_visible()
    for name in ("Add challenger", "Replay now", "Replace with this challenger", "Remove"):
        expect(section.get_by_role("button", name=name)).to_have_count(0)


def _bad(message: ConsoleMessage) -> bool:
    return message.type in ("error", "warning")
