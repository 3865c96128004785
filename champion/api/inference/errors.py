"""Open Inference Protocol error bodies: `{"error": "<message>"}`, with the status of the error's kind.

Every route of this face uses `InferenceRoute`, so a domain error raised anywhere below (in a
dependency, a service or the engine) reaches the client in the protocol's shape.
"""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from champion import errors
from champion.api.routing import FaceRoute, invalid_field
from champion.api.status import status_of


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


RETRY_AFTER_SECONDS = "1"
"""Sent with a 503: a full queue or a model still loading here is gone in moments."""


def render_error(error: errors.ChampionError) -> JSONResponse:
    response = error_response(status_of(error), error.message)
    if isinstance(error, errors.Unavailable):
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def render_validation(error: RequestValidationError) -> JSONResponse:
    field, problem = invalid_field(error)
    return error_response(400, f"{field}: {problem}")


class InferenceRoute(FaceRoute):
    render_error = render_error
    render_validation = render_validation
