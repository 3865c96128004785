"""The web UI in a real browser: headless Debian Chromium against one real `champion serve` per module.

One test per flow. Each finds controls by their labels and roles, as a screen reader would,
and checks through the API that the change really happened.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Locator, Page, expect

from champion.models.software_specs import CATALOGUE
from tests.ui.conftest import ROW, Site, V


def open_deployments_tab(page: Page, site: Site) -> None:
    page.get_by_role("link", name="research").click()
    tab = page.get_by_role("tab", name="Deployments")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    # The tab's markup is there as soon as it is parsed, the menus' handlers only once ui.js (deferred) has
    # run: on a slow machine a click in between opened nothing.
    page.wait_for_load_state("domcontentloaded")


def name_of(site: Site) -> str:
    name: str = site.deployment_details()["metadata"]["name"]
    return name


def test_edit_configuration_from_the_action_menu(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("alice")
    open_deployments_tab(page, site)
    page.get_by_role("button", name=f"Actions for {name_of(site)}").click()
    page.get_by_role("menuitem", name="Edit configuration").click()
    dialog = page.get_by_role("dialog", name="Edit configuration")
    dialog.get_by_label("Name").fill("")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("#config-name-error")).to_contain_text("at least 1 character")
    dialog.get_by_label("Name").fill("churn-scoring")
    dialog.get_by_label("Description").fill("Scores churn risk")
    dialog.get_by_label("Tags").fill("prod, churn")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="churn-scoring")).to_be_visible()
    metadata = site.deployment_details()["metadata"]
    assert (metadata["name"], metadata["description"], metadata["tags"]) == (
        "churn-scoring",
        "Scores churn risk",
        ["prod", "churn"],
    )


def test_a_viewer_sees_everything_and_can_change_nothing(site: Site, page_for: Callable[[str], Page]) -> None:
    before = site.deployment_details()
    page = page_for("bob")
    open_deployments_tab(page, site)
    page.get_by_role("button", name=f"Actions for {name_of(site)}").click()
    for label in ("Edit configuration", "Replace asset", "Roll back", "Delete"):
        item = page.get_by_role("menuitem", name=label)
        expect(item).to_be_disabled()
        expect(item).to_have_accessible_description(re.compile("Needs the editor role"))
    page.keyboard.press("Escape")
    page.get_by_role("link", name=name_of(site)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name_of(site))
    for label in ("Edit name", "Edit description", "Edit tags", "Edit owner", "Replace asset", "Roll back"):
        expect(page.get_by_role("button", name=label)).to_be_disabled()
    # The forms are not there to use, but a hand-made request with the viewer's own session is refused too.
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(
        f"{site.url}/ui/deployments/{site.deployment}/details",
        form={"field": "name", "value": "viewer-was-here", "csrf_token": token or ""},
    )
    assert response.status == 403 and "a viewer cannot change a deployment" in response.text()
    page.get_by_role("link", name="research").click()
    page.get_by_role("tab", name="Members").click()
    expect(page.get_by_role("button", name="Add member")).to_have_count(0)
    after = site.deployment_details()
    assert after["metadata"] == before["metadata"] and after["entity"]["asset"] == before["entity"]["asset"]


def test_a_non_member_gets_not_found(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("carol")
    expect(page.get_by_role("link", name="research")).to_have_count(0)
    response = page.goto(f"{site.url}/ui/deployments/{site.deployment}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_signing_out_ends_the_session(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("alice")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto(f"{site.url}/ui/spaces")
    expect(page.get_by_label("API key")).to_be_visible()


def open_sheet(page: Page, site: Site) -> None:
    open_deployments_tab(page, site)
    name = name_of(site)
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def test_information_sheet_edits_one_detail_in_place(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("dave")
    open_sheet(page, site)
    page.get_by_role("button", name="Edit description").click()
    page.get_by_label("Description", exact=True).fill("Edited in place")
    page.get_by_role("button", name="Save description").click()
    expect(page.get_by_text("Edited in place").first).to_be_visible()
    page.get_by_role("button", name="Edit tags").click()
    page.get_by_label("Tags", exact=True).fill("prod, sheet")
    page.get_by_role("button", name="Save tags").click()
    # Each save re-renders the sheet: wait for it before the next edit, or the click may land on the old one.
    expect(page.get_by_text("sheet", exact=True).first).to_be_visible()
    page.get_by_role("button", name="Edit name").click()
    page.get_by_label("Name", exact=True).fill("churn-sheet")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("churn-sheet")
    metadata = site.deployment_details()["metadata"]
    assert (metadata["name"], metadata["description"], metadata["tags"]) == (
        "churn-sheet",
        "Edited in place",
        ["prod", "sheet"],
    )
    # An editor is no space admin: the owner stays theirs to look at, not to change.
    expect(page.get_by_role("button", name="Edit owner")).to_be_disabled()


def test_owner_warning_members_and_edit_owner(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("alice")
    open_sheet(page, site)
    owner = page.get_by_role("region", name="Deployment owner")
    owner.get_by_role("button", name="Edit owner").click()
    choices = owner.get_by_label("New owner").locator("option")
    expect(choices).to_have_text(["admin", "alice", "dave"])  # admins and editors only: bob is a viewer
    owner.get_by_label("New owner").select_option(label="dave")
    owner.get_by_role("button", name="Save owner").click()
    expect(owner).to_contain_text("dave")
    assert site.deployment_details()["metadata"]["owner"] == site.users["dave"].id
    expect(owner.get_by_role("alert")).to_have_count(0)

    # Dave leaves the space: the sheet warns until an admin assigns a new owner.
    page.get_by_role("link", name="research").click()
    page.get_by_role("tab", name="Members").click()
    page.get_by_role("button", name="Remove dave").click()
    expect(page.get_by_role("button", name="Remove dave")).to_have_count(0)
    members = site.api("GET", f"/v2/spaces/{site.space}/members").json()["resources"]
    assert site.users["dave"].id not in {m["id"] for m in members}
    assert site.deployment_details()["system"]["warnings"][0]["id"] == "owner_left"
    page.get_by_role("tab", name="Deployments").click()
    page.get_by_role("link", name=name_of(site)).click()
    owner = page.get_by_role("region", name="Deployment owner")
    expect(owner.get_by_role("alert")).to_contain_text("has left the space")

    owner.get_by_role("button", name="Edit owner").click()
    owner.get_by_label("New owner").select_option(label="alice")
    owner.get_by_role("button", name="Save owner").click()
    expect(page.get_by_role("region", name="Deployment owner").get_by_role("alert")).to_have_count(0)
    details = site.deployment_details()
    assert details["metadata"]["owner"] == site.users["alice"].id and "system" not in details

    # Dave comes back as an editor through the Members tab (the later flows need an editor).
    page.get_by_role("link", name="research").click()
    page.get_by_role("tab", name="Members").click()
    page.get_by_label("User name").fill("dave")
    page.get_by_label("Role", exact=True).select_option("editor")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("button", name="Remove dave")).to_be_visible()
    page.get_by_label("Role of dave", exact=True).select_option("viewer")
    page.get_by_role("button", name="Change role of dave").click()
    expect(page.get_by_label("Role of dave", exact=True)).to_have_value("viewer")
    page.get_by_label("Role of dave", exact=True).select_option("editor")
    page.get_by_role("button", name="Change role of dave").click()
    expect(page.get_by_label("Role of dave", exact=True)).to_have_value("editor")
    members = site.api("GET", f"/v2/spaces/{site.space}/members").json()["resources"]
    assert {m["id"]: m["role"] for m in members}[site.users["dave"].id] == "editor"


def open_replace_dialog(page: Page, site: Site) -> Locator:
    open_deployments_tab(page, site)
    page.get_by_role("button", name=f"Actions for {name_of(site)}").click()
    page.get_by_role("menuitem", name="Replace asset").click()
    return page.get_by_role("dialog", name="Replace asset")


def checks_of(dialog: Locator) -> dict[str, str]:
    items = dialog.get_by_role("list").get_by_role("listitem")
    expect(items.first).to_be_visible()
    found = {}
    for text in items.all_inner_texts():
        status, name, *_ = text.split()
        found[name] = status
    return found


def test_replace_asset_validates_then_swaps_with_a_live_status(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("dave")
    dialog = open_replace_dialog(page, site)
    replace = dialog.get_by_role("button", name="Replace", exact=True)
    expect(replace).to_be_disabled()
    expect(dialog.get_by_label("Reason")).to_have_value("OTHER")

    dialog.get_by_label("Asset").select_option(label="churn — revision 4")
    dialog.get_by_role("button", name="Validate").click()
    checks = checks_of(dialog)
    assert checks["targetType"] == "failing" and checks["permission"] == "passing"
    expect(dialog.get_by_role("button", name="Replace", exact=True)).to_be_disabled()

    dialog.get_by_label("Asset").select_option(label="churn — revision 3")
    dialog.get_by_label("Reason").select_option("ACCURACY")
    dialog.get_by_role("button", name="Validate").click()
    expect(dialog.get_by_role("note")).to_contain_text("The input schema of the asset being patched does not match")
    assert checks_of(dialog)["features"] == "warning"
    dialog.get_by_role("button", name="Replace", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(name_of(site))
    notification = page.get_by_role("status").filter(has_text="updated and is ready")
    expect(notification).to_contain_text("churn revision 3", timeout=30_000)
    details = site.deployment_details()
    assert details["entity"]["status"]["state"] == "ready"
    assert details["entity"]["asset"] == {"id": site.model, "rev": "3"}
    assert site.served_by() == f"{site.model}:3"
    # The sheet refreshed itself: the new asset and the history row, with no reload.
    expect(page.locator("#sheet-details")).to_contain_text("revision 3")
    expect(page.locator("#history")).to_contain_text("ACCURACY")


def test_a_failed_replacement_says_the_old_model_still_serves(site: Site, page_for: Callable[[str], Page]) -> None:
    before = site.served_by()
    page = page_for("dave")
    dialog = open_replace_dialog(page, site)
    # The drop zone's file input: the model (it fails warm-up) becomes a new revision first.
    dialog.get_by_label("Upload a model file").set_input_files(site.files["failing"])
    expect(dialog.locator("[data-upload-status]")).to_contain_text("as churn revision 5")
    expect(dialog.get_by_label("Asset")).to_have_value(f"{site.model}:5")
    dialog.get_by_role("button", name="Validate").click()
    expect(dialog.get_by_role("button", name="Replace", exact=True)).to_be_enabled()
    dialog.get_by_role("button", name="Replace", exact=True).click()
    notification = page.get_by_role("status").filter(has_text="failed")
    expect(notification).to_contain_text("The old model still serves", timeout=30_000)
    assert site.settle()["entity"]["asset"]["rev"] == before.split(":")[1]
    assert site.served_by() == before


def test_upload_a_new_model_by_drop_zone_and_serve_it(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("dave")
    dialog = open_replace_dialog(page, site)
    dialog.get_by_label("Upload as").select_option(label="a new model")
    sklearn = dict(CATALOGUE[0].packages)["scikit-learn"]
    wml_type = "scikit-learn_" + ".".join(sklearn.split(".")[:2])  # WML's name: the library and its version
    dialog.get_by_label("Model type (for a new model)").select_option(wml_type)
    dialog.get_by_label("Upload a model file").set_input_files(site.files["retrained"])
    expect(dialog.locator("[data-upload-status]")).to_contain_text("as retrained revision 1")
    expect(dialog.locator("progress")).to_have_attribute("value", "100")
    dialog.get_by_role("button", name="Validate").click()
    dialog.get_by_role("button", name="Replace", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="updated and is ready")).to_contain_text(
        "retrained revision 1", timeout=30_000
    )
    models = site.api("GET", "/ml/v4/models", params={**V, "space_id": site.space}).json()["resources"]
    new_model = next(m["metadata"]["id"] for m in models if m["metadata"]["name"] == "retrained")
    assert next(m for m in models if m["metadata"]["id"] == new_model)["entity"]["type"] == wml_type
    assert site.deployment_details()["entity"]["asset"]["id"] == new_model
    assert site.served_by() == f"{new_model}:1"


def test_history_and_roll_back(site: Site, page_for: Callable[[str], Page]) -> None:
    history = site.api("GET", f"/ml/v4/deployments/{site.deployment}/replacements").json()["resources"]
    previous = history[0]["entity"]["from"]
    page = page_for("alice")
    open_sheet(page, site)
    rows = page.get_by_role("region", name="Replacement history").get_by_role("row")
    expect(rows).to_have_count(len(history) + 1)
    expect(rows.nth(1)).to_contain_text("succeeded")
    expect(rows.nth(2)).to_contain_text("failed")
    page.get_by_role("button", name="Roll back").click()
    confirm = page.get_by_role("dialog", name=re.compile("^Roll back"))
    confirm.get_by_label("Reason").select_option("ERRORS")
    confirm.get_by_role("button", name="Roll back").click()
    expect(page.get_by_role("status").filter(has_text="updated and is ready")).to_contain_text(
        f"revision {previous['rev']}", timeout=30_000
    )
    details = site.deployment_details()
    assert details["entity"]["asset"] == {"id": previous["id"], "rev": previous["rev"]}
    assert site.served_by() == f"{previous['id']}:{previous['rev']}"
    newest = site.api("GET", f"/ml/v4/deployments/{site.deployment}/replacements").json()["resources"][0]["entity"]
    assert (newest["kind"], newest["reason"], newest["outcome"]) == ("rollback", "ERRORS", "succeeded")


def test_the_test_panel_predicts_and_names_the_model_version(site: Site, page_for: Callable[[str], Page]) -> None:
    page = page_for("bob")  # testing reads: a viewer may
    open_sheet(page, site)
    served = site.served_by()
    model_id, rev = served.split(":")
    panel = page.get_by_role("region", name="Test")
    # The form is built from the serving model's signature (after the replacements above, it may
    # take fewer features than the first model did).
    expect(panel.get_by_label("x1")).to_be_visible()
    for feature, value in zip(ROW["input_data"][0]["fields"], ROW["input_data"][0]["values"][0], strict=True):
        if panel.get_by_label(feature).count():
            panel.get_by_label(feature).fill(str(value))
    panel.get_by_role("button", name="Predict").click()
    answer = panel.get_by_role("table", name="Predictions")
    expect(answer).to_be_visible()
    expect(panel).to_contain_text(f"revision {rev}")
    expect(panel).to_contain_text(f"{model_id}:{rev}")
    api_answer = site.api("POST", f"/ml/v4/deployments/{site.deployment}/predictions", params=V, json=ROW).json()
    label = api_answer["predictions"][0]["values"][0][0]
    expect(answer.get_by_role("row").nth(1)).to_contain_text(str(label))
    # The JSON box takes a WML payload; a bad one is answered next to the panel, naming the field.
    panel.get_by_label("JSON input").fill('{"input_data": [{"fields": ["x1"], "values": [[1]]}]}')
    panel.get_by_role("button", name="Predict").click()
    expect(panel.get_by_role("alert")).to_contain_text("x2")


def test_import_an_export_archive_into_the_space(site: Site, page_for: Callable[[str], Page], tmp_path: Path) -> None:
    archive = tmp_path / "research.tar.gz"
    archive.write_bytes(site.api("GET", f"/v2/spaces/{site.space}/export").content)
    staging = site.api("POST", "/v2/spaces", json={"name": "staging"}).json()["metadata"]["id"]
    alice = [{"id": site.users["alice"].id, "type": "user", "role": "editor"}]
    assert site.api("POST", f"/v2/spaces/{staging}/members", json={"members": alice}).status_code == 200
    page = page_for("alice")
    page.get_by_role("link", name="staging").click()
    page.get_by_label("Export archive").set_input_files(archive)
    page.get_by_role("button", name="Import").click()
    result = page.get_by_role("table", name="Import result")
    expect(result).to_contain_text("churn")
    expect(result.get_by_role("row").filter(has_text="churn").first).to_contain_text("created")
    models = site.api("GET", "/ml/v4/models", params={**V, "space_id": staging}).json()["resources"]
    source = site.api("GET", "/ml/v4/models", params={**V, "space_id": site.space}).json()["resources"]
    assert {m["metadata"]["name"] for m in models} == {m["metadata"]["name"] for m in source}
    # Importing again: what is there already is reported unchanged, nothing is duplicated.
    page.get_by_label("Export archive").set_input_files(archive)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("table", name="Import result")).to_contain_text("unchanged")
    again = site.api("GET", "/ml/v4/models", params={**V, "space_id": staging}).json()["resources"]
    assert len(again) == len(models)


def test_delete_asks_first_and_a_viewer_cannot(site: Site, page_for: Callable[[str], Page]) -> None:
    body = {"name": "churn-doomed", "online": {}, "asset": {"id": site.model, "rev": "1"}, "space_id": site.space}
    created = site.api("POST", "/ml/v4/deployments", params=V, json=body)
    assert created.status_code == 202, created.text
    doomed = created.json()["metadata"]["id"]

    def details() -> httpx.Response:
        return site.api("GET", f"/ml/v4/deployments/{doomed}", params={"space_id": site.space})

    def exists() -> bool:
        status = details().status_code
        assert status in (200, 404), status
        return status == 200

    deadline = time.monotonic() + 30
    while details().json()["entity"]["status"]["state"] in ("initializing", "updating"):
        assert time.monotonic() < deadline, "the new deployment never settled"
        time.sleep(0.1)

    viewer = page_for("bob")
    open_deployments_tab(viewer, site)
    viewer.get_by_role("button", name="Actions for churn-doomed").click()
    item = viewer.get_by_role("menuitem", name="Delete")
    expect(item).to_be_disabled()
    expect(item).to_have_accessible_description(re.compile("Needs the editor role"))
    item.click(force=True)  # a greyed-out item opens nothing
    expect(viewer.get_by_role("dialog", name="Delete churn-doomed?")).to_have_count(0)
    assert exists()

    page = page_for("dave")
    open_deployments_tab(page, site)
    page.get_by_role("button", name="Actions for churn-doomed").click()
    page.get_by_role("menuitem", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete churn-doomed?")
    expect(confirm).to_contain_text("stops answering predictions")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    assert exists()  # cancelling changes nothing
    page.get_by_role("button", name="Actions for churn-doomed").click()
    page.get_by_role("menuitem", name="Delete").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("link", name="churn-doomed")).to_have_count(0)
    expect(page.get_by_role("link", name=name_of(site))).to_be_visible()
    assert not exists()
