"""Running a deploy operation: load and warm the champion, start serving it, record the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from champion.artifacts import ArtifactStore
from champion.deployments import service as deployments
from champion.deployments.tables import Deployment
from champion.models.tables import ModelVersion
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState
from champion.runtimes import Framework, Signature
from champion.serving.engine import ServingEngine, VersionRef

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
    store: ArtifactStore
    engine: ServingEngine
    committed: Callable[[], Awaitable[None]]
    """Called after the outcome is committed, so this process serves what it just reported."""

    async def __call__(self, operation: Operation) -> None:
        deployment_id = operation.target_id
        try:
            ref = await asyncio.to_thread(self._target, operation)
            if ref is None:
                await asyncio.to_thread(self._finish, operation, OperationState.SUCCEEDED, "the deployment was deleted")
                return
            loaded = await self.engine.load(ref, self.store.open_path(ref.sha256))
            await self.engine.install(deployment_id, loaded)
            await asyncio.to_thread(self._succeed, operation, ref)
        except Exception as exc:
            logger.warning("deploying %s failed: %s", deployment_id, exc)
            await asyncio.to_thread(self._fail, operation, _describe(exc))
        await self.committed()

    def _target(self, operation: Operation) -> VersionRef | None:
        with self.sessions() as session:
            if session.get(Deployment, operation.target_id) is None:
                return None
            version = session.get(ModelVersion, operation.payload["version_id"])
            if version is None:
                raise LookupError("the model version to deploy no longer exists")
            return version_ref(version)

    def _succeed(self, operation: Operation, ref: VersionRef) -> None:
        with self.sessions() as session:
            deployments.mark_ready(session, deployment_id=operation.target_id, version_id=ref.version_id)
            operations.finish(session, operation_id=operation.id, state=OperationState.SUCCEEDED)
            session.commit()

    def _fail(self, operation: Operation, message: str) -> None:
        with self.sessions() as session:
            deployments.mark_failed(
                session, deployment_id=operation.target_id, code="deployment_failed", message=message
            )
            operations.finish(session, operation_id=operation.id, state=OperationState.FAILED, message=message)
            session.commit()

    def _finish(self, operation: Operation, state: OperationState, message: str) -> None:
        with self.sessions() as session:
            operations.finish(session, operation_id=operation.id, state=state, message=message)
            session.commit()


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return f"the model could not be loaded and warmed up: {first[:300]}"
