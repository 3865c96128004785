"""GET /metrics: the server's meters in Prometheus text format, for server admins and the scrape key.

The meters name every deployment and model on the server, whatever space they are in, so a
member of some spaces may not read them: only a server admin, or whoever holds
`CHAMPION_METRICS_KEY`, a secret good for this route and nothing else. The key exists so that a
Prometheus scrape config, which sits in a file on another machine, need not hold an admin's
API key (which could do anything an admin can).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from champion.api.deps import ContextDep, SessionDep, authenticate
from champion.api.wml.errors import WMLRoute
from champion.auth import matches_secret, parse_authorization
from champion.meters import ServingMetrics
from champion.users import service as users

# Rendered like the WML face's errors: a scraper without a key gets a 401 it can log.
router = APIRouter(route_class=WMLRoute)


@router.get("/metrics", include_in_schema=False)
def metrics_exposition(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """A scrape config passes the metrics key (or an admin's API key) as a bearer token:
    `authorization: {credentials: <key>}` (Bearer is Prometheus's default type). With
    `--workers N` every scrape sums all the workers' meters."""
    credential = parse_authorization(authorization)
    if not matches_secret(credential.secret, context.settings.metrics_key):
        users.require_admin(authenticate(session, context, credential), to="read the server's metrics")
    metrics: ServingMetrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
