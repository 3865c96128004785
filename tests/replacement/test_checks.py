"""The validation engine: every check's passing and failing or warning cases, and the report built from them."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, cast

import pytest

from champion.deployments.settings import DeploymentSettings
from champion.replacement import checks
from champion.replacement.checks import CHECKS, CheckResult, CheckStatus, ValidationReport, validate
from champion.replacement.facts import ModelFacts, ReplacementFacts, TimeSeries
from champion.replacement.trial import Replayed
from champion.runtimes.base import Feature, FeatureType, Framework, Signature, Target, TargetType

PASSING, WARNING, FAILING = CheckStatus.PASSING, CheckStatus.WARNING, CheckStatus.FAILING
INT, DBL, STR, BOOL = FeatureType.INTEGER, FeatureType.DOUBLE, FeatureType.STRING, FeatureType.BOOLEAN

FEATURES = (Feature("age", INT), Feature("income", DBL), Feature("city", STR), Feature("member", BOOL))
TARGET = Target(type=TargetType.BINARY, classes=(0, 1), name="churn")


def signature(features: tuple[Feature, ...] = FEATURES, target: Target = TARGET, *, named: bool = True) -> Signature:
    return Signature(features=features, target=target, named=named)


def model(number: int = 1, **changes: Any) -> ModelFacts:
    facts = ModelFacts(
        version_id=f"v{number}",
        model_id="m1",
        number=number,
        framework=Framework.SKLEARN,
        model_type="scikit-learn_1.3",
        signature=signature(),
        artifact_intact=True,
    )
    return dataclasses.replace(facts, **changes)


def replacement(
    *,
    current: ModelFacts | None = None,
    may_replace: bool = True,
    deployment_state: str = "ready",
    settings: dict[str, Any] | None = None,
    replayed: Replayed | None = None,
    **candidate: Any,
) -> ReplacementFacts:
    """The current model is version 1; the candidate is version 2 with `candidate` changes; the
    deployment's settings are `settings` (a settings document), everything off by default."""
    return ReplacementFacts(
        current=current or model(1),
        candidate=dataclasses.replace(model(2), **candidate),
        may_replace=may_replace,
        deployment_state=deployment_state,
        settings=DeploymentSettings.model_validate(settings or {}),
        replayed=replayed,
    )


def result(facts: ReplacementFacts, name: str) -> CheckResult:
    """One check's result, taken from a full validation so the registry is exercised too."""
    (found,) = [c for c in validate(facts).checks if c.name == name]
    return found


def with_features(*features: Feature, named: bool = True) -> dict[str, Any]:
    return {"signature": signature(tuple(features), named=named)}


def with_target(target: Target) -> dict[str, Any]:
    return {"signature": signature(target=target)}


# --- the registry -----------------------------------------------------------------------------


def test_an_identical_retrain_passes_every_check() -> None:
    report = validate(replacement())
    assert [c.status for c in report.checks] == [PASSING] * len(CHECKS)
    assert report.status is PASSING
    assert report.message == "All checks passed."
    assert not report.schema_mismatch


def test_check_names_are_unique_and_reported_in_registry_order() -> None:
    names = [c.name for c in validate(replacement()).checks]
    assert names == [check.__name__ for check in CHECKS]
    assert len(set(names)) == len(names)
    assert names == [
        "permission",
        "notCurrentModel",
        "supported",
        "modelStatus",
        "modelCanBeDeployed",
        "replay",
        "target",
        "targetType",
        "targetClasses",
        "features",
        "featureDataTypes",
        "combinedModelSegments",
        "seriesType",
        "timeSeriesCompatibility",
        "containsTrackedSegmentAttributes",
        "driftTracking",
        "humilityRules",
        "predictionIntervals",
        "validChallenger",
        "predictionReady",
    ]


