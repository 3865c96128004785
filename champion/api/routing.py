"""One route class per face: a domain error or a bad request reaches the client in the face's own shape.

A face subclasses `FaceRoute` and names its two renderers; the services below raise the one
error tree (`champion.errors`) and never know which face called them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from champion import errors


class FaceRoute(APIRoute):
    render_error: ClassVar[Callable[[errors.ChampionError], Response]]
    render_validation: ClassVar[Callable[[RequestValidationError], Response]]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        render_error, render_validation = type(self).render_error, type(self).render_validation

        async def handle(request: Request) -> Response:
            try:
                refuse_nul(request)
                return await handler(request)
            except errors.ChampionError as error:
                return render_error(error)
            except RequestValidationError as error:
                return render_validation(error)
            except HTTPException as error:
                # FastAPI raises a bare 400 when it cannot read the body at all (JSON that is not
                # UTF-8, a broken form): the caller still gets the face's own error, naming the body.
                if error.status_code != 400:
                    raise
                return render_error(errors.InvalidInput(f"the body cannot be read ({error.detail})", field="body"))

        return handle


def refuse_nul(request: Request) -> None:
    """No path or query parameter may hold U+0000: PostgreSQL cannot compare text with it (a 500),
    and no id, name or value champion issues contains one."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if isinstance(value, str) and "\x00" in value:
            raise errors.InvalidInput("must not contain a NUL character", field=name)


def invalid_field(error: RequestValidationError) -> tuple[str, str]:
    """The first problem of a request FastAPI refused: the dotted field it concerns, and why."""
    first = error.errors()[0]
    if first.get("type") == "json_invalid":  # its location is a character offset, not a field
        reason = (first.get("ctx") or {}).get("error", "")
        return "body", f"not valid JSON{f' ({reason})' if reason else ''}"
    location = [str(part) for part in first["loc"]]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]
    return ".".join(location) or "body", str(first["msg"])
