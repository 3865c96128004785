"""The ASGI application: one core, its faces mounted side by side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

from champion import __version__
from champion.api import inference, wml
from champion.api.deps import ActorDep
from champion.api.wml.errors import WMLRoute
from champion.cluster import service as cluster
from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.deployments.rollout import DeployHandler
from champion.follower import Follower
from champion.jobs.scoring_job import BatchJobHandler
from champion.monitoring import ServingMetrics
from champion.operations.runner import Handler, OperationRunner
from champion.operations.types import OperationKind
from champion.replacement.handler import ReplaceHandler
from champion.serving.engine import ServingEngine
from champion.spaces.access import AccessCache


def create_app(settings: Settings | None = None, *, context: ServerContext | None = None) -> FastAPI:
    """Build the app. Given a context, use it (tests, the CLI); otherwise open one at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or open_context(settings or Settings())
        engine = ServingEngine(metrics=metrics)
        access = AccessCache()
        process = cluster.process_name()
        follower = Follower(ctx.sessions, engine, access, ctx.store, process=process)
        timeout = ctx.settings.load_timeout_seconds
        deploy = DeployHandler(ctx.sessions, process, timeout, committed=follower.sync)
        batch_job = BatchJobHandler(ctx.sessions, ctx.store, engine)
        replace = ReplaceHandler(ctx.sessions, process, timeout, committed=follower.sync)
        handlers: dict[str, Handler] = {
            OperationKind.DEPLOY: deploy,
            OperationKind.BATCH_JOB: batch_job,
            OperationKind.REPLACE: replace,
        }
        runner = OperationRunner(ctx.sessions, handlers, name=process)
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

    # Built here, not in the lifespan: the meters outlive a restart of the lifespan, and each
    # app has its own registry, so several apps in one process never collide.
    metrics = ServingMetrics()
    app = FastAPI(title="champion", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.metrics = metrics
    app.include_router(wml.router)
    app.include_router(inference.router)
    app.include_router(metrics_router)
    app.add_exception_handler(HTTPException, _http_error)
    return app


metrics_router = APIRouter(route_class=WMLRoute)


@metrics_router.get("/metrics", include_in_schema=False)
def metrics_exposition(request: Request, actor: ActorDep) -> Response:
    """This process's meters in Prometheus text format, for any signed-in user.

    A scrape config passes an API key: `authorization: {credentials: <api key>}` (the
    Bearer type is Prometheus's default). With `--workers N` each scrape reads one worker.
    """
    metrics: ServingMetrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # Routing errors (unknown path, wrong method) happen before any face is chosen.
    assert isinstance(exc, HTTPException)
    body = {"errors": [{"code": "not_found" if exc.status_code == 404 else "http_error", "message": str(exc.detail)}]}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
