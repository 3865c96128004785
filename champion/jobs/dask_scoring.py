"""Scoring a job's data assets on a Dask cluster, partition by partition, written back as they finish.

The server plans partitions (`partitions.py`), keeps at most `window` of them submitted and not yet
written, and takes their answers in input order: each goes into the output file at once and is
dropped, so the server holds a few partitions' predictions, never the job's. Progress is recorded per
partition, and between partitions (every `poll_seconds` while one runs) the job's row is read: a
canceled or deleted job cancels its futures. Every task names the model file the plan pinned, so one
version answers all rows whatever happens to the deployment meanwhile.

Runs in a thread of its own (the `distributed` client blocks); `stop` ends it early when the server stops.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from champion.artifacts import ArtifactStore
from champion.artifacts.store import StagedFile
from champion.errors import InvalidInput
from champion.jobs import dask_worker, output, partitions, reading
from champion.jobs.dask_client import DaskScheduler
from champion.jobs.dask_worker import Failed, ModelSpec, Partition, Scored, StoreLocation, Task
from champion.jobs.errors import SchedulerUnavailable
from champion.jobs.refusals import in_block
from champion.jobs.runs import Plan
from champion.serving.humility import HumilityRefused

PARTITION_CELLS = 1_000_000
"""Feature values per partition: about 60 MB of a worker's memory while it builds the matrix."""
MIN_ROWS, MAX_ROWS = 1_000, 1_000_000


@dataclass(frozen=True)
class Written:
    """A job's predictions, written: the output file (kept in the store) and what answered it."""

    output: StagedFile
    output_name: str
    rows: int
    served_by: str


@dataclass(frozen=True)
class Hooks:
    """What the driver reports to, and asks of, the job's record (each call in a session of its own)."""

    advance: Callable[[int, int | None], bool]
    """Record rows scored (and the total, when known); False when the job was canceled or deleted."""
    active: Callable[[], bool]
    humility: Callable[[str, str, int], None]
    """Count rows a humility rule decided: (rule, action, rows)."""


@dataclass(frozen=True)
class DaskScoring:
    scheduler: DaskScheduler
    location: StoreLocation
    partition_cells: int = PARTITION_CELLS
    poll_seconds: float = 0.5

    def rows_per_partition(self, features: int) -> int:
        return min(MAX_ROWS, max(MIN_ROWS, self.partition_cells // max(1, features)))

    def run(self, plan: Plan, store: ArtifactStore, hooks: Hooks, stop: threading.Event) -> Written | None:
        """Score the plan's data assets on the cluster; None when the job was canceled, deleted or stopped."""
        client = self.scheduler.client()
        parts, total = self._partitions(plan, store)
        if not hooks.advance(0, total):
            return None
        name = plan.output_name or f"{plan.name}.predictions.parquet"
        folder = store.stage_dir()
        try:
            file = output.PredictionsFile(folder / "predictions", parquet=output.is_parquet_name(name))
            window = max(2, 2 * self.scheduler.workers(client))
            rows = self._score(client, plan, parts, total, file, window, hooks, stop)
            if rows is None:
                return None
            file.close()
            staged = store.stage(file.path)
            store.keep(staged)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        champion = plan.champion
        return Written(staged, name, rows, champion.name)

    def _partitions(self, plan: Plan, store: ArtifactStore) -> tuple[list[Partition], int | None]:
        signature = plan.champion.signature
        parts: list[Partition] = []
        total: int | None = 0
        for asset in plan.assets:
            found, rows = partitions.of_asset(
                store.open_path(asset.sha256),
                signature,
                field=asset.field,
                sha256=asset.sha256,
                rows_per_partition=self.rows_per_partition(len(signature.features)),
                first_index=len(parts),
            )
            if not found:
                raise InvalidInput("the file holds no rows", field=asset.field)
            parts += found
            total = None if total is None or rows is None else total + rows
        return parts, total

    def _score(
        self,
        client: Any,
        plan: Plan,
        parts: list[Partition],
        total: int | None,
        file: output.PredictionsFile,
        window: int,
        hooks: Hooks,
        stop: threading.Event,
    ) -> int | None:
        champion = plan.champion
        model = ModelSpec(champion.sha256, champion.framework, plan.compiled)
        task = Task(self.location, model, champion.signature, plan.humility, csv_output=not file.parquet)
        run = f"champion-job-{plan.job_id}-{uuid.uuid4().hex[:8]}"
        futures: dict[int, Any] = {}

        def submit(index: int) -> None:
            if index < len(parts):
                futures[index] = client.submit(dask_worker.score, task, parts[index], key=f"{run}-{index}", pure=False)

        for index in range(window):
            submit(index)
        done, in_asset, field = 0, 0, parts[0].field
        try:
            for index, part in enumerate(parts):
                answer = self._wait(client, futures.pop(index), part, len(parts), hooks, stop)
                if answer is None:
                    return None
                submit(index + window)
                if part.field != field:
                    if in_asset == 0:
                        raise InvalidInput("the file holds no rows", field=field)
                    field, in_asset = part.field, 0
                if isinstance(answer, Failed):
                    raise _failure(answer, part, in_asset)
                if answer.csv is not None and answer.rows:
                    file.append_csv(answer.csv, answer.rows, with_probabilities=answer.with_probabilities)
                elif answer.rows:
                    file.append(answer.labels, answer.probabilities)
                for rule, action, count in answer.humility:
                    hooks.humility(rule, action, count)
                done += answer.rows
                in_asset += answer.rows
                if not hooks.advance(done, total if index + 1 < len(parts) else done):
                    return None
            if in_asset == 0:
                raise InvalidInput("the file holds no rows", field=field)
            return done
        finally:
            if futures:
                client.cancel(list(futures.values()))

    def _wait(
        self, client: Any, future: Any, part: Partition, count: int, hooks: Hooks, stop: threading.Event
    ) -> Scored | Failed | None:
        """The partition's answer once it is ready; None when the job should stop instead."""
        while not future.done():
            if stop.is_set() or not hooks.active():
                future.cancel()
                return None
            if client.status in ("closing", "closed"):
                raise SchedulerUnavailable(f"the Dask scheduler at {self.scheduler.address} went away during the job")
            # Waits up to a poll; what the task raised is raised again below, once it is done.
            with contextlib.suppress(Exception):
                future.result(timeout=self.poll_seconds)
        try:
            answer: Scored | Failed = future.result()
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            where = f"partition {part.index + 1} of {count} ({part.field})"
            raise RuntimeError(f"scoring {where} on the Dask cluster failed: {first}") from exc
        finally:
            future.release()
        return answer


def _failure(failed: Failed, part: Partition, first_row: int) -> Exception:
    """The error an in-process job gives for the same row: rows counted from the start of the data asset."""
    if failed.rule is not None:
        return in_block(HumilityRefused(failed.message, rule=failed.rule, row=failed.row), first_row)
    return reading.renumbered(InvalidInput(failed.message, field=failed.field), part.field, first_row)
