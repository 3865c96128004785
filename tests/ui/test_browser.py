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
