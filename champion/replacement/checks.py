"""The one validation engine for replacing a deployment's model: named checks over frozen facts.

The validation endpoints, the replacement workflow, the WML asset patch and the UI all call
`validate`, so they can never disagree. Each check is a small pure function named as DataRobot
names it, all nineteen of them; `CHECKS` lists them in report order, so a new check is one
function and one line there, and the engine stays as it is. Most compare the two models; the
ones about segments, drift, humility, intervals and challengers hold the candidate to the
deployment's settings, and pass, saying so, when the deployment does not use that capability.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from champion.deployments.types import State
from champion.replacement.facts import ModelFacts, ReplacementFacts, TimeSeries
from champion.runtimes.base import Feature, FeatureType, Framework, TargetType


class CheckStatus(enum.StrEnum):
    PASSING = "passing"
    WARNING = "warning"  # the replacement may go ahead, but the user should look first
    FAILING = "failing"  # the replacement must not go ahead

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {CheckStatus.PASSING: 0, CheckStatus.WARNING: 1, CheckStatus.FAILING: 2}

PASSING, WARNING, FAILING = CheckStatus.PASSING, CheckStatus.WARNING, CheckStatus.FAILING


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: CheckStatus
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(name=str(data["name"]), status=CheckStatus(data["status"]), message=str(data["message"]))


# The checks that compare input schemas. Each passes only when the two models take the same
# features, in the same order, with the same types, so any other status is a schema mismatch.
SCHEMA_CHECKS = frozenset({"features", "featureDataTypes"})


@dataclass(frozen=True)
class ValidationReport:
    """The checks' results in registry order; status and message are derived, so they cannot drift."""

    checks: tuple[CheckResult, ...]

    @property
    def status(self) -> CheckStatus:
        """The worst status of any check; passing when there are none."""
        return max((c.status for c in self.checks), key=lambda s: s.severity, default=PASSING)

    @property
    def message(self) -> str:
        """One sentence naming what blocks the replacement, else what deserves a look."""
        if failing := self.failing():
            return f"Failed: {', '.join(c.name for c in failing)}."
        if warnings := self.warnings():
            return f"Warnings: {', '.join(c.name for c in warnings)}."
        return "All checks passed."

    @property
    def schema_mismatch(self) -> bool:
        """The input schemas differ in names, order, types or count (WML then warns in its patch response)."""
        return any(c.name in SCHEMA_CHECKS and c.status is not PASSING for c in self.checks)

    def failing(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is FAILING)

    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is WARNING)

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored with a replacement record."""
        return {
            "status": self.status.value,
            "message": self.message,
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        # status and message are derived from the checks, so only the checks are read back.
        return cls(checks=tuple(CheckResult.from_dict(c) for c in data["checks"]))


Check = Callable[[ReplacementFacts], CheckResult]


def validate(facts: ReplacementFacts, *, checks: Sequence[Check] | None = None) -> ValidationReport:
    """Run every check (all of them: a user fixing one problem should see the others too)."""
    return ValidationReport(checks=tuple(check(facts) for check in (CHECKS if checks is None else checks)))


# --- helpers -----------------------------------------------------------------------------------


def _listed(items: Iterable[object], limit: int = 5) -> str:
    """The first `limit` items, then how many more: enough to act on, short enough to read."""
    shown = [str(item) for item in items]
    text = ", ".join(shown[:limit])
    return f"{text} and {len(shown) - limit} more" if len(shown) > limit else text


def _version(model: ModelFacts) -> str:
    return f"version {model.number}"


def _label(value: str | int | float | bool) -> str:
    """A class label as text, so that 0, 0.0 and "0" are one label: JSON clients see them as equal."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pairs(facts: ReplacementFacts) -> list[tuple[Feature, Feature]]:
    """(current, candidate) features that requests fill in the same place: by name, or by position
    when either model records no feature names (its names are placeholders)."""
    current, candidate = facts.current.signature, facts.candidate.signature
    if current.named and candidate.named:
        by_name = {f.name: f for f in current.features}
        return [(by_name[f.name], f) for f in candidate.features if f.name in by_name]
    return list(zip(current.features, candidate.features, strict=False))


