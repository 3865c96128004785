"""The ASGI application: one core, its faces mounted side by side."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute

from champion import __version__, changes
from champion.api import datarobot, inference, wml
from champion.api.deferred import Deferred
from champion.api.hot_path import HotPathApp
from champion.cluster import service as cluster
from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.follower import Follower
from champion.meters import ServingMetrics
from champion.monitoring.capture import CaptureBuffer
from champion.notifications import Listener
from champion.serving.engine import ServingEngine
from champion.spaces.access import AccessCache

if TYPE_CHECKING:  # imported when the operations are built (`_operations`), after a served app's start-up
    from champion.challengers.replay import ReplayScheduler
    from champion.monitoring.writer import CaptureWriter
    from champion.operations.runner import OperationRunner

logger = logging.getLogger(__name__)


def serving_app() -> FastAPI:
    """The app `champion serve` runs: its operations started and its faces mounted once it has started
    (`champion.api.deferred`), so that it answers predictions first."""
    return create_app(faces_later=True)


def create_app(
    settings: Settings | None = None, *, context: ServerContext | None = None, faces_later: bool = False
) -> FastAPI:
    """Build the app. Given a context, use it (tests, the CLI); otherwise open one at start-up.

    `faces_later`: once the models are loaded, answer predictions at once; then start the operations
    (runner, capture writer, replay scheduler) and mount every other route, rather than before.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or open_context(settings or Settings())
        engine = ServingEngine(metrics=meters, capture=CaptureBuffer(capacity_cells=ctx.settings.capture_buffer_cells))
        access = AccessCache()
        process = cluster.process_name()
        listener = Listener.for_engine(ctx.engine)  # PostgreSQL's notifications; on SQLite, polling alone
        follower = Follower(ctx.sessions, engine, access, ctx.store, process=process, listening=listener.is_live)
        listener.on(changes.Topic, follower.wake)
        listener.start()
        app.state.context, app.state.engine, app.state.access = ctx, engine, access
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
        operations: _Operations | None = None

        async def start_operations() -> None:
            nonlocal operations
            arguments = (ctx, engine, follower, process, meters)
            # Their modules take a few hundredths of a second to import: off the loop once serving.
            built = await asyncio.to_thread(_operations, *arguments) if faces_later else _operations(*arguments)
            listener.on([changes.NEW_OPERATIONS], built.runner.wake)
            app.state.runner, app.state.capture_writer = built.runner, built.writer
            built.start()
            operations = built

        rest: asyncio.Task[None] | None = None
        if deferred is not None:
            rest = asyncio.get_running_loop().create_task(_then_faces(start_operations(), deferred), name="faces")
        else:
            await start_operations()
        try:
            yield
        finally:
            if rest is not None:
                rest.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await rest
            await listener.stop()
            if operations is not None:
                await operations.stop()
            await follower.stop()
            await engine.close()
            meters.close()
            if context is None:
                ctx.close()

    # Built here, not in the lifespan: the meters outlive a restart of the lifespan, and each
    # app has its own registry, so several apps in one process never collide.
    meters = ServingMetrics()

    # No /docs or /openapi.json: every route but the documented probes needs credentials.
    app = HotPathApp(
        hot_routes=[*wml.hot_routes, *inference.hot_routes, *datarobot.hot_routes],
        title="champion",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.metrics = meters
    deferred: Deferred | None = None
    if faces_later:
        deferred = Deferred(app.router, _face_routes)
        app.router.routes.append(deferred)
    else:
        app.router.routes.extend(_face_routes())
    app.add_exception_handler(HTTPException, _http_error)
    return app


@dataclass(frozen=True)
class _Operations:
    """What works beside the predictions: the operations' runner, the capture writer, the replay scheduler."""

    runner: OperationRunner
    writer: CaptureWriter
    scheduler: ReplayScheduler

    def start(self) -> None:
        self.runner.start()
        self.writer.start()
        self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.runner.stop()
        await self.writer.stop()  # after the runner: nothing scores any more, and the last rows land


def _operations(
    ctx: ServerContext, engine: ServingEngine, follower: Follower, process: str, meters: ServingMetrics
) -> _Operations:
    """The operations of this process, built (not started); their modules imported now."""
    from champion.challengers.replay import ReplayHandler, ReplayScheduler
    from champion.deployments.rollout import DeployHandler
    from champion.jobs.scoring_job import BatchJobHandler
    from champion.monitoring.writer import CaptureWriter
    from champion.operations.runner import Handler, OperationRunner
    from champion.operations.types import OperationKind
    from champion.replacement.handler import ReplaceHandler

    timeout = ctx.settings.load_timeout_seconds
    handlers: dict[str, Handler] = {
        OperationKind.DEPLOY: DeployHandler(ctx.sessions, process, timeout, committed=follower.sync),
        OperationKind.BATCH_JOB: BatchJobHandler.configured(ctx.sessions, ctx.store, engine, ctx.settings),
        OperationKind.REPLACE: ReplaceHandler(ctx.sessions, process, timeout, committed=follower.sync),
        OperationKind.CHALLENGER_REPLAY: ReplayHandler(ctx.sessions, ctx.store),
    }
    return _Operations(
        runner=OperationRunner(ctx.sessions, handlers, name=process, live_runners=cluster.live_names),
        writer=CaptureWriter(
            ctx.sessions, ctx.store, engine.capture, interval=ctx.settings.capture_flush_seconds, metrics=meters
        ),
        scheduler=ReplayScheduler(ctx.sessions),
    )


async def _then_faces(start_operations: Coroutine[Any, Any, None], deferred: Deferred) -> None:
    """A served app's start-up once it answers predictions: the operations (the faces use the runner),
    then the faces. Operations that cannot start fail the requests waiting for the faces, as faces
    that cannot be built would."""
    try:
        await start_operations
    except asyncio.CancelledError as exc:  # the server stops first
        deferred.abandon(exc)
        raise
    except Exception as exc:
        logger.exception("starting the operations failed")
        deferred.abandon(exc)
        return
    await deferred.mount()


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
