"""The checks that hold the candidate to what the deployment uses: segments, time series, drift
tracking, humility rules, prediction intervals and challengers. Each passes, saying so, when the
deployment does not use that capability."""

from __future__ import annotations

from champion.replacement.facts import ReplacementFacts, TimeSeries
from champion.replacement.model_checks import KIND, LOADABLE, class_label, listed
from champion.replacement.report import FAILING, PASSING, WARNING, CheckResult
from champion.runtimes.base import TargetType


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
            f"Segment analysis tracks {listed(missing)}, which the candidate does not take; stop tracking "
            f"{'them' if len(missing) > 1 else 'it'} first, or choose a model that takes "
            f"{'them' if len(missing) > 1 else 'it'}.",
        )
    return CheckResult(
        "containsTrackedSegmentAttributes",
        PASSING,
        f"The candidate takes every tracked segment attribute ({listed(segments.attributes)}).",
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
                if old.type is new.type
                and {class_label(c) for c in old.classes} != {class_label(c) for c in new.classes}
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
            notes.append(f"feature drift history ends for {listed(ended + retyped)}")
        if added:
            notes.append(f"feature drift starts with no history for {listed(added)}")
    if notes:
        text = "; ".join(notes)
        return CheckResult("driftTracking", WARNING, f"{text[0].upper()}{text[1:]}.")
    tracked = " and ".join(
        [*(["target"] if drift.target_drift_enabled else []), *(["feature"] if drift.feature_drift_enabled else [])]
    )
    history = (
        f" The current model's drift ({facts.captured_rows} captured rows) stays readable under its version."
        if facts.captured_rows
        else ""
    )
    return CheckResult(
        "driftTracking",
        PASSING,
        f"The candidate keeps what {tracked} drift tracking follows; its drift is measured against its own "
        f"baseline, its first captured rows.{history}",
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
                f"'{rule.name}' bounds the predictions of a {KIND[old]}, but the candidate is a {KIND[new]}"
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
        percentiles = f" at {listed(f'{p}%' for p in intervals.percentiles)}" if intervals.percentiles else ""
        return CheckResult(
            "predictionIntervals",
            PASSING,
            f"Prediction intervals{percentiles} apply to the candidate, a regression model.",
        )
    return CheckResult(
        "predictionIntervals",
        FAILING,
        f"Prediction intervals are on, but the candidate is a {KIND[target_type]}; intervals are for regression "
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
        *([f"it is a {KIND[new.type]}, not a {KIND[old.type]}"] if old.type is not new.type else []),
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
    others = [name for name in facts.challengers if name != facts.candidate_challenger]
    promoted = f"It is the challenger '{facts.candidate_challenger}'. " if facts.candidate_challenger else ""
    compared = f" The challengers {listed(others)} will be compared with it." if others else ""
    return CheckResult(
        "validChallenger",
        PASSING,
        f"{promoted}Challengers are on; the candidate predicts the same target, of the same type, and loads.{compared}",
    )