def test_the_registry_holds_every_check_datarobot_reports() -> None:
    datarobot = {
        "combinedModelSegments",
        "containsTrackedSegmentAttributes",
        "driftTracking",
        "featureDataTypes",
        "features",
        "humilityRules",
        "modelCanBeDeployed",
        "modelStatus",
        "notCurrentModel",
        "permission",
        "predictionIntervals",
        "predictionReady",
        "seriesType",
        "supported",
        "target",
        "targetClasses",
        "targetType",
        "timeSeriesCompatibility",
        "validChallenger",
    }
    assert {check.__name__ for check in CHECKS} == datarobot | {"replay"}  # champion's own, on behaviour


def test_every_check_returns_its_own_name_whatever_the_outcome() -> None:
    broken = replacement(
        may_replace=False,
        deployment_state="updating",
        settings=EVERYTHING_ON,
        version_id="v1",
        framework=Framework.ONNX,
        artifact_intact=False,
        loads=False,
        time_series=TimeSeries("day"),
        segmented_by="region",
        signature=signature((Feature("age", STR),), Target(type=TargetType.REGRESSION, name="spend")),
    )
    for check in CHECKS:
        assert check(broken).name == check.__name__


EVERYTHING_ON: dict[str, Any] = {
    "prediction_intervals": {"enabled": True, "percentiles": [80]},
    "drift_tracking": {"target_drift_enabled": True, "feature_drift_enabled": True},
    "segment_analysis": {"enabled": True, "attributes": ["city"]},
    "challengers": {"enabled": True},
    "humility": {
        "enabled": True,
        "rules": [{"name": "odd age", "trigger": "outlying_input", "feature": "age", "lower": 18, "upper": 99}],
    },
}


def test_every_setting_on_passes_for_an_identical_retrain_but_intervals_on_a_classifier() -> None:
    report = validate(replacement(settings=EVERYTHING_ON))
    assert [c.name for c in report.checks if c.status is not PASSING] == ["predictionIntervals"]


def test_validate_runs_the_checks_it_is_given() -> None:
    report = validate(replacement(), checks=[checks.permission, checks.predictionReady])
    assert [c.name for c in report.checks] == ["permission", "predictionReady"]


# --- permission, notCurrentModel, supported ----------------------------------------------------


def test_permission() -> None:
    assert result(replacement(may_replace=True), "permission").status is PASSING
    denied = result(replacement(may_replace=False), "permission")
    assert denied.status is FAILING
    assert "does not allow replacing" in denied.message


def test_not_current_model() -> None:
    assert result(replacement(), "notCurrentModel").status is PASSING
    same = result(replacement(number=1, version_id="v1"), "notCurrentModel")
    assert same.status is FAILING
    assert "already deployed" in same.message


def test_not_current_model_names_a_version_of_another_model() -> None:
    other = result(replacement(model_id="m2"), "notCurrentModel")
    assert other.status is PASSING
    assert "of another registered model" in other.message


def test_supported_passes_for_the_same_framework() -> None:
    same = result(replacement(model_type="scikit-learn_1.5"), "supported")
    assert same.status is PASSING
    assert "scikit-learn_1.3 and scikit-learn_1.5" in same.message


def test_supported_warns_when_the_framework_changes() -> None:
    onnx = result(replacement(framework=Framework.ONNX, model_type="onnxruntime_1.18"), "supported")
    assert onnx.status is WARNING
    assert "from scikit-learn (scikit-learn_1.3) to onnx (onnxruntime_1.18)" in onnx.message


def test_supported_fails_for_a_framework_champion_cannot_load() -> None:
    pmml = result(replacement(framework=cast(Framework, "pmml")), "supported")
    assert pmml.status is FAILING
    assert "cannot load pmml models" in pmml.message


# --- modelStatus, modelCanBeDeployed -----------------------------------------------------------


def test_model_status() -> None:
    assert result(replacement(artifact_intact=True), "modelStatus").status is PASSING
    tampered = result(replacement(artifact_intact=False), "modelStatus")
    assert tampered.status is FAILING
    assert "no longer matches its sha256" in tampered.message


def test_model_can_be_deployed_after_a_trial_load() -> None:
    loaded = result(replacement(loads=True), "modelCanBeDeployed")
    assert loaded.status is PASSING
    assert "answered sample rows" in loaded.message


