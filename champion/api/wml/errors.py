"""WML error bodies: `{"trace", "errors": [{"code", "message", "target"?}], "status_code"}`.

Every WML route uses `WMLRoute`, which renders domain errors and request-validation errors
in this shape, so a rule raised anywhere below reaches the client in its own format.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from champion import errors
from champion.api.routing import FaceRoute, invalid_field
from champion.api.status import status_of


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
    field, problem = invalid_field(error)
    return error_response(400, "invalid_input", f"{field}: {problem}", field)


class WMLRoute(FaceRoute):
    render_error = render_error
    render_validation = render_validation
