"""Prediction capture on the hot path: a bounded in-memory buffer a background writer drains.

Every online prediction offers what it was asked and what it answered (`CaptureBuffer.offer`);
the buffer counts every request in its hour's tally (requests, rows, latency: the service figures
are exact whatever the sampling), keeps the rows if the deployment's sampling picks the request and
there is room, and the writer (`writer.py`) takes everything every few seconds and stores it off the
event loop.
Offering costs a dictionary lookup, a random draw and keeping a reference to the rows and the answer
under their deployment and model version (`Pending`): it never waits, never touches
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
"""Cells (8 bytes each) the buffer holds before it drops: about 8 MB per process, each request's arrays
counted with what they cost beside their values (`REQUEST_CELLS`)."""


@dataclass(frozen=True, slots=True)
class CapturePolicy:
    """What the hot path needs of a deployment's capture settings (compiled into its view)."""

    sampling: float
    """The share of requests captured, in (0, 1]."""
    association_column: str | None = None
    association_required: bool = False


ROW_CELLS = 3
"""What a row costs beside its values and probabilities, in cells: its time, its label, its association id."""
REQUEST_CELLS = 56
"""What a kept request costs beside its rows, in cells: the array objects of its rows, labels and
probabilities (about 130 bytes each with their shapes and strides), its time and its list slots."""


class Pending:
    """One deployment and model version's captured requests since the last drain: each request's own
    arrays, joined into columns when the writer gathers them, off the event loop.

    Offering appends references. Copied into growing columns on the event loop, each 1-row request cost
    10-20 µs on the cold cache a live server has between requests, twice the rest of capture's work. The
    arrays are not tracked by the cyclic collector, so a kept request leaves nothing for it to walk (kept
    as one object per request, 1-row traffic held tens of thousands: 6-10 µs of collections per request).
    The answer's arrays may be views of a batch's, which they keep alive until the drain.
    """

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self._count = 0
        self._rows: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._probabilities: list[np.ndarray] | None = []
        """None once a request came without them."""
        self._times: list[float] = []
        self._ids: list[Sequence[str] | None] = []

    def __len__(self) -> int:
        return self._count

    @property
    def rows(self) -> np.ndarray:
        if not self._rows:
            return np.empty((0, len(self.signature.features)))
        return _joined(self._rows)

    @property
    def at(self) -> np.ndarray:
        """Per row, seconds since the epoch when its request was answered."""
        return np.repeat(np.asarray(self._times, dtype=np.float64), [len(rows) for rows in self._rows])

    @property
    def labels(self) -> np.ndarray:
        return _joined(self._labels) if self._labels else np.empty(0)

    @property
    def probabilities(self) -> np.ndarray | None:
        """Per row, per class; None unless every request came with them."""
        if not self._probabilities:
            return None
        return _joined([np.asarray(p) for p in self._probabilities]).astype(np.float64, copy=False)

    @property
    def association_ids(self) -> list[str | None]:
        ids: list[str | None] = []
        for rows, given in zip(self._rows, self._ids, strict=True):
            ids.extend(given if given is not None else [None] * len(rows))
        return ids

    def add(self, at: float, rows: np.ndarray, prediction: Prediction, association_ids: Sequence[str] | None) -> None:
        """Keep one request; ValueError for one unlike the first (another width, or an answer that is not one
        per row), which then is not kept."""
        labels, probabilities = np.asarray(prediction.labels), prediction.probabilities
        if len(labels) != len(rows) or rows.ndim != 2:
            raise ValueError("one label per row")
        if self._rows and rows.shape[1] != self._rows[0].shape[1]:
            raise ValueError(f"{rows.shape[1]} features, not {self._rows[0].shape[1]}")
        if probabilities is None:
            self._probabilities = None
        elif self._probabilities is not None:
            if np.shape(probabilities)[0] != len(rows) or (
                self._probabilities and np.shape(probabilities)[1:] != np.shape(self._probabilities[0])[1:]
            ):
                raise ValueError("one set of probabilities per row, over the same classes")
            self._probabilities.append(probabilities)
        self._rows.append(rows)
        self._labels.append(labels)
        self._times.append(at)
        self._ids.append(association_ids)
        self._count += len(rows)


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays one after the other, in a type that holds every one's values: a longer text, a float among
    ints, or objects for text among numbers (NumPy finds no common type for them)."""
    dtypes = list(dict.fromkeys(array.dtype for array in arrays))
    if len(dtypes) == 1:
        return np.concatenate(arrays)
    common = dtypes[0]
    for dtype in dtypes[1:]:
        if not np.can_cast(dtype, common, casting="safe"):
            try:
                common = np.result_type(common, dtype)
            except TypeError:
                common = np.dtype(object)
    return np.concatenate([array.astype(common, copy=False) for array in arrays])


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
        cells = REQUEST_CELLS + rows.size + len(rows) * (ROW_CELLS + classes)
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