# Every framework champion has a runtime for; a later framework without one would fail `supported`.
LOADABLE = frozenset(Framework)

_NUMERIC = frozenset({FeatureType.INTEGER, FeatureType.DOUBLE})

_KIND = {
    TargetType.BINARY: "binary classifier",
    TargetType.MULTICLASS: "multiclass classifier",
    TargetType.REGRESSION: "regression model",
}


# --- the checks, in report order -----------------------------------------------------------------


def permission(facts: ReplacementFacts) -> CheckResult:
    """Fails unless the caller's role allows replacing this deployment's model: the rule is the
    caller's (spaces decide it), the check only makes it visible next to the others."""
    if facts.may_replace:
        return CheckResult("permission", PASSING, "You may replace this deployment's model.")
    return CheckResult(
        "permission",
        FAILING,
        "Your role in this space does not allow replacing this deployment's model; ask a space admin or editor.",
    )


def notCurrentModel(facts: ReplacementFacts) -> CheckResult:
    """Fails when the candidate is the deployed version: the swap would change nothing, yet
    record a replacement."""
    current, candidate = facts.current, facts.candidate
    if candidate.version_id == current.version_id:
        return CheckResult(
            "notCurrentModel",
            FAILING,
            f"The candidate ({_version(candidate)}) is the model already deployed; choose another version.",
        )
    origin = "" if candidate.model_id == current.model_id else " of another registered model"
    return CheckResult(
        "notCurrentModel",
        PASSING,
        f"The candidate ({_version(candidate)}{origin}) is not the model already deployed ({_version(current)}).",
    )


def supported(facts: ReplacementFacts) -> CheckResult:
    """Fails when champion cannot load the candidate's framework. Warns when the framework changes
    (scikit-learn to ONNX, say): champion serves both, but a conversion can shift predictions, so
    the user should compare them. Passes when the framework stays the same."""
    current, candidate = facts.current, facts.candidate
    if candidate.framework not in LOADABLE:
        return CheckResult(
            "supported",
            FAILING,
            f"champion cannot load {candidate.framework} models; it loads {', '.join(sorted(LOADABLE))}.",
        )
    if candidate.framework != current.framework:
        return CheckResult(
            "supported",
            WARNING,
            f"The framework changes from {current.framework} ({current.model_type}) to {candidate.framework} "
            f"({candidate.model_type}); champion loads both, but compare their predictions before relying on it.",
        )
    return CheckResult(
        "supported",
        PASSING,
        f"Both models are {candidate.framework} models ({current.model_type} and {candidate.model_type}).",
    )


def modelStatus(facts: ReplacementFacts) -> CheckResult:
    """Fails when the candidate's stored artifact no longer hashes to the sha256 recorded at upload:
    what would be loaded is not what was registered (corrupted or altered storage)."""
    candidate = facts.candidate
    if candidate.artifact_intact:
        return CheckResult("modelStatus", PASSING, "The candidate's stored artifact matches its recorded sha256.")
    return CheckResult(
        "modelStatus",
        FAILING,
        f"The stored artifact of the candidate ({_version(candidate)}) no longer matches its sha256; "
        "it was corrupted or altered in storage, so upload the model again.",
    )


def modelCanBeDeployed(facts: ReplacementFacts) -> CheckResult:
    """Fails when a trial load and warm-up failed, with the loader's reason. Passes when it succeeded,
    and also when none was tried: the replacement workflow loads and warms the candidate before the
    swap anyway, and stops there, with the old model still serving, if that fails."""
    candidate = facts.candidate
    if candidate.loads is None:
        return CheckResult(
            "modelCanBeDeployed",
            PASSING,
            "The candidate is loaded and warmed up on sample rows at replacement time, before the swap.",
        )
    if candidate.loads:
        return CheckResult("modelCanBeDeployed", PASSING, "The candidate loaded and answered sample rows.")
    reason = candidate.load_error or "no reason was recorded"
    return CheckResult("modelCanBeDeployed", FAILING, f"The candidate could not be loaded: {reason}.")


