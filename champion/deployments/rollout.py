"""Running a deploy operation: wait until every server process holds the champion, then go ready.

The handler loads nothing itself: each process's follower loads an initializing deployment's
champion and reports it (or the error) through the cluster reports. The deployment turns
`ready` only once every live process serves it, so any worker can answer the first request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from champion.cluster import service as cluster
from champion.deployments import lifecycle
from champion.deployments.lifecycle import DeployPayload
from champion.deployments.tables import Deployment
from champion.models.tables import ModelVersion
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState
from champion.runtimes import Framework, Signature
from champion.serving.engine import VersionRef

logger = logging.getLogger(__name__)


def version_ref(version: ModelVersion) -> VersionRef:
    return VersionRef(
        version_id=version.id,
        model_id=version.model_id,
        number=version.number,
        framework=Framework(version.framework),
        sha256=version.sha256,
        signature=Signature.from_dict(version.signature),
    )


@dataclass(frozen=True)
class DeployHandler:
    sessions: sessionmaker[Session]
    process: str
    """This server process, as it reports itself to the cluster."""
    timeout: float
    committed: Callable[[], Awaitable[None]]
    """Makes this process catch up with the database at once."""

    async def __call__(self, operation: Operation) -> None:
        deployment_id, version_id = operation.target_id, DeployPayload.model_validate(operation.payload).version_id
        if not await asyncio.to_thread(self._exists, deployment_id):
            await asyncio.to_thread(self._finish, operation, "the deployment was deleted")
            return
        await self.committed()
        progress = await cluster.wait_for(
            self.sessions,
            deployment_id=deployment_id,
            version_id=version_id,
            stage="serving",
            me=self.process,
            timeout=self.timeout,
            wanted=lambda session: session.get(Deployment, deployment_id) is not None,
        )
        if progress.abandoned:
            await asyncio.to_thread(self._finish, operation, "the deployment was deleted")
            return
        if progress.done:
            await asyncio.to_thread(self._succeed, operation, version_id)
        else:
            reason = "; ".join(progress.errors) or f"not loaded in time by {', '.join(progress.waiting)}"
            logger.warning("deploying %s failed: %s", deployment_id, reason)
            await asyncio.to_thread(self._fail, operation, f"the model could not be loaded and warmed up: {reason}")
        await self.committed()

    def _exists(self, deployment_id: str) -> bool:
        with self.sessions() as session:
            return session.get(Deployment, deployment_id) is not None

    def _succeed(self, operation: Operation, version_id: str) -> None:
        with self.sessions() as session:
            lifecycle.deployed(session, deployment_id=operation.target_id, version_id=version_id)
            operations.finish(session, operation_id=operation.id, state=OperationState.SUCCEEDED)
            session.commit()

    def _fail(self, operation: Operation, message: str) -> None:
        with self.sessions() as session:
            lifecycle.deploy_failed(session, deployment_id=operation.target_id, message=message)
            operations.finish(session, operation_id=operation.id, state=OperationState.FAILED, message=message)
            session.commit()

    def _finish(self, operation: Operation, message: str) -> None:
        with self.sessions() as session:
            operations.finish(session, operation_id=operation.id, state=OperationState.SUCCEEDED, message=message)
            session.commit()
