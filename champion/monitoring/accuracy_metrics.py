"""Accuracy figures for a deployment, from what its model predicted and what really happened.

A matched pair is one scored row: the model's prediction (and class probabilities) and the actual
value a user submitted later under the row's association id. The DataRobot face reports these
figures under DataRobot's own metric names, so the keys here are spelled exactly as the
`datarobot` client's `ACCURACY_METRIC` enum spells them (3.20.0; `tests/monitoring` checks it).

Every figure is scikit-learn's (or scipy's) so champion's numbers mean what a data scientist's
notebook means; the few lines of arithmetic that remain say why beside them. A figure the data
cannot support is None, never NaN and never an exception: an empty window, AUC when the actuals
hold one class, probability figures without probabilities, a deviance outside its domain.
Mismatched lengths or shapes are a caller's mistake and raise ValueError.

How an actual outside the model's classes counts (a label the model can never answer, such as a
typo or a class added after training):

* label figures (Accuracy, Balanced Accuracy, F1, TPR, PPV, MCC) count its row as a wrong
  prediction: for Accuracy it is a miss; Balanced Accuracy and MCC see it as one more class the
  model never predicts; for the positive-class figures it is simply not the positive class;
* probability figures (AUC, LogLoss, FVE Binomial, Gini Norm, Kolmogorov-Smirnov, Rate@Top5%,
  Rate@Top10%) are None, since the model gave that label no probability to judge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

Figures = dict[str, float | None]
FloatArray = npt.NDArray[np.float64]

# DataRobot's metric names, as `datarobot.enums.ACCURACY_METRIC` spells them.
ACCURACY: Final = "Accuracy"
AUC: Final = "AUC"
BALANCED_ACCURACY: Final = "Balanced Accuracy"
FVE_BINOMIAL: Final = "FVE Binomial"
GINI_NORM: Final = "Gini Norm"
KOLMOGOROV_SMIRNOV: Final = "Kolmogorov-Smirnov"
LOGLOSS: Final = "LogLoss"
RATE_TOP5: Final = "Rate@Top5%"
RATE_TOP10: Final = "Rate@Top10%"
TPR: Final = "TPR"
PPV: Final = "PPV"
F1: Final = "F1"
MCC: Final = "MCC"
GAMMA_DEVIANCE: Final = "Gamma Deviance"
FVE_GAMMA: Final = "FVE Gamma"
FVE_POISSON: Final = "FVE Poisson"
FVE_TWEEDIE: Final = "FVE Tweedie"
MAD: Final = "MAD"
MAE: Final = "MAE"
MAPE: Final = "MAPE"
POISSON_DEVIANCE: Final = "Poisson Deviance"
R_SQUARED: Final = "R Squared"
RMSE: Final = "RMSE"
RMSLE: Final = "RMSLE"
TWEEDIE_DEVIANCE: Final = "Tweedie Deviance"

# Every key `classification` returns, in the client's ACCURACY_METRIC.ALL_CLASSIFICATION order.
CLASSIFICATION_METRICS: Final = (
    ACCURACY,
    AUC,
    BALANCED_ACCURACY,
    FVE_BINOMIAL,
    GINI_NORM,
    KOLMOGOROV_SMIRNOV,
    LOGLOSS,
    RATE_TOP5,
    RATE_TOP10,
    TPR,
    PPV,
    F1,
    MCC,
)
# Every key `regression` returns, in the client's ACCURACY_METRIC.ALL_REGRESSION order.
REGRESSION_METRICS: Final = (
    GAMMA_DEVIANCE,
    FVE_GAMMA,
    FVE_POISSON,
    FVE_TWEEDIE,
    MAD,
    MAE,
    MAPE,
    POISSON_DEVIANCE,
    R_SQUARED,
    RMSE,
    RMSLE,
    TWEEDIE_DEVIANCE,
)
# Every name the client knows, in ACCURACY_METRIC.ALL order (what accuracyMetrics/ may hold).
ALL_METRICS: Final = (
    ACCURACY,
    AUC,
    BALANCED_ACCURACY,
    FVE_BINOMIAL,
    GINI_NORM,
    KOLMOGOROV_SMIRNOV,
    LOGLOSS,
    RATE_TOP5,
    RATE_TOP10,
    GAMMA_DEVIANCE,
    FVE_GAMMA,
    FVE_POISSON,
    FVE_TWEEDIE,
    MAD,
    MAE,
    MAPE,
    POISSON_DEVIANCE,
    R_SQUARED,
    RMSE,
    RMSLE,
    TWEEDIE_DEVIANCE,
    TPR,
    PPV,
    F1,
    MCC,
)
# The tiles DataRobot's Accuracy tab shows before anyone customises them, as its user documentation
# describes them (the client carries no defaults; not checked against a live DataRobot), and so
# what a new deployment's accuracyMetrics/ setting would hold.
DEFAULT_CLASSIFICATION: Final = (LOGLOSS, AUC, KOLMOGOROV_SMIRNOV, GINI_NORM, RATE_TOP10)
DEFAULT_REGRESSION: Final = (RMSE, MAE, GAMMA_DEVIANCE, TWEEDIE_DEVIANCE, R_SQUARED)

# DataRobot's default Tweedie variance power; 1 would be Poisson, 2 gamma.
TWEEDIE_POWER: Final = 1.5
# How far a row of stored probabilities may miss 1 and still be taken as probabilities (float32
# models and JSON round trips miss by ~1e-7; sklearn's own float64 tolerance is ~1.5e-8).
_PROBABILITY_SUM_TOLERANCE: Final = 1e-6


def classification(
    actual: Sequence[str],
    predicted: Sequence[str],
    probabilities: np.ndarray[Any, Any] | None,
    classes: Sequence[str],
) -> dict[str, float | None]:
    """Every classification figure for these pairs, keyed by DataRobot's metric name.

    `classes` are the model's classes in its probability-column order: two for a binary model,
    whose positive class is `classes[1]`; more for a multiclass one, whose AUC is one-vs-rest
    weighted by support, F1/TPR/PPV are support-weighted, and binary-only figures (FVE Binomial,
    Gini Norm, Kolmogorov-Smirnov, Rate@Top) are None. `probabilities` is (n, len(classes)) or None.
    """
    n = len(actual)
    if len(predicted) != n:
        raise ValueError(f"{n} actual values but {len(predicted)} predictions")
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"a classifier has two or more distinct classes, not {list(classes)}")
    if probabilities is not None and np.shape(probabilities) != (n, len(classes)):
        raise ValueError(f"probabilities must be ({n}, {len(classes)}), not {np.shape(probabilities)}")
    figures: Figures = dict.fromkeys(CLASSIFICATION_METRICS)
    if n == 0:
        return figures
    y_true = np.asarray(actual, dtype=object)
    y_pred = np.asarray(predicted, dtype=object)
    binary = len(classes) == 2
    figures.update(_label_figures(y_true, y_pred, classes, binary))
    proba = _probabilities(probabilities)
    if proba is not None and set(actual) <= set(classes):
        figures.update(_probability_figures(y_true, proba, classes, binary))
    return figures


def _label_figures(y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], classes: Sequence[str], binary: bool) -> Figures:
    """The figures read from predicted labels alone; an unknown actual is a wrong prediction."""
    # scikit-learn and scipy here, not at the top: a server loads them when figures are asked for.
    from sklearn import metrics

    present = sorted(set(y_true.tolist()))
    mcc = None
    if len(set(present) | set(y_pred.tolist())) > 1:  # one label everywhere: MCC is 0/0
        mcc = _finite(metrics.matthews_corrcoef(y_true, y_pred))
    # Binary: the positive class's own precision, recall and F1 (labels=[positive]); every other
    # label, an unknown actual included, is "not positive". Multiclass: weighted by support.
    scope: dict[str, Any] = {"labels": [classes[1]], "average": "micro"} if binary else {"average": "weighted"}
    return {
        ACCURACY: _finite(metrics.accuracy_score(y_true, y_pred)),
        # Balanced accuracy is the mean recall over the classes the actuals hold (sklearn's own
        # definition); recall_score computes it without balanced_accuracy_score's warning when a
        # prediction names a class no actual has, which is ordinary for a small window.
        BALANCED_ACCURACY: _finite(metrics.recall_score(y_true, y_pred, labels=present, average="macro")),
        TPR: _finite(metrics.recall_score(y_true, y_pred, zero_division=np.nan, **scope)),
        PPV: _finite(metrics.precision_score(y_true, y_pred, zero_division=np.nan, **scope)),
        F1: _finite(metrics.f1_score(y_true, y_pred, zero_division=np.nan, **scope)),
        MCC: mcc,
    }


def _probability_figures(y_true: npt.NDArray[Any], proba: FloatArray, classes: Sequence[str], binary: bool) -> Figures:
    """The figures read from class probabilities; every actual is one of `classes` here."""
    from scipy import stats  # type: ignore[import-untyped]
    from sklearn import metrics
    from sklearn.preprocessing import label_binarize

    # log_loss and d2_log_loss_score read the columns as the labels sorted lexicographically,
    # whatever order `labels` lists them in; the model's column order need not be that.
    order = np.argsort(np.asarray(classes, dtype=object))
    sorted_labels, sorted_proba = [classes[i] for i in order], proba[:, order]
    figures: Figures = {LOGLOSS: _finite(metrics.log_loss(y_true, sorted_proba, labels=sorted_labels))}
    present = [c for c in classes if c in set(y_true.tolist())]
    if not binary:
        if len(present) > 1:
            # One-vs-rest AUC weighted by support over the classes the actuals hold: a class no
            # actual has weighs nothing, and sklearn's multi_class="ovr" would refuse it outright.
            columns = [list(classes).index(c) for c in present]
            indicators = label_binarize(y_true, classes=list(classes))[:, columns]
            figures[AUC] = _finite(metrics.roc_auc_score(indicators, proba[:, columns], average="weighted"))
        return figures
    positive = y_true == classes[1]
    score = proba[:, 1]
    figures[RATE_TOP5] = _rate_at_top(positive, score, percent=5)
    figures[RATE_TOP10] = _rate_at_top(positive, score, percent=10)
    if len(present) < 2:  # AUC, KS and the null model of FVE need both classes among the actuals
        return figures
    auc = _finite(metrics.roc_auc_score(positive, score))
    figures[AUC] = auc
    # Normalised Gini is 2·AUC - 1 by definition; sklearn has no function of its own for it.
    figures[GINI_NORM] = None if auc is None else 2.0 * auc - 1.0
    figures[KOLMOGOROV_SMIRNOV] = _finite(stats.ks_2samp(score[positive], score[~positive]).statistic)
    figures[FVE_BINOMIAL] = _finite(metrics.d2_log_loss_score(y_true, sorted_proba, labels=sorted_labels))
    return figures


def _rate_at_top(positive: npt.NDArray[np.bool_], score: FloatArray, *, percent: int) -> float:
    """The share of positives among the `percent`% rows scored most likely positive.

    By hand because neither sklearn nor scipy has it: the top is ceil(n·percent/100) rows (at least
    one), ties broken by row order, computed in integers so 5% of 100 rows is 5 rows, not 6.
    """
    top = -(-len(score) * percent // 100)
    order = np.argsort(-score, kind="stable")[:top]
    return float(np.mean(positive[order]))


def _probabilities(probabilities: np.ndarray[Any, Any] | None) -> FloatArray | None:
    """Valid probability rows, rescaled to sum to 1 exactly; None when they are not probabilities."""
    if probabilities is None:
        return None
    try:
        proba = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if not np.all(np.isfinite(proba)) or np.any(proba < 0) or np.any(proba > 1):
        return None
    sums = proba.sum(axis=1)
    if not np.all(np.abs(sums - 1.0) <= _PROBABILITY_SUM_TOLERANCE):
        return None
    # Rescaling the rounding away keeps sklearn's log_loss from warning about rows that are
    # probabilities in every sense that matters.
    rescaled: FloatArray = proba / sums[:, np.newaxis]
    return rescaled


def regression(actual: Sequence[float], predicted: Sequence[float]) -> dict[str, float | None]:
    """Every regression figure for these pairs, keyed by DataRobot's metric name.

    Each figure is None where it is not defined for the data: every figure with no rows or with a
    value that is not finite; R Squared and the FVE figures with fewer than two rows or constant
    actuals; MAPE with a zero actual; RMSLE with a value at or below -1; the gamma figures unless
    every value is positive; the Poisson and Tweedie ones unless actuals are non-negative and
    predictions positive. MAPE is a percentage (25.0 for 25 %), as DataRobot shows it. MAD is the
    median absolute error. Tweedie figures use power 1.5, DataRobot's default.
    """
    from sklearn import metrics

    if len(predicted) != len(actual):
        raise ValueError(f"{len(actual)} actual values but {len(predicted)} predictions")
    figures: Figures = dict.fromkeys(REGRESSION_METRICS)
    y_true = np.asarray(actual, dtype=np.float64)
    y_pred = np.asarray(predicted, dtype=np.float64)
    if len(y_true) == 0 or not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        return figures
    varies = len(y_true) >= 2 and bool(np.ptp(y_true) > 0)
    positive = bool(np.all(y_true > 0) and np.all(y_pred > 0))
    counts = bool(np.all(y_true >= 0) and np.all(y_pred > 0))

    def when(defined: bool, figure: Callable[[], float]) -> float | None:
        if not defined:
            return None
        # A deviance of extreme values (a prediction of 1e-308) overflows to infinity: that is
        # a figure the data cannot support, so None, not a RuntimeWarning in the server's log.
        # numpy keeps its error state in a context variable, so this holds for this call only.
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return _finite(figure())

    figures.update(
        {
            RMSE: when(True, lambda: metrics.root_mean_squared_error(y_true, y_pred)),
            MAE: when(True, lambda: metrics.mean_absolute_error(y_true, y_pred)),
            MAD: when(True, lambda: metrics.median_absolute_error(y_true, y_pred)),
            # sklearn answers a fraction; DataRobot's MAPE is in percent.
            MAPE: when(
                bool(np.all(y_true != 0)), lambda: 100.0 * metrics.mean_absolute_percentage_error(y_true, y_pred)
            ),
            R_SQUARED: when(varies, lambda: metrics.r2_score(y_true, y_pred)),
            RMSLE: when(
                bool(np.all(y_true > -1) and np.all(y_pred > -1)),
                lambda: metrics.root_mean_squared_log_error(y_true, y_pred),
            ),
            GAMMA_DEVIANCE: when(positive, lambda: metrics.mean_gamma_deviance(y_true, y_pred)),
            POISSON_DEVIANCE: when(counts, lambda: metrics.mean_poisson_deviance(y_true, y_pred)),
            TWEEDIE_DEVIANCE: when(counts, lambda: metrics.mean_tweedie_deviance(y_true, y_pred, power=TWEEDIE_POWER)),
            FVE_GAMMA: when(positive and varies, lambda: metrics.d2_tweedie_score(y_true, y_pred, power=2)),
            FVE_POISSON: when(counts and varies, lambda: metrics.d2_tweedie_score(y_true, y_pred, power=1)),
            FVE_TWEEDIE: when(counts and varies, lambda: metrics.d2_tweedie_score(y_true, y_pred, power=TWEEDIE_POWER)),
        }
    )
    return figures


def _finite(value: Any) -> float | None:
    """A figure as a plain float, or None where the library answered NaN or infinity."""
    number = float(value)
    return number if math.isfinite(number) else None
