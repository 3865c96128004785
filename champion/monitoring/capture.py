"""Prediction capture on the hot path: a bounded in-memory buffer a background writer drains.

Every online prediction offers what it was asked and what it answered (`CaptureBuffer.offer`);
the buffer counts every request in its hour's tally (requests, rows, latency: the service figures
are exact whatever the sampling), keeps the rows if the deployment's sampling picks the request and
there is room, and the writer (`writer.py`) takes everything every few seconds and stores it off the
event loop.
Offering costs a dictionary lookup, a random draw and an append: it never waits, never touches
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
"""Cells (8 bytes each) the buffer holds before it drops: about 8 MB per process."""

REQUEST_CELLS = 128
"""What one request's own objects cost beside its values (the `Captured`, its arrays' headers, the
prediction's), in cells: about 1 KiB, measured. A request counts its rows times features plus this, so
that the capacity bounds memory for 1-row requests too: counted by their values alone, a buffer
of 1-row requests of 20 features held seven times the memory its capacity said."""


@dataclass(frozen=True, slots=True)
class CapturePolicy:
    """What the hot path needs of a deployment's capture settings (compiled into its view)."""

    sampling: float
    """The share of requests captured, in (0, 1]."""
    association_column: str | None = None
    association_required: bool = False


@dataclass(frozen=True, slots=True)
class Captured:
    """One answered request: its rows, what the model said, and when and how fast."""

    deployment_id: str
    version_id: str
    signature: Signature
    at: float
    """Seconds since the epoch, when the answer was given."""
    rows: np.ndarray
    prediction: Prediction
    association_ids: Sequence[str] | None
    latency: float
    """Seconds to answer, queueing for the model included."""


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
    """What the writer takes at once: the captured requests, and every request's tally since the last take."""

    captured: list[Captured] = field(default_factory=list)
    tallies: dict[tuple[str, str, float], Tally] = field(default_factory=dict)
    """By (deployment id, model version id, start of the hour in epoch seconds)."""


class CaptureBuffer:
    """The bounded buffer between the prediction path and the capture writer."""

    def __init__(self, *, capacity_cells: int = DEFAULT_CAPACITY_CELLS) -> None:
        self.capacity_cells = capacity_cells
        self._lock = threading.Lock()  # offers come from the event loop, takes from the writer's thread
        self._captured: list[Captured] = []
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
        cells = (rows.size or len(rows)) + REQUEST_CELLS
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
            self._cells += cells
            self._captured.append(
                Captured(deployment_id, version_id, signature, now, rows, prediction, association_ids, latency)
            )

    def drain(self) -> Drained:
        """Everything kept and dropped since the last drain; the buffer starts empty again."""
        with self._lock:
            drained = Drained(self._captured, self._tallies)
            self._captured, self._cells, self._tallies = [], 0, {}
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
