"""Running a batch job: read its input, score it in chunks through the deployment's champion, keep the result."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy.typing as npt
from sqlalchemy.orm import Session, sessionmaker

from champion import blob_references
from champion.artifacts import ArtifactStore
from champion.config import Settings
from champion.errors import ChampionError, Unavailable
from champion.jobs import blobs, memory, reading, runs
from champion.jobs.dask_client import DaskScheduler
from champion.jobs.dask_scoring import DaskScoring, Hooks
from champion.jobs.dask_worker import StoreLocation
from champion.jobs.refusals import in_block
from champion.jobs.types import JobResult, ResultBlock
from champion.operations.tables import Operation
from champion.serving.engine import Answer, ServingEngine, VersionRef
from champion.serving.humility import HumilityRefused

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
    dask: DaskScoring | None = None
    """Where jobs over data assets run when a Dask scheduler is set; None: in this process."""
    memory_limit: int | None = None
    """The memory an in-process job may take (`memory.limit`); None: half the machine's."""

    @classmethod
    def configured(
        cls, sessions: sessionmaker[Session], store: ArtifactStore, engine: ServingEngine, settings: Settings
    ) -> BatchJobHandler:
        """The handler `settings` ask for: on Dask with CHAMPION_DASK_SCHEDULER (connected at the first job)."""
        dask = None
        if settings.dask_scheduler is not None:
            dask = DaskScoring(DaskScheduler(settings.dask_scheduler), StoreLocation.of(settings))
        return cls(sessions, store, engine, dask=dask, memory_limit=settings.job_memory_bytes)

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
        if self.dask is not None and plan.assets:
            return await self._run_on_dask(self.dask, operation, plan)
        blocks = await asyncio.to_thread(self._read, plan)
        total = sum(len(block) for block in blocks)
        if not await self._in_session(runs.advance, job_id=job_id, rows_scored=0, rows_total=total):
            return False
        await self._ensure_loaded(plan.deployment_id, plan.champion, compiled=plan.compiled)
        result = await self._score(plan.deployment_id, job_id, blocks, total)
        if result is None:
            return False
        digest = await asyncio.to_thread(blobs.write_result, self.store, result)
        output = None
        if plan.output_name is not None:
            output = await asyncio.to_thread(blobs.write_output, self.store, result, plan.output_name)
        done = await self._in_session(
            runs.complete, job_id=job_id, operation_id=operation.id, digest=digest, output=output
        )
        if not done:  # canceled or deleted after the last chunk: complete() ended the operation
            await asyncio.to_thread(self._forget, {digest, *([output.sha256] if output else [])})
        return True

    async def _run_on_dask(self, dask: DaskScoring, operation: Operation, plan: runs.Plan) -> bool:
        """Score the data assets on the cluster; the predictions go to an output data asset only."""
        job_id = plan.job_id
        metrics = self.engine.metrics
        hooks = Hooks(
            advance=lambda done, total: self._step(runs.advance, job_id=job_id, rows_scored=done, rows_total=total),
            active=lambda: self._step(runs.active, job_id=job_id),
            humility=lambda rule, action, rows: metrics.humility_triggered(plan.deployment_id, rule, action, rows),
        )
        stop = threading.Event()
        try:
            written = await asyncio.to_thread(dask.run, plan, self.store, hooks, stop)
        except asyncio.CancelledError:
            stop.set()  # the thread sees it within a poll and cancels the job's futures
            raise
        if written is None:
            return False
        # A million rows inline help nobody: the job's result names who answered, the output holds the rows.
        digest = await asyncio.to_thread(blobs.write_result, self.store, JobResult((), written.served_by))
        done = await self._in_session(
            runs.complete,
            job_id=job_id,
            operation_id=operation.id,
            digest=digest,
            output=written.output,
            output_name=written.output_name,
        )
        if not done:
            await asyncio.to_thread(self._forget, {digest, written.output.sha256})
        return True

    async def _in_session(self, step: Callable[..., T], **kwargs: Any) -> T:
        """Run one step of `runs` in its own session, off the event loop."""
        return await asyncio.to_thread(functools.partial(self._step, step, **kwargs))

    def _step(self, step: Callable[..., T], **kwargs: Any) -> T:
        with self.sessions() as session:
            return step(session, **kwargs)

    def _read(self, plan: runs.Plan) -> list[npt.NDArray[Any]]:
        signature = plan.champion.signature
        inline = [reading.inline_matrix(signature, block, i) for i, block in enumerate(plan.input_data)]
        limit = memory.limit(self.memory_limit) if plan.assets else 0
        files = []
        for asset in plan.assets:
            path = self.store.open_path(asset.sha256)
            features = len(signature.features)
            memory.check(path, features=features, limit=limit, name=asset.name, field=asset.field)
            files.append(reading.file_matrix(signature, path, field=asset.field))
        return inline + files

    async def _ensure_loaded(self, deployment_id: str, champion: VersionRef, *, compiled: bool) -> None:
        # The follower loads every ready deployment's champion, batch ones too; a job that
        # starts before it caught up loads the champion itself, as a deploy operation does,
        # in the form the deployment's settings allow.
        if self.engine.serving(deployment_id) is None:
            path = self.store.open_path(champion.sha256)
            loaded = await self.engine.load(champion, path, compiled=compiled)
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
                try:
                    answer = await self._predict(deployment_id, chunk)
                except HumilityRefused as refusal:
                    raise in_block(refusal, start) from None
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
        return JobResult(blocks=tuple(out), served_by=served.name)

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
