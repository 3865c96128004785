"""What monitoring answers: figures over a period, per model version or for all of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from champion.monitoring.divergence import Level, Metric


@dataclass(frozen=True)
class Period:
    """A half-open time range [start, end), both on the hour (the windows figures are kept in)."""

    start: dt.datetime
    end: dt.datetime

    def split(self, size: dt.timedelta) -> list[Period]:
        """Consecutive buckets of `size` covering the period; the last one may be shorter."""
        buckets, start = [], self.start
        while start < self.end:
            end = min(start + size, self.end)
            buckets.append(Period(start, end))
            start = end
        return buckets

    def __contains__(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class ActualIn:
    """One actual as a face parsed it: the association id, the value, and optionally when and whether acted on."""

    association_id: Any
    value: Any
    was_acted_on: Any = None
    timestamp: dt.datetime | None = None


@dataclass(frozen=True)
class ActualsReceipt:
    received: int
    matched: int
    """Actuals whose association id met a captured prediction."""
    unmatched_ids: list[str]
    """Association ids no captured prediction carries (yet): kept, and matched if the prediction comes later."""


@dataclass(frozen=True)
class Accuracy:
    period: Period
    version_id: str | None
    target_type: str
    rows: int
    """Predictions in the period that met an actual."""
    figures: dict[str, float | None]
    """By DataRobot's metric name (`accuracy_metrics`)."""
    mean_actual: float | None = None
    mean_predicted: float | None = None
    """For a regressor: the means over the matched rows; for a classifier, of the positive class's probability."""


@dataclass(frozen=True)
class ServiceStats:
    period: Period
    version_id: str | None
    requests: int
    rows: int
    slow_requests: int
    mean_latency: float | None
    """Seconds, over the requests answered in the period (None without any)."""
    max_latency: float | None
    dropped_rows: int
    mean_prediction: float | None
    """A regressor's mean predicted value (None for a classifier, or without requests)."""


@dataclass(frozen=True)
class Drifted:
    """One feature's (or the prediction's) drift over a period against its version's baseline."""

    name: str
    kind: str
    score: float | None
    level: Level | None
    rows: int
    baseline_rows: int
    labels: list[str]
    counts: list[int]
    baseline_counts: list[int]


@dataclass(frozen=True)
class Drift:
    period: Period
    metric: Metric
    version_id: str
    baseline_ready: bool
    """False until the version has captured enough rows to fix its baseline (`drift.BASELINE_ROWS`)."""
    captured_rows: int = 0
    """The rows of this version captured so far (what the baseline waits for while it is not ready)."""
    features: list[Drifted] = field(default_factory=list)
    target: Drifted | None = None
    target_name: str | None = None
