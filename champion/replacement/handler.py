"""Running a replace operation: load and warm the candidate beside the champion, swap, record.

Every step before the swap can fail without effect: the champion keeps serving, the
deployment returns to the state it had with `status.failure` saying why, and the record and
the operation end `failed` (invariant 2). After the swap the outcome is committed in one
transaction; other processes follow it through the change counters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from champion.artifacts import ArtifactStore
from champion.db import utcnow
from champion.deployments import service as deployments
from champion.deployments.rollout import version_ref
from champion.deployments.tables import Deployment
from champion.deployments.types import State
from champion.models.tables import ModelVersion
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState
from champion.replacement.tables import ReplacementRecord
from champion.replacement.types import Outcome
from champion.serving.engine import ServingEngine, VersionRef

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplaceHandler:
    sessions: sessionmaker[Session]
    store: ArtifactStore
    engine: ServingEngine
    committed: Callable[[], Awaitable[None]]

    async def __call__(self, operation: Operation) -> None:
        try:
            ref = await asyncio.to_thread(self._candidate, operation)
            loaded = await self.engine.load(ref, self.store.open_path(ref.sha256))
            await self.engine.install(operation.target_id, loaded)
            await asyncio.to_thread(self._succeed, operation)
            logger.info("deployment %s now serves %s rev %s", operation.target_id, ref.model_id, ref.number)
        except Exception as exc:
            logger.warning("replacing the model of %s failed: %s", operation.target_id, exc)
            await asyncio.to_thread(self._fail, operation, _describe(exc))
        await self.committed()

    def _candidate(self, operation: Operation) -> VersionRef:
        with self.sessions() as session:
            version = session.get(ModelVersion, operation.payload["to_version_id"])
            if version is None:
                raise LookupError("the candidate model version no longer exists")
            return version_ref(version)

    def _succeed(self, operation: Operation) -> None:
        with self.sessions() as session:
            deployment = session.get(Deployment, operation.target_id)
            if deployment is not None:
                deployment.version_id = operation.payload["to_version_id"]
                deployment.state, deployment.failure = State.READY.value, None
                deployments.touch(session, deployment)
            self._close_record(session, operation, Outcome.SUCCEEDED, "")
            operations.finish(session, operation_id=operation.id, state=OperationState.SUCCEEDED)
            session.commit()

    def _fail(self, operation: Operation, message: str) -> None:
        with self.sessions() as session:
            deployment = session.get(Deployment, operation.target_id)
            if deployment is not None:
                deployment.state = operation.payload.get("previous_state", State.READY.value)
                deployment.failure = [{"code": "replacement_failed", "message": message}]
                deployments.touch(session, deployment)
            self._close_record(session, operation, Outcome.FAILED, message)
            operations.finish(session, operation_id=operation.id, state=OperationState.FAILED, message=message)
            session.commit()

    @staticmethod
    def _close_record(session: Session, operation: Operation, outcome: Outcome, message: str) -> None:
        record = session.get(ReplacementRecord, operation.payload.get("record_id", ""))
        if record is not None:
            record.outcome, record.message, record.finished_at = outcome.value, message, utcnow()


def _describe(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else type(exc).__name__
    return f"the candidate could not be loaded and warmed up; the previous model still serves: {first[:300]}"