def target(facts: ReplacementFacts) -> CheckResult:
    """Fails when both models name their target and the names differ: they predict different things.
    Warns when only one names it, since that cannot be confirmed. Passes when the names match, or
    when neither records one: nothing differs, and targetType and targetClasses still compare them."""
    current, candidate = facts.current.signature.target.name, facts.candidate.signature.target.name
    if current == candidate:
        if current is None:
            return CheckResult("target", PASSING, "Neither model records its target name; there is nothing to compare.")
        return CheckResult("target", PASSING, f"Both models predict '{current}'.")
    if candidate is None:
        return CheckResult(
            "target",
            WARNING,
            f"The current model predicts '{current}' but the candidate records no target name; "
            "confirm that it predicts the same thing.",
        )
    if current is None:
        return CheckResult(
            "target",
            WARNING,
            f"The candidate predicts '{candidate}' but the current model records no target name; "
            "confirm that they predict the same thing.",
        )
    return CheckResult(
        "target", FAILING, f"The candidate predicts '{candidate}', but the current model predicts '{current}'."
    )


def targetType(facts: ReplacementFacts) -> CheckResult:
    """Fails when the kind of prediction changes (binary, multiclass, regression): every client
    reading the answers would read them wrongly."""
    current, candidate = facts.current.signature.target.type, facts.candidate.signature.target.type
    if current is candidate:
        return CheckResult("targetType", PASSING, f"Both models are {_KIND[current]}s.")
    return CheckResult(
        "targetType", FAILING, f"The candidate is a {_KIND[candidate]}, but the current model is a {_KIND[current]}."
    )


def targetClasses(facts: ReplacementFacts) -> CheckResult:
    """For classifiers, fails when the sets of class labels differ: clients would receive labels they
    do not expect, or stop receiving ones they do. Labels are compared as text, with whole floats
    written as integers, so 0, 0.0 and "0" are one label (they are equal to a JSON client). Warns
    when a classifier records no labels, or keeps the same labels in another order (probability
    columns follow that order). Passes when neither model is a classifier."""
    current, candidate = facts.current.signature.target, facts.candidate.signature.target
    regression = TargetType.REGRESSION
    if current.type is regression and candidate.type is regression:
        return CheckResult(
            "targetClasses",
            PASSING,
            "The candidate is not a classifier, nor is the current model: no classes to compare.",
        )
    if current.type is regression or candidate.type is regression:
        classifier = candidate if current.type is regression else current
        classes = f"the classes {_listed(_label(c) for c in classifier.classes)}" if classifier.classes else "classes"
        message = (
            f"The candidate predicts {classes}, but the current model is not a classifier."
            if classifier is candidate
            else f"The candidate is not a classifier, but the current model predicts {classes}."
        )
        return CheckResult("targetClasses", FAILING, message)
    if not current.classes or not candidate.classes:
        which = "candidate" if not candidate.classes else "current model"
        return CheckResult(
            "targetClasses",
            WARNING,
            f"The {which} records no class labels; confirm that both predict the same classes.",
        )
    old, new = [_label(c) for c in current.classes], [_label(c) for c in candidate.classes]
    added, dropped = [c for c in new if c not in old], [c for c in old if c not in new]
    if added or dropped:
        changes = [
            *([f"adds {_listed(added)}"] if added else []),
            *([f"drops {_listed(dropped)}"] if dropped else []),
        ]
        return CheckResult(
            "targetClasses", FAILING, f"The candidate's class labels differ: it {' and '.join(changes)}."
        )
    if old != new:
        return CheckResult(
            "targetClasses",
            WARNING,
            f"Both models predict the same classes, but in another order ({_listed(new)}); "
            "probability columns follow the candidate's order.",
        )
    return CheckResult("targetClasses", PASSING, f"Both models predict the classes {_listed(new)}.")


