"""Creating, claiming and finishing operations; ending what a crash left unfinished."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from champion import changes, dbclock
from champion.db import utcnow
from champion.errors import NotFound
from champion.operations.tables import Operation
from champion.operations.types import OperationKind, OperationState

logger = logging.getLogger(__name__)

GRACE = dt.timedelta(seconds=5)
"""How long a running operation belongs to its runner before anyone asks whether that runner is alive.

A runner claims only once its process reports (the follower publishes before the runner starts),
so this guards only a claimer nobody has heard from yet; it matches `cluster.STALE_AFTER`, the
lease, so a claimer killed at once loses the operation as soon as one that reported would.
"""


def create(
    session: Session,
    *,
    kind: OperationKind,
    space_id: str,
    target_id: str,
    created_by: str,
    payload: BaseModel | None = None,
) -> Operation:
    """Add a pending operation to the caller's transaction; it is durable once they commit.

    `payload` is the kind's own typed document (a deploy's `DeployPayload`, a replacement's
    `ReplacePayload`); its handler reads it back with the same model, never by string keys.
    The commit wakes every listening process's runner (`changes.NEW_OPERATIONS`).
    """
    operation = Operation(
        kind=kind.value,
        state=OperationState.PENDING.value,
        space_id=space_id,
        target_id=target_id,
        created_by=created_by,
        payload=payload.model_dump(mode="json") if payload is not None else {},
    )
    session.add(operation)
    changes.announce(session, changes.NEW_OPERATIONS)
    return operation


def get(session: Session, *, operation_id: str) -> Operation:
    operation = session.get(Operation, operation_id)
    if operation is None:
        raise NotFound(f"no operation with id {operation_id!r}")
    return operation


def claim_next(session: Session, *, runner: str) -> Operation | None:
    """Take the oldest pending operation for `runner`; only one runner can win a row.

    On PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`: replicas claiming at once each take
    a different row and none waits on another's. Elsewhere (SQLite: one writer at a time) a
    conditional UPDATE on the state decides between racing processes.
    """
    if session.get_bind().dialect.name == "postgresql":
        picked = session.scalar(
            select(Operation.id)
            .where(Operation.state == OperationState.PENDING.value)
            .order_by(Operation.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if picked is None:
            session.rollback()
            return None
        _take(session, picked, runner)
        session.commit()
        return _claimed(session, picked)
    candidates = session.scalars(
        select(Operation.id)
        .where(Operation.state == OperationState.PENDING.value)
        .order_by(Operation.created_at)
        .limit(5)
    ).all()
    for operation_id in candidates:
        claimed = _take(session, operation_id, runner)
        session.commit()
        if claimed:
            return _claimed(session, operation_id)
    return None


def _take(session: Session, operation_id: str, runner: str) -> bool:
    """Mark a pending operation running for `runner` (stamped by the clock `recover` judges by)."""
    result = session.execute(
        update(Operation)
        .where(Operation.id == operation_id, Operation.state == OperationState.PENDING.value)
        .values(state=OperationState.RUNNING.value, runner=runner, started_at=dbclock.now(session))
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _claimed(session: Session, operation_id: str) -> Operation | None:
    operation = session.get(Operation, operation_id)
    if operation is not None:
        session.refresh(operation)
        logger.info("operation %s (%s on %s) running", operation.id, operation.kind, operation.target_id)
    return operation


def finish(session: Session, *, operation_id: str, state: OperationState, message: str = "") -> None:
    """Move a running operation to a terminal state (in the caller's transaction)."""
    assert state.terminal
    operation = get(session, operation_id=operation_id)
    operation.state, operation.message, operation.finished_at = state.value, message, utcnow()
    logger.info("operation %s %s %s", operation_id, state.value, message)


def recover(session: Session, *, live_runners: Collection[str] | None = None, grace: dt.timedelta = GRACE) -> int:
    """Put the running operations whose runner is gone back in the queue; return how many.

    `live_runners=None` is the start-up of the only server on this database: no runner is alive
    yet, so every running row is an orphan. Otherwise a row is an orphan when its runner is not
    among `live_runners` (its process stopped reporting: it died, or its server was killed) and it
    started over `grace` ago, so that a process still starting up is never robbed. Operations
    are idempotent (a deploy loads and warms again, a replacement resumes its phase), so
    resuming one elsewhere is safe.

    Each row goes back only if it is still running for the runner seen (a conditional UPDATE):
    two reapers racing, or a live runner claiming the row between the look and the write, never
    have a claimed operation put back. The commit wakes every listening runner.
    """
    query = select(Operation.id, Operation.runner).where(Operation.state == OperationState.RUNNING.value)
    if live_runners is not None:
        query = query.where(Operation.started_at < dbclock.ago(session, grace))
        if live_runners:
            query = query.where(Operation.runner.not_in(list(live_runners)))
    returned = 0
    for operation_id, runner in session.execute(query).all():
        moved = session.execute(
            update(Operation)
            .where(
                Operation.id == operation_id,
                Operation.state == OperationState.RUNNING.value,
                Operation.runner.is_(None) if runner is None else Operation.runner == runner,
            )
            .values(
                state=OperationState.PENDING.value,
                runner=None,
                message="resumed: the server process running it stopped",
            )
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            logger.warning("operation %s was left running by %s: back in the queue", operation_id, runner)
            returned += 1
    if returned:
        changes.announce(session, changes.NEW_OPERATIONS)
    session.commit()
    return returned