def test_model_can_be_deployed_defers_an_untried_load_to_the_replacement() -> None:
    untried = result(replacement(loads=None), "modelCanBeDeployed")
    assert untried.status is PASSING
    assert "at replacement time" in untried.message


def test_model_can_be_deployed_fails_with_the_load_error() -> None:
    failed = result(replacement(loads=False, load_error="No module named 'catboost'"), "modelCanBeDeployed")
    assert failed.status is FAILING
    assert "No module named 'catboost'" in failed.message
    unexplained = result(replacement(loads=False), "modelCanBeDeployed")
    assert unexplained.status is FAILING
    assert "no reason was recorded" in unexplained.message


# --- replay -------------------------------------------------------------------------------------


def test_replay_passes_with_nothing_captured_and_says_so() -> None:
    found = result(replacement(loads=True), "replay")
    assert found.status is PASSING and "No captured predictions" in found.message


def test_replay_fails_when_the_candidate_errors_on_rows_the_champion_answered() -> None:
    replayed = Replayed(rows=200, failed_rows=37, first_error="ValueError: Input X contains NaN.")
    found = result(replacement(loads=True, replayed=replayed), "replay")
    assert found.status is FAILING
    assert "37 of 200" in found.message and "Input X contains NaN" in found.message


def test_replay_warns_past_the_deployments_disagreement_limit() -> None:
    close = Replayed(rows=100, failed_rows=0, first_error=None, disagreement=0.05, mean_probability_difference=0.01)
    far = Replayed(rows=100, failed_rows=0, first_error=None, disagreement=0.35)
    assert result(replacement(loads=True, replayed=close), "replay").status is PASSING
    warned = result(replacement(loads=True, replayed=far), "replay")
    assert warned.status is WARNING and "35.0%" in warned.message and "20%" in warned.message
    strict = {"replay": {"max_disagreement": 0.01}}
    assert result(replacement(loads=True, replayed=close, settings=strict), "replay").status is WARNING


def test_replay_warns_when_captured_rows_lack_a_feature_the_candidate_takes() -> None:
    replayed = Replayed(rows=0, failed_rows=0, first_error=None, missing_features=("tenure",))
    found = result(replacement(loads=True, replayed=replayed), "replay")
    assert found.status is WARNING and "tenure" in found.message


def test_replay_switched_off_passes_and_says_so() -> None:
    replayed = Replayed(rows=10, failed_rows=10, first_error="boom")
    found = result(replacement(loads=True, replayed=replayed, settings={"replay": {"enabled": False}}), "replay")
    assert found.status is PASSING and "switched off" in found.message


# --- target, targetType, targetClasses ---------------------------------------------------------


def test_target_passes_for_the_same_name() -> None:
    same = result(replacement(), "target")
    assert same.status is PASSING
    assert "'churn'" in same.message


def test_target_passes_when_neither_model_names_it() -> None:
    unnamed = dataclasses.replace(TARGET, name=None)
    neither = result(replacement(current=model(1, **with_target(unnamed)), **with_target(unnamed)), "target")
    assert neither.status is PASSING
    assert "Neither model" in neither.message


def test_target_fails_for_another_name() -> None:
    other = result(replacement(**with_target(dataclasses.replace(TARGET, name="upsell"))), "target")
    assert other.status is FAILING
    assert "'upsell'" in other.message
    assert "'churn'" in other.message


def test_target_warns_when_one_name_is_unknown() -> None:
    unnamed = dataclasses.replace(TARGET, name=None)
    candidate_unknown = result(replacement(**with_target(unnamed)), "target")
    assert candidate_unknown.status is WARNING
    assert "the candidate records no target name" in candidate_unknown.message
    current_unknown = result(replacement(current=model(1, **with_target(unnamed))), "target")
    assert current_unknown.status is WARNING
    assert "the current model records no target name" in current_unknown.message


def test_target_type() -> None:
    same = result(replacement(), "targetType")
    assert same.status is PASSING
    assert "binary classifiers" in same.message
    regression = Target(type=TargetType.REGRESSION, name="churn")
    changed = result(replacement(**with_target(regression)), "targetType")
    assert changed.status is FAILING
    assert "a regression model, but the current model is a binary classifier" in changed.message