def features(facts: ReplacementFacts) -> CheckResult:
    """Fails when the candidate needs a feature the deployment does not take: requests written for
    it lack it. A feature an earlier champion took only warns (clients may have stopped sending it
    since). Warns when the candidate uses fewer (the deployment keeps accepting and ignoring the
    others), when the same features come in another order (values sent without field names are
    positional), or when one model records no feature names (matched by position). Passes only
    when both take the same features in the same order."""
    current, candidate = facts.current.signature, facts.candidate.signature
    old, new = [f.name for f in current.features], [f.name for f in candidate.features]
    if old == new:
        return CheckResult("features", PASSING, f"Both models take the same {len(new)} features, in the same order.")
    if not (current.named and candidate.named):
        if len(old) != len(new):
            return CheckResult(
                "features",
                FAILING,
                f"The candidate takes {len(new)} input columns and the current model {len(old)}; one of them records "
                "no feature names, so the columns cannot be matched.",
            )
        return CheckResult(
            "features",
            WARNING,
            f"One model records no feature names, so the {len(new)} columns are matched by position; requests "
            f"that name their fields must use the candidate's names: {_listed(new)}.",
        )
    added, dropped = [n for n in new if n not in old], [n for n in old if n not in new]
    unknown = [n for n in added if n not in facts.retired_fields]
    if added and not unknown:
        return CheckResult(
            "features",
            WARNING,
            f"The candidate needs {_listed(added)}, which an earlier champion took and the current model does "
            "not: clients that stopped sending them will get an error.",
        )
    if added:
        added = unknown
        return CheckResult(
            "features",
            FAILING,
            f"The candidate needs {len(added)} feature{'s' if len(added) > 1 else ''} the current model does not "
            f"take: {_listed(added)}; requests written for this deployment lack them.",
        )
    if dropped:
        return CheckResult(
            "features",
            WARNING,
            f"The candidate no longer uses {len(dropped)} feature{'s' if len(dropped) > 1 else ''}: "
            f"{_listed(dropped)}; the deployment keeps accepting them and ignores them.",
        )
    return CheckResult(
        "features",
        WARNING,
        f"Both models take the same features, in another order ({_listed(new)}); requests that send values "
        "without field names must follow the candidate's order.",
    )


def featureDataTypes(facts: ReplacementFacts) -> CheckResult:
    """For the features both models take, fails when a type changes in a way that breaks requests
    (string against anything else, boolean against a number: champion refuses such values). Warns
    for integer against double: requests still parse, though an integer feature refuses fractions.
    Passes when every shared feature keeps its type."""
    breaking: list[str] = []
    numeric: list[str] = []
    pairs = _pairs(facts)
    for old, new in pairs:
        if old.type is new.type:
            continue
        change = f"{new.name} ({old.type} to {new.type})"
        (numeric if {old.type, new.type} <= _NUMERIC else breaking).append(change)
    if breaking:
        return CheckResult(
            "featureDataTypes",
            FAILING,
            f"Feature types change in a way that breaks requests: {_listed(breaking)}.",
        )
    if numeric:
        return CheckResult(
            "featureDataTypes",
            WARNING,
            f"Feature types change between integer and double: {_listed(numeric)}; requests still parse, "
            "but an integer feature refuses values with a fraction.",
        )
    if not pairs:
        return CheckResult("featureDataTypes", PASSING, "The models share no features, so no types to compare.")
    return CheckResult("featureDataTypes", PASSING, f"The {len(pairs)} shared features keep their types.")


def combinedModelSegments(facts: ReplacementFacts) -> CheckResult:
    """Fails when one model is a combined model (one model per segment) and the other is not, or
    when both are but split by different features: requests would be routed to segments that do
    not exist. Every model champion loads today is a single model, so this passes, saying so."""
    current, candidate = facts.current.segmented_by, facts.candidate.segmented_by
    if current is None and candidate is None:
        return CheckResult(
            "combinedModelSegments",
            PASSING,
            "Neither model is a combined (segmented) model; champion deploys single models, so there are no "
            "segments to match.",
        )
    if current is None or candidate is None:
        which, other = ("candidate", "current model") if current is None else ("current model", "candidate")
        return CheckResult(
            "combinedModelSegments",
            FAILING,
            f"The {which} is a combined model segmented by '{current or candidate}', but the {other} is a single "
            "model; replace a combined model with a combined model.",
        )
    if current != candidate:
        return CheckResult(
            "combinedModelSegments",
            FAILING,
            f"The candidate is segmented by '{candidate}', but the current model by '{current}'.",
        )
    return CheckResult("combinedModelSegments", PASSING, f"Both are combined models segmented by '{current}'.")


