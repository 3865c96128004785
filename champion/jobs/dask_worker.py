"""What a Dask worker runs for a batch job: score one partition of a data asset with the pinned model.

This module is imported on the workers (they run champion's environment); the server imports it
only to name `score` in the tasks it submits. Everything crossing the wire is a frozen dataclass of
plain values, and results carry domain failures as data: champion's errors take keyword arguments,
which pickle does not carry back.

Each worker process keeps the models it loaded (`_MODELS`, keyed by the file's SHA-256 and form), so a
job's partitions load its model once per worker, and the next job on the same version none. The file's
digest is checked before it is loaded: a worker reads the store from another machine, and must not
answer with a different model than the job pinned.

With a bucket (CHAMPION_ARTIFACTS_URL) a worker keeps its own cache of it (`_worker_cache`), never the
server's `<home>/cache`: that path names a folder on the server's machine, which on a worker's may not
exist or not be writable.
"""

from __future__ import annotations

import functools
import io
import re
import tempfile
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from champion.artifacts import ArtifactStore, LocalArtifactStore
from champion.artifacts.store import sha256_of
from champion.config import Settings
from champion.errors import InvalidInput
from champion.jobs import output, reading
from champion.runtimes import Framework, LoadedModel, Prediction, Signature
from champion.serving import humility
from champion.serving.humility import HumilityRefused, HumilityRules

KEPT_MODELS = 4
"""Models a worker keeps between tasks: a few versions' jobs may run side by side."""
PREDICT_ROWS = 10_000
"""Rows per predict call: bounds the model's temporaries on a large partition."""
PARQUET_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class StoreLocation:
    """Where a worker finds the artifact store: the bucket (CHAMPION_ARTIFACTS_URL), read through a cache
    of the worker's own, or the server's folder on the same machine or a shared filesystem. Names only: a
    worker never receives a secret (a bucket's credentials come from the worker's own AWS_* variables)."""

    artifacts_url: str | None
    artifacts_dir: str

    @classmethod
    def of(cls, settings: Settings) -> StoreLocation:
        return cls(settings.artifacts_url, str(settings.resolved_artifacts_dir))


@dataclass(frozen=True)
class ModelSpec:
    sha256: str
    framework: Framework
    compiled: bool
    """Whether a tree ensemble may serve compiled, as the deployment's setting says (the server's form)."""


@dataclass(frozen=True)
class Task:
    """What every partition of one job shares."""

    store: StoreLocation
    model: ModelSpec
    signature: Signature
    humility: HumilityRules | None
    csv_output: bool = False
    """Render the predictions as the output's CSV lines here, so the server only appends bytes."""


@dataclass(frozen=True)
class Partition:
    """One slice of one data asset. Parquet: rows [start, stop) of row group `row_group`. CSV: bytes
    [start, stop) of the file, each a whole number of lines, read after the header's bytes [0, header_end)."""

    index: int
    field: str
    sha256: str
    parquet: bool
    start: int
    stop: int
    row_group: int = -1
    header_end: int = 0


@dataclass(frozen=True)
class Scored:
    rows: int
    labels: np.ndarray
    probabilities: np.ndarray | None
    humility: tuple[tuple[str, str, int], ...] = ()
    """(rule, action, rows) for each humility rule that decided rows of this partition."""
    csv: bytes | None = None
    """With `Task.csv_output`: the rows as CSV lines (`output.csv_rows`), instead of labels and probabilities."""
    with_probabilities: bool = False


@dataclass(frozen=True)
class Failed:
    """A partition the job cannot score: a bad value (`field` names it, its row counted in the
    partition) or a humility rule's refusal (`rule` and `row`, counted in the partition)."""

    message: str
    field: str | None = None
    rule: str | None = None
    row: int = 0


_MODELS: OrderedDict[tuple[str, bool], LoadedModel] = OrderedDict()
_LOADS: Counter[str] = Counter()
_LOCK = threading.Lock()


def score(task: Task, part: Partition) -> Scored | Failed:
    """Read the partition, build the model's matrix as an in-process job would, and answer it."""
    store = _worker_store(task.store)
    path = _blob(store, part.sha256, "data asset")
    try:
        frame = _parquet(path, part, task.signature) if part.parquet else _csv(path, part, task.signature)
    except Exception as exc:
        return Failed(reading.unreadable(exc, parquet=part.parquet, field=part.field).message)
    if len(frame) == 0:
        return Scored(0, np.empty(0), None, csv=b"" if task.csv_output else None)
    try:
        matrix = reading.frame_matrix(task.signature, frame, field=part.field)
    except InvalidInput as exc:
        bare = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
        return Failed(bare, field=exc.field)
    del frame
    prediction = _predict(model(store, task.model), matrix)
    counts: tuple[tuple[str, str, int], ...] = ()
    if task.humility is not None:
        outcome = humility.apply(task.humility, matrix, prediction)
        if outcome.refusal is not None:
            refusal: HumilityRefused = outcome.refusal
            return Failed(refusal.message, rule=refusal.rule, row=refusal.row)
        prediction = outcome.prediction
        counts = tuple((rule.name, rule.action, count) for rule, count in outcome.counts)
    if task.csv_output:
        rows = output.csv_rows(prediction.labels, prediction.probabilities)
        with_probabilities = prediction.probabilities is not None
        return Scored(len(matrix), np.empty(0), None, counts, csv=rows, with_probabilities=with_probabilities)
    return Scored(len(matrix), prediction.labels, prediction.probabilities, counts)


