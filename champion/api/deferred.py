"""The faces' routes, mounted once the server has started rather than before it listens.

Importing the faces (some 130 FastAPI routes, each analysed when its decorator runs, the UI's
templates) is about a third of a start-up, and the prediction routes need none of it: they are
plain Starlette routes mounted first (`hot_routes`). So a server (`champion.app.serving_app`) mounts
`Deferred` after them: a route that matches every request the prediction routes did not take, and
holds it until the faces are built, in a thread, right after the lifespan's start-up (models
loaded); then it routes the request again, through the faces now in its place. A prediction is
answered from the first moment; any other request the moment the faces are there, as it would have
been had they been built first. Built only once, as `create_app` builds them eagerly otherwise.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable

from starlette.routing import BaseRoute, Match, Router
from starlette.types import Receive, Scope, Send

logger = logging.getLogger(__name__)


class Deferred(BaseRoute):
    """Stands in for the routes `build` makes, until `mount` has put them in its place."""

    def __init__(self, router: Router, build: Callable[[], list[BaseRoute]]) -> None:
        self._router = router
        self._build = build
        self._mounted = asyncio.Event()
        self._failure: BaseException | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return (Match.FULL, {}) if scope["type"] == "http" else (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._mounted.wait()
        if self._failure is not None:
            raise RuntimeError("the server's routes could not be built") from self._failure
        await self._router.app(scope, receive, send)  # matched again, among the routes now mounted

    def abandon(self, reason: BaseException) -> None:
        """Never mount: the requests waiting, and any to come, fail (`reason` says why in the log)."""
        self._failure = reason
        self._mounted.set()

    async def mount(self) -> None:
        """Build the routes off the event loop, then put them where this route stands."""
        try:
            built = await asyncio.to_thread(self._build)
        except asyncio.CancelledError as exc:  # the server stops before they were built
            self._failure = exc
            raise
        except Exception as exc:  # every waiting request answers 500, and the log says why
            logger.exception("building the server's routes failed")
            self._failure = exc
        else:
            routes = self._router.routes
            routes[routes.index(self) : routes.index(self) + 1] = built
            # As the lifespan did for what was alive at start-up: full collections stay short.
            gc.freeze()
        finally:
            self._mounted.set()
