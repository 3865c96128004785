"""WML error bodies: `{"trace", "errors": [{"code", "message", "target"?}], "status_code"}`.

Every WML route uses `WMLRoute`, which renders domain errors and request-validation errors
in this shape, so a rule raised anywhere below reaches the client in its own format.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from champion import errors
from champion.api.status import status_of

logger = logging.getLogger(__name__)


def error_response(
    status: int, code: str, message: str, field: str | None = None, extra: dict[str, Any] | None = None
) -> JSONResponse:
    entry: dict[str, Any] = {"code": code, "message": message}
    if field:
        entry["target"] = {"type": "field", "name": field}
    body = {"trace": uuid.uuid4().hex, "errors": [entry], "status_code": status, **(extra or {})}
    return JSONResponse(body, status_code=status)


def render_error(error: errors.ChampionError) -> JSONResponse:
    field = error.field if isinstance(error, errors.InvalidInput) else None
    # A refused replacement carries every named check, so the caller sees why, not only which.
    extra = {"validation": error.report.to_dict()} if isinstance(error, errors.ValidationFailed) else None
    return error_response(status_of(error), error.code, error.message, field, extra)


def render_validation(error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]
    field = ".".join(location) or "body"
    return error_response(400, "invalid_input", f"{field}: {first['msg']}", field)


class WMLRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.ChampionError as error:
                return render_error(error)
            except RequestValidationError as error:
                return render_validation(error)

        return handle