def model(store: ArtifactStore, spec: ModelSpec) -> LoadedModel:
    """The model `spec` names, loaded once per worker process (and form) after checking its digest."""
    key = (spec.sha256, spec.compiled)
    with _LOCK:  # a worker with several threads loads a model once, not once a thread
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        from champion.runtimes import compiled as compiled_form
        from champion.runtimes import load

        path = _blob(store, spec.sha256, "model file")
        if sha256_of(path) != spec.sha256:
            raise RuntimeError(f"the model file {spec.sha256} in the artifact store does not match its SHA-256")
        loaded = compiled_form.serving(load(path, spec.framework), path, sha256=spec.sha256, enabled=spec.compiled)
        _LOADS[spec.sha256] += 1
        _MODELS[key] = loaded
        while len(_MODELS) > KEPT_MODELS:
            _MODELS.popitem(last=False)
        return loaded


def loads() -> dict[str, int]:
    """How often this worker process loaded each model file (`client.run(loads)` asks every worker)."""
    with _LOCK:
        return dict(_LOADS)


@functools.lru_cache(maxsize=4)
def _worker_store(location: StoreLocation) -> ArtifactStore:
    """The artifact store as this worker reaches it (opened once: a bucket is checked when opened)."""
    if location.artifacts_url is not None:
        # Imported here, as `open_store` does: a worker on a local store never loads boto3.
        from champion.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore(location.artifacts_url, _worker_cache(location.artifacts_url))
    return LocalArtifactStore(Path(location.artifacts_dir))


def _worker_cache(url: str) -> Path:
    """This worker's cache of the bucket at `url`: a folder in the worker's local directory, named after
    the bucket and prefix.

    The local directory is Dask's scratch space for this worker process (`temporary-directory` in Dask's
    configuration): writable wherever the worker runs, and removed with the worker, so downloaded data
    assets do not outlive it. Each worker process downloads a blob once; a host running several worker
    processes holds a copy per process. Outside a worker (a task run in the calling process), the
    system's temporary folder.
    """
    from distributed import get_worker

    try:
        scratch = Path(get_worker().local_directory)
    except ValueError:  # not in a worker
        scratch = Path(tempfile.gettempdir())
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", url.removeprefix("s3://")).strip("-.") or "bucket"
    return scratch / "champion-cache" / name


def _blob(store: ArtifactStore, sha256: str, what: str) -> Path:
    path = store.open_path(sha256)
    if not path.is_file():
        raise RuntimeError(
            f"the {what} {sha256} is not in the artifact store as this Dask worker sees it ({path}): "
            "workers must reach the server's artifacts (the same folder, a shared filesystem, or the bucket)"
        )
    return path


def _parquet(path: Path, part: Partition, signature: Signature) -> Any:
    """Rows [start, stop) of one row group, the model's columns only, as pandas reads the file whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [feature.name for feature in signature.features]
    taken, seen = [], 0
    source = pq.ParquetFile(path)
    # A row group is read from its start: rows before `start` are decoded and dropped, which keeps
    # memory to a batch while letting one large row group feed several partitions.
    for batch in source.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[part.row_group], columns=names):
        end = seen + batch.num_rows
        if end > part.start:
            first = max(part.start, seen)
            taken.append(batch.slice(first - seen, min(part.stop, end) - first))
        seen = end
        if seen >= part.stop:
            break
    if not taken:
        return pa.table({name: [] for name in names}).to_pandas()
    return pa.Table.from_batches(taken).to_pandas()


def _csv(path: Path, part: Partition, signature: Signature) -> Any:
    import pandas as pd

    with path.open("rb") as handle:
        header = handle.read(part.header_end)
        handle.seek(part.start)
        body = handle.read(part.stop - part.start)
    names = [feature.name for feature in signature.features]
    return pd.read_csv(io.BytesIO(header + body), usecols=names, **reading.csv_options(signature))


def _predict(loaded: LoadedModel, matrix: np.ndarray) -> Prediction:
    if len(matrix) <= PREDICT_ROWS:
        return loaded.predict(matrix)
    parts = [loaded.predict(matrix[k : k + PREDICT_ROWS]) for k in range(0, len(matrix), PREDICT_ROWS)]
    labels = np.concatenate([p.labels for p in parts])
    given = [p.probabilities for p in parts if p.probabilities is not None]
    probabilities = np.concatenate(given) if len(given) == len(parts) else None
    return Prediction(labels, probabilities)
