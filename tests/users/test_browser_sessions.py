"""Web UI sessions on the server: open until signed out, while their key is live, swept once expired."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from champion.context import ServerContext
from champion.users import browser_sessions
from champion.users import service as users
from champion.users.tables import BrowserSession

DAY = 24 * 3600


def test_a_session_lasts_until_it_is_ended(context: ServerContext) -> None:
    with context.sessions() as session:
        carol = users.create_user(session, name="carol")
        key = users.issue_key(session, user_id=carol.id)
        first = browser_sessions.start(session, user_id=carol.id, key_id=key.id, lifetime_seconds=DAY)
        second = browser_sessions.start(session, user_id=carol.id, key_id=key.id, lifetime_seconds=DAY)
        held = browser_sessions.holder(session, session_id=first)
        assert held is not None and (held.user_id, held.key_id) == (carol.id, key.id)
        browser_sessions.end(session, session_id=first)
        assert browser_sessions.holder(session, session_id=first) is None
        assert browser_sessions.holder(session, session_id=second) is not None  # another browser's stays
        assert browser_sessions.holder(session, session_id="no-such-session") is None


def test_revoking_the_key_or_deleting_the_user_ends_it(context: ServerContext) -> None:
    with context.sessions() as session:
        carol = users.create_user(session, name="carol")
        key = users.issue_key(session, user_id=carol.id)
        opened = browser_sessions.start(session, user_id=carol.id, key_id=key.id, lifetime_seconds=DAY)
        users.revoke_key(session, key_id=key.id)
        assert browser_sessions.holder(session, session_id=opened) is None

        dave = users.create_user(session, name="dave")
        key = users.issue_key(session, user_id=dave.id)
        opened = browser_sessions.start(session, user_id=dave.id, key_id=key.id, lifetime_seconds=DAY)
        session.delete(dave)
        session.commit()
        assert browser_sessions.holder(session, session_id=opened) is None
        assert session.scalar(select(func.count()).select_from(BrowserSession)) == 1  # carol's, revoked


def test_expired_sessions_are_swept_at_the_next_sign_in(context: ServerContext) -> None:
    with context.sessions() as session:
        carol = users.create_user(session, name="carol")
        key = users.issue_key(session, user_id=carol.id)
        old = browser_sessions.start(session, user_id=carol.id, key_id=key.id, lifetime_seconds=DAY)
        two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        session.execute(update(BrowserSession).where(BrowserSession.id == old).values(created_at=two_days_ago))
        session.commit()
        new = browser_sessions.start(session, user_id=carol.id, key_id=key.id, lifetime_seconds=DAY)
        assert list(session.scalars(select(BrowserSession.id))) == [new]
