"""Prediction capture on the hot path: a bounded in-memory buffer a background writer drains.

Every online prediction offers what it was asked and what it answered (`CaptureBuffer.offer`);
the buffer counts every request in its hour's tally (requests, rows, latency: the service figures
are exact whatever the sampling), keeps the rows if the deployment's sampling picks the request and
there is room, and the writer (`writer.py`) takes everything every few seconds and stores it off the
event loop.
Offering costs a dictionary lookup, a random draw and a copy of the rows and the answer into their
deployment and model version's columns (`Pending`): it never waits, never touches
the database or a file, and never raises into the prediction. When the writer falls behind and
the buffer is full, the rows are dropped and counted (`champion_capture_dropped_rows`), as a
payload logger should — kserve#6193 and its kin are loggers that dropped silently or pushed back
on the requests.

This module imports nothing that reaches the database, so the serving engine may hold the buffer.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from champion.errors import InvalidInput
from champion.runtimes import Prediction, Signature, TargetType

DEFAULT_CAPACITY_CELLS = 1_000_000
"""Cells (8 bytes each) the buffer holds before it drops: about 8 MB per process (up to twice that
while its arrays, which grow by doubling, are half empty)."""


@dataclass(frozen=True, slots=True)
class CapturePolicy:
    """What the hot path needs of a deployment's capture settings (compiled into its view)."""

    sampling: float
    """The share of requests captured, in (0, 1]."""
    association_column: str | None = None
    association_required: bool = False


ROW_CELLS = 3
"""What a row costs beside its values and probabilities, in cells: its time, its label, its association id."""


class Pending:
    """One deployment and model version's captured requests since the last drain, kept as columns.

    Each request's rows, answers and time are copied into arrays that grow by doubling: a request
    leaves no object of its own behind. Kept as one object per request (about 1.1 KiB for a row of 20
    features), 1-row traffic filled the buffer with tens of thousands of objects for the cyclic
    collector to walk, 6-10 µs of collections per request, and each flush gathered them back into
    columns one by one.
    """

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self._count = 0
        self._capacity = 0
        self._rows = np.empty((0, 0))
        self._at = np.empty(0)
        self._labels: np.ndarray = np.empty(0)
        self._probabilities: np.ndarray | None = None
        self._every_request_has_probabilities = True
        self.association_ids: list[str | None] = []

    def __len__(self) -> int:
        return self._count

    @property
    def rows(self) -> np.ndarray:
        return self._rows[: self._count]

    @property
    def at(self) -> np.ndarray:
        """Per row, seconds since the epoch when its request was answered."""
        return self._at[: self._count]

    @property
    def labels(self) -> np.ndarray:
        return self._labels[: self._count]

    @property
    def probabilities(self) -> np.ndarray | None:
        """Per row, per class; None unless every request came with them."""
        if self._probabilities is None or not self._every_request_has_probabilities:
            return None
        return self._probabilities[: self._count]

    def add(self, at: float, rows: np.ndarray, prediction: Prediction, association_ids: Sequence[str] | None) -> None:
        start, end = self._count, self._count + len(rows)
        labels = np.asarray(prediction.labels)
        if start == 0:
            self._start(rows, labels, prediction.probabilities)
        if end > self._capacity:
            self._grow(max(end, 2 * self._capacity))
        if rows.dtype != self._rows.dtype:
            self._rows = _holding(self._rows, rows.dtype)
        if labels.dtype != self._labels.dtype:
            self._labels = _holding(self._labels, labels.dtype)
        self._rows[start:end] = rows
        self._labels[start:end] = labels
        self._at[start:end] = at
        if prediction.probabilities is None or self._probabilities is None:
            self._every_request_has_probabilities = False
        elif self._every_request_has_probabilities:
            self._probabilities[start:end] = prediction.probabilities
        self.association_ids.extend(association_ids if association_ids is not None else [None] * len(rows))
        self._count = end

    def _start(self, rows: np.ndarray, labels: np.ndarray, probabilities: np.ndarray | None) -> None:
        size = max(len(rows), 64)
        self._capacity = size
        self._rows = np.empty((size, *rows.shape[1:]), dtype=rows.dtype)
        self._at = np.empty(size)
        self._labels = np.empty(size, dtype=labels.dtype)
        if probabilities is not None:
            self._probabilities = np.empty((size, *np.shape(probabilities)[1:]), dtype=np.float64)

    def _grow(self, size: int) -> None:
        self._rows = _resized(self._rows, size, self._count)
        self._at = _resized(self._at, size, self._count)
        self._labels = _resized(self._labels, size, self._count)
        if self._probabilities is not None:
            self._probabilities = _resized(self._probabilities, size, self._count)
        self._capacity = size


def _resized(array: np.ndarray, size: int, kept: int) -> np.ndarray:
    grown = np.empty((size, *array.shape[1:]), dtype=array.dtype)
    grown[:kept] = array[:kept]
    return grown


