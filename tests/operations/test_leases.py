"""Operations are claimed once, and a runner's lease is judged by the database's clock.

Replicas claim from one queue at the same moment (on PostgreSQL `FOR UPDATE SKIP LOCKED`, on
SQLite a conditional UPDATE); and a replica whose own clock is off still counts as alive and
keeps what it claimed, since heartbeats and claims are stamped by the database.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from champion import dbclock
from champion.cluster import service as cluster
from champion.context import ServerContext
from champion.db import new_id, utcnow
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationKind, OperationState

OPERATIONS = 24
RUNNERS = 4


def queue(context: ServerContext, count: int) -> set[str]:
    with context.sessions() as session:
        created = [
            operations.create(
                session, kind=OperationKind.DEPLOY, space_id=new_id(), target_id=new_id(), created_by=new_id()
            )
            for _ in range(count)
        ]
        session.commit()
        return {operation.id for operation in created}


def pending(context: ServerContext) -> int:
    with context.sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(Operation).where(Operation.state == OperationState.PENDING.value)
        )
        return int(count or 0)


def test_runners_claiming_at_once_each_take_different_operations(context: ServerContext) -> None:
    created = queue(context, OPERATIONS)
    claims: list[tuple[str, str]] = []
    problems: list[BaseException] = []
    start = threading.Barrier(RUNNERS)

    def claim_all(runner: str) -> None:
        try:
            start.wait()
            while True:
                with context.sessions() as session:
                    operation = operations.claim_next(session, runner=runner)
                if operation is not None:
                    claims.append((operation.id, runner))
                elif pending(context) == 0:
                    return
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            problems.append(exc)

    threads = [threading.Thread(target=claim_all, args=(f"runner-{n}",)) for n in range(RUNNERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert problems == []
    times_claimed = Counter(operation_id for operation_id, _ in claims)
    assert set(times_claimed) == created
    assert max(times_claimed.values()) == 1, "an operation was claimed twice"
    with context.sessions() as session:
        stored = {op.id: (op.state, op.runner) for op in session.scalars(select(Operation))}
    assert stored == {operation_id: (OperationState.RUNNING.value, runner) for operation_id, runner in claims}


@pytest.mark.postgres
def test_a_replica_whose_clock_is_slow_keeps_its_lease(
    postgres_context: ServerContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = postgres_context
    (operation_id,) = queue(context, 1)
    # This host's clock is an hour slow; the database's is right.
    monkeypatch.setattr(dbclock, "utcnow", lambda: utcnow() - dt.timedelta(hours=1))
    with context.sessions() as session:
        cluster.publish(session, process="slow host", report=cluster.Report())
        claimed = operations.claim_next(session, runner="slow host")
    assert claimed is not None and claimed.id == operation_id
    monkeypatch.undo()
    with context.sessions() as session:
        assert "slow host" in cluster.live_names(session)
        # Even with its runner taken for gone, a claim made a moment ago is within its grace.
        assert operations.recover(session, live_runners={"another host"}) == 0
        operation = session.get(Operation, operation_id)
        assert operation is not None and operation.state == OperationState.RUNNING.value
