"""Web UI sessions kept on the server, so that signing out ends one.

A signed cookie alone cannot be taken back: a copy kept from before signing out would work
until it expired. So the cookie names a row here, signing out deletes the row, and every
request asks whether the row is still there and its API key still live and the user's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from champion.db import utcnow
from champion.users.service import Actor, actor_of
from champion.users.tables import ApiKey, BrowserSession, User


def start(session: Session, *, user_id: str, key_id: str, lifetime_seconds: int) -> str:
    """Open a session for the user signed in with API key `key_id`; its id, for the cookie.

    Sessions older than `lifetime_seconds` (their cookies have expired) are swept here: sign-ins
    are rare, so this keeps the table small without a housekeeping task.
    """
    expired = utcnow() - dt.timedelta(seconds=lifetime_seconds)
    session.execute(delete(BrowserSession).where(BrowserSession.created_at < expired))
    row = BrowserSession(user_id=user_id, key_id=key_id)
    session.add(row)
    session.commit()
    return row.id


def holder(session: Session, *, session_id: str) -> Actor | None:
    """Who the session is for, while it is open and its API key live and theirs; None otherwise."""
    found = session.execute(
        select(User, ApiKey.id)
        .join(BrowserSession, BrowserSession.user_id == User.id)
        .join(ApiKey, ApiKey.id == BrowserSession.key_id)
        .where(BrowserSession.id == session_id, ApiKey.user_id == User.id, ApiKey.revoked_at.is_(None))
    ).first()
    if found is None:
        return None
    user, key_id = found
    return actor_of(user, key_id=key_id)


def end(session: Session, *, session_id: str) -> None:
    """Close the session (signing out): its cookie, and every copy of it, is worth nothing from now on."""
    session.execute(delete(BrowserSession).where(BrowserSession.id == session_id))
    session.commit()
