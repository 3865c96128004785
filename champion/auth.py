"""Credentials on the wire: reading the Authorization header and signing access tokens.

Which user a credential belongs to is the users domain's business; this module only
knows the formats the official clients send.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion.errors import Unauthenticated

ALGORITHM = "HS256"
ISSUER = "champion"


@dataclass(frozen=True)
class Credential:
    """What the caller presented: a bearer secret (API key or JWT), or a user name with a key."""

    secret: str
    user_name: str | None = None

    @property
    def is_jwt(self) -> bool:
        return self.secret.startswith("eyJ") and self.secret.count(".") == 2


def parse_authorization(header: str | None) -> Credential:
    """Accept `Bearer`, `Token` (DataRobot), `Basic` and `ZenApiKey` (WML on-prem) forms."""
    if not header:
        raise Unauthenticated("missing Authorization header")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if not value:
        raise Unauthenticated("empty credentials in the Authorization header")
    scheme = scheme.lower()
    if scheme in ("bearer", "token"):
        return Credential(secret=value)
    if scheme in ("basic", "zenapikey"):
        decoded = _b64(value)
        if decoded is not None and ":" in decoded:
            user_name, _, secret = decoded.partition(":")
            return Credential(secret=secret, user_name=user_name)
        # The WML client sends a bare token as Basic when it has no ".".
        return Credential(secret=value)
    raise Unauthenticated(f"unsupported authorization scheme {scheme!r}")


def _b64(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def issue_token(*, user_id: str, user_name: str, key: str, ttl_seconds: int, audience: str | None = None) -> str:
    """A signed token for the user. With an `audience`, it is good for that one purpose only:
    `verify_token` refuses it unless asked for the same audience (PyJWT rejects an unexpected `aud`)."""
    import jwt  # imported when used: PyJWT brings in cryptography, which most workers never need

    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": ISSUER,
        "sub": user_id,
        "username": user_name,
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl_seconds),
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_token(token: str, *, key: str, audience: str | None = None) -> dict[str, Any]:
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=audience,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("the access token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("the access token is not valid") from exc
    return claims


def load_signing_key(home: Path, configured: str | None) -> str:
    """The configured key, or one generated once and kept (mode 0600) in the home folder."""
    if configured:
        return configured
    path = home / "secret.key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