def test_target_classes_pass_for_the_same_labels() -> None:
    same = result(replacement(), "targetClasses")
    assert same.status is PASSING
    assert "0, 1" in same.message


def test_target_classes_compare_labels_as_text() -> None:
    # 0, 0.0 and "0" are one label to a JSON client.
    as_text = dataclasses.replace(TARGET, classes=("0", 1.0))
    assert result(replacement(**with_target(as_text)), "targetClasses").status is PASSING


def test_target_classes_fail_when_the_labels_differ() -> None:
    three = Target(type=TargetType.MULTICLASS, classes=("gold", "silver", "bronze"), name="tier")
    four = Target(type=TargetType.MULTICLASS, classes=("gold", "platinum", "silver"), name="tier")
    changed = result(replacement(current=model(1, **with_target(three)), **with_target(four)), "targetClasses")
    assert changed.status is FAILING
    assert changed.message == "The candidate's class labels differ: it adds platinum and drops bronze."


def test_target_classes_warn_when_the_order_changes() -> None:
    reordered = result(replacement(**with_target(dataclasses.replace(TARGET, classes=(1, 0)))), "targetClasses")
    assert reordered.status is WARNING
    assert "probability columns" in reordered.message


def test_target_classes_warn_when_a_classifier_records_none() -> None:
    unknown = result(replacement(**with_target(dataclasses.replace(TARGET, classes=()))), "targetClasses")
    assert unknown.status is WARNING
    assert "The candidate records no class labels" in unknown.message


def test_target_classes_for_regressors() -> None:
    regression = Target(type=TargetType.REGRESSION, name="spend")
    both = result(replacement(current=model(1, **with_target(regression)), **with_target(regression)), "targetClasses")
    assert both.status is PASSING
    assert "not a classifier" in both.message
    one = result(replacement(**with_target(regression)), "targetClasses")
    assert one.status is FAILING
    assert one.message == "The candidate is not a classifier, but the current model predicts the classes 0, 1."


# --- features, featureDataTypes -----------------------------------------------------------------


def test_features_pass_for_the_same_features() -> None:
    same = result(replacement(), "features")
    assert same.status is PASSING
    assert "same 4 features" in same.message


def test_features_fail_naming_the_first_five_new_ones() -> None:
    extra = [Feature(f"x{k}", DBL) for k in range(7)]
    needs = result(replacement(**with_features(*FEATURES, *extra)), "features")
    assert needs.status is FAILING
    assert "needs 7 features the current model does not take: x0, x1, x2, x3, x4 and 2 more" in needs.message
    one = result(replacement(**with_features(*FEATURES, Feature("tenure", INT))), "features")
    assert "needs 1 feature the current model does not take: tenure;" in one.message


def test_features_warn_naming_the_ones_no_longer_used() -> None:
    fewer = result(replacement(**with_features(*FEATURES[:2])), "features")
    assert fewer.status is WARNING
    assert "no longer uses 2 features: city, member" in fewer.message


def test_features_warn_when_the_order_changes() -> None:
    reordered = result(replacement(**with_features(*reversed(FEATURES))), "features")
    assert reordered.status is WARNING
    assert "another order (member, city, income, age)" in reordered.message


def test_features_without_names_are_matched_by_position() -> None:
    placeholders = [Feature(f"f{k}", f.type) for k, f in enumerate(FEATURES)]
    same_count = result(replacement(**with_features(*placeholders, named=False)), "features")
    assert same_count.status is WARNING
    assert "matched by position" in same_count.message
    assert "f0, f1, f2, f3" in same_count.message
    fewer = result(replacement(**with_features(*placeholders[:3], named=False)), "features")
    assert fewer.status is FAILING
    assert "takes 3 input columns and the current model 4" in fewer.message
    both = model(1, **with_features(*placeholders, named=False))
    assert result(replacement(current=both, **with_features(*placeholders, named=False)), "features").status is PASSING


