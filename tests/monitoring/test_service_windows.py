"""Service figures as flushes store them, on both databases: every flush adds its hour's figures to what
the hour holds (`upserts.add_service`), whichever process flushed first, and the slowest request is the
slowest of all."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from champion.context import ServerContext
from champion.monitoring import upserts
from champion.monitoring.tables import ServiceWindow
from tests.monitoring.conftest import Deployed

HOUR = dt.datetime(2026, 12, 7, 13, tzinfo=dt.UTC)


def figures(deployed: Deployed, start: dt.datetime, **values: float) -> dict[str, Any]:
    zero = dict.fromkeys(
        ("requests", "rows", "latency_sum", "latency_max", "slow_requests", "prediction_sum", "dropped_rows"), 0
    )
    return {"deployment_id": deployed.deployment_id, "version_id": deployed.version_id, "window_start": start} | (
        zero | values
    )


def stored(context: ServerContext, deployed: Deployed) -> dict[dt.datetime, ServiceWindow]:
    with context.sessions() as session:
        found = session.scalars(select(ServiceWindow).where(ServiceWindow.deployment_id == deployed.deployment_id))
        return {window.window_start: window for window in found}


def test_flushes_into_one_hour_add_up_and_keep_the_slowest(context: ServerContext, deployed: Deployed) -> None:
    first = figures(deployed, HOUR, requests=3, rows=30, latency_sum=0.3, latency_max=0.2, slow_requests=0)
    second = figures(
        deployed, HOUR, requests=2, rows=5, latency_sum=2.5, latency_max=2.0, slow_requests=1, dropped_rows=4
    )
    third = figures(deployed, HOUR, requests=1, rows=1, latency_sum=0.1, latency_max=0.1, prediction_sum=1.5)
    for flush in (first, second, third):  # each in its own transaction, as each flush (or process) commits
        with context.sessions() as session:
            upserts.add_service(session, [flush])
            session.commit()
    window = stored(context, deployed)[HOUR]
    assert (window.requests, window.rows, window.slow_requests, window.dropped_rows) == (6, 36, 1, 4)
    assert window.latency_sum == 2.9 and window.latency_max == 2.0 and window.prediction_sum == 1.5


def test_one_flush_spanning_two_hours_adds_to_each(context: ServerContext, deployed: Deployed) -> None:
    later = HOUR + dt.timedelta(hours=1)
    for _ in range(2):
        with context.sessions() as session:
            upserts.add_service(
                session, [figures(deployed, HOUR, requests=1, rows=2), figures(deployed, later, requests=4, rows=8)]
            )
            session.commit()
    windows = stored(context, deployed)
    assert {start: (w.requests, w.rows) for start, w in windows.items()} == {HOUR: (2, 4), later: (8, 16)}