def _series(time_series: TimeSeries | None) -> str:
    return f"a {time_series.series_type} time-series model" if time_series else "not a time-series model"


def seriesType(facts: ReplacementFacts) -> CheckResult:
    """Fails when the kind of series changes (single series, multiseries, or no time series at
    all): forecasts would be asked for, and answered, per series in another way."""
    current, candidate = facts.current.time_series, facts.candidate.time_series
    if current is None and candidate is None:
        return CheckResult(
            "seriesType",
            PASSING,
            "The deployment is not a time series deployment and the candidate is not a time-series model; "
            "no series type to compare.",
        )
    if _series(current) != _series(candidate):
        return CheckResult(
            "seriesType",
            FAILING,
            f"The candidate is {_series(candidate)}, but the current model is {_series(current)}.",
        )
    return CheckResult("seriesType", PASSING, f"Both are {_series(candidate).removeprefix('a ')}s.")


def timeSeriesCompatibility(facts: ReplacementFacts) -> CheckResult:
    """Fails when a time-series model would replace a model that is not one (or the reverse), or
    when the time or series column changes: requests name them. Warns when the forecast window
    changes: the same requests are answered for other forecast distances."""
    current, candidate = facts.current.time_series, facts.candidate.time_series
    if current is None and candidate is None:
        return CheckResult(
            "timeSeriesCompatibility",
            PASSING,
            "The deployment is not a time series deployment; there is no time-series setup to compare.",
        )
    if current is None or candidate is None:
        return CheckResult(
            "timeSeriesCompatibility",
            FAILING,
            f"The candidate is {_series(candidate)}, but the current model is {_series(current)}; only a "
            "time-series model replaces a time-series model.",
        )
    problems = [
        *(
            [f"the time column changes from {current.datetime_feature} to {candidate.datetime_feature}"]
            if current.datetime_feature != candidate.datetime_feature
            else []
        ),
        *(
            [f"the series column changes from {current.series_id} to {candidate.series_id}"]
            if current.series_id != candidate.series_id
            else []
        ),
    ]
    if problems:
        return CheckResult("timeSeriesCompatibility", FAILING, f"Requests would break: {'; '.join(problems)}.")
    if current.forecast_window != candidate.forecast_window:
        return CheckResult(
            "timeSeriesCompatibility",
            WARNING,
            f"The forecast window changes from {current.forecast_window} to {candidate.forecast_window}; the same "
            "requests get forecasts for other distances.",
        )
    return CheckResult(
        "timeSeriesCompatibility",
        PASSING,
        f"Both models forecast over {candidate.datetime_feature} with the same series and window.",
    )


def containsTrackedSegmentAttributes(facts: ReplacementFacts) -> CheckResult:
    """Fails when segment analysis tracks an attribute the candidate does not take: its segments
    could no longer be told apart. Passes when segment analysis is off."""
    segments = facts.settings.segment_analysis
    if not segments.enabled:
        return CheckResult(
            "containsTrackedSegmentAttributes",
            PASSING,
            "Segment analysis is off for this deployment; nothing to compare.",
        )
    if not segments.attributes:
        return CheckResult(
            "containsTrackedSegmentAttributes",
            PASSING,
            "Segment analysis is on but tracks no attributes; nothing to compare.",
        )
    takes = {f.name for f in facts.candidate.signature.features}
    if missing := [a for a in segments.attributes if a not in takes]:
        return CheckResult(
            "containsTrackedSegmentAttributes",
            FAILING,
            f"Segment analysis tracks {_listed(missing)}, which the candidate does not take; stop tracking "
            f"{'them' if len(missing) > 1 else 'it'} first, or choose a model that takes "
            f"{'them' if len(missing) > 1 else 'it'}.",
        )
    return CheckResult(
        "containsTrackedSegmentAttributes",
        PASSING,
        f"The candidate takes every tracked segment attribute ({_listed(segments.attributes)}).",
    )


