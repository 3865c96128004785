"""Accuracy figures: DataRobot's names, tiny examples checked by hand, and sklearn called directly."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from datarobot.enums import ACCURACY_METRIC
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats  # type: ignore[import-untyped]
from sklearn import metrics

from champion.monitoring import accuracy_metrics as am
from champion.monitoring.accuracy_metrics import classification, regression

PROBABILITY_FIGURES = (
    am.AUC,
    am.LOGLOSS,
    am.FVE_BINOMIAL,
    am.GINI_NORM,
    am.KOLMOGOROV_SMIRNOV,
    am.RATE_TOP5,
    am.RATE_TOP10,
)
LABEL_FIGURES = (am.ACCURACY, am.BALANCED_ACCURACY, am.TPR, am.PPV, am.F1, am.MCC)
BINARY_ONLY = (am.FVE_BINOMIAL, am.GINI_NORM, am.KOLMOGOROV_SMIRNOV, am.RATE_TOP5, am.RATE_TOP10)


# -- names ------------------------------------------------------------------------------------


def test_names_are_the_datarobot_clients_own() -> None:
    assert list(am.ALL_METRICS) == ACCURACY_METRIC.ALL
    assert list(am.CLASSIFICATION_METRICS) == ACCURACY_METRIC.ALL_CLASSIFICATION
    assert list(am.REGRESSION_METRICS) == ACCURACY_METRIC.ALL_REGRESSION


def test_defaults_are_figures_this_module_computes() -> None:
    assert set(am.DEFAULT_CLASSIFICATION) <= set(am.CLASSIFICATION_METRICS)
    assert set(am.DEFAULT_REGRESSION) <= set(am.REGRESSION_METRICS)


def test_every_key_is_always_there() -> None:
    assert list(classification(["a"], ["a"], None, ["a", "b"])) == list(am.CLASSIFICATION_METRICS)
    assert list(regression([1.0], [1.0])) == list(am.REGRESSION_METRICS)


# -- binary, by hand --------------------------------------------------------------------------

ACTUAL = ["no", "yes", "yes", "no"]
PREDICTED = ["no", "yes", "no", "no"]
PROBA = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])


def test_binary_by_hand() -> None:
    figures = classification(ACTUAL, PREDICTED, PROBA, ["no", "yes"])
    assert figures[am.ACCURACY] == 0.75  # three of four right
    assert figures[am.TPR] == 0.5  # one of two yeses found
    assert figures[am.PPV] == 1.0  # the one yes predicted is one
    assert figures[am.F1] == pytest.approx(2 / 3)
    assert figures[am.BALANCED_ACCURACY] == 0.75  # recall 1 for no, 0.5 for yes
    # Both yeses (0.8, 0.4) score above both noes (0.1, 0.3): perfectly ranked.
    assert figures[am.AUC] == 1.0
    assert figures[am.GINI_NORM] == 1.0
    assert figures[am.KOLMOGOROV_SMIRNOV] == 1.0
    expected_logloss = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.7)) / 4
    assert figures[am.LOGLOSS] == pytest.approx(expected_logloss)
    # Four rows: the top 5 % and 10 % are each the one row scored 0.8, a yes.
    assert figures[am.RATE_TOP5] == 1.0
    assert figures[am.RATE_TOP10] == 1.0


def test_the_positive_class_is_the_second() -> None:
    flipped = classification(ACTUAL, PREDICTED, PROBA[:, ::-1], ["yes", "no"])
    assert flipped[am.TPR] == 1.0  # both noes predicted no
    assert flipped[am.PPV] == pytest.approx(2 / 3)
    assert flipped[am.AUC] == 1.0


def test_binary_against_sklearn() -> None:
    rng = np.random.default_rng(7)
    classes = ["cat", "dog"]
    score = rng.uniform(size=200)
    actual = np.where(rng.uniform(size=200) < score, "dog", "cat").tolist()
    predicted = np.where(score > 0.4, "dog", "cat").tolist()
    proba = np.column_stack([1 - score, score])
    figures = classification(actual, predicted, proba, classes)
    positive = np.asarray(actual) == "dog"
    assert figures[am.ACCURACY] == pytest.approx(metrics.accuracy_score(actual, predicted))
    assert figures[am.BALANCED_ACCURACY] == pytest.approx(metrics.balanced_accuracy_score(actual, predicted))
    assert figures[am.TPR] == pytest.approx(metrics.recall_score(actual, predicted, pos_label="dog"))
    assert figures[am.PPV] == pytest.approx(metrics.precision_score(actual, predicted, pos_label="dog"))
    assert figures[am.F1] == pytest.approx(metrics.f1_score(actual, predicted, pos_label="dog"))
    assert figures[am.MCC] == pytest.approx(metrics.matthews_corrcoef(actual, predicted))
    assert figures[am.AUC] == pytest.approx(metrics.roc_auc_score(positive, score))
    assert figures[am.GINI_NORM] == pytest.approx(2 * metrics.roc_auc_score(positive, score) - 1)
    assert figures[am.LOGLOSS] == pytest.approx(metrics.log_loss(actual, proba, labels=classes))
    assert figures[am.FVE_BINOMIAL] == pytest.approx(metrics.d2_log_loss_score(actual, proba, labels=classes))
    assert figures[am.KOLMOGOROV_SMIRNOV] == pytest.approx(stats.ks_2samp(score[positive], score[~positive]).statistic)
    # KS is also the widest gap between the ROC curve's TPR and FPR.
    fpr, tpr, _ = metrics.roc_curve(positive, score)
    assert figures[am.KOLMOGOROV_SMIRNOV] == pytest.approx(float(np.max(tpr - fpr)))


def test_rate_at_top_takes_exactly_its_share_of_rows() -> None:
    # 100 rows scored 1.00, 0.99, ...: the first five are yes, the sixth no. 5 % is five rows
    # (a float ceil of 0.05 * 100 would take six), 10 % is ten rows holding five yeses.
    score = np.linspace(1.0, 0.01, 100)
    actual = ["yes"] * 5 + ["no"] * 95
    figures = classification(actual, ["no"] * 100, np.column_stack([1 - score, score]), ["no", "yes"])
    assert figures[am.RATE_TOP5] == 1.0
    assert figures[am.RATE_TOP10] == 0.5


def test_rate_at_top_rounds_up_and_breaks_ties_by_row_order() -> None:
    # Three rows, all scored alike: the top 10 % is one row, the first, a no.
    proba = np.full((3, 2), 0.5)
    figures = classification(["no", "yes", "yes"], ["no"] * 3, proba, ["no", "yes"])
    assert figures[am.RATE_TOP10] == 0.0


# -- what cannot be computed ------------------------------------------------------------------


def test_one_class_among_the_actuals_has_no_auc() -> None:
    figures = classification(["yes", "yes"], ["no", "yes"], np.array([[0.9, 0.1], [0.2, 0.8]]), ["no", "yes"])
    for name in (am.AUC, am.GINI_NORM, am.KOLMOGOROV_SMIRNOV, am.FVE_BINOMIAL):
        assert figures[name] is None, name
    assert figures[am.LOGLOSS] == pytest.approx(-(math.log(0.1) + math.log(0.8)) / 2)
    assert figures[am.ACCURACY] == 0.5
    assert figures[am.RATE_TOP10] == 1.0


def test_without_probabilities_only_label_figures() -> None:
    figures = classification(ACTUAL, PREDICTED, None, ["no", "yes"])
    for name in PROBABILITY_FIGURES:
        assert figures[name] is None, name
    assert figures[am.ACCURACY] == 0.75
    assert figures[am.F1] == pytest.approx(2 / 3)


def test_an_unknown_actual_is_a_wrong_prediction() -> None:
    figures = classification(["maybe", "yes"], ["yes", "yes"], np.array([[0.3, 0.7], [0.2, 0.8]]), ["no", "yes"])
    assert figures[am.ACCURACY] == 0.5
    assert figures[am.PPV] == 0.5  # "yes" for a "maybe" is a false positive
    assert figures[am.TPR] == 1.0
    # Balanced accuracy: recall 0 for "maybe", 1 for "yes".
    assert figures[am.BALANCED_ACCURACY] == 0.5
    for name in PROBABILITY_FIGURES:
        assert figures[name] is None, name


def test_an_unknown_actual_is_a_wrong_prediction_for_a_multiclass_model() -> None:
    actual = ["a", "b", "zzz"]
    predicted = ["a", "b", "c"]
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    figures = classification(actual, predicted, proba, ["a", "b", "c"])
    assert figures[am.ACCURACY] == pytest.approx(2 / 3)
    assert figures[am.F1] == pytest.approx(metrics.f1_score(actual, predicted, average="weighted", zero_division=0.0))
    assert figures[am.LOGLOSS] is None
    assert figures[am.AUC] is None


@pytest.mark.parametrize(
    "proba",
    [
        np.array([[0.9, 0.1], [0.2, 0.7], [0.6, 0.4], [0.7, 0.3]]),  # a row sums to 0.9
        np.array([[1.1, -0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]),  # outside [0, 1]
        np.array([[np.nan, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]),
    ],
)
def test_rows_that_are_not_probabilities_give_no_probability_figures(proba: np.ndarray[Any, Any]) -> None:
    figures = classification(ACTUAL, PREDICTED, proba, ["no", "yes"])
    for name in PROBABILITY_FIGURES:
        assert figures[name] is None, name
    assert figures[am.ACCURACY] == 0.75


def test_probabilities_rounded_in_storage_still_count() -> None:
    # float32 probabilities read back as float64 miss 1 by ~1e-7: sklearn's log_loss would warn
    # (and the suite turns warnings into errors).
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]], dtype=np.float32).astype(np.float64)
    proba[:, 1] += 3e-7
    figures = classification(ACTUAL, PREDICTED, proba, ["no", "yes"])
    rescaled = proba / proba.sum(axis=1, keepdims=True)
    assert figures[am.LOGLOSS] == pytest.approx(metrics.log_loss(ACTUAL, rescaled, labels=["no", "yes"]))


def test_no_rows_no_figures() -> None:
    assert set(classification([], [], None, ["a", "b"]).values()) == {None}
    assert set(classification([], [], np.empty((0, 2)), ["a", "b"]).values()) == {None}
    assert set(regression([], []).values()) == {None}


def test_one_label_everywhere_has_no_mcc() -> None:
    figures = classification(["a", "a"], ["a", "a"], None, ["a", "b"])
    assert figures[am.MCC] is None
    assert figures[am.ACCURACY] == 1.0
    assert figures[am.TPR] is None  # no positives to find
    assert figures[am.PPV] is None  # none predicted


def test_caller_mistakes_raise() -> None:
    with pytest.raises(ValueError, match="predictions"):
        classification(["a"], ["a", "b"], None, ["a", "b"])
    with pytest.raises(ValueError, match="probabilities"):
        classification(["a"], ["a"], np.array([[0.5, 0.5, 0.0]]), ["a", "b"])
    with pytest.raises(ValueError, match="classes"):
        classification(["a"], ["a"], None, ["a"])
    with pytest.raises(ValueError, match="predictions"):
        regression([1.0], [])


# -- multiclass -------------------------------------------------------------------------------


def test_multiclass_by_hand_and_against_sklearn() -> None:
    classes = ["a", "b", "c"]
    actual = ["a", "b", "c", "a"]
    predicted = ["a", "b", "b", "a"]
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.6, 0.2, 0.2]])
    figures = classification(actual, predicted, proba, classes)
    assert figures[am.ACCURACY] == 0.75
    assert figures[am.AUC] == pytest.approx(
        metrics.roc_auc_score(actual, proba, multi_class="ovr", average="weighted", labels=classes)
    )
    assert figures[am.F1] == pytest.approx(metrics.f1_score(actual, predicted, average="weighted", zero_division=0.0))
    assert figures[am.TPR] == pytest.approx(metrics.recall_score(actual, predicted, average="weighted"))
    assert figures[am.LOGLOSS] == pytest.approx(-(math.log(0.8) * 2 + math.log(0.6) + math.log(0.3)) / 4)
    assert figures[am.MCC] == pytest.approx(metrics.matthews_corrcoef(actual, predicted))
    for name in BINARY_ONLY:
        assert figures[name] is None, name


def test_multiclass_columns_follow_the_models_class_order() -> None:
    # The model's classes are not sorted; sklearn's log_loss reads columns as sorted labels.
    classes = ["c", "a", "b"]
    actual = ["a", "b", "c", "a"]
    proba = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.3, 0.2, 0.5], [0.2, 0.6, 0.2]])
    figures = classification(actual, ["a", "b", "b", "a"], proba, classes)
    assert figures[am.LOGLOSS] == pytest.approx(-(math.log(0.8) * 2 + math.log(0.3) + math.log(0.6)) / 4)
    # sklearn's own multiclass AUC insists on sorted labels: a, b, c are columns 1, 2, 0.
    assert figures[am.AUC] == pytest.approx(
        metrics.roc_auc_score(
            actual, proba[:, [1, 2, 0]], multi_class="ovr", average="weighted", labels=["a", "b", "c"]
        )
    )


def test_multiclass_auc_over_the_classes_the_actuals_hold() -> None:
    # No actual is "c": its one-vs-rest AUC is undefined and weighs nothing, so the figure is the
    # support-weighted AUC of "a" and "b", here both perfectly ranked.
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.6, 0.2, 0.2]])
    figures = classification(["a", "b", "b", "a"], ["a", "b", "b", "a"], proba, ["a", "b", "c"])
    assert figures[am.AUC] == 1.0
    one_class = classification(["a", "a"], ["a", "a"], proba[:2], ["a", "b", "c"])
    assert one_class[am.AUC] is None
    assert one_class[am.LOGLOSS] == pytest.approx(-(math.log(0.8) + math.log(0.1)) / 2)


# -- regression -------------------------------------------------------------------------------


def test_regression_by_hand() -> None:
    figures = regression([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 5.0])  # errors 0.5, 0, 0.5, 1
    assert figures[am.MAE] == 0.5
    assert figures[am.MAD] == 0.5  # the median absolute error
    assert figures[am.RMSE] == pytest.approx(math.sqrt((0.25 + 0 + 0.25 + 1) / 4))
    assert figures[am.R_SQUARED] == pytest.approx(1 - 1.5 / 5)  # SS_res 1.5, SS_tot 5
    assert figures[am.MAPE] == pytest.approx(100 * (0.5 / 1 + 0 + 0.5 / 3 + 1 / 4) / 4)


def test_regression_against_sklearn() -> None:
    rng = np.random.default_rng(11)
    actual = rng.gamma(2.0, 3.0, size=50)
    predicted = actual + rng.normal(0, 1, size=50).clip(-0.5 * actual)
    figures = regression(actual.tolist(), predicted.tolist())
    assert figures[am.RMSE] == pytest.approx(metrics.root_mean_squared_error(actual, predicted))
    assert figures[am.RMSLE] == pytest.approx(metrics.root_mean_squared_log_error(actual, predicted))
    assert figures[am.GAMMA_DEVIANCE] == pytest.approx(metrics.mean_gamma_deviance(actual, predicted))
    assert figures[am.POISSON_DEVIANCE] == pytest.approx(metrics.mean_poisson_deviance(actual, predicted))
    assert figures[am.TWEEDIE_DEVIANCE] == pytest.approx(metrics.mean_tweedie_deviance(actual, predicted, power=1.5))
    assert figures[am.FVE_GAMMA] == pytest.approx(metrics.d2_tweedie_score(actual, predicted, power=2))
    assert figures[am.FVE_POISSON] == pytest.approx(metrics.d2_tweedie_score(actual, predicted, power=1))
    assert figures[am.FVE_TWEEDIE] == pytest.approx(metrics.d2_tweedie_score(actual, predicted, power=1.5))
    assert figures[am.R_SQUARED] == pytest.approx(metrics.r2_score(actual, predicted))


def test_regression_with_one_row() -> None:
    figures = regression([3.0], [5.0])
    assert figures[am.RMSE] == 2.0
    assert figures[am.MAE] == 2.0
    for name in (am.R_SQUARED, am.FVE_GAMMA, am.FVE_POISSON, am.FVE_TWEEDIE):
        assert figures[name] is None, name
    assert figures[am.GAMMA_DEVIANCE] == pytest.approx(metrics.mean_gamma_deviance([3.0], [5.0]))


def test_constant_actuals_have_no_r_squared() -> None:
    figures = regression([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    for name in (am.R_SQUARED, am.FVE_GAMMA, am.FVE_POISSON, am.FVE_TWEEDIE):
        assert figures[name] is None, name
    assert figures[am.MAE] == pytest.approx(2 / 3)


def test_deviances_only_inside_their_domain() -> None:
    with_zero = regression([0.0, 2.0], [1.0, 2.0])
    assert with_zero[am.MAPE] is None
    assert with_zero[am.GAMMA_DEVIANCE] is None and with_zero[am.FVE_GAMMA] is None
    assert with_zero[am.POISSON_DEVIANCE] == pytest.approx(metrics.mean_poisson_deviance([0.0, 2.0], [1.0, 2.0]))
    negative = regression([-0.5, 2.0], [1.0, 2.0])
    for name in (am.POISSON_DEVIANCE, am.TWEEDIE_DEVIANCE, am.FVE_POISSON, am.FVE_TWEEDIE):
        assert negative[name] is None, name
    assert negative[am.RMSLE] is not None  # log1p is defined above -1
    assert regression([-1.0, 2.0], [1.0, 2.0])[am.RMSLE] is None
    assert regression([1.0, 2.0], [0.0, 2.0])[am.POISSON_DEVIANCE] is None  # a zero prediction


def test_non_finite_values_give_no_figures() -> None:
    assert set(regression([1.0, math.nan], [1.0, 2.0]).values()) == {None}
    assert set(regression([1.0, 2.0], [1.0, math.inf]).values()) == {None}


# -- never NaN, never an exception ------------------------------------------------------------

labels = st.sampled_from(["a", "b", "c", "other"])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(0, 12), n_classes=st.integers(2, 3), with_proba=st.booleans())
def test_classification_figures_are_numbers_or_none(
    data: st.DataObject, n: int, n_classes: int, with_proba: bool
) -> None:
    classes = ["a", "b", "c"][:n_classes]
    actual = data.draw(st.lists(labels, min_size=n, max_size=n))
    predicted = data.draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    proba = None
    if with_proba:
        weights = data.draw(
            st.lists(st.lists(st.floats(0, 1), min_size=n_classes, max_size=n_classes), min_size=n, max_size=n)
        )
        raw = np.array(weights, dtype=np.float64).reshape(n, n_classes) + 1e-3
        proba = raw / raw.sum(axis=1, keepdims=True)
    figures = classification(actual, predicted, proba, classes)
    assert list(figures) == list(am.CLASSIFICATION_METRICS)
    assert all(value is None or (type(value) is float and math.isfinite(value)) for value in figures.values())


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(st.floats(-5, 50), st.floats(-5, 50)), max_size=12))
def test_regression_figures_are_numbers_or_none(pairs: list[tuple[float, float]]) -> None:
    figures = regression([a for a, _ in pairs], [p for _, p in pairs])
    assert list(figures) == list(am.REGRESSION_METRICS)
    assert all(value is None or (type(value) is float and math.isfinite(value)) for value in figures.values())