def _holding(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`array`, or a copy of a type that holds its values and `dtype`'s too (a longer text, an int among
    floats, or text among numbers, as objects)."""
    if np.can_cast(dtype, array.dtype, casting="safe"):
        return array
    try:
        common = np.result_type(array.dtype, dtype)
    except TypeError:  # no common type, as text and numbers
        common = np.dtype(object)
    return array.astype(common)


SLOW_SECONDS = 1.0
"""A request answered slower than this counts as slow (DataRobot's `slowRequests` at its default)."""


@dataclass
class Tally:
    """Every request one model version answered in one hour, sampled for capture or not (they add up)."""

    requests: int = 0
    rows: int = 0
    latency_sum: float = 0.0
    latency_max: float = 0.0
    slow_requests: int = 0
    prediction_sum: float = 0.0
    """A regressor's predicted values summed (0 for a classifier)."""
    dropped_rows: int = 0
    """Rows sampled for capture but dropped because the buffer was full."""


@dataclass
class Drained:
    """What the writer takes at once: the captured rows, and every request's tally since the last take."""

    pending: dict[tuple[str, str], Pending] = field(default_factory=dict)
    """By (deployment id, model version id)."""
    tallies: dict[tuple[str, str, float], Tally] = field(default_factory=dict)
    """By (deployment id, model version id, start of the hour in epoch seconds)."""


class CaptureBuffer:
    """The bounded buffer between the prediction path and the capture writer."""

    def __init__(self, *, capacity_cells: int = DEFAULT_CAPACITY_CELLS) -> None:
        self.capacity_cells = capacity_cells
        self._lock = threading.Lock()  # offers come from the event loop, takes from the writer's thread
        self._pending: dict[tuple[str, str], Pending] = {}
        self._cells = 0
        self._tallies: dict[tuple[str, str, float], Tally] = {}

    def offer(
        self,
        policy: CapturePolicy,
        *,
        deployment_id: str,
        version_id: str,
        signature: Signature,
        rows: np.ndarray,
        prediction: Prediction,
        association_ids: Sequence[str] | None,
        latency: float,
    ) -> None:
        now = time.time()
        sampled = policy.sampling >= 1.0 or random.random() < policy.sampling
        classes = 0 if prediction.probabilities is None else np.shape(prediction.probabilities)[-1]
        cells = rows.size + len(rows) * (ROW_CELLS + classes)
        with self._lock:
            key = (deployment_id, version_id, now - now % 3600)
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = Tally()
            tally.requests += 1
            tally.rows += len(rows)
            tally.latency_sum += latency
            tally.latency_max = max(tally.latency_max, latency)
            tally.slow_requests += latency > SLOW_SECONDS
            if signature.target.type is TargetType.REGRESSION:
                tally.prediction_sum += float(np.sum(prediction.labels, dtype=np.float64))
            if not sampled:
                return
            if self._cells + cells > self.capacity_cells:
                tally.dropped_rows += len(rows)
                return
            pending = self._pending.get(key[:2])
            if pending is None:
                pending = self._pending[key[:2]] = Pending(signature)
            try:
                pending.add(now, rows, prediction, association_ids)
            except (ValueError, TypeError):
                # A request unlike the version's others (another width): capture never fails a prediction.
                tally.dropped_rows += len(rows)
                return
            self._cells += cells

    def drain(self) -> Drained:
        """Everything kept and dropped since the last drain; the buffer starts empty again."""
        with self._lock:
            drained = Drained(self._pending, self._tallies)
            self._pending, self._cells, self._tallies = {}, 0, {}
        return drained

    def filling(self) -> float:
        """How full the buffer is, from 0 to 1: the writer flushes early past one half."""
        return self._cells / self.capacity_cells


def association_ids(
    policy: CapturePolicy | None, column: Sequence[object] | None, *, rows: int, field: str
) -> list[str] | None:
    """The association ids of a request's rows, from the column `policy` names (None without one).

    `column` is the request's values of that column, or None when the request lacks it: refused
    when the deployment requires it, else the rows are captured without ids (their accuracy cannot
    be known). An id is a string of at most 128 characters, as DataRobot's; a number is turned
    into its decimal text, so 17 and "17" meet the same actual.
    """
    if policy is None or policy.association_column is None:
        return None
    if column is None:
        if policy.association_required:
            raise InvalidInput(
                f"this deployment requires the association id column {policy.association_column!r} in every request",
                field=field,
            )
        return None
    ids = []
    for index, value in enumerate(column):
        text = _id_text(value, row=index, field=field)
        if text is None:
            if policy.association_required:
                raise InvalidInput(f"row {index} has no association id in {policy.association_column!r}", field=field)
            return None
        ids.append(text)
    if len(ids) != rows:
        raise InvalidInput(f"expected {rows} association ids, got {len(ids)}", field=field)
    return ids


def _id_text(value: object, *, row: int, field: str) -> str | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None  # missing (an empty CSV cell, a JSON null)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(
            f"row {row}: an association id is a string or a number, not {type(value).__name__}", field=field
        )
    text = value if isinstance(value, str) else (str(int(value)) if float(value).is_integer() else repr(value))
    if not text or len(text) > 128:
        raise InvalidInput(f"row {row}: an association id is 1 to 128 characters", field=field)
    return text
