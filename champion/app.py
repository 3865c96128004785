"""The ASGI application: one core, its faces mounted side by side."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute

from champion import __version__, changes
from champion.api import datarobot, inference, wml
from champion.api.deferred import Deferred
from champion.challengers.replay import ReplayHandler, ReplayScheduler
from champion.cluster import service as cluster
from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.deployments.rollout import DeployHandler
from champion.follower import Follower
from champion.jobs.scoring_job import BatchJobHandler
from champion.meters import ServingMetrics
from champion.monitoring.capture import CaptureBuffer
from champion.monitoring.writer import CaptureWriter
from champion.notifications import Listener
from champion.operations.runner import Handler, OperationRunner
from champion.operations.types import OperationKind
from champion.replacement.handler import ReplaceHandler
from champion.serving.engine import ServingEngine
from champion.spaces.access import AccessCache


def serving_app() -> FastAPI:
    """The app `champion serve` runs: its faces mounted once it has started (`champion.api.deferred`)."""
    return create_app(faces_later=True)


def create_app(
    settings: Settings | None = None, *, context: ServerContext | None = None, faces_later: bool = False
) -> FastAPI:
    """Build the app. Given a context, use it (tests, the CLI); otherwise open one at start-up.

    `faces_later`: mount every route but the prediction routes right after start-up, not now.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or open_context(settings or Settings())
        engine = ServingEngine(metrics=meters, capture=CaptureBuffer(capacity_cells=ctx.settings.capture_buffer_cells))
        access = AccessCache()
        process = cluster.process_name()
        listener = Listener.for_engine(ctx.engine)  # PostgreSQL's notifications; on SQLite, polling alone
        follower = Follower(ctx.sessions, engine, access, ctx.store, process=process, listening=listener.is_live)
        timeout = ctx.settings.load_timeout_seconds
        deploy = DeployHandler(ctx.sessions, process, timeout, committed=follower.sync)
        batch_job = BatchJobHandler.configured(ctx.sessions, ctx.store, engine, ctx.settings)
        replace = ReplaceHandler(ctx.sessions, process, timeout, committed=follower.sync)
        handlers: dict[str, Handler] = {
            OperationKind.DEPLOY: deploy,
            OperationKind.BATCH_JOB: batch_job,
            OperationKind.REPLACE: replace,
            OperationKind.CHALLENGER_REPLAY: ReplayHandler(ctx.sessions, ctx.store),
        }
        runner = OperationRunner(ctx.sessions, handlers, name=process, live_runners=cluster.live_names)
        listener.on(changes.Topic, follower.wake)
        listener.on([changes.NEW_OPERATIONS], runner.wake)
        listener.start()
        app.state.context, app.state.engine, app.state.access, app.state.runner = ctx, engine, access, runner
        await follower.start()
        app.state.follower = follower  # the readiness probe: every served model is loaded now
        # Everything alive now (libraries, loaded models) lives as long as the process: moving it
        # out of the collector's reach keeps full collections short on the prediction path.
        gc.freeze()
        # `champion.server` starts with the collector off, so that it does not walk the objects
        # start-up makes over and over while they are made; it is on from now. What start-up left
        # for it (some 2,000 objects, under 1 MB) is frozen with the rest rather than collected: a
        # full collection of everything alive would hold up the first requests for a tenth of a second.
        gc.enable()
        runner.start()
        writer = CaptureWriter(
            ctx.sessions, ctx.store, engine.capture, interval=ctx.settings.capture_flush_seconds, metrics=meters
        )
        writer.start()
        app.state.capture_writer = writer
        scheduler = ReplayScheduler(ctx.sessions)
        scheduler.start()
        try:
            yield
        finally:
            await listener.stop()
            await scheduler.stop()
            await runner.stop()
            await writer.stop()  # after the runner: nothing scores any more, and the last rows land
            await follower.stop()
            await engine.close()
            meters.close()
            if context is None:
                ctx.close()

    # Built here, not in the lifespan: the meters outlive a restart of the lifespan, and each
    # app has its own registry, so several apps in one process never collide.
    meters = ServingMetrics()
    deferred: Deferred | None = None

    @asynccontextmanager
    async def lifespan_then_faces(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            assert deferred is not None
            mounting = asyncio.get_running_loop().create_task(deferred.mount(), name="faces")
            try:
                yield
            finally:
                mounting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await mounting

    # No /docs or /openapi.json: every route but the documented probes needs credentials.
    app = FastAPI(
        title="champion",
        version=__version__,
        lifespan=lifespan_then_faces if faces_later else lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.metrics = meters
    app.router.routes[:0] = [*wml.hot_routes, *inference.hot_routes, *datarobot.hot_routes]
    if faces_later:
        deferred = Deferred(app.router, _face_routes)
        app.router.routes.append(deferred)
    else:
        app.router.routes.extend(_face_routes())
    app.add_exception_handler(HTTPException, _http_error)
    return app


def _face_routes() -> list[BaseRoute]:
    """The faces' routes themselves, in this order, rather than their routers included: FastAPI would
    build every route once more per level of inclusion (~10 ms each), on the first request and here."""
    from champion import ui
    from champion.api import metrics

    faces = (
        wml.face_routes(),
        inference.face_routes(),
        datarobot.face_routes(),
        ui.face_routes(),
        metrics.router.routes,
    )
    return [route for face in faces for route in face]


_DATAROBOT_PREFIXES = ("/api/v2/", "/predApi/")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # Routing errors (unknown path, wrong method) happen before any face is chosen.
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(_DATAROBOT_PREFIXES):
        return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)
    body = {"errors": [{"code": "not_found" if exc.status_code == 404 else "http_error", "message": str(exc.detail)}]}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
