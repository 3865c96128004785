"""Statements that add to a window's figures, or keep the first or the last row of a key, in one go.

Several server processes flush into the same hour at once; an INSERT … ON CONFLICT that adds the
new figures to the stored ones lets them all write without reading first or locking, and it is the
same statement on SQLite and PostgreSQL, only spelled by each dialect's `insert` (drift counts go to
PostgreSQL as arrays, see `add_drift`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, Text, bindparam, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from champion.monitoring.tables import Actual, AssociatedPrediction, DriftCount, ServiceWindow


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def add_service(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add requests, rows, latency and drops to their windows (`ServiceWindow` columns, keyed by window).

    Every capture flush adds its hour's figures: the statement is made once per dialect, and it names
    the table, not the mapped class, so the ORM's bulk-insert path (2 ms a flush) is skipped.
    """
    if not rows:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    session.execute(_SERVICE_POSTGRESQL if postgres else _SERVICE_SQLITE, list(rows))


def _service_upsert(insert: Any, greatest: Any) -> Any:
    table, new = _SERVICE.c, insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["deployment_id", "version_id", "window_start"],
        set_={
            "requests": table.requests + new.requests,
            "rows": table.rows + new.rows,
            "latency_sum": table.latency_sum + new.latency_sum,
            "latency_max": greatest(table.latency_max, new.latency_max),
            "slow_requests": table.slow_requests + new.slow_requests,
            "prediction_sum": table.prediction_sum + new.prediction_sum,
            "dropped_rows": table.dropped_rows + new.dropped_rows,
        },
    )


_SERVICE = cast(Table, ServiceWindow.__table__)
# SQLite's two-argument max() is PostgreSQL's greatest().
_SERVICE_SQLITE = _service_upsert(sqlite.insert(_SERVICE), func.max)
_SERVICE_POSTGRESQL = _service_upsert(postgresql.insert(_SERVICE), func.greatest)


def add_drift(
    session: Session,
    deployment_id: str,
    version_id: str,
    window_start: dt.datetime,
    counts: Sequence[tuple[str, int, int]],
) -> None:
    """Add one hour's bin counts, each (feature, bin, count), to what the hour already holds (`DriftCount`).

    A flush adds a few hundred counts several times a second, beside the serving event loop. On PostgreSQL
    they go as three arrays in one statement: an executemany sends and binds every row on its own
    (5 ms of client CPU for 210 counts, against 1.2 ms). SQLite has no arrays, and an executemany of a
    statement made once is cheap there; both skip the ORM's bulk-insert path (1.2 ms of 3 per flush).
    """
    if not counts:
        return
    hour = {"deployment_id": deployment_id, "version_id": version_id, "window_start": window_start}
    if session.get_bind().dialect.name == "postgresql":
        features, bins, numbers = zip(*counts, strict=True)
        arrays = {"features": list(features), "bins": list(bins), "counts": list(numbers)}
        session.execute(_DRIFT_FROM_ARRAYS, hour | arrays)
    else:
        session.execute(_DRIFT_ROWS, [hour | {"feature": f, "bin": b, "count": n} for f, b, n in counts])


def _drift_upsert(insert: Any, table: Table) -> Any:
    return insert.on_conflict_do_update(
        index_elements=["deployment_id", "version_id", "window_start", "feature", "bin"],
        set_={"count": table.c.count + insert.excluded.count},
    )


_DRIFT = cast(Table, DriftCount.__table__)
_DRIFT_ROWS = _drift_upsert(sqlite.insert(_DRIFT), _DRIFT)
_FROM_ARRAYS = (
    func.unnest(
        # text[], not varchar(255)[]: a cast to a length cuts a longer name silently, where the insert refuses it.
        sql_cast(bindparam("features"), postgresql.ARRAY(Text)),
        sql_cast(bindparam("bins"), postgresql.ARRAY(_DRIFT.c.bin.type)),
        sql_cast(bindparam("counts"), postgresql.ARRAY(_DRIFT.c.count.type)),
    )
    .table_valued("feature", "bin", "count")
    .render_derived(name="counted")
)
_DRIFT_FROM_ARRAYS = _drift_upsert(
    postgresql.insert(_DRIFT).from_select(
        ["deployment_id", "version_id", "window_start", "feature", "bin", "count"],
        select(
            *(bindparam(name, type_=_DRIFT.c[name].type) for name in ("deployment_id", "version_id", "window_start")),
            _FROM_ARRAYS.c.feature,
            _FROM_ARRAYS.c.bin,
            _FROM_ARRAYS.c.count,
        ),
    ),
    _DRIFT,
)


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
