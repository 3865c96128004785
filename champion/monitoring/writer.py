"""The capture writer: drains the buffer in the background and stores what it took.

Each process runs one (`create_app`'s lifespan). Every `interval` seconds, or sooner when the
buffer passes half full, it takes everything captured and, off the event loop, per deployment and
model version: writes one Parquet file into the artifact store and, in one commit, indexes it
(`capture_files`), indexes the predictions that carry an association id, and adds the requests to
their hour's service figures. Drift counts follow (`drift.observe`), then, now and then, the
retention sweep. A deployment deleted between its prediction and the flush is skipped. A failure
is logged and the batch is lost, never retried into a loop: capture must not take the server down.
At shutdown the writer flushes once more, so a stopping worker's rows land.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from champion.artifacts import ArtifactStore
from champion.db import new_id, utcnow
from champion.deployments.tables import Deployment
from champion.meters import ServingMetrics
from champion.monitoring import drift, files, retention, upserts
from champion.monitoring.capture import CaptureBuffer, Pending, Tally
from champion.monitoring.tables import CaptureFile
from champion.runtimes import Signature, TargetType

logger = logging.getLogger(__name__)

RETENTION_EVERY = 60.0


@dataclass(frozen=True)
class Flushed:
    """What one flush stored for one deployment and model version (tests read it)."""

    deployment_id: str
    version_id: str
    rows: int
    file_id: str


class CaptureWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: ArtifactStore,
        buffer: CaptureBuffer,
        *,
        interval: float,
        metrics: ServingMetrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._buffer = buffer
        self._interval = interval
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self._flushing = threading.Lock()
        self._swept_at = 0.0
        # Every flush on one thread of its own: the buffers a flush allocates (tens of MiB at a time)
        # come back to that thread's malloc arena for the next flush. Spread over the event loop's
        # shared executor, each of its threads kept an arena as large as the largest flush it ran.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="champion-capture")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        self._thread.shutdown(wait=False)

    async def flush(self) -> list[Flushed]:
        """Store what the buffer holds now, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self.flush_now)

    async def _loop(self) -> None:
        waited = 0.0
        tick = min(self._interval, 0.1)
        while True:
            await asyncio.sleep(tick)
            waited += tick
            if waited < self._interval and self._buffer.filling() < 0.5:
                continue
            waited = 0.0
            try:
                await self.flush()
            except Exception:
                logger.exception("prediction capture: a flush failed; its rows are lost")

    def flush_now(self) -> list[Flushed]:
        """Store what the buffer holds now, after any flush under way: once it returns, everything
        captured before the call is stored."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> list[Flushed]:
        drained = self._buffer.drain()
        tallies: dict[tuple[str, str], dict[float, Tally]] = defaultdict(dict)
        for (deployment_id, version_id, hour), tally in drained.tallies.items():
            tallies[(deployment_id, version_id)][hour] = tally
            if self._metrics is not None and tally.dropped_rows:
                self._metrics.capture_dropped(deployment_id, tally.dropped_rows)
        flushed = []
        groups = {**dict.fromkeys((d, v) for d, v, _ in drained.tallies), **drained.pending}
        for (deployment_id, version_id), pending in groups.items():
            done = self._store_group(deployment_id, version_id, pending, tallies.get((deployment_id, version_id), {}))
            if done is not None:
                flushed.append(done)
        if time.monotonic() - self._swept_at > RETENTION_EVERY:
            self._swept_at = time.monotonic()
            with self._sessions() as session:
                retention.sweep(session, self._store)
        return flushed

    def _store_group(
        self, deployment_id: str, version_id: str, pending: Pending | None, tallies: dict[float, Tally]
    ) -> Flushed | None:
        with self._sessions() as session:
            if session.scalar(select(Deployment.id).where(Deployment.id == deployment_id)) is None:
                return None  # deleted since it answered
            if pending is None or not len(pending):
                upserts.add_service(session, _service(deployment_id, version_id, tallies))
                session.commit()
                return None
        signature = pending.signature
        rows = files.gather(pending)
        folder = self._store.stage_dir()
        try:
            path = folder / "captured.parquet"
            files.write(path, signature, rows)
            digest = self._store.keep(self._store.stage(path))
        finally:
            for leftover in folder.iterdir():
                leftover.unlink(missing_ok=True)
            folder.rmdir()
        file_id = new_id()
        with self._sessions() as session:
            # A Core insert: the ORM's unit of work for one plain row cost a flush more than the row.
            session.connection().execute(
                insert(CaptureFile),
                {
                    "id": file_id,
                    "deployment_id": deployment_id,
                    "version_id": version_id,
                    "sha256": digest,
                    "rows": len(rows),
                    "first_at": files.moment(float(rows.at.min())),
                    "last_at": files.moment(float(rows.at.max())),
                    "drift_counted": False,
                    "created_at": utcnow(),
                },
            )
            if rows.has_association_ids():  # else a look at every row for nothing
                upserts.keep_first_predictions(session, list(_associated(deployment_id, version_id, signature, rows)))
            upserts.add_service(session, _service(deployment_id, version_id, tallies))
            session.commit()
        drift.observe(self._sessions, self._store, deployment_id, version_id, signature, file_id, rows)
        return Flushed(deployment_id, version_id, len(rows), file_id)


def _associated(
    deployment_id: str, version_id: str, signature: Signature, rows: files.Rows
) -> Iterable[dict[str, object]]:
    regression = signature.target.type is TargetType.REGRESSION
    for i, association_id in enumerate(rows.association_ids):
        if association_id is None:
            continue
        yield {
            "deployment_id": deployment_id,
            "association_id": association_id,
            "version_id": version_id,
            "predicted_at": files.moment(float(rows.at[i])),
            "label": None if regression else rows.labels[i],
            "value": float(rows.labels[i]) if regression else None,
            "probabilities": None if rows.probabilities is None else [float(p) for p in rows.probabilities[i]],
        }


def _service(deployment_id: str, version_id: str, tallies: dict[float, Tally]) -> list[dict[str, object]]:
    return [
        {"deployment_id": deployment_id, "version_id": version_id, "window_start": files.hour_of(start), **vars(t)}
        for start, t in tallies.items()
    ]
