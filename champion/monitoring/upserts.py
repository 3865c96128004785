"""Statements that add to a window's figures, or keep the first or the last row of a key, in one go.

Several server processes flush into the same hour at once; an INSERT … ON CONFLICT that adds the
new figures to the stored ones lets them all write without reading first or locking, and it is the
same statement on SQLite and PostgreSQL, only spelled by each dialect's `insert`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from champion.monitoring.tables import Actual, AssociatedPrediction, DriftCount, ServiceWindow


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _greatest(session: Session) -> Any:
    # SQLite's two-argument max() is PostgreSQL's greatest().
    return func.greatest if session.get_bind().dialect.name == "postgresql" else func.max


def add_service(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add requests, rows, latency and drops to their windows (`ServiceWindow` columns, keyed by window)."""
    if not rows:
        return
    statement = _insert(session, ServiceWindow)
    new = statement.excluded
    table = ServiceWindow.__table__.c
    statement = statement.on_conflict_do_update(
        index_elements=["deployment_id", "version_id", "window_start"],
        set_={
            "requests": table.requests + new.requests,
            "rows": table.rows + new.rows,
            "latency_sum": table.latency_sum + new.latency_sum,
            "latency_max": _greatest(session)(table.latency_max, new.latency_max),
            "slow_requests": table.slow_requests + new.slow_requests,
            "prediction_sum": table.prediction_sum + new.prediction_sum,
            "dropped_rows": table.dropped_rows + new.dropped_rows,
        },
    )
    session.execute(statement, list(rows))


def add_drift(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add bin counts (`DriftCount` columns) to what their hour already holds."""
    if not rows:
        return
    statement = _insert(session, DriftCount)
    statement = statement.on_conflict_do_update(
        index_elements=["deployment_id", "version_id", "window_start", "feature", "bin"],
        set_={"count": DriftCount.__table__.c.count + statement.excluded.count},
    )
    session.execute(statement, list(rows))


def keep_first_predictions(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Index predictions by association id; an id already indexed keeps its first prediction."""
    if not rows:
        return
    statement = _insert(session, AssociatedPrediction).on_conflict_do_nothing(
        index_elements=["deployment_id", "association_id"]
    )
    session.execute(statement, list(rows))


def put_actuals(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store actuals; a second actual for an association id replaces the first."""
    if not rows:
        return
    statement = _insert(session, Actual)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["deployment_id", "association_id"],
        set_={
            "value": new.value,
            "was_acted_on": new.was_acted_on,
            "actual_at": new.actual_at,
            "received_at": new.received_at,
        },
    )
    session.execute(statement, list(rows))