def test_feature_data_types_pass_when_shared_features_keep_their_types() -> None:
    # A dropped feature is the features check's business, not this one's.
    kept = result(replacement(**with_features(FEATURES[1], FEATURES[0])), "featureDataTypes")
    assert kept.status is PASSING
    assert "2 shared features keep their types" in kept.message


@pytest.mark.parametrize(("old", "new"), [(INT, DBL), (DBL, INT)], ids=["integer-to-double", "double-to-integer"])
def test_feature_data_types_warn_between_integer_and_double(old: FeatureType, new: FeatureType) -> None:
    current = model(1, **with_features(Feature("age", old)))
    changed = result(replacement(current=current, **with_features(Feature("age", new))), "featureDataTypes")
    assert changed.status is WARNING
    assert f"age ({old} to {new})" in changed.message


@pytest.mark.parametrize(
    ("old", "new"),
    [(STR, DBL), (DBL, STR), (BOOL, STR), (STR, BOOL), (BOOL, INT), (DBL, BOOL)],
    ids=[
        "string-to-double",
        "double-to-string",
        "boolean-to-string",
        "string-to-boolean",
        "boolean-to-integer",
        "double-to-boolean",
    ],
)
def test_feature_data_types_fail_when_requests_break(old: FeatureType, new: FeatureType) -> None:
    current = model(1, **with_features(Feature("x", old), Feature("age", INT)))
    candidate = with_features(Feature("x", new), Feature("age", DBL))
    changed = result(replacement(current=current, **candidate), "featureDataTypes")
    assert changed.status is FAILING
    assert changed.message == f"Feature types change in a way that breaks requests: x ({old} to {new})."


def test_feature_data_types_match_unnamed_features_by_position() -> None:
    placeholders = with_features(
        Feature("f0", INT), Feature("f1", STR), Feature("f2", DBL), Feature("f3", BOOL), named=False
    )
    changed = result(replacement(**placeholders), "featureDataTypes")
    assert changed.status is FAILING
    assert "f1 (double to string)" in changed.message


# --- predictionReady -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "words"),
    [
        ("ready", PASSING, "ready"),
        ("failed", PASSING, "how to repair it"),
        ("updating", FAILING, "Another replacement is running"),
        ("initializing", FAILING, "still starting"),
        ("deleted", FAILING, "unknown state 'deleted'"),
    ],
)
def test_prediction_ready(state: str, status: CheckStatus, words: str) -> None:
    ready = result(replacement(deployment_state=state), "predictionReady")
    assert ready.status is status
    assert words in ready.message


# --- the report ---------------------------------------------------------------------------------


def test_the_report_status_is_the_worst_check() -> None:
    warned = validate(replacement(framework=Framework.ONNX))
    assert warned.status is WARNING
    assert warned.message == "Warnings: supported."
    assert [c.name for c in warned.warnings()] == ["supported"]
    assert warned.failing() == ()
    failed = validate(replacement(framework=Framework.ONNX, deployment_state="updating"))
    assert failed.status is FAILING
    assert [c.name for c in failed.failing()] == ["predictionReady"]


def test_the_report_message_names_the_failing_checks_in_order() -> None:
    regression = Target(type=TargetType.REGRESSION, name="spend")
    report = validate(replacement(framework=Framework.ONNX, **with_target(regression)))
    assert report.message == "Failed: target, targetType, targetClasses."


def test_an_empty_report_passes() -> None:
    empty = ValidationReport(checks=())
    assert empty.status is PASSING
    assert empty.message == "All checks passed."


@pytest.mark.parametrize(
    "candidate",
    [
        with_features(*FEATURES[:3]),
        with_features(*FEATURES, Feature("tenure", INT)),
        with_features(*reversed(FEATURES)),
        with_features(Feature("age", DBL), *FEATURES[1:]),
        with_features(*(Feature(f"f{k}", f.type) for k, f in enumerate(FEATURES)), named=False),
    ],
    ids=["fewer", "more", "reordered", "retyped", "unnamed"],
)
def test_schema_mismatch_whenever_the_input_schemas_differ(candidate: dict[str, Any]) -> None:
    assert validate(replacement(**candidate)).schema_mismatch


