"""DataRobot error bodies: `{"message": ...}` (plus `errors` per field, `checks` for a refused replacement).

Every DataRobot route uses `DataRobotRoute`, which renders domain errors and request-validation
errors in this shape, always as `application/json`: the `datarobot` client reads `message` from
the body of any 4xx and raises it.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from champion import errors
from champion.api.routing import FaceRoute, invalid_field
from champion.api.status import status_of
from champion.deployments import runtime_values


def error_response(status: int, message: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, **(extra or {})}, status_code=status)


# The domain's field names that DataRobot spells otherwise, by prefix.
FIELD_NAMES = {runtime_values.FIELD: "runtimeParameterValues"}


def vendor_field(field: str) -> str:
    head, dot, rest = field.partition(".")
    return f"{FIELD_NAMES[head]}{dot}{rest}" if head in FIELD_NAMES else field


def render_error(error: errors.ChampionError) -> JSONResponse:
    extra: dict[str, Any] = {}
    message = error.message
    if isinstance(error, errors.InvalidInput) and error.field:
        field = vendor_field(error.field)
        message = f"{field}: {error.message.removeprefix(f'{error.field}: ')}"
        extra["errors"] = {field: message}
    if isinstance(error, errors.ValidationFailed):
        # The same body the validation route answers: {"status", "message", "checks": {name: ...}}.
        report = error.report.to_dict()
        checks = {c["name"]: {"status": c["status"], "message": c["message"]} for c in report["checks"]}
        extra.update(status=report["status"], checks=checks)
    return error_response(status_of(error), message, extra)


def render_validation(error: RequestValidationError) -> JSONResponse:
    field, problem = invalid_field(error)
    return error_response(422, f"{field}: {problem}", {"errors": {field: problem}})


class DataRobotRoute(FaceRoute):
    render_error = render_error
    render_validation = render_validation
