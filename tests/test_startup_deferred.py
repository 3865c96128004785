"""A server mounts its faces right after start-up, and requests that come before wait for them.

`champion serve` runs `serving_app`: the prediction routes from the first moment, every other route
once built (`champion.api.deferred`). Nothing may tell the difference but the wait: a request that
arrives meanwhile is routed, when the routes are there, exactly as it would have been.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route, Router

from champion.api.deferred import Deferred
from champion.app import create_app
from champion.config import Settings


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def test_requests_wait_for_the_routes_then_are_routed_through_them() -> None:
    release = threading.Event()

    def build() -> list[BaseRoute]:
        assert release.wait(10)
        return [Route("/hello", _hello)]

    async def scenario() -> None:
        router = Router()
        deferred = Deferred(router, build)
        router.routes.append(deferred)
        transport = httpx.ASGITransport(app=router)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            mounting = asyncio.create_task(deferred.mount())
            early = asyncio.create_task(http.get("/hello"))
            missing = asyncio.create_task(http.get("/nowhere"))
            await asyncio.sleep(0.2)
            assert not early.done() and not missing.done()  # held while the routes are built
            release.set()
            await mounting
            assert (await early).text == "hello"
            assert (await missing).status_code == 404
            assert deferred not in router.routes and len(router.routes) == 1
            assert (await http.get("/hello")).text == "hello"

    asyncio.run(scenario())


def test_routes_that_could_not_be_built_fail_the_requests_waiting() -> None:
    def build() -> list[BaseRoute]:
        raise ImportError("a face that does not import")

    async def scenario() -> None:
        router = Router()
        deferred = Deferred(router, build)
        router.routes.append(deferred)
        await deferred.mount()
        with pytest.raises(RuntimeError, match="could not be built"):
            await httpx.AsyncClient(transport=httpx.ASGITransport(app=router), base_url="http://t").get("/x")

    asyncio.run(scenario())


def test_the_served_app_ends_with_the_same_routes_as_the_app_built_at_once(tmp_path: Path) -> None:
    def shape(routes: list[BaseRoute]) -> list[tuple[str, str, str]]:
        return [
            (type(r).__name__, getattr(r, "path", ""), str(sorted(getattr(r, "methods", None) or []))) for r in routes
        ]

    at_once = create_app(Settings(home=tmp_path / "a"))
    served = create_app(Settings(home=tmp_path / "b"), faces_later=True)
    assert any(isinstance(route, Deferred) for route in served.router.routes)
    with TestClient(served) as client:
        # A route of the faces, asked for as soon as the server has started.
        assert client.get("/ml/wml_services/version").status_code == 200
        assert client.get("/no/such/path").json()["errors"][0]["code"] == "not_found"
    assert shape(served.router.routes) == shape(at_once.router.routes)
