"""A server mounts its faces right after start-up, and requests that come before wait for them.

`champion serve` runs `serving_app`: the prediction routes from the first moment, every other route
once built (`champion.api.deferred`). Nothing may tell the difference but the wait: a request that
arrives meanwhile is routed, when the routes are there, exactly as it would have been. The operations
(runner, capture writer, replay scheduler) start after the first answers too, before the faces.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route, Router

from champion import app as app_module
from champion.api.deferred import Deferred
from champion.app import create_app
from champion.config import Settings
from tests.servers import cli_env

ROOT = Path(__file__).resolve().parent.parent


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


def test_a_served_app_answers_before_its_operations_start_and_starts_them_before_its_faces(tmp_path: Path) -> None:
    """The operations' modules (batch jobs, replacements, replays) are imported once the app answers
    predictions, off the loop; the runner is running by the time any other route answers."""
    code = """
        import asyncio, sys
        import httpx
        from champion.app import serving_app
        from champion.config import Settings
        from champion.context import open_context

        open_context(Settings()).close()

        def runner_running():
            return any(task.get_name() == "operation-runner" for task in asyncio.all_tasks())

        async def scenario():
            app = serving_app()
            async with app.router.lifespan_context(app):
                # Started: the models are loaded, predictions are answered from now on.
                print("operations imported:", "champion.jobs.scoring_job" in sys.modules, runner_running())
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                    answered = (await http.get("/ml/wml_services/version")).status_code
                print("then:", answered, "champion.jobs.scoring_job" in sys.modules, runner_running())

        asyncio.run(scenario())
        """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "operations imported: False False" in done.stdout
    assert "then: 200 True True" in done.stdout


def test_operations_that_cannot_start_fail_the_requests_waiting_for_the_faces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ImportError("an operation handler that does not import")

    monkeypatch.setattr(app_module, "_operations", broken)
    served = create_app(Settings(home=tmp_path), faces_later=True)
    with TestClient(served, raise_server_exceptions=False) as client:
        assert client.get("/ml/wml_services/version").status_code == 500
