"""Open Inference Protocol error bodies: `{"error": "<message>"}`, with the status of the error's kind.

Every route of this face uses `InferenceRoute`, so a domain error raised anywhere below (in a
dependency, a service or the engine) reaches the client in the protocol's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from champion import errors
from champion.api.status import status_of


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def render_validation(error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]
    return error_response(400, f"{'.'.join(location) or 'body'}: {first['msg']}")


class InferenceRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.ChampionError as error:
                return error_response(status_of(error), error.message)
            except RequestValidationError as error:
                return render_validation(error)

        return handle
