"""Running a replace operation: a two-phase swap across every server process, then the record.

Phase one: every process's follower loads and warms the candidate beside the champion (the
deployment names it as `candidate_version_id`) and reports it prepared. If any process cannot,
the replacement ends failed and nothing was swapped anywhere: the champion keeps serving
(invariant 2). Phase two: the candidate becomes the champion in one commit; each process
flips its prepared model in with no load, and the deployment turns `ready` once every live
process reports serving it (invariant 6). Both phases are safe to run again after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from champion.cluster import service as cluster
from champion.db import utcnow
from champion.deployments import lifecycle, settings
from champion.deployments.tables import Deployment
from champion.models.tables import ModelVersion
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState
from champion.replacement.tables import ReplacementRecord
from champion.replacement.types import Outcome, ReplacePayload

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplaceHandler:
    sessions: sessionmaker[Session]
    process: str
    timeout: float
    committed: Callable[[], Awaitable[None]]

    async def __call__(self, operation: Operation) -> None:
        deployment_id, payload = operation.target_id, ReplacePayload.model_validate(operation.payload)
        candidate = payload.to_version_id
        try:
            if not await asyncio.to_thread(self._swapped, deployment_id, payload):
                await self.committed()
                prepared = await self._wait(deployment_id, candidate, "prepared")
                if not prepared.done:
                    reason = "; ".join(prepared.errors) or f"not prepared in time by {', '.join(prepared.waiting)}"
                    await asyncio.to_thread(self._fail, operation, payload, _failure(reason))
                    await self.committed()
                    return
                await asyncio.to_thread(self._flip, deployment_id, payload)
            await self.committed()
            serving = await self._wait(deployment_id, candidate, "serving")
            note = "" if serving.done else f"switched late: {', '.join(serving.waiting + serving.errors)}"
            await asyncio.to_thread(self._succeed, operation, payload, note)
            logger.info("deployment %s now serves version %s", deployment_id, candidate)
        except Exception as exc:
            logger.exception("replacing the model of %s failed", deployment_id)
            await asyncio.to_thread(self._fail, operation, payload, _failure(str(exc)))
        await self.committed()

    async def _wait(self, deployment_id: str, version_id: str, stage: str) -> cluster.Progress:
        progress = await cluster.wait_for(
            self.sessions,
            deployment_id=deployment_id,
            version_id=version_id,
            stage=stage,
            me=self.process,
            timeout=self.timeout,
            wanted=lambda session: session.get(Deployment, deployment_id) is not None,
        )
        if progress.abandoned:
            raise LookupError("the deployment was deleted during the replacement")
        return progress

    def _swapped(self, deployment_id: str, payload: ReplacePayload) -> bool:
        """Whether phase two was already committed (a restart resumed this operation)."""
        with self.sessions() as session:
            deployment = session.get(Deployment, deployment_id)
            return deployment is not None and deployment.version_id == payload.to_version_id

    def _flip(self, deployment_id: str, payload: ReplacePayload) -> None:
        with self.sessions() as session:
            deployment = session.get(Deployment, deployment_id)
            if deployment is None:
                raise LookupError("the deployment was deleted during the replacement")
            version = session.get(ModelVersion, payload.to_version_id)
            if version is None:
                raise LookupError("the candidate model version was deleted during the replacement")
            lifecycle.promote(session, deployment, version_id=version.id, model_id=version.model_id)
            # Its runtime parameter values go in with it, in the same commit (older operations carry none).
            if payload.runtime_values is not None:
                settings.store_runtime_values(session, deployment_id=deployment.id, values=payload.runtime_values)
            session.commit()

    def _succeed(self, operation: Operation, payload: ReplacePayload, note: str) -> None:
        with self.sessions() as session:
            lifecycle.replacement_succeeded(session, deployment_id=operation.target_id)
            _close_record(session, payload, Outcome.SUCCEEDED, note)
            operations.finish(session, operation_id=operation.id, state=OperationState.SUCCEEDED, message=note)
            session.commit()

    def _fail(self, operation: Operation, payload: ReplacePayload, message: str) -> None:
        with self.sessions() as session:
            lifecycle.replacement_failed(
                session,
                deployment_id=operation.target_id,
                candidate_version_id=payload.to_version_id,
                previous=payload.previous_state,
                message=message,
            )
            _close_record(session, payload, Outcome.FAILED, message)
            operations.finish(session, operation_id=operation.id, state=OperationState.FAILED, message=message)
            session.commit()


def _close_record(session: Session, payload: ReplacePayload, outcome: Outcome, message: str) -> None:
    record = session.get(ReplacementRecord, payload.record_id)
    if record is not None:
        record.outcome, record.message, record.finished_at = outcome.value, message, utcnow()


def _failure(reason: str) -> str:
    return f"the candidate could not be loaded and warmed up; the previous model still serves: {reason[:400]}"
