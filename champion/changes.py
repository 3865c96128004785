"""Change counters: how every server process learns, with one cheap query, that something moved.

A service that changes what the hot path serves (a deployment's champion, API keys, memberships)
bumps a counter in the same transaction; each process polls the counters and reloads only
the snapshot whose counter moved. This keeps the prediction path free of database reads
(invariant 5) while several workers or replicas converge on the same state (invariant 6).

On PostgreSQL a bump also sends a notification on `CHANNEL` (delivered at commit, dropped on
rollback), so processes that listen (`champion/notifications.py`) act at once rather than at their
next poll. The counters stay the truth: a lost notification only delays a process to its poll.
"""

from __future__ import annotations

import enum

from sqlalchemy import Integer, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from champion.db import Base

CHANNEL = "champion_changes"
"""The PostgreSQL notification channel; each notification's payload says what moved."""

NEW_OPERATIONS = "operations"
"""The payload announcing pending operations, so every runner looks at once."""


class Topic(enum.StrEnum):
    AUTH = "auth"
    DEPLOYMENTS = "deployments"


class ChangeCounter(Base):
    __tablename__ = "change_counters"

    topic: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)


def bump(session: Session, topic: Topic) -> None:
    """Count a change to `topic`; it becomes visible, and is announced, when the caller commits."""
    result = session.execute(
        update(ChangeCounter).where(ChangeCounter.topic == topic.value).values(seq=ChangeCounter.seq + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ChangeCounter(topic=topic.value, seq=1))
    announce(session, topic.value)


def announce(session: Session, payload: str) -> None:
    """Notify every listening process of `payload` when the caller commits (PostgreSQL only).

    PostgreSQL sends it only if the transaction commits, once the change is visible, and folds
    repeats of one payload within a transaction into one. Elsewhere (SQLite: one host, often one
    process) this does nothing and the processes poll.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, payload)))


def read(session: Session) -> dict[Topic, int]:
    rows = session.execute(select(ChangeCounter.topic, ChangeCounter.seq)).all()
    seen = {Topic(topic): seq for topic, seq in rows}
    return {topic: seen.get(topic, 0) for topic in Topic}
