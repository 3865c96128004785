"""Reporting what this process serves, and asking whether every live process has switched.

Each process writes its report when it changes and at least every heartbeat; a process whose
heartbeat is older than `STALE_AFTER` is taken for dead and no longer waited for. This is what
lets an operation report `ready` only once every worker and replica serves the new champion.

The heartbeat is also each process's lease on the operations it runs: once it is stale, a live
process's reaper puts them back in the queue (`operations.recover`). Heartbeats are stamped and
judged by the database's clock (`dbclock`), so replicas on hosts whose clocks differ agree.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from champion import dbclock
from champion.cluster.tables import ProcessReport

STALE_AFTER = dt.timedelta(seconds=5)
"""A process silent this long is taken for dead: not waited for, and its operations go to others."""


def process_name() -> str:
    """A name for this server process, unique across hosts and restarts.

    The host name is cut so that the name fits `operations.runner` (64 characters), whatever the
    host is called (a Kubernetes pod name alone may take 63).
    """
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Report:
    serving: dict[str, str] = field(default_factory=dict)
    prepared: dict[str, str] = field(default_factory=dict)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)


def publish(session: Session, *, process: str, report: Report) -> None:
    row = session.get(ProcessReport, process)
    if row is None:
        row = ProcessReport(process=process)
        session.add(row)
    row.serving, row.prepared, row.errors = report.serving, report.prepared, report.errors
    row.heartbeat_at = dbclock.now(session)  # stamped by the database as it writes the row
    session.commit()


def forget(session: Session, *, process: str) -> None:
    session.execute(delete(ProcessReport).where(ProcessReport.process == process))
    session.commit()


def live(session: Session) -> list[ProcessReport]:
    cutoff = dbclock.ago(session, STALE_AFTER)
    return list(session.scalars(select(ProcessReport).where(ProcessReport.heartbeat_at >= cutoff)))


def live_names(session: Session) -> set[str]:
    """The names of the live processes (each process's operation runner goes by the same name)."""
    return {report.process for report in live(session)}


@dataclass(frozen=True)
class Progress:
    """How far the live processes are with one version of one deployment."""

    waiting: tuple[str, ...]
    """Processes that have not reached it yet."""
    errors: tuple[str, ...]
    """Why processes could not load it."""
    abandoned: bool = False
    """Nobody will ever reach it: the deployment was deleted meanwhile (no follower loads a deleted one)."""

    @property
    def done(self) -> bool:
        return not self.waiting and not self.errors and not self.abandoned


def progress(session: Session, *, deployment_id: str, version_id: str, stage: str, me: str) -> Progress:
    """Which live processes are not yet `serving` (or have not `prepared`) the version, and errors.

    `me` is the asking process: it counts even before its first report is written.
    """
    waiting, errors = [], []
    rows = live(session)
    if me not in {row.process for row in rows}:
        waiting.append(me)
    for row in rows:
        error = row.errors.get(deployment_id)
        if error and error.get("version") == version_id:
            errors.append(f"{row.process}: {error.get('message', 'unknown error')}")
        elif getattr(row, stage).get(deployment_id) != version_id:
            waiting.append(row.process)
    return Progress(tuple(waiting), tuple(errors))


async def wait_for(
    sessions: sessionmaker[Session],
    *,
    deployment_id: str,
    version_id: str,
    stage: str,
    me: str,
    timeout: float,
    interval: float = 0.02,
    wanted: Callable[[Session], bool] | None = None,
) -> Progress:
    """Poll until every live process reached the stage, one failed, `wanted` (asked each time, when
    given) says the wait is pointless, or `timeout` seconds passed."""

    def look() -> Progress:
        with sessions() as session:
            if wanted is not None and not wanted(session):
                return Progress((), (), abandoned=True)
            return progress(session, deployment_id=deployment_id, version_id=version_id, stage=stage, me=me)

    deadline = time.monotonic() + timeout
    while True:
        state = await asyncio.to_thread(look)
        if state.done or state.errors or state.abandoned or time.monotonic() >= deadline:
            return state
        await asyncio.sleep(interval)
