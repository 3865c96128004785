"""Every route needs credentials, except the documented probes and the one-time upload URL.

The web UI answers a request without a session by redirecting to its sign-in page instead of 401;
only the sign-in page itself and the UI's static files are open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from champion.app import create_app
from champion.config import Settings
from champion.context import open_context

# Version and health probes reveal nothing about the server's content.
PROBES = {
    ("GET", "/ml/wml_services/v2/version"),
    ("GET", "/ml/wml_services/version"),
    ("GET", "/v2"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
}
# Signing in, and the data-asset upload URL, which carries its own one-time secret instead.
OWN_CREDENTIALS = {
    ("POST", "/icp4d-api/v1/authorize"),
    ("PUT", "/v2/assets/{asset_id}/attachments/{attachment_id}/upload"),
    ("GET", "/v2/assets/{asset_id}/attachments/{attachment_id}/content"),
}

# The web UI: signing in, and its own static files (ui.js, ui.css).
UI_OPEN = {
    ("GET", "/"),
    ("POST", "/"),
    ("GET", "/ui/static/{name}"),
}
SIGN_IN = "/"


def is_ui(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    context = open_context(Settings(home=tmp_path_factory.mktemp("auth-home")))
    with TestClient(create_app(context=context)) as client:
        yield client
    context.close()


def routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path), walking into included routers (FastAPI keeps them nested)."""

    def walk(items: list[Any]) -> Iterator[tuple[str, str]]:
        for route in items:
            if isinstance(route, APIRoute | Route) and route.methods:
                yield from ((method, route.path) for method in sorted(route.methods - {"HEAD"}))
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)

    found = list(walk(client.app.routes))  # type: ignore[attr-defined]
    assert len(found) > 50, "the route walk found too little to prove anything"
    return found


def test_only_the_documented_routes_answer_without_credentials(client: TestClient) -> None:
    open_routes = []
    for method, path in routes(client):
        if (method, path) in PROBES | OWN_CREDENTIALS or is_ui(path):
            continue  # the UI's routes are walked by the next test
        url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        response = client.request(method, url)
        if response.status_code != 401:
            open_routes.append(f"{method} {path} -> {response.status_code}")
    assert open_routes == []


def test_every_ui_route_without_a_session_redirects_to_sign_in(client: TestClient) -> None:
    ui_routes = [(method, path) for method, path in routes(client) if is_ui(path) and (method, path) not in UI_OPEN]
    assert len(ui_routes) > 10, "the route walk found too few UI routes to prove anything"
    client.cookies.clear()
    answered = []
    for method, path in ui_routes:
        url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        response = client.request(method, url, follow_redirects=False)
        location = response.headers.get("location", "")
        if response.status_code != 303 or location.split("?")[0] != SIGN_IN:
            answered.append(f"{method} {path} -> {response.status_code} {location}")
    assert answered == []


def test_the_ui_open_routes_are_only_sign_in_and_static_files(client: TestClient) -> None:
    client.cookies.clear()
    page = client.get("/")
    assert page.status_code == 200 and "Sign in" in page.text
    assert client.get("/ui/static/ui.css").status_code == 200
    assert client.get("/ui/static/nothing-here.js").status_code == 404
    assert client.post("/", data={"user_name": "x", "api_key": "y"}).status_code == 403  # no sign-in form token
    assert set(routes(client)) >= UI_OPEN


def test_the_probes_answer_without_credentials(client: TestClient) -> None:
    for method, path in PROBES:
        assert client.request(method, path).status_code == 200, path


def test_the_upload_url_refuses_a_wrong_secret(client: TestClient) -> None:
    url = "/v2/assets/00000000-0000-0000-0000-000000000000/attachments/x/upload?token=guess"
    assert client.put(url, content=b"a,b\n1,2\n").status_code in (401, 403, 404)


def test_the_download_url_refuses_a_missing_or_forged_token(client: TestClient) -> None:
    url = "/v2/assets/00000000-0000-0000-0000-000000000000/attachments/x/content"
    assert client.get(url).status_code == 401
    assert client.get(url, params={"token": "forged"}).status_code == 401


def test_no_interactive_docs_or_schema(client: TestClient) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert client.get(path).status_code == 404


def test_every_probe_is_a_real_route(client: TestClient) -> None:
    assert set(routes(client)) >= PROBES | OWN_CREDENTIALS
