"""The prediction routes, answered ahead of FastAPI's middleware stack.

FastAPI passes every request through a stack before its router: the server-error middleware, its
OpenTelemetry check and exception hook, a body limit, the exception handlers and an exit stack for
uploaded files. The prediction routes (each face's `hot_routes`) need only the first: they read their
body under champion's own limit, answer their own errors and open no file. `HotPathApp` matches them
before anything else and runs each under Starlette's `ServerErrorMiddleware` and any middleware the app
was given (none today), so an unexpected exception is still answered 500 and raised on to the server,
which logs it, as anywhere; every other request, and a prediction path asked with another method, goes
through the whole stack as before.
In-process, a 1-row WML call went from 153 to 123 µs of CPU (`bench/face_calls.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class HotPathApp(FastAPI):
    """FastAPI, with `hot_routes` matched first and served without its middleware stack."""

    def __init__(self, *, hot_routes: Sequence[Route], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_routes = list(hot_routes)
        # The routes stay on the router too: a hot path asked with another method gets its 405 there.
        self.router.routes[:0] = self.hot_routes
        self._guarded: list[tuple[Route, ASGIApp]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route, guarded in self._guarded_routes():
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    # What Starlette and its router put in the scope on the way (the app for
                    # `request.app`, the router for `url_for`), then the route's path parameters.
                    scope["app"] = self
                    scope.setdefault("router", self.router)
                    scope.update(child_scope)
                    await guarded(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    def _guarded_routes(self) -> list[tuple[Route, ASGIApp]]:
        if self._guarded is None:
            # Built at the first request, as Starlette builds its stack: handlers are added after __init__.
            handler = self.exception_handlers.get(500) or self.exception_handlers.get(Exception)
            self._guarded = [(route, self._stack(route, handler)) for route in self.hot_routes]
        return self._guarded

    def _stack(self, route: Route, handler: Any) -> ASGIApp:
        """The route under the app's own middleware (none today), under the server-error middleware."""
        app: ASGIApp = route.handle
        for middleware in reversed(self.user_middleware):
            app = middleware.cls(app, *middleware.args, **middleware.kwargs)
        return ServerErrorMiddleware(app, handler=handler, debug=self.debug)