def driftTracking(facts: ReplacementFacts) -> CheckResult:
    """Warns, never fails, when drift tracking loses its history: target drift starts again from a
    new baseline when the target changes (name, type or classes), and feature drift ends for the
    features the candidate drops or retypes and starts from nothing for those it adds. Passes when
    drift tracking is off, or when the baselines carry over."""
    drift = facts.settings.drift_tracking
    if not (drift.target_drift_enabled or drift.feature_drift_enabled):
        return CheckResult("driftTracking", PASSING, "Drift tracking is off for this deployment; no baseline to keep.")
    current, candidate = facts.current.signature, facts.candidate.signature
    notes: list[str] = []
    if drift.target_drift_enabled:
        old, new = current.target, candidate.target
        changes = [
            *([f"its name ({old.name or 'unknown'} to {new.name or 'unknown'})"] if old.name != new.name else []),
            *([f"its type ({old.type} to {new.type})"] if old.type is not new.type else []),
            *(
                ["its classes"]
                if old.type is new.type and {_label(c) for c in old.classes} != {_label(c) for c in new.classes}
                else []
            ),
        ]
        if changes:
            notes.append(f"the target changes ({' and '.join(changes)}), so target drift restarts from a new baseline")
    if drift.feature_drift_enabled:
        old_types = {f.name: f.type for f in current.features}
        new_types = {f.name: f.type for f in candidate.features}
        ended = [n for n in old_types if n not in new_types]
        retyped = [n for n in old_types if n in new_types and old_types[n] is not new_types[n]]
        added = [n for n in new_types if n not in old_types]
        if ended or retyped:
            notes.append(f"feature drift history ends for {_listed(ended + retyped)}")
        if added:
            notes.append(f"feature drift starts with no history for {_listed(added)}")
    if notes:
        text = "; ".join(notes)
        return CheckResult("driftTracking", WARNING, f"{text[0].upper()}{text[1:]}.")
    tracked = " and ".join(
        [*(["target"] if drift.target_drift_enabled else []), *(["feature"] if drift.feature_drift_enabled else [])]
    )
    return CheckResult(
        "driftTracking",
        PASSING,
        f"The candidate keeps what {tracked} drift tracking follows; its baselines carry over.",
    )


def _classifies(target_type: TargetType) -> bool:
    return target_type is not TargetType.REGRESSION


def humilityRules(facts: ReplacementFacts) -> CheckResult:
    """Fails when an active humility rule cannot hold for the candidate: it watches a feature the
    candidate does not take, or it bounds an uncertain prediction and the candidate turns a
    regression into a classification (or back), so its bounds mean something else. Passes when
    humility is off or has no rules."""
    humility = facts.settings.humility
    if not humility.enabled or not humility.rules:
        state = "off" if not humility.enabled else "on but has no rules"
        return CheckResult("humilityRules", PASSING, f"Humility is {state} for this deployment; nothing to compare.")
    takes = {f.name for f in facts.candidate.signature.features}
    old, new = facts.current.signature.target.type, facts.candidate.signature.target.type
    problems: list[str] = []
    for rule in humility.rules:
        if rule.feature is not None and rule.feature not in takes:
            problems.append(f"'{rule.name}' watches {rule.feature}, which the candidate does not take")
        if rule.trigger == "uncertain_prediction" and _classifies(old) != _classifies(new):
            problems.append(
                f"'{rule.name}' bounds the predictions of a {_KIND[old]}, but the candidate is a {_KIND[new]}"
            )
    if problems:
        return CheckResult("humilityRules", FAILING, f"Humility rules would not hold: {'; '.join(problems)}.")
    count = len(humility.rules)
    return CheckResult(
        "humilityRules",
        PASSING,
        f"The candidate can honour the deployment's {count} humility rule{'s' if count > 1 else ''}.",
    )


