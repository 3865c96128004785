"""A deployment's settings (intervals, drift, segments, challengers, humility) and runtime parameter values.

Settings are what DataRobot's `deployments/{id}/settings/` reads and writes. champion stores them
and holds replacements to them: the replacement checks (`replacement/checks.py`) refuse a candidate
that would break a setting in force (a tracked segment attribute it does not take, a humility rule
watching a feature it lacks). Humility rules act on predictions: `humility_in_force` hands the
enabled ones to each process's follower, which compiles them into the deployment's view, and the
serving engine applies them (`serving/humility.py`) for every face. champion computes no intervals,
drift or segments yet: those settings record intent, and each check's message says what it protects.

Runtime parameter values belong to the champion: its version declares them
(`models/runtime_parameters.py`); `deployments.create` stores the first ones with the new deployment,
and a replacement sets them for the candidate (`merge_runtime_values` both times), stored only when
the swap succeeds (`replacement/handler.py`).

`deployments.service` and this module import each other (create keeps a new deployment's settings;
the functions here find deployments through the service); each only calls the other at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from champion import patch
from champion.changes import Topic, bump
from champion.db import utcnow
from champion.deployments import service as deployments
from champion.deployments.tables import DeploymentSettingsRow
from champion.errors import Conflict, InvalidInput
from champion.models.runtime_parameters import RuntimeParameterDefinition, from_stored
from champion.runtimes import Signature, TargetType
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor


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


class DeploymentSettings(_Setting):
    """Everything off by default: a new deployment tracks, segments and second-guesses nothing."""

    prediction_intervals: PredictionIntervals = Field(default_factory=PredictionIntervals)
    drift_tracking: DriftTracking = Field(default_factory=DriftTracking)
    segment_analysis: SegmentAnalysis = Field(default_factory=SegmentAnalysis)
    challengers: Challengers = Field(default_factory=Challengers)
    humility: Humility = Field(default_factory=Humility)


# --- reading and changing settings ---------------------------------------------------------------


def get(session: Session, actor: Actor, *, deployment_id: str) -> DeploymentSettings:
    """The settings of a deployment the caller can see."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    return stored(session, deployment_id=described.deployment.id)


def update(session: Session, actor: Actor, *, deployment_id: str, changes: Mapping[str, Any]) -> DeploymentSettings:
    """Merge `changes` (a partial settings document) into the stored settings; all of it, or none.

    Objects merge key by key; lists (percentiles, attributes, rules) are replaced whole. The result
    must hold for the current champion: tracked attributes and rule features are features it takes,
    and intervals need a regression model.
    """
    described = deployments.get(session, actor, deployment_id=deployment_id)
    deployment = described.deployment
    spaces.require(session, actor, deployment.space_id, Role.EDITOR)
    row = session.get(DeploymentSettingsRow, deployment.id, with_for_update=True)
    changed = checked(changes, signature=Signature.from_dict(described.version.signature), current=_settings_of(row))
    if row is None:
        row = DeploymentSettingsRow(deployment_id=deployment.id, runtime_values={})
        session.add(row)
    row.settings, row.modified_at = changed.model_dump(mode="json"), utcnow()
    # Humility rules act on predictions: every process's follower rebuilds its views to pick them up.
    bump(session, Topic.DEPLOYMENTS)
    try:
        session.commit()
    except IntegrityError:  # another first edit inserted the row meanwhile
        session.rollback()
        raise Conflict("the settings changed while you edited them; read them again and retry") from None
    return changed


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


def humility_in_force(session: Session) -> dict[str, Humility]:
    """The humility settings of every deployment that has rules switched on, by deployment id.

    One query for all deployments: the follower calls it each time it rebuilds the views.
    """
    found = {}
    for deployment_id, document in session.execute(
        select(DeploymentSettingsRow.deployment_id, DeploymentSettingsRow.settings)
    ):
        stored_humility = (document or {}).get("humility") or {}
        if stored_humility.get("enabled") and stored_humility.get("rules"):
            found[deployment_id] = Humility.model_validate(stored_humility)
    return found


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


def runtime_values(session: Session, actor: Actor, *, deployment_id: str) -> dict[str, Any]:
    """The champion's runtime parameter values by name: the stored ones, its defaults for the rest."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    values = stored_runtime_values(session, deployment_id=described.deployment.id)
    definitions = from_stored(described.version.runtime_parameters)
    return {d.field_name: values.get(d.field_name, d.default_value) for d in definitions}


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


def merge_runtime_values(
    definitions: Sequence[RuntimeParameterDefinition],
    existing: Mapping[str, Any],
    given: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The values a model with `definitions` will run with, from DataRobot's `runtimeParameterValues`.

    `given` entries (`{"fieldName", "type", "value"}`) win; then the deployment's `existing` value,
    for a parameter the model still declares; then the declared default. A given name the model
    does not declare, a value of the wrong type or out of range, or no value where one is required
    is an InvalidInput naming `runtimeParameterValues.<name>`.
    """
    declared = {d.field_name: d for d in definitions}
    chosen: dict[str, Any] = {}
    for index, item in enumerate(given):
        name = item.get("fieldName") if isinstance(item, Mapping) else None
        if not isinstance(name, str):
            raise InvalidInput("each value needs its fieldName", field=f"runtimeParameterValues.{index}")
        field = f"runtimeParameterValues.{name}"
        definition = declared.get(name)
        if definition is None:
            names = ", ".join(declared) or "none"
            raise InvalidInput(f"the model declares no runtime parameter {name!r} (it declares: {names})", field=field)
        if name in chosen:
            raise InvalidInput("the parameter is given twice", field=field)
        if "type" in item and item["type"] != definition.type:
            raise InvalidInput(f"the parameter is {definition.type}, not {item['type']}", field=field)
        if "value" not in item:
            raise InvalidInput("no value given", field=field)
        if problem := definition.problem_with(item["value"]):
            raise InvalidInput(problem, field=field)
        chosen[name] = item["value"]
    merged: dict[str, Any] = {}
    for name, definition in declared.items():
        if name in chosen:
            merged[name] = chosen[name]
        elif existing.get(name) is not None:
            if problem := definition.problem_with(existing[name]):
                raise InvalidInput(
                    f"the deployment's value {existing[name]!r} does not fit the new model ({problem}); give a value",
                    field=f"runtimeParameterValues.{name}",
                )
            merged[name] = existing[name]
        elif definition.default_value is None and not definition.allow_empty:
            raise InvalidInput(
                "the model requires a value and declares no default", field=f"runtimeParameterValues.{name}"
            )
        else:
            merged[name] = definition.default_value
    return merged
