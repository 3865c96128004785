"""The ASGI application: one core, its faces mounted side by side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from champion import __version__
from champion.api import wml
from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.deployments.rollout import DeployHandler
from champion.follower import Follower
from champion.operations.runner import OperationRunner
from champion.operations.types import OperationKind
from champion.serving.engine import ServingEngine
from champion.spaces.access import AccessCache


def create_app(settings: Settings | None = None, *, context: ServerContext | None = None) -> FastAPI:
    """Build the app. Given a context, use it (tests, the CLI); otherwise open one at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or open_context(settings or Settings())
        engine = ServingEngine()
        access = AccessCache()
        follower = Follower(ctx.sessions, engine, access, ctx.store)
        deploy = DeployHandler(ctx.sessions, ctx.store, engine, committed=follower.sync)
        runner = OperationRunner(ctx.sessions, {OperationKind.DEPLOY: deploy})
        app.state.context, app.state.engine, app.state.access, app.state.runner = ctx, engine, access, runner
        await follower.start()
        runner.start()
        try:
            yield
        finally:
            await runner.stop()
            await follower.stop()
            await engine.close()
            if context is None:
                ctx.close()

    app = FastAPI(title="champion", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.include_router(wml.router)
    app.add_exception_handler(HTTPException, _http_error)
    return app


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # Routing errors (unknown path, wrong method) happen before any face is chosen.
    assert isinstance(exc, HTTPException)
    body = {"errors": [{"code": "not_found" if exc.status_code == 404 else "http_error", "message": str(exc.detail)}]}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