def test_no_schema_mismatch_when_only_other_things_change() -> None:
    regression = Target(type=TargetType.REGRESSION, name="spend")
    report = validate(replacement(framework=Framework.ONNX, may_replace=False, **with_target(regression)))
    assert report.status is FAILING
    assert not report.schema_mismatch


def test_the_report_round_trips_through_json() -> None:
    report = validate(replacement(framework=Framework.ONNX, deployment_state="updating"))
    stored = json.loads(json.dumps(report.to_dict()))
    assert stored["status"] == "failing"
    assert stored["message"] == "Failed: predictionReady."
    assert stored["checks"][0] == {"name": "permission", "status": "passing", "message": report.checks[0].message}
    assert ValidationReport.from_dict(stored) == report


def test_features_an_earlier_champion_took_only_warn() -> None:
    # A rollback to a model that needs a feature the current one dropped: clients may still send it.
    extra = Feature("tenure", INT)
    facts = dataclasses.replace(replacement(**with_features(*FEATURES, extra)), retired_fields=frozenset({"tenure"}))
    check = result(facts, "features")
    assert check.status is CheckStatus.WARNING and "tenure" in check.message
    assert result(replacement(**with_features(*FEATURES, extra)), "features").status is CheckStatus.FAILING


# --- combinedModelSegments, seriesType, timeSeriesCompatibility --------------------------------


def test_combined_model_segments_pass_for_single_models() -> None:
    single = result(replacement(), "combinedModelSegments")
    assert single.status is PASSING and "Neither model is a combined" in single.message
    both = replacement(current=model(1, segmented_by="region"), segmented_by="region")
    assert result(both, "combinedModelSegments").status is PASSING


@pytest.mark.parametrize(("current", "candidate"), [(None, "region"), ("region", None), ("region", "city")])
def test_combined_model_segments_fail_when_the_kind_or_the_segments_change(
    current: str | None, candidate: str | None
) -> None:
    check = result(replacement(current=model(1, segmented_by=current), segmented_by=candidate), "combinedModelSegments")
    assert check.status is FAILING
    assert "region" in check.message


def test_series_type_and_time_series_compatibility_pass_when_neither_is_a_time_series() -> None:
    facts = replacement()
    assert result(facts, "seriesType").status is PASSING
    assert "not a time series deployment" in result(facts, "seriesType").message
    assert result(facts, "timeSeriesCompatibility").status is PASSING
    assert "not a time series deployment" in result(facts, "timeSeriesCompatibility").message


def test_time_series_models_of_the_same_setup_pass() -> None:
    series = TimeSeries("day", series_id="store", forecast_window=(1, 7))
    facts = replacement(current=model(1, time_series=series), time_series=series)
    assert result(facts, "seriesType").status is PASSING
    assert "multiseries" in result(facts, "seriesType").message
    assert result(facts, "timeSeriesCompatibility").status is PASSING


def test_a_time_series_model_does_not_replace_another_kind() -> None:
    facts = replacement(time_series=TimeSeries("day"))
    series_type = result(facts, "seriesType")
    assert series_type.status is FAILING and "single series time-series model" in series_type.message
    assert result(facts, "timeSeriesCompatibility").status is FAILING
    back = replacement(current=model(1, time_series=TimeSeries("day")))
    assert result(back, "timeSeriesCompatibility").status is FAILING


def test_series_type_fails_between_single_and_multiseries() -> None:
    facts = replacement(current=model(1, time_series=TimeSeries("day")), time_series=TimeSeries("day", "store"))
    check = result(facts, "seriesType")
    assert check.status is FAILING
    assert "multiseries" in check.message and "single series" in check.message


def test_time_series_compatibility_fails_when_the_time_column_changes_and_warns_for_the_window() -> None:
    old = TimeSeries("day", forecast_window=(1, 7))
    moved = result(
        replacement(current=model(1, time_series=old), time_series=TimeSeries("date")), "timeSeriesCompatibility"
    )
    assert moved.status is FAILING and "from day to date" in moved.message
    window = TimeSeries("day", forecast_window=(1, 14))
    wider = result(replacement(current=model(1, time_series=old), time_series=window), "timeSeriesCompatibility")
    assert wider.status is WARNING and "(1, 14)" in wider.message


