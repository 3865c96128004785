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


KEY_CLAIM = "key_id"
"""The claim naming the API key a token was issued for: the token is good only while that key is live."""


@dataclass(frozen=True)
class KeyToken:
    """A verified token's user and the API key it was issued for."""

    user_id: str
    key_id: str


def issue_token(
    *,
    user_id: str,
    user_name: str,
    key: str,
    ttl_seconds: int,
    audience: str | None = None,
    key_id: str | None = None,
) -> str:
    """A signed token for the user. With an `audience`, it is good for that one purpose only:
    `verify_token` refuses it unless asked for the same audience (PyJWT rejects an unexpected `aud`).
    With a `key_id`, it names the API key it was issued for, so it can die with that key
    (`verify_key_token`)."""
    import jwt  # imported when used: PyJWT brings in cryptography, which most workers never need

    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": user_id,
        "username": user_name,
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl_seconds),
    }
    if audience is not None:
        claims["aud"] = audience
    if key_id is not None:
        claims[KEY_CLAIM] = key_id
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


def verify_key_token(token: str, *, key: str, audience: str | None = None) -> KeyToken:
    """`verify_token`, and the user and API key the token names. Whether that key is still live
    is the caller's to check (in the database, or in the access cache). A token naming no key was
    issued before tokens named one: it cannot be tied to a key, so it is refused, and the client
    authorizes again."""
    claims = verify_token(token, key=key, audience=audience)
    user_id, key_id = claims.get("sub"), claims.get(KEY_CLAIM)
    if not isinstance(key_id, str) or not isinstance(user_id, str):
        raise Unauthenticated("the access token names no API key (it predates this server version): authorize again")
    return KeyToken(user_id=user_id, key_id=key_id)


def matches_secret(presented: str, expected: str | None) -> bool:
    """Whether a presented secret is the configured one, in constant time; never when none is configured."""
    return expected is not None and secrets.compare_digest(presented.encode(), expected.encode())


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
