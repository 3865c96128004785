"""GET /metrics: the server's meters in Prometheus text format, for any signed-in user."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from champion.api.deps import ActorDep
from champion.api.wml.errors import WMLRoute
from champion.monitoring import ServingMetrics

# Rendered like the WML face's errors: a scraper without a key gets a 401 it can log.
router = APIRouter(route_class=WMLRoute)


@router.get("/metrics", include_in_schema=False)
def metrics_exposition(request: Request, actor: ActorDep) -> Response:
    """A scrape config passes an API key: `authorization: {credentials: <api key>}` (Bearer is
    Prometheus's default type). With `--workers N` every scrape sums all the workers' meters."""
    metrics: ServingMetrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