def predictionIntervals(facts: ReplacementFacts) -> CheckResult:
    """Fails when prediction intervals are on and the candidate is not a regression model:
    intervals bound a predicted value, and a classifier predicts none. Passes when they are off."""
    intervals = facts.settings.prediction_intervals
    if not intervals.enabled:
        return CheckResult(
            "predictionIntervals", PASSING, "Prediction intervals are off for this deployment; nothing to compare."
        )
    target_type = facts.candidate.signature.target.type
    if target_type is TargetType.REGRESSION:
        percentiles = f" at {_listed(f'{p}%' for p in intervals.percentiles)}" if intervals.percentiles else ""
        return CheckResult(
            "predictionIntervals",
            PASSING,
            f"Prediction intervals{percentiles} apply to the candidate, a regression model.",
        )
    return CheckResult(
        "predictionIntervals",
        FAILING,
        f"Prediction intervals are on, but the candidate is a {_KIND[target_type]}; intervals are for regression "
        "models, so turn them off first or choose a regression model.",
    )


def validChallenger(facts: ReplacementFacts) -> CheckResult:
    """With challengers on, fails unless the candidate could be compared with them as the champion
    is: the same target (name and type), and a model champion can load. Passes when they are off."""
    if not facts.settings.challengers.enabled:
        return CheckResult(
            "validChallenger",
            PASSING,
            "Challengers are off for this deployment; the candidate need not be comparable with them.",
        )
    current, candidate = facts.current, facts.candidate
    old, new = current.signature.target, candidate.signature.target
    problems = [
        *([f"it predicts '{new.name}', not '{old.name}'"] if old.name != new.name else []),
        *([f"it is a {_KIND[new.type]}, not a {_KIND[old.type]}"] if old.type is not new.type else []),
        *(
            ["it cannot be loaded"]
            if candidate.framework not in LOADABLE or not candidate.artifact_intact or candidate.loads is False
            else []
        ),
    ]
    if problems:
        return CheckResult(
            "validChallenger",
            FAILING,
            f"Challengers are on, so the candidate must be comparable with them, but {'; '.join(problems)}.",
        )
    return CheckResult(
        "validChallenger",
        PASSING,
        "Challengers are on; the candidate predicts the same target, of the same type, and loads.",
    )


def predictionReady(facts: ReplacementFacts) -> CheckResult:
    """Fails while the deployment cannot take a replacement: another one is running (updating), it
    is still starting (initializing), or it is inactive. Passes when it is ready, and when it has
    failed: replacing a failed deployment's model is how to repair it."""
    try:
        state = State(facts.deployment_state)
    except ValueError:
        return CheckResult(
            "predictionReady", FAILING, f"The deployment is in an unknown state '{facts.deployment_state}'."
        )
    match state:
        case State.READY:
            return CheckResult("predictionReady", PASSING, "The deployment is ready to take a new model.")
        case State.FAILED:
            return CheckResult(
                "predictionReady",
                PASSING,
                "The deployment has failed; replacing its model is how to repair it.",
            )
        case State.UPDATING:
            return CheckResult(
                "predictionReady",
                FAILING,
                "Another replacement is running on this deployment; wait for it to finish.",
            )
        case State.INITIALIZING:
            return CheckResult("predictionReady", FAILING, "The deployment is still starting; wait until it is ready.")
        case State.INACTIVE:
            # Finishing a replacement makes the deployment ready, which would activate it unasked.
            return CheckResult(
                "predictionReady", FAILING, "The deployment is inactive; activate it before replacing its model."
            )


# The registry, in report order. A new check is one function above and one entry here.
CHECKS: tuple[Check, ...] = (
    permission,
    notCurrentModel,
    supported,
    modelStatus,
    modelCanBeDeployed,
    target,
    targetType,
    targetClasses,
    features,
    featureDataTypes,
    combinedModelSegments,
    seriesType,
    timeSeriesCompatibility,
    containsTrackedSegmentAttributes,
    driftTracking,
    humilityRules,
    predictionIntervals,
    validChallenger,
    predictionReady,
)
