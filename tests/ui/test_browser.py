"""The web UI in a real browser: headless Debian Chromium against one real `champion serve` per module.

One test per flow. Each finds controls by their labels and roles, as a screen reader would,
and checks through the API that the change really happened.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.ui.conftest import Site


def open_deployments_tab(page: Page, site: Site) -> None:
    page.get_by_role("link", name="research").click()
    tab = page.get_by_role("tab", name="Deployments")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")


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
    assert response.status == 400 and "a viewer cannot change a deployment" in response.text()
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
