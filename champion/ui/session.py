"""The browser session: a signed, expiring, HttpOnly cookie naming a server-side session, and its CSRF token.

The cookie holds no secret of the user's: only the id of their session row (`users.browser_sessions`)
and a random CSRF token, signed with the server's key (itsdangerous), so a tampered cookie fails
its signature and an old one fails its age. The key's secret is checked once at sign-in and never
kept; the row names the user and the API key they signed in with, and every request asks whether
the row is still there and that key still live and the user's: signing out deletes the row, so a
copy of the cookie kept from before is worth nothing, and revoking the key (or deleting the user)
ends the session at once. Every form that changes something sends the session's CSRF token back;
a cookie alone (which a browser attaches to a cross-site request) is never enough to change anything.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from champion.api.deps import ContextDep, SessionDep
from champion.users import browser_sessions
from champion.users.service import Actor

COOKIE = "champion_session"
SIGN_IN_COOKIE = "champion_sign_in"
"""A pre-session CSRF nonce for the sign-in form (double submit), so no site can sign a browser in."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SIGN_IN_PATH = "/"

_SALT = "champion.ui.session"
_SIGN_IN_SALT = "champion.ui.sign-in"


class SignInRequired(Exception):
    """No valid session: the face answers with a redirect to the sign-in page."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "sign in required")
        self.reason = reason


class CSRFRefused(Exception):
    """A changing request without the session's CSRF token: refused before anything is read or done."""


@dataclass(frozen=True)
class UISession:
    actor: Actor
    csrf: str
    id: str
    """The server-side session (`users.browser_sessions`) the cookie names; signing out ends it."""


def _serializer(key: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=salt)


@dataclass(frozen=True)
class Cookie:
    """What a session cookie carries."""

    session_id: str
    """The server-side session: it names the user and the API key signed in with."""
    csrf: str


def issue(key: str, session_id: str) -> tuple[str, str]:
    """A new cookie value for the server-side session `session_id`, and its CSRF token."""
    csrf = secrets.token_urlsafe(32)
    return _serializer(key, _SALT).dumps({"s": session_id, "c": csrf}), csrf


def read(key: str, value: str, *, max_age: int) -> Cookie:
    """What a cookie value carries; SignInRequired when it is tampered with, too old, or of an older shape."""
    try:
        data = _serializer(key, _SALT).loads(value, max_age=max_age)
    except SignatureExpired:
        raise SignInRequired("Your session has expired. Please sign in again.") from None
    except BadSignature:
        raise SignInRequired(None) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("s", "c")):
        raise SignInRequired(None)
    return Cookie(session_id=data["s"], csrf=data["c"])


def set_cookie(response: Response, name: str, value: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")


def sign_in_nonce(key: str) -> tuple[str, str]:
    """(cookie value, form value) for the sign-in form's double-submit check."""
    nonce = secrets.token_urlsafe(24)
    return _serializer(key, _SIGN_IN_SALT).dumps(nonce), nonce


def check_sign_in_nonce(key: str, cookie: str | None, submitted: str | None, *, max_age: int) -> None:
    if not cookie or not submitted:
        raise CSRFRefused()
    try:
        nonce = _serializer(key, _SIGN_IN_SALT).loads(cookie, max_age=max_age)
    except BadSignature:
        raise CSRFRefused() from None
    if not isinstance(nonce, str) or not secrets.compare_digest(nonce, submitted):
        raise CSRFRefused()


def current_session(request: Request, session: SessionDep, context: ContextDep) -> UISession:
    """The signed-in user, or SignInRequired (they may have signed out, their key been revoked, or
    they been deleted, since)."""
    value = request.cookies.get(COOKIE)
    if not value:
        raise SignInRequired(None)
    cookie = read(context.signing_key, value, max_age=context.settings.token_ttl_seconds)
    actor = browser_sessions.holder(session, session_id=cookie.session_id)
    if actor is None:
        raise SignInRequired(None)
    return UISession(actor, cookie.csrf, cookie.session_id)


async def checked_session(request: Request, ui: Annotated[UISession, Depends(current_session)]) -> UISession:
    """The session of a changing request, once its CSRF token (form field or header) matches."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        token = field if isinstance(field, str) else None
    if not token or not secrets.compare_digest(token, ui.csrf):
        raise CSRFRefused()
    return ui


ViewerSession = Annotated[UISession, Depends(current_session)]
"""A page or fragment that only reads."""
ChangingSession = Annotated[UISession, Depends(checked_session)]
"""A request that changes something: signed in, and carrying the CSRF token."""