# --- containsTrackedSegmentAttributes ----------------------------------------------------------


def test_tracked_segments_pass_when_segment_analysis_is_off() -> None:
    off = result(replacement(**with_features(FEATURES[0])), "containsTrackedSegmentAttributes")
    assert off.status is PASSING
    assert off.message == "Segment analysis is off for this deployment; nothing to compare."


def test_tracked_segments_pass_when_the_candidate_takes_them() -> None:
    tracked = {"segment_analysis": {"enabled": True, "attributes": ["city", "member"]}}
    check = result(replacement(settings=tracked), "containsTrackedSegmentAttributes")
    assert check.status is PASSING and "city, member" in check.message


def test_tracked_segments_fail_naming_the_attributes_the_candidate_lacks() -> None:
    tracked = {"segment_analysis": {"enabled": True, "attributes": ["city", "member", "age"]}}
    check = result(replacement(settings=tracked, **with_features(*FEATURES[:2])), "containsTrackedSegmentAttributes")
    assert check.status is FAILING
    assert "city, member" in check.message and "age" not in check.message


# --- driftTracking -----------------------------------------------------------------------------


def test_drift_tracking_passes_when_off_whatever_changes() -> None:
    check = result(replacement(**with_features(*FEATURES[:2])), "driftTracking")
    assert check.status is PASSING and "off" in check.message


def test_drift_tracking_passes_when_the_candidate_keeps_what_is_tracked() -> None:
    both = {"drift_tracking": {"target_drift_enabled": True, "feature_drift_enabled": True}}
    check = result(replacement(settings=both), "driftTracking")
    assert check.status is PASSING and "target and feature drift" in check.message
    assert "its own baseline" in check.message and "stays readable" not in check.message
    with_history = dataclasses.replace(replacement(settings=both), captured_rows=1234)
    assert "drift (1234 captured rows) stays readable" in result(with_history, "driftTracking").message


def test_drift_tracking_warns_when_the_target_baseline_resets() -> None:
    target_only = {"drift_tracking": {"target_drift_enabled": True}}
    renamed = result(
        replacement(settings=target_only, **with_target(dataclasses.replace(TARGET, name="left"))), "driftTracking"
    )
    assert renamed.status is WARNING and "churn to left" in renamed.message and "new baseline" in renamed.message
    reclassed = result(
        replacement(settings=target_only, **with_target(dataclasses.replace(TARGET, classes=(0, 1, 2)))),
        "driftTracking",
    )
    assert reclassed.status is WARNING and "its classes" in reclassed.message
    # Feature drift is off: dropping features does not matter here.
    assert result(replacement(settings=target_only, **with_features(*FEATURES[:2])), "driftTracking").status is PASSING


def test_drift_tracking_warns_when_feature_history_ends() -> None:
    features_only = {"drift_tracking": {"feature_drift_enabled": True}}
    changed = with_features(Feature("age", DBL), FEATURES[1], Feature("tenure", INT))
    check = result(replacement(settings=features_only, **changed), "driftTracking")
    assert check.status is WARNING
    assert "history ends for city, member, age" in check.message
    assert "no history for tenure" in check.message


# --- humilityRules -----------------------------------------------------------------------------


def humility(*rules: dict[str, Any], enabled: bool = True) -> dict[str, Any]:
    return {"humility": {"enabled": enabled, "rules": list(rules)}}


OUTLYING_CITY = {
    "name": "rare city",
    "trigger": "low_observation_region",
    "feature": "city",
    "observed_values": ["Oslo"],
}
UNSURE = {"name": "unsure", "trigger": "uncertain_prediction", "lower": 0.4, "upper": 0.6, "action": "throw_error"}


def test_humility_rules_pass_when_off_or_empty() -> None:
    off = result(
        replacement(settings=humility(OUTLYING_CITY, enabled=False), **with_features(FEATURES[0])), "humilityRules"
    )
    assert off.status is PASSING and "Humility is off" in off.message
    empty = result(replacement(settings=humility()), "humilityRules")
    assert empty.status is PASSING and "no rules" in empty.message


