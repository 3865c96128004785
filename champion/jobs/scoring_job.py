"""Running a batch job: read its input, score it in chunks through the deployment's champion, keep the result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy.typing as npt
from sqlalchemy.orm import Session, sessionmaker

from champion import blob_references
from champion.artifacts import ArtifactStore
from champion.errors import ChampionError, Unavailable
from champion.jobs import blobs, reading, runs
from champion.jobs.types import JobResult, ResultBlock
from champion.operations.tables import Operation
from champion.serving.engine import Answer, ServingEngine, VersionRef

logger = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 3
"""How often a job starts over when the deployment's champion changes under it."""


class _Swapped(Exception):
    """A chunk was answered by another model version than the first one."""


@dataclass(frozen=True)
class BatchJobHandler:
    sessions: sessionmaker[Session]
    store: ArtifactStore
    engine: ServingEngine
    chunk_rows: int = 1000
    """Rows per predict call, and how often progress is recorded and cancellation noticed."""

    async def __call__(self, operation: Operation) -> None:
        job_id = operation.target_id
        try:
            if not await self._run(operation):
                message = "the job was canceled or deleted"
                await self._in_session(runs.abandon, operation_id=operation.id, message=message)
        except Exception as exc:
            logger.warning("batch job %s failed: %s", job_id, exc)
            message = _describe(exc)
            await self._in_session(runs.fail, job_id=job_id, operation_id=operation.id, message=message)

    async def _run(self, operation: Operation) -> bool:
        """Run the job and record its end; False when it was canceled or deleted on the way."""
        job_id = operation.target_id
        plan = await self._in_session(runs.begin, job_id=job_id)
        if plan is None:
            return False
        blocks = await asyncio.to_thread(self._read, plan)
        total = sum(len(block) for block in blocks)
        if not await self._in_session(runs.advance, job_id=job_id, rows_scored=0, rows_total=total):
            return False
        await self._ensure_loaded(plan.deployment_id, plan.champion)
        result = await self._score(plan.deployment_id, job_id, blocks, total)
        if result is None:
            return False
        digest = await asyncio.to_thread(blobs.write_result, self.store, result)
        output = await asyncio.to_thread(blobs.write_csv, self.store, result) if plan.output else None
        done = await self._in_session(
            runs.complete, job_id=job_id, operation_id=operation.id, digest=digest, output=output
        )
        if not done:  # canceled or deleted after the last chunk: complete() ended the operation
            await asyncio.to_thread(self._forget, {digest, *([output.sha256] if output else [])})
        return True

    async def _in_session(self, step: Callable[..., T], **kwargs: Any) -> T:
        """Run one step of `runs` in its own session, off the event loop."""

        def call() -> T:
            with self.sessions() as session:
                return step(session, **kwargs)

        return await asyncio.to_thread(call)

    def _read(self, plan: runs.Plan) -> list[npt.NDArray[Any]]:
        signature = plan.champion.signature
        inline = [reading.inline_matrix(signature, block, i) for i, block in enumerate(plan.input_data)]
        files = [reading.file_matrix(signature, self.store.open_path(d), field=f) for f, d in plan.assets]
        return inline + files

    async def _ensure_loaded(self, deployment_id: str, champion: VersionRef) -> None:
        # The follower loads every ready deployment's champion, batch ones too; a job that
        # starts before it caught up loads the champion itself, as a deploy operation does.
        if self.engine.serving(deployment_id) is None:
            loaded = await self.engine.load(champion, self.store.open_path(champion.sha256))
            await self.engine.install(deployment_id, loaded)

    async def _score(
        self, deployment_id: str, job_id: str, blocks: list[npt.NDArray[Any]], total: int
    ) -> JobResult | None:
        for _ in range(ATTEMPTS):
            try:
                return await self._score_once(deployment_id, job_id, blocks, total)
            except _Swapped:
                # One job's rows are all answered by one model version (invariant 1, per job).
                logger.info("the champion of %s changed during job %s: starting over", deployment_id, job_id)
        raise RuntimeError("the deployment's champion kept changing while the job ran")

    async def _score_once(
        self, deployment_id: str, job_id: str, blocks: list[npt.NDArray[Any]], total: int
    ) -> JobResult | None:
        served: VersionRef | None = None
        done = 0
        out = []
        for matrix in blocks:
            labels: list[Any] = []
            probabilities: list[list[float]] = []
            has_probabilities = True
            for start in range(0, len(matrix), self.chunk_rows):
                chunk = matrix[start : start + self.chunk_rows]
                answer = await self._predict(deployment_id, chunk)
                if served is not None and answer.version != served:
                    raise _Swapped
                served = answer.version
                labels.extend(answer.prediction.labels.tolist())
                given = answer.prediction.probabilities
                if given is None:
                    has_probabilities = False
                elif has_probabilities:
                    probabilities.extend(given.tolist())
                done += len(chunk)
                if not await self._in_session(runs.advance, job_id=job_id, rows_scored=done, rows_total=total):
                    return None
            out.append(ResultBlock(labels=labels, probabilities=probabilities if has_probabilities else None))
        assert served is not None, "every block holds at least one row"
        return JobResult(blocks=tuple(out), served_by=f"{served.model_id}:{served.number}")

    async def _predict(self, deployment_id: str, rows: npt.NDArray[Any]) -> Answer:
        # Jobs on one deployment share its model's bounded queue: a full queue means wait, not fail.
        for _ in range(600):
            try:
                return await self.engine.predict(deployment_id, rows)
            except Unavailable:
                if self.engine.serving(deployment_id) is None:
                    raise
                await asyncio.sleep(0.1)
        return await self.engine.predict(deployment_id, rows)

    def _forget(self, digests: set[str]) -> None:
        with self.sessions() as session:
            blob_references.forget_unused(session, self.store, digests)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ChampionError):
        return exc.message
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]
