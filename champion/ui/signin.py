"""Signing in and out, and the package's static files: the only UI routes open without a session."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from champion.api.deps import ContextDep, SessionDep
from champion.errors import NotFound
from champion.ui import session as sessions
from champion.ui.render import HERE, UIRoute, page
from champion.users import browser_sessions
from champion.users import service as users

router = APIRouter(route_class=UIRoute)

HOME = "/ui/spaces"
_NONCE_AGE = 3600
STATIC = {path.name: path for path in (HERE / "static").iterdir() if path.is_file()}


def _safe_next(value: str | None) -> str:
    # Only a path of this UI: an open redirect would let a link send a fresh sign-in elsewhere.
    if value and value.startswith("/ui/") and "//" not in value and "\\" not in value:
        return value
    return HOME


def _sign_in_page(
    request: Request, context: ContextDep, *, error: str | None = None, user_name: str = "", status: int = 200
) -> HTMLResponse:
    cookie, nonce = sessions.sign_in_nonce(context.signing_key)
    notice = "Your session has expired. Please sign in again." if request.query_params.get("expired") else None
    response = page(
        request,
        "sign_in.html",
        {
            "nonce": nonce,
            "error": error,
            "notice": notice,
            "user_name": user_name,
            "next": _safe_next(request.query_params.get("next")),
        },
        status=status,
    )
    secure = request.url.scheme == "https"
    sessions.set_cookie(response, sessions.SIGN_IN_COOKIE, cookie, max_age=_NONCE_AGE, secure=secure)
    return response


@router.get("/", response_class=HTMLResponse)
def sign_in_form(request: Request, session: SessionDep, context: ContextDep) -> Response:
    try:
        sessions.current_session(request, session, context)
    except sessions.SignInRequired:
        return _sign_in_page(request, context)
    return RedirectResponse(HOME, status_code=303)


@router.post("/", response_class=HTMLResponse)
def sign_in(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    user_name: Annotated[str, Form()] = "",
    api_key: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME,
) -> Response:
    sessions.check_sign_in_nonce(
        context.signing_key, request.cookies.get(sessions.SIGN_IN_COOKIE), csrf_token, max_age=_NONCE_AGE
    )
    holder = None
    if user_name.strip() and api_key.strip():
        holder = users.identify_user_key(session, user_name=user_name.strip(), secret=api_key.strip())
    if holder is None:
        # One message for an unknown user and a wrong key: the form must not reveal which names exist.
        message = "The user name and API key do not match an active key."
        return _sign_in_page(request, context, error=message, user_name=user_name, status=401)
    ttl = context.settings.token_ttl_seconds
    opened = browser_sessions.start(session, user_id=holder.actor.user_id, key_id=holder.key_id, lifetime_seconds=ttl)
    value, _ = sessions.issue(context.signing_key, opened)
    response = RedirectResponse(_safe_next(next), status_code=303)
    secure = request.url.scheme == "https"
    sessions.set_cookie(response, sessions.COOKIE, value, max_age=ttl, secure=secure)
    response.delete_cookie(sessions.SIGN_IN_COOKIE, path="/")
    return response


@router.post("/ui/sign-out")
def sign_out(ui: sessions.ChangingSession, session: SessionDep) -> Response:
    # Ended on the server, not only forgotten by this browser: a copy of the cookie is no session.
    browser_sessions.end(session, session_id=ui.id)
    response = RedirectResponse(sessions.SIGN_IN_PATH, status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.get("/ui/static/{name}")
def static(name: str) -> Response:
    path = STATIC.get(name)
    if path is None:
        raise NotFound(f"no static file {name!r}")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})
