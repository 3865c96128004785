"""DataRobot error bodies: `{"message": ...}` (plus `errors` per field, `checks` for a refused replacement).

Every DataRobot route uses `DataRobotRoute`, which renders domain errors and request-validation
errors in this shape, always as `application/json`: the `datarobot` client reads `message` from
the body of any 4xx and raises it.
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


def error_response(status: int, message: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, **(extra or {})}, status_code=status)


def render_error(error: errors.ChampionError) -> JSONResponse:
    extra: dict[str, Any] = {}
    if isinstance(error, errors.InvalidInput) and error.field:
        extra["errors"] = {error.field: error.message}
    if isinstance(error, errors.ValidationFailed):
        # The same body the validation route answers: {"status", "message", "checks": {name: ...}}.
        report = error.report.to_dict()
        checks = {c["name"]: {"status": c["status"], "message": c["message"]} for c in report["checks"]}
        extra.update(status=report["status"], checks=checks)
    return error_response(status_of(error), error.message, extra)


def render_validation(error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]
    field = ".".join(location) or "body"
    return error_response(422, f"{field}: {first['msg']}", {"errors": {field: first["msg"]}})


class DataRobotRoute(APIRoute):
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
