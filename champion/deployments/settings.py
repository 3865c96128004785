"""A deployment's settings (intervals, drift, segments, challengers, humility, capture, replay) and runtime values.

Settings are what DataRobot's `deployments/{id}/settings/` reads and writes. champion stores them
and holds replacements to them: the replacement checks (`replacement/checks.py`) refuse a candidate
that would break a setting in force (a tracked segment attribute it does not take, a humility rule
watching a feature it lacks). Humility rules act on predictions: `every_stored` hands the
settings to each process's follower, which compiles them into the deployment's view, and the
serving engine applies them (`serving/humility.py`) for every face; prediction capture and the
association id column reach the prediction path the same way. champion computes no intervals or
segments yet: those settings record intent, and each check's message says what it protects. Drift is
computed from captured rows whether its tracking flags are on or not (`monitoring/drift.py`).

Runtime parameter values belong to the champion: its version declares them
(`models/runtime_parameters.py`); `deployments.create` stores the first ones with the new deployment,
and a replacement sets them for the candidate (`runtime_values.merge` both times), stored only when
the swap succeeds (`replacement/handler.py`).

This module knows what settings are and how they are kept; reading and changing them as a caller
(`get_settings`, `update_settings`, `runtime_values`) is `deployments.service`'s, which checks access.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from champion import patch
from champion.changes import Topic, bump
from champion.db import utcnow
from champion.deployments.tables import DeploymentSettingsRow
from champion.errors import InvalidInput
from champion.runtimes import Signature, TargetType


class _Setting(BaseModel):
    # Strict: settings arrive as JSON, where "true" is not true and 50.0 is no percentile.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PredictionIntervals(_Setting):
    """Intervals around regression predictions, at these percentiles (1 to 99)."""

    enabled: bool = False
    percentiles: list[int] = Field(default_factory=list)

    @field_validator("percentiles")
    @classmethod
    def _percentiles(cls, values: list[int]) -> list[int]:
        if outside := [v for v in values if not 1 <= v <= 99]:
            raise ValueError(f"percentiles are between 1 and 99, not {', '.join(map(str, outside))}")
        if len(set(values)) != len(values):
            raise ValueError("a percentile is listed twice")
        return values


class DriftTracking(_Setting):
    target_drift_enabled: bool = False
    feature_drift_enabled: bool = False


class SegmentAnalysis(_Setting):
    """Predictions broken down by the values of these input features (the champion must take them)."""

    enabled: bool = False
    attributes: list[str] = Field(default_factory=list)

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, values: list[str]) -> list[str]:
        if any(not v for v in values):
            raise ValueError("an attribute names a feature; it cannot be empty")
        if len(set(values)) != len(values):
            raise ValueError("an attribute is listed twice")
        return values


class Challengers(_Setting):
    enabled: bool = False


ScheduleValue = int | str
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class Schedule(_Setting):
    """When something runs, as DataRobot's schedules (and cron) say it: each field is ["*"] or a list.

    minute 0-59, hour 0-23, day_of_month 1-31, month 1-12 or a name ("jan", "october"), day_of_week
    0-6 from Sunday or a name ("sun", "Sunday"). Restricting both days means either may match.
    """

    minute: list[ScheduleValue]
    hour: list[ScheduleValue]
    day_of_month: list[ScheduleValue]
    month: list[ScheduleValue]
    day_of_week: list[ScheduleValue]

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        for name, low, high, names in (
            ("minute", 0, 59, ()),
            ("hour", 0, 23, ()),
            ("day_of_month", 1, 31, ()),
            ("month", 1, 12, MONTHS),
            ("day_of_week", 0, 6, WEEKDAYS),
        ):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"{name} is a list: ['*'] for every {name.replace('_', ' ')}")
            for value in values:
                if value == "*" or (isinstance(value, int) and low <= value <= high):
                    continue
                if isinstance(value, str) and names and value[:3].lower() in names:
                    continue
                raise ValueError(f"{name} takes '*' or {low} to {high}{' or a name' if names else ''}, not {value!r}")
        return self


class ChallengerReplay(_Setting):
    """Replaying captured traffic through the challengers on a schedule (on demand it needs no setting)."""

    enabled: bool = False
    schedule: Schedule | None = None
    rows: int = Field(default=1_000, ge=1, le=10_000)

    @model_validator(mode="after")
    def _scheduled(self) -> Self:
        if self.enabled and self.schedule is None:
            raise ValueError("a scheduled replay needs its schedule")
        return self


class PredictionsDataCollection(_Setting):
    """Prediction capture: which share of requests is recorded, and how long captured rows are kept.

    On by default: drift, accuracy and the replay check before a replacement all read captured rows.
    Sampling is per request (all of a request's rows, or none); retention is whichever limit comes first.
    """

    enabled: bool = True
    sampling_percent: float = Field(default=100.0, gt=0, le=100)
    retention_days: int = Field(default=30, ge=1, le=3650)
    max_rows: int = Field(default=1_000_000, ge=1_000, le=100_000_000)


class Replay(_Setting):
    """The replay check before a replacement: the candidate answers the champion's latest captured rows.

    It fails when the candidate errors on rows the champion answered, and warns when the two disagree
    on more than `max_disagreement` (a classifier: the share of rows labelled differently; a regressor:
    the mean absolute difference over the spread of the champion's own answers).
    """

    enabled: bool = True
    rows: int = Field(default=1_000, ge=1, le=10_000)
    max_disagreement: float = Field(default=0.2, ge=0, le=1)


class AssociationId(_Setting):
    """The request column whose value identifies a row, so actuals submitted later meet their prediction."""

    column_names: list[str] = Field(default_factory=list, max_length=1)
    required_in_prediction_requests: bool = False

    @field_validator("column_names")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        if any(not v.strip() or len(v) > 255 for v in values):
            raise ValueError("a column name is 1 to 255 characters, not blank")
        return values

    @property
    def column(self) -> str | None:
        return self.column_names[0] if self.column_names else None


Trigger = Literal["uncertain_prediction", "outlying_input", "low_observation_region"]
Action = Literal["no_operation", "override_prediction", "throw_error"]
FEATURE_TRIGGERS = frozenset({"outlying_input", "low_observation_region"})


class HumilityRule(_Setting):
    """When to distrust a prediction (`trigger`) and what to do then (`action`).

    uncertain_prediction: the prediction (a regression value, or a classifier's probability of its
    label) falls outside [lower, upper]. outlying_input: `feature`'s value falls outside
    [lower, upper]. low_observation_region: `feature`'s value is none of `observed_values`.
    """

    name: str = Field(min_length=1, max_length=255)
    trigger: Trigger
    feature: str | None = None
    lower: float | None = None
    upper: float | None = None
    observed_values: list[str] = Field(default_factory=list)
    action: Action = "no_operation"
    override_value: str | int | float | bool | None = None
    error_message: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.trigger in FEATURE_TRIGGERS) != (self.feature is not None):
            raise ValueError(
                f"a {self.trigger} rule {'watches a feature: name it' if self.feature is None else 'takes no feature'}"
            )
        if self.trigger != "low_observation_region" and self.lower is None and self.upper is None:
            raise ValueError(f"a {self.trigger} rule needs a lower or an upper bound")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"the lower bound {self.lower} is above the upper bound {self.upper}")
        if self.trigger == "low_observation_region" and not self.observed_values:
            raise ValueError("a low_observation_region rule needs the observed_values")
        if self.action == "override_prediction" and self.override_value is None:
            raise ValueError("an override_prediction rule needs the override_value")
        return self


class Humility(_Setting):
    enabled: bool = False
    rules: list[HumilityRule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[HumilityRule]) -> list[HumilityRule]:
        names = [r.name for r in rules]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"two rules are named {', '.join(twice)}")
        return rules


HARDWARE_NOT_APPLIED = (
    "champion serves every deployment on CPU in each of its server processes: the hardware request is "
    "recorded, not applied."
)


class HardwareRequest(_Setting):
    """WML's `hardware_request`: the GPU size and node count a deployment asks for.

    champion has no GPUs or nodes to hand out (every server process serves every deployment, on
    CPU), so the request is recorded and shown, with `HARDWARE_NOT_APPLIED` as a warning, and changes
    nothing served; to serve more, run more workers or replicas.
    """

    size: Literal["gpu_s", "gpu_m", "gpu_l"]
    """WML's sizes (the official client's `Deployments.HardwareRequestSizes`)."""
    num_nodes: int = Field(default=1, ge=1)


class BatchParameters(_Setting):
    """WML's `batch` of a batch deployment: a marker object, whose `parameters` champion keeps as given
    (as `online.parameters` of an online one) and does not act on."""

    parameters: dict[str, Any] = Field(default_factory=dict)


class Compiled(_Setting):
    """Serving a tree ensemble compiled (ONNX Runtime) once it answers as the native model does.

    On by default: the compiled form serves only after it matched the native model on check rows
    (`runtimes/compiled.py`); turning it off serves the native model (every process reloads it).
    """

    enabled: bool = True


class DeploymentSettings(_Setting):
    """Off by default but prediction capture: a new deployment records what it answers and tracks,
    segments and second-guesses nothing.

    `hardware_request` and `batch` are WML's deployment members of the same kind: what the
    deployment asks for, kept with it (and exported with it), changed by a deployment patch.
    """

    prediction_intervals: PredictionIntervals = Field(default_factory=PredictionIntervals)
    drift_tracking: DriftTracking = Field(default_factory=DriftTracking)
    segment_analysis: SegmentAnalysis = Field(default_factory=SegmentAnalysis)
    challengers: Challengers = Field(default_factory=Challengers)
    humility: Humility = Field(default_factory=Humility)
    predictions_data_collection: PredictionsDataCollection = Field(default_factory=PredictionsDataCollection)
    association_id: AssociationId = Field(default_factory=AssociationId)
    replay: Replay = Field(default_factory=Replay)
    challenger_replay: ChallengerReplay = Field(default_factory=ChallengerReplay)
    hardware_request: HardwareRequest | None = None
    batch: BatchParameters = Field(default_factory=BatchParameters)
    compiled: Compiled = Field(default_factory=Compiled)

    @model_serializer(mode="wrap")
    def _without_unrequested(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out `hardware_request`, `batch` and `compiled` while nobody changed them: the settings
        document (stored, shown, exported) of every other deployment stays what it was before they were kept here."""
        data: dict[str, Any] = handler(self)
        if self.hardware_request is None:
            data.pop("hardware_request", None)
        if not self.batch.parameters:
            data.pop("batch", None)
        if self.compiled.enabled:
            data.pop("compiled", None)
        return data


# --- checking and keeping settings ---------------------------------------------------------------


def checked(
    changes: Mapping[str, Any], *, signature: Signature, current: DeploymentSettings | None = None
) -> DeploymentSettings:
    """`changes` merged into `current` (every default when None) and held to the model with `signature`.

    The rules `update` applies, kept apart so a deployment being created (`deployments.create`,
    an import) starts only with settings an update could have given it. InvalidInput names the
    setting, as `update` does.
    """
    if not isinstance(changes, Mapping):
        raise InvalidInput("settings changes must be an object")
    base = (current or DeploymentSettings()).model_dump(mode="json")
    changed = patch.validated(DeploymentSettings, _merged(base, changes))
    _check_champion(changed, signature)
    return changed


def as_document(changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` merged into the defaults, unvalidated: what to compare a deployment's stored settings with."""
    return _merged(DeploymentSettings().model_dump(mode="json"), changes)


def stored(session: Session, *, deployment_id: str) -> DeploymentSettings:
    """The settings as stored, without an access check (the replacement checks read them)."""
    return _settings_of(session.get(DeploymentSettingsRow, deployment_id))


def current(session: Session, *, deployment_id: str) -> DeploymentSettings:
    """The stored settings, the row locked until the caller's commit (an update reads, then writes)."""
    return _settings_of(session.get(DeploymentSettingsRow, deployment_id, with_for_update=True))


def keep(session: Session, *, deployment_id: str, settings: DeploymentSettings) -> None:
    """Store `settings` (`checked` already) in the caller's transaction.

    Humility rules act on predictions: the `deployments` counter moves, so every process's
    follower rebuilds its views to pick them up.
    """
    row = session.get(DeploymentSettingsRow, deployment_id)
    if row is None:
        row = DeploymentSettingsRow(deployment_id=deployment_id, runtime_values={})
        session.add(row)
    row.settings, row.modified_at = settings.model_dump(mode="json"), utcnow()
    bump(session, Topic.DEPLOYMENTS)


def digest(settings: DeploymentSettings) -> str:
    """A short fingerprint of a settings document: a process compiles it into its view of the deployment, and
    a face compares it with the stored one to tell whether this process acts on the settings yet."""
    return hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:16]


def every_stored(session: Session) -> dict[str, DeploymentSettings]:
    """Every deployment's stored settings, by deployment id (a deployment without a row has the defaults).

    One query for all deployments: the follower calls it each time it rebuilds the views, to compile
    what acts on predictions (humility rules, prediction capture).
    """
    rows = session.execute(select(DeploymentSettingsRow.deployment_id, DeploymentSettingsRow.settings))
    return {deployment_id: DeploymentSettings.model_validate(document or {}) for deployment_id, document in rows}


def _settings_of(row: DeploymentSettingsRow | None) -> DeploymentSettings:
    return DeploymentSettings.model_validate(row.settings) if row is not None else DeploymentSettings()


def _merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        existing = merged.get(key)
        if isinstance(value, Mapping) and isinstance(existing, Mapping):
            merged[key] = _merged(existing, value)
        else:
            merged[key] = value
    return merged


def _check_champion(settings: DeploymentSettings, signature: Signature) -> None:
    """Refuse settings the deployed model cannot honour (only those in force: a switched-off
    setting may name what a later champion takes)."""
    takes = {f.name for f in signature.features}
    segments = settings.segment_analysis
    if segments.enabled and (missing := [a for a in segments.attributes if a not in takes]):
        raise InvalidInput(
            f"the deployed model does not take {', '.join(missing)}, so it cannot be tracked as a segment attribute",
            field="segment_analysis.attributes",
        )
    if settings.humility.enabled:
        for index, rule in enumerate(settings.humility.rules):
            if rule.feature is not None and rule.feature not in takes:
                raise InvalidInput(
                    f"rule {rule.name!r} watches {rule.feature}, which the deployed model does not take",
                    field=f"humility.rules.{index}.feature",
                )
    if settings.prediction_intervals.enabled and signature.target.type is not TargetType.REGRESSION:
        raise InvalidInput(
            f"prediction intervals are for regression models; the deployed model is a {signature.target.type} "
            "classifier",
            field="prediction_intervals.enabled",
        )


# --- runtime parameter values ------------------------------------------------------------------


def stored_runtime_values(session: Session, *, deployment_id: str) -> dict[str, Any]:
    row = session.get(DeploymentSettingsRow, deployment_id)
    return dict(row.runtime_values) if row is not None else {}


def store_new(
    session: Session, *, deployment_id: str, settings: DeploymentSettings | None, runtime_values: Mapping[str, Any]
) -> None:
    """Keep a new deployment's settings (`checked` already) and runtime values; the caller commits them with it."""
    session.add(
        DeploymentSettingsRow(
            deployment_id=deployment_id,
            settings=(settings or DeploymentSettings()).model_dump(mode="json"),
            runtime_values=dict(runtime_values),
        )
    )


def store_runtime_values(session: Session, *, deployment_id: str, values: Mapping[str, Any]) -> None:
    """Keep the values of a new champion; the caller commits them with the swap."""
    row = session.get(DeploymentSettingsRow, deployment_id)
    if row is None:
        row = DeploymentSettingsRow(deployment_id=deployment_id, settings=DeploymentSettings().model_dump(mode="json"))
        session.add(row)
    row.runtime_values, row.modified_at = dict(values), utcnow()
