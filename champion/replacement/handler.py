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
from champion.deployments import service as deployments
from champion.deployments import settings
from champion.deployments.tables import Deployment
from champion.deployments.types import State
from champion.models.tables import ModelVersion
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState
from champion.replacement.tables import ReplacementRecord
from champion.replacement.types import Outcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplaceHandler:
    sessions: sessionmaker[Session]
    process: str
    timeout: float
    committed: Callable[[], Awaitable[None]]

    async def __call__(self, operation: Operation) -> None:
        deployment_id, candidate = operation.target_id, operation.payload["to_version_id"]
        try:
            if not await asyncio.to_thread(self._swapped, operation):
                await self.committed()
                prepared = await self._wait(deployment_id, candidate, "prepared")
                if not prepared.done:
                    reason = "; ".join(prepared.errors) or f"not prepared in time by {', '.join(prepared.waiting)}"
                    await asyncio.to_thread(self._fail, operation, _failure(reason))
                    await self.committed()
                    return
                await asyncio.to_thread(self._flip, operation)
            await self.committed()
            serving = await self._wait(deployment_id, candidate, "serving")
            note = "" if serving.done else f"switched late: {', '.join(serving.waiting + serving.errors)}"
            await asyncio.to_thread(self._succeed, operation, note)
            logger.info("deployment %s now serves version %s", deployment_id, candidate)
        except Exception as exc:
            logger.exception("replacing the model of %s failed", deployment_id)
            await asyncio.to_thread(self._fail, operation, _failure(str(exc)))
        await self.committed()

    async def _wait(self, deployment_id: str, version_id: str, stage: str) -> cluster.Progress:
        return await cluster.wait_for(
            self.sessions,
            deployment_id=deployment_id,
            version_id=version_id,
            stage=stage,
            me=self.process,
            timeout=self.timeout,
        )

    def _swapped(self, operation: Operation) -> bool:
        """Whether phase two was already committed (a restart resumed this operation)."""
        with self.sessions() as session:
            deployment = session.get(Deployment, operation.target_id)
            return deployment is not None and deployment.version_id == operation.payload["to_version_id"]

    def _flip(self, operation: Operation) -> None:
        with self.sessions() as session:
            deployment = session.get(Deployment, operation.target_id)
            if deployment is None:
                raise LookupError("the deployment was deleted during the replacement")
            version = session.get(ModelVersion, operation.payload["to_version_id"])
            if version is None:
                raise LookupError("the candidate model version was deleted during the replacement")
            # The champion may be a version of another model: the asset follows it.
            deployment.version_id, deployment.model_id = version.id, version.model_id
            deployment.candidate_version_id = None
            # Its runtime parameter values go in with it, in the same commit (older operations carry none).
            if (values := operation.payload.get("runtime_values")) is not None:
                settings.store_runtime_values(session, deployment_id=deployment.id, values=values)
            deployments.touch(session, deployment)
            session.commit()

    def _succeed(self, operation: Operation, note: str) -> None:
        with self.sessions() as session:
            deployment = session.get(Deployment, operation.target_id)
            if deployment is not None:
                deployment.state, deployment.failure = State.READY.value, None
                deployments.touch(session, deployment)
            self._close_record(session, operation, Outcome.SUCCEEDED, note)
            operations.finish(session, operation_id=operation.id, state=OperationState.SUCCEEDED, message=note)
            session.commit()

    def _fail(self, operation: Operation, message: str) -> None:
        with self.sessions() as session:
            deployment = session.get(Deployment, operation.target_id)
            if deployment is not None and deployment.version_id != operation.payload["to_version_id"]:
                deployment.state = operation.payload.get("previous_state", State.READY.value)
                deployment.candidate_version_id = None
                deployment.failure = [{"code": "replacement_failed", "message": message}]
                deployments.touch(session, deployment)
            elif deployment is not None:
                # Failed after the flip (rare): the new champion is committed and serving; say so.
                deployment.state = State.READY.value
                deployments.touch(session, deployment)
            self._close_record(session, operation, Outcome.FAILED, message)
            operations.finish(session, operation_id=operation.id, state=OperationState.FAILED, message=message)
            session.commit()

    @staticmethod
    def _close_record(session: Session, operation: Operation, outcome: Outcome, message: str) -> None:
        record = session.get(ReplacementRecord, operation.payload.get("record_id", ""))
        if record is not None:
            record.outcome, record.message, record.finished_at = outcome.value, message, utcnow()


def _failure(reason: str) -> str:
    return f"the candidate could not be loaded and warmed up; the previous model still serves: {reason[:400]}"
