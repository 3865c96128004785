"""Humility rules as a pure function: each trigger and action, first match wins, classifiers and regressors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from champion.deployments.settings import HumilityRule
from champion.runtimes import Prediction, Signature
from champion.runtimes.base import Feature, FeatureType, Target, TargetType
from champion.serving import humility

CLASSIFIER = Signature(
    features=(Feature("x1", FeatureType.DOUBLE), Feature("x2", FeatureType.INTEGER)),
    target=Target(TargetType.BINARY, classes=(0, 1)),
)
REGRESSOR = Signature(
    features=(Feature("x1", FeatureType.DOUBLE), Feature("x2", FeatureType.INTEGER)),
    target=Target(TargetType.REGRESSION),
)
MIXED = Signature(
    features=(Feature("x1", FeatureType.DOUBLE), Feature("city", FeatureType.STRING)),
    target=Target(TargetType.MULTICLASS, classes=("a", "b", "c")),
)
ROWS = np.array([[0.0, 1.0], [5.0, 2.0], [-5.0, 3.0]])
CLASSIFIED = Prediction(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.45, 0.55], [0.2, 0.8]]))
REGRESSED = Prediction(np.array([1.0, 50.0, -3.0]), None)


def rules(signature: Signature, *specs: dict[str, Any]) -> humility.HumilityRules:
    compiled = humility.compiled(
        [HumilityRule.model_validate({"name": f"r{k}", **s}) for k, s in enumerate(specs)], signature
    )
    assert compiled is not None
    return compiled


def test_no_rules_compile_to_none() -> None:
    assert humility.compiled([], CLASSIFIER) is None


def test_a_rule_on_a_feature_the_model_lacks_is_skipped() -> None:
    spec = HumilityRule(name="gone", trigger="outlying_input", feature="nope", upper=1.0)
    assert humility.compiled([spec], CLASSIFIER) is None


def test_outlying_input_flags_values_outside_the_bounds() -> None:
    outcome = humility.apply(
        rules(CLASSIFIER, {"trigger": "outlying_input", "feature": "x1", "lower": -1, "upper": 1}), ROWS, CLASSIFIED
    )
    assert outcome.triggered == (None, "r0", "r0")
    assert outcome.rows == 2 and outcome.refusal is None
    assert outcome.prediction is CLASSIFIED  # no_operation: the model's own answer


def test_an_open_bound_is_open() -> None:
    outcome = humility.apply(
        rules(CLASSIFIER, {"trigger": "outlying_input", "feature": "x1", "upper": 1}), ROWS, CLASSIFIED
    )
    assert outcome.triggered == (None, "r0", None)


def test_low_observation_region_on_a_numeric_feature() -> None:
    spec = {"trigger": "low_observation_region", "feature": "x2", "observed_values": ["1", "2.0", "x"]}
    assert humility.apply(rules(CLASSIFIER, spec), ROWS, CLASSIFIED).triggered == (None, None, "r0")


def test_low_observation_region_on_a_string_feature() -> None:
    matrix = np.array([[0.0, "paris"], [1.0, "lyon"], [2.0, "oslo"]], dtype=object)
    answer = Prediction(np.array(["a", "b", "c"]), np.array([[0.8, 0.1, 0.1]] * 3))
    spec = {"trigger": "low_observation_region", "feature": "city", "observed_values": ["paris", "lyon"]}
    assert humility.apply(rules(MIXED, spec), matrix, answer).triggered == (None, None, "r0")


def test_uncertain_prediction_for_a_classifier_is_a_top_probability_within_the_bounds() -> None:
    spec = {"trigger": "uncertain_prediction", "lower": 0.4, "upper": 0.6}
    assert humility.apply(rules(CLASSIFIER, spec), ROWS, CLASSIFIED).triggered == (None, "r0", None)


def test_uncertain_prediction_needs_probabilities() -> None:
    spec = {"trigger": "uncertain_prediction", "lower": 0.0, "upper": 1.0}
    labels_only = Prediction(np.array([0, 1, 1]), None)
    assert humility.apply(rules(CLASSIFIER, spec), ROWS, labels_only).rows == 0


def test_uncertain_prediction_for_a_regressor_is_a_value_outside_the_bounds() -> None:
    spec = {"trigger": "uncertain_prediction", "lower": 0, "upper": 10}
    assert humility.apply(rules(REGRESSOR, spec), ROWS, REGRESSED).triggered == (None, "r0", "r0")


def test_override_replaces_the_label_and_keeps_the_probabilities() -> None:
    spec = {
        "trigger": "outlying_input",
        "feature": "x1",
        "upper": 1,
        "action": "override_prediction",
        "override_value": 0,
    }
    outcome = humility.apply(rules(CLASSIFIER, spec), ROWS, CLASSIFIED)
    assert outcome.prediction.labels.tolist() == [0, 0, 1]
    assert outcome.prediction.probabilities is CLASSIFIED.probabilities
    assert CLASSIFIED.labels.tolist() == [0, 1, 1]  # the model's answer is not changed in place


def test_override_with_a_value_the_labels_cannot_hold() -> None:
    spec = {"trigger": "uncertain_prediction", "upper": 10, "lower": 0, "action": "override_prediction"}
    outcome = humility.apply(rules(REGRESSOR, {**spec, "override_value": "unsure"}), ROWS, REGRESSED)
    assert outcome.prediction.labels.tolist() == [1.0, "unsure", "unsure"]
    answer = Prediction(np.array(["a", "b", "c"]), None)
    spec = {"trigger": "outlying_input", "feature": "x1", "upper": 0.5, "action": "override_prediction"}
    outcome = humility.apply(rules(MIXED, {**spec, "override_value": "a much longer label"}), ROWS, answer)
    assert outcome.prediction.labels.tolist() == ["a", "a much longer label", "c"]


def test_throw_error_refuses_naming_the_rule_and_the_first_row() -> None:
    spec = {"trigger": "outlying_input", "feature": "x1", "upper": 1, "action": "throw_error"}
    outcome = humility.apply(rules(CLASSIFIER, spec), ROWS, CLASSIFIED)
    assert outcome.refusal is not None
    assert outcome.refusal.rule == "r0" and outcome.refusal.row == 1
    assert "'r0'" in outcome.refusal.message and "row 1" in outcome.refusal.message
    assert isinstance(outcome.refusal, humility.HumilityRefused)


def test_throw_error_uses_the_rules_message() -> None:
    spec = {"trigger": "outlying_input", "feature": "x1", "upper": 1, "action": "throw_error", "error_message": "no"}
    outcome = humility.apply(rules(CLASSIFIER, spec), ROWS, CLASSIFIED)
    assert outcome.refusal is not None and outcome.refusal.message == "no"


def test_the_first_matching_rule_wins() -> None:
    compiled = rules(
        CLASSIFIER,
        {
            "trigger": "outlying_input",
            "feature": "x1",
            "lower": 0,
            "action": "override_prediction",
            "override_value": 7,
        },
        {"trigger": "outlying_input", "feature": "x1", "upper": 1, "action": "throw_error"},
        {"trigger": "uncertain_prediction", "lower": 0.0, "upper": 1.0},
    )
    outcome = humility.apply(compiled, ROWS, CLASSIFIED)
    # row 2 (x1 = -5) is r0's; row 1 (x1 = 5) is r1's, which refuses; row 0 falls to r2
    assert outcome.triggered == ("r2", "r1", "r0")
    assert outcome.refusal is not None and outcome.refusal.row == 1
    assert {rule.name: n for rule, n in outcome.counts} == {"r0": 1, "r1": 1, "r2": 1}


def test_rows_no_rule_triggers_on_answer_as_the_model_did() -> None:
    outcome = humility.apply(
        rules(CLASSIFIER, {"trigger": "outlying_input", "feature": "x1", "upper": 100}), ROWS, CLASSIFIED
    )
    assert outcome.prediction is CLASSIFIED and outcome.rows == 0 and outcome.counts == ()


@pytest.mark.parametrize("value", [float("nan")])
def test_a_missing_value_is_not_outlying(value: float) -> None:
    matrix = np.array([[value, 1.0]])
    answer = Prediction(np.array([0]), np.array([[0.9, 0.1]]))
    spec = {"trigger": "outlying_input", "feature": "x1", "lower": 0, "upper": 1}
    assert humility.apply(rules(CLASSIFIER, spec), matrix, answer).rows == 0
