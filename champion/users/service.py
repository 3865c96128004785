"""Creating users, issuing API keys and checking them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from champion import changes
from champion.db import utcnow
from champion.errors import InvalidInput, PermissionDenied
from champion.users.errors import UserExists, UserNotFound
from champion.users.tables import ApiKey, User

KEY_PREFIX = "chp_"


@dataclass(frozen=True)
class Actor:
    """Who is calling: a snapshot taken at authentication, never an ORM row."""

    user_id: str
    name: str
    is_admin: bool
    key_id: str | None = None
    """The API key the caller authenticated with, directly or through a token issued for it (a
    download URL's token is tied to it too); None for an actor made without a credential (CLI, tests)."""


@dataclass(frozen=True)
class IssuedKey:
    """A new API key. `secret` is shown once and never stored."""

    id: str
    user_id: str
    secret: str
    prefix: str


def digest(key: str) -> str:
    # API keys carry 256 bits of randomness, so a plain SHA-256 is enough to store them
    # safely; a slow password hash would only slow every request down.
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    """`chp_<id>.<secret>`: the `.` makes the WML client send it as a Bearer token."""
    return f"{KEY_PREFIX}{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"


def actor_of(user: User, *, key_id: str | None = None) -> Actor:
    return Actor(user_id=user.id, name=user.name, is_admin=user.is_admin, key_id=key_id)


def create_user(session: Session, *, name: str, is_admin: bool = False) -> User:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("must be 1 to 100 characters", field="name")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UserExists(f"a user named {name!r} exists already")
    user = User(name=name, is_admin=is_admin)
    session.add(user)
    changes.bump(session, changes.Topic.AUTH)
    session.commit()
    return user


def get_user(session: Session, *, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"no user with id {user_id!r}")
    return user


def find_user(session: Session, *, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserNotFound(f"no user named {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at)))


def issue_key(session: Session, *, user_id: str, name: str = "", secret: str | None = None) -> IssuedKey:
    """Store a new key for the user (a given one, or a generated one) and return it once."""
    get_user(session, user_id=user_id)
    secret = secret or generate_key()
    if "." not in secret:
        raise InvalidInput("an API key must contain a '.'", field="api_key")
    row = ApiKey(user_id=user_id, digest=digest(secret), prefix=secret[:12], name=name)
    session.add(row)
    changes.bump(session, changes.Topic.AUTH)
    session.commit()
    return IssuedKey(id=row.id, user_id=user_id, secret=secret, prefix=row.prefix)


def list_keys(session: Session, *, user_id: str) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)))


def revoke_key(session: Session, *, key_id: str) -> None:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise UserNotFound(f"no API key with id {key_id!r}")
    row.revoked_at = utcnow()
    changes.bump(session, changes.Topic.AUTH)
    session.commit()


def authenticate_key(session: Session, secret: str) -> Actor | None:
    """The actor whose live key this is, or None."""
    row = session.scalar(select(ApiKey).where(ApiKey.digest == digest(secret), ApiKey.revoked_at.is_(None)))
    if row is None:
        return None
    return actor_of(get_user(session, user_id=row.user_id), key_id=row.id)


def authenticate_user_key(session: Session, *, user_name: str, secret: str) -> Actor | None:
    """The named user, if the key is theirs and live (the WML authorize form)."""
    actor = authenticate_key(session, secret)
    if actor is None or not secrets.compare_digest(actor.name, user_name):
        return None
    return actor


@dataclass(frozen=True)
class KeyHolder:
    """Who a live key belongs to, and which key it is (its id, never its secret)."""

    actor: Actor
    key_id: str


def identify_user_key(session: Session, *, user_name: str, secret: str) -> KeyHolder | None:
    """Like `authenticate_user_key`, and which key it was: the web UI binds its session to that key."""
    row = session.scalar(select(ApiKey).where(ApiKey.digest == digest(secret), ApiKey.revoked_at.is_(None)))
    if row is None:
        return None
    actor = actor_of(get_user(session, user_id=row.user_id), key_id=row.id)
    if not secrets.compare_digest(actor.name, user_name):
        return None
    return KeyHolder(actor=actor, key_id=row.id)


def live_key_holder(session: Session, *, key_id: str, user_id: str) -> Actor | None:
    """The user, while the key `key_id` is still live and theirs; None once it is revoked or they are deleted."""
    user = session.scalar(
        select(User)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
    )
    return actor_of(user, key_id=key_id) if user is not None else None


def require_admin(actor: Actor, *, to: str = "manage users") -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"only a server admin may {to}")


def ensure_first_admin(session: Session, *, name: str, api_key: str | None) -> IssuedKey | None:
    """On first start, create the admin and a key; return the key so it can be shown once."""
    if session.scalar(select(User).limit(1)) is not None:
        return None
    user = create_user(session, name=name, is_admin=True)
    return issue_key(session, user_id=user.id, name="first admin key", secret=api_key)
