"""The clock for times that processes on several hosts compare: the database's, on PostgreSQL.

Replicas judge each other's heartbeats (`cluster`) and the age of operation claims
(`operations.recover`) by stored times. Their own clocks may disagree by seconds, enough to
take a live replica for dead or to leave a dead one's work waiting; the database has one clock.
SQLite serves one host, whose clock it shares.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Interval, func, literal
from sqlalchemy.orm import Session

from champion.db import UTCDateTime, utcnow


def now(session: Session) -> ColumnElement[dt.datetime]:
    """The current time, as a value to store or compare within `session`'s statements."""
    if _postgres(session):
        return func.statement_timestamp(type_=UTCDateTime())
    return literal(utcnow(), UTCDateTime())


def ago(session: Session, age: dt.timedelta) -> ColumnElement[dt.datetime]:
    """The time `age` before now, on the same clock as `now`."""
    if _postgres(session):
        return func.statement_timestamp(type_=UTCDateTime()) - literal(age, Interval())
    return literal(utcnow() - age, UTCDateTime())


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