def test_humility_rules_pass_when_the_candidate_can_honour_them() -> None:
    check = result(replacement(settings=humility(OUTLYING_CITY, UNSURE)), "humilityRules")
    assert check.status is PASSING and "2 humility rules" in check.message


def test_humility_rules_fail_for_a_watched_feature_the_candidate_lacks() -> None:
    check = result(
        replacement(settings=humility(OUTLYING_CITY, UNSURE), **with_features(*FEATURES[:2])), "humilityRules"
    )
    assert check.status is FAILING
    assert "'rare city' watches city" in check.message and "unsure" not in check.message


def test_uncertain_prediction_rules_fail_when_regression_turns_classification() -> None:
    regression = Target(type=TargetType.REGRESSION, name="churn")
    check = result(replacement(settings=humility(OUTLYING_CITY, UNSURE), **with_target(regression)), "humilityRules")
    assert check.status is FAILING
    assert "'unsure' bounds the predictions of a binary classifier" in check.message
    multiclass = Target(type=TargetType.MULTICLASS, classes=(0, 1, 2), name="churn")
    assert result(replacement(settings=humility(UNSURE), **with_target(multiclass)), "humilityRules").status is PASSING


# --- predictionIntervals -----------------------------------------------------------------------


REGRESSION = Target(type=TargetType.REGRESSION, name="spend")
INTERVALS = {"prediction_intervals": {"enabled": True, "percentiles": [10, 90]}}


def test_prediction_intervals_pass_when_off() -> None:
    check = result(replacement(), "predictionIntervals")
    assert check.status is PASSING and "off" in check.message


def test_prediction_intervals_pass_for_a_regression_candidate() -> None:
    current = model(1, signature=signature(target=REGRESSION))
    check = result(replacement(current=current, settings=INTERVALS, **with_target(REGRESSION)), "predictionIntervals")
    assert check.status is PASSING and "10%, 90%" in check.message


def test_prediction_intervals_fail_for_a_classifier_candidate() -> None:
    current = model(1, signature=signature(target=REGRESSION))
    check = result(replacement(current=current, settings=INTERVALS), "predictionIntervals")
    assert check.status is FAILING and "binary classifier" in check.message


# --- validChallenger ---------------------------------------------------------------------------


CHALLENGERS = {"challengers": {"enabled": True}}


def test_valid_challenger_passes_when_challengers_are_off() -> None:
    check = result(replacement(**with_target(REGRESSION)), "validChallenger")
    assert check.status is PASSING and "Challengers are off" in check.message


def test_valid_challenger_passes_for_the_same_target_and_a_loadable_model() -> None:
    assert result(replacement(settings=CHALLENGERS, loads=True), "validChallenger").status is PASSING


def test_valid_challenger_names_the_challenger_promoted_and_those_that_stay() -> None:
    facts = dataclasses.replace(
        replacement(settings=CHALLENGERS, loads=True), challengers=("elastic", "forest"), candidate_challenger="forest"
    )
    check = result(facts, "validChallenger")
    assert check.status is PASSING
    assert "It is the challenger 'forest'" in check.message and "elastic will be compared with it" in check.message


@pytest.mark.parametrize(
    ("candidate", "words"),
    [
        (with_target(dataclasses.replace(TARGET, name="left")), "it predicts 'left', not 'churn'"),
        (with_target(dataclasses.replace(TARGET, type=TargetType.MULTICLASS)), "multiclass classifier, not a binary"),
        ({"loads": False}, "cannot be loaded"),
        ({"artifact_intact": False}, "cannot be loaded"),
        ({"framework": cast(Framework, "pmml")}, "cannot be loaded"),
    ],
)
def test_valid_challenger_fails_for_another_target_or_an_unloadable_model(
    candidate: dict[str, Any], words: str
) -> None:
    check = result(replacement(settings=CHALLENGERS, **candidate), "validChallenger")
    assert check.status is FAILING and words in check.message
