"""Every route needs credentials, except the documented probes and the one-time upload URL."""

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
        if (method, path) in PROBES | OWN_CREDENTIALS:
            continue
        url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        response = client.request(method, url)
        if response.status_code != 401:
            open_routes.append(f"{method} {path} -> {response.status_code}")
    assert open_routes == []


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
