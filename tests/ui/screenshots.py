"""Screenshots of the web UI for docs/ui/: `python -m tests.ui.screenshots [docs/ui]`.

Starts a real server with the browser tests' space, drives headless Debian Chromium to the three
views the docs show (Deployments tab, information sheet with the owner warning, Replace asset
with its checks) and saves them as PNG.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.model_files import build
from tests.ui.conftest import chromium_path, open_site, signed_in

SIZE = {"width": 1366, "height": 860}  # a laptop screen


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with open_site(root / "site", build(root / "models")) as site, sync_playwright() as playwright:
            # Some history to show: a replacement with the schema-mismatch warning, then the owner leaves.
            body = [{"op": "replace", "path": "/asset", "value": {"id": site.model, "rev": "2"}}]
            site.api("PATCH", f"/ml/v4/deployments/{site.deployment}", params={"reason": "ACCURACY"}, json=body)
            site.settle()
            owner = [{"op": "replace", "path": "/metadata/owner", "value": site.users["dave"].id}]
            site.api("PATCH", f"/ml/v4/deployments/{site.deployment}", json=owner)
            site.api("DELETE", f"/v2/spaces/{site.space}/members/{site.users['dave'].id}")

            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
            context = browser.new_context(viewport=SIZE, device_scale_factor=1)
            page = signed_in(context, site, "alice")
            page.goto(f"{site.url}/ui/spaces/{site.space}?tab=deployments")
            page.get_by_role("button", name="Actions for churn-api").click()
            page.screenshot(path=out / "deployments-tab.png")
            page.keyboard.press("Escape")

            page.goto(f"{site.url}/ui/deployments/{site.deployment}")
            page.get_by_role("alert").first.wait_for()
            page.screenshot(path=out / "information-sheet-owner-warning.png", full_page=True)

            page.get_by_role("button", name="Replace asset").click()
            dialog = page.get_by_role("dialog", name="Replace asset")
            dialog.get_by_label("Asset").select_option(label="churn — revision 3")
            dialog.get_by_role("button", name="Validate").click()
            dialog.get_by_role("note").wait_for()
            page.set_viewport_size({"width": SIZE["width"], "height": 1100})
            page.screenshot(path=out / "replace-asset-checks.png")
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/ui"))
