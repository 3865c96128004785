"""Rendering for the web UI: the templates, and one route class that turns errors into pages.

Every UI route uses `UIRoute`: no session becomes a redirect to sign-in, a missing CSRF token a
403 page, and any domain error a page in the UI's look with the status every face gives it
(`api/status.py`). Routes that show an error next to a field catch it themselves and re-render.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from champion import errors
from champion.api.status import status_of
from champion.ui.session import SIGN_IN_PATH, CSRFRefused, SignInRequired

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
FRAGMENT_HEADER = "x-champion-fragment"
"""Sent by ui.js on the requests it makes itself (dialogs, polling), so errors come back as fragments."""
LOCATION_HEADER = "UI-Location"
"""On an answer to ui.js: go to this page (a form in a dialog succeeded)."""


def when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["when"] = when


def page(request: Request, name: str, context: Mapping[str, Any], *, status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, dict(context), status_code=status)


def go(request: Request, url: str) -> Response:
    """After a change: a fragment request is told where to go, a plain form is redirected (303)."""
    if request.headers.get(FRAGMENT_HEADER):
        return Response(status_code=204, headers={LOCATION_HEADER: url})
    return RedirectResponse(url, status_code=303)


def back(request: Request, default: str) -> str:
    """The UI page the request came from (path and query only, never another site), else `default`."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return default
    if not referer.path.startswith("/ui/") or "//" in referer.path:
        return default
    return referer.path + (f"?{referer.query}" if referer.query else "")


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    name = "_error.html" if request.headers.get(FRAGMENT_HEADER) else "error.html"
    return page(request, name, {"title": title, "message": message}, status=status)


def field_errors(error: errors.ChampionError, known: tuple[str, ...]) -> dict[str, str]:
    """The error keyed by the form field it belongs to (`_` when it names none of `known`).

    Domain errors name fields as their wire paths (`/name`, `[0].path`, `asset.id`); the form
    field is the first path segment the face knows.
    """
    message = error.message
    field = error.field if isinstance(error, errors.InvalidInput) else None
    if field:
        message = message.removeprefix(f"{field}: ")
        segment = field.strip("/").replace("/", ".").split(".")[0]
        if segment in known:
            return {segment: message}
    return {"_": message}


_TITLES = {401: "Sign in required", 403: "Not allowed", 404: "Not found", 409: "Not now", 412: "Changed meanwhile"}


class UIRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as missing:
                target = SIGN_IN_PATH
                query = []
                if request.method == "GET" and not request.headers.get(FRAGMENT_HEADER):
                    query.append("next=" + quote(request.url.path, safe="/"))
                if missing.reason:
                    query.append("expired=1")
                if query:
                    target += "?" + "&".join(query)
                return RedirectResponse(target, status_code=303)
            except CSRFRefused:
                message = "This form did not carry this session's security token. Reload the page and try again."
                return error_page(request, 403, "Form refused", message)
            except errors.ChampionError as error:
                status = status_of(error)
                return error_page(request, status, _TITLES.get(status, "Something went wrong"), error.message)
            except RequestValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"][1:]) or "request"
                return error_page(request, 400, "Bad request", f"{where}: {first['msg']}")

        return handle
