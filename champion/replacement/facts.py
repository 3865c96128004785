"""What the validation engine knows about a replacement: frozen facts the caller gathers, so checks do no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from champion.deployments.settings import DeploymentSettings
from champion.replacement.trial import Replayed
from champion.runtimes.base import Framework, Signature


@dataclass(frozen=True)
class TimeSeries:
    """How a time-series model reads its rows: the time column, and the series column when it
    models several series at once (multiseries). No runtime champion loads marks a model as a
    time series today; a signature that does carries `{"time_series": {"datetime_feature",
    "series_id", "forecast_window"}}`, and the seriesType and timeSeriesCompatibility checks compare it.
    """

    datetime_feature: str
    series_id: str | None = None
    forecast_window: tuple[int, int] | None = None  # (first, last) forecast distance

    @property
    def series_type(self) -> str:
        return "multiseries" if self.series_id is not None else "single series"

    @classmethod
    def from_signature(cls, signature: Mapping[str, Any]) -> TimeSeries | None:
        data = signature.get("time_series")
        if not data:
            return None
        window = data.get("forecast_window")
        return cls(
            datetime_feature=str(data["datetime_feature"]),
            series_id=data.get("series_id"),
            forecast_window=(int(window[0]), int(window[1])) if window else None,
        )


@dataclass(frozen=True)
class ModelFacts:
    """One model version, as the registry knows it.

    `artifact_intact` and `loads` are computed by the caller (hashing the stored blob, a trial
    load with a warm-up on sample rows) so that every check stays a pure function.
    """

    version_id: str
    model_id: str
    number: int
    framework: Framework
    model_type: str  # as WML names it, e.g. "scikit-learn_1.3"
    signature: Signature
    artifact_intact: bool  # the stored blob still hashes to the recorded sha256
    loads: bool | None = None  # a trial load + warm-up succeeded; None: not tried
    load_error: str | None = None  # why the trial load failed, when it did
    load_seconds: float | None = None  # how long the trial load, warm-up and replay took
    time_series: TimeSeries | None = None  # None: not a time-series model (every model champion loads today)
    segmented_by: str | None = None
    """For a combined model (one model per segment, DataRobot's segmented modeling), the feature
    whose values pick the segment; None for a single model, which is every model champion loads."""
    software_spec_id: str | None = None
    """The id of the software specification the revision was made with; None: not recorded."""


@dataclass(frozen=True)
class ReplacementFacts:
    """The deployment's current champion, the candidate to replace it, and the caller's standing."""

    current: ModelFacts
    candidate: ModelFacts
    may_replace: bool  # the caller's role allows replacing this deployment's model
    deployment_state: str  # a champion.deployments.types.State value: ready, updating, initializing, failed
    retired_fields: frozenset[str] = frozenset()  # features earlier champions took and the current one does not
    settings: DeploymentSettings = field(default_factory=DeploymentSettings)  # what the deployment tracks
    captured_rows: int = 0
    """The current model's captured rows (its drift history)."""
    challengers: tuple[str, ...] = ()
    """The names of the deployment's challengers."""
    candidate_challenger: str | None = None
    """The candidate's name as a challenger, when promoting one."""
    replayed: Replayed | None = None
    """How the candidate answered the champion's latest captured rows in its trial; None: nothing replayed
    (no captured rows, replay switched off, or the candidate did not load)."""
