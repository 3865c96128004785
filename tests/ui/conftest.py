"""Shared by the UI tests: a space with a ready deployment, and signing in through the form."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from champion.config import Settings
from champion.context import open_context
from champion.models.software_specs import CATALOGUE
from champion.users import service as users
from tests.api.test_wml_deployments import upload_model, wait_until_settled
from tests.api.test_wml_routes import Server
from tests.model_files import ModelFiles, build_failing, build_variants
from tests.servers import CreatedUser, RunningServer, running_server

V = {"version": "2026-10-14"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def live(server: Server, model_files: ModelFiles) -> dict[str, str]:
    """A space where alice is admin and bob a viewer (carol is no member), with one ready deployment."""
    space: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space}/members", json=members).status_code == 200
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="churn")
    body = {"name": "churn-api", "online": {}, "asset": {"id": model}, "space_id": space}
    deployment = server.call("POST", "/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
    assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
    return {"space": space, "model": model, "deployment": deployment}


def sign_in(server: Server, who: str, key: str | None = None) -> httpx.Response:
    """Sign in as `who` through the form (the client keeps the cookies); the answer to the POST."""
    server.client.cookies.clear()
    form = server.client.get("/")
    nonce = CSRF.search(form.text)
    assert nonce, form.text
    data = {"user_name": who, "api_key": key or server.keys[who], "csrf_token": nonce.group(1)}
    return server.client.post("/", data=data, follow_redirects=False)


def csrf_of(server: Server, path: str) -> str:
    found = CSRF.search(server.client.get(path).text)
    assert found
    return found.group(1)


# --- the browser tests: one real `champion serve` and one headless Chromium per module ---------

CHROMIUM = os.environ.get("CHAMPION_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("CHAMPION_REQUIRE_BROWSER") == "1"
expect.set_options(timeout=10_000)


def chromium_path() -> str:
    """Debian's chromium (never a downloaded browser); skip, or fail when CHAMPION_REQUIRE_BROWSER=1."""
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if found:
        return found
    message = f"no Chromium at {CHROMIUM} or on PATH (apt-get install chromium, or set CHAMPION_CHROMIUM)"
    if REQUIRE_BROWSER:
        pytest.fail(f"CHAMPION_REQUIRE_BROWSER=1 but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Site:
    """A running server with a space, its members and a ready deployment, driven through the API."""

    server: RunningServer
    http: httpx.Client
    users: dict[str, CreatedUser]
    space: str
    model: str
    deployment: str
    files: dict[str, Path]

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, method: str, path: str, who: str = "admin", **kwargs: Any) -> httpx.Response:
        key = self.server.admin_api_key if who == "admin" else self.users[who].api_key
        return self.http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)

    def deployment_details(self) -> dict[str, Any]:
        response = self.api("GET", f"/ml/v4/deployments/{self.deployment}", params={"space_id": self.space})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def served_by(self) -> str:
        """`<model id>:<rev>` of the model that answers a prediction now."""
        response = self.api("POST", f"/ml/v4/deployments/{self.deployment}/predictions", params=V, json=ROW)
        assert response.status_code == 200, response.text
        return response.headers["Champion-Model-Version"]

    def settle(self, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            details = self.deployment_details()
            if details["entity"]["status"]["state"] not in ("initializing", "updating"):
                return details
            assert time.monotonic() < deadline, "the deployment never settled"
            time.sleep(0.1)


ROW = {"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[0.5, -0.2, 1.0]]}]}


def make_users(server: RunningServer, names: tuple[str, ...]) -> dict[str, CreatedUser]:
    """Users with keys, written straight into the server's database (as `champion users create` does,
    without a CLI start-up per user); the server looks a key it has not seen up once."""
    context = open_context(Settings(home=server.home, database_url=None, artifacts_dir=None))
    made = {}
    try:
        with context.sessions() as session:
            for name in names:
                user = users.create_user(session, name=name)
                made[name] = CreatedUser(user.id, name, users.issue_key(session, user_id=user.id).secret)
    finally:
        context.close()
    return made


@contextmanager
def open_site(root: Path, model_files: ModelFiles) -> Iterator[Site]:
    """A real server under `root` with the space "research" (alice admin, dave editor, bob viewer; carol
    no member), the model "churn" with four revisions, and "churn-api" serving revision 1."""
    variants = {**build_variants(root / "variants"), "failing": build_failing(root)}
    # PYTHONPATH: the failing model's pickle names its class in tests.model_files.
    repo = str(Path(__file__).resolve().parents[2])
    with (
        running_server(root, tls=False, PYTHONPATH=repo) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        people = make_users(server, ("alice", "dave", "bob", "carol"))
        site = Site(server, http, people, "", "", "", {"original": model_files.classifier_named, **variants})
        site.space = site.api("POST", "/v2/spaces", json={"name": "research"}).json()["metadata"]["id"]
        roles = {"alice": "admin", "dave": "editor", "bob": "viewer"}
        members = [{"id": people[name].id, "type": "user", "role": role} for name, role in roles.items()]
        response = site.api("POST", f"/v2/spaces/{site.space}/members", json={"members": members})
        assert response.status_code == 200, response.text
        body = {"name": "churn", "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}}
        created = site.api("POST", "/ml/v4/models", params={**V, "space_id": site.space}, json=body)
        site.model = created.json()["metadata"]["id"]
        # revisions: 1 original, 2 retrained, 3 fewer features (schema mismatch), 4 regressor (fails a check)
        for name in ("original", "retrained", "fewer_features", "regressor"):
            put = site.api(
                "PUT",
                f"/ml/v4/models/{site.model}/content",
                params={"space_id": site.space},
                content=site.files[name].read_bytes(),
            )
            assert put.status_code == 201, put.text
        new = {"name": "churn-api", "online": {}, "asset": {"id": site.model, "rev": "1"}, "space_id": site.space}
        site.deployment = site.api("POST", "/ml/v4/deployments", params=V, json=new).json()["metadata"]["id"]
        assert site.settle()["entity"]["status"]["state"] == "ready"
        yield site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles) -> Iterator[Site]:
    with open_site(tmp_path_factory.mktemp("ui-browser"), model_files) as site:
        yield site


def signed_in(context: BrowserContext, site: Site, who: str) -> Page:
    page = context.new_page()
    page.goto(site.url + "/")
    page.get_by_label("User name").fill(who)
    page.get_by_label("API key").fill(site.users[who].api_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/spaces")
    return page


@pytest.fixture
def page_for(browser: Browser, site: Site) -> Iterator[Callable[[str], Page]]:
    """A fresh browser context per user (its own cookies), signed in through the form."""
    contexts: list[BrowserContext] = []

    def open_as(who: str) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return signed_in(context, site, who)

    yield open_as
    for context in contexts:
        context.close()
