"""How far a window's distribution is from the baseline's, from two count vectors over the same bins.

Every metric here reads only the counts `binning.count` produced, never raw values, so a score is as
cheap for a year of traffic as for an hour, and it is the same whichever server process counted which
rows. The metrics are the ones DataRobot's featureDrift offers (psi, the default, kl_divergence,
js_divergence, hellinger, dissimilarity) and the two Evidently reaches for on numeric features (a Kolmogorov-Smirnov
statistic and a normalised Wasserstein distance). `level` turns a score into passing / warning /
failing against `DEFAULT_THRESHOLDS`.

The missing-values bin takes part in the distribution metrics (psi, kl, js, hellinger): a feature
that starts arriving empty has drifted. ks and wasserstein need ordered values, so they leave it out,
and they are not defined for categorical bins at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from champion.monitoring.binning import Bins

Metric = Literal["psi", "kl_divergence", "js_divergence", "hellinger", "dissimilarity", "ks", "wasserstein"]
METRICS: tuple[Metric, ...] = (
    "psi",
    "kl_divergence",
    "js_divergence",
    "hellinger",
    "dissimilarity",
    "ks",
    "wasserstein",
)
DEFAULT_METRIC: Metric = "psi"

Level = Literal["passing", "warning", "failing"]

# The metrics that compare ordered values: they use the numeric bins' edges.
ORDERED_METRICS: frozenset[Metric] = frozenset({"ks", "wasserstein"})

# The proportion an empty bin is given in psi and kl_divergence, as Evidently does
# (`np.place(percents, percents == 0, 0.0001)` in its psi and kl_div stattests): without it a bin
# empty on one side makes ln(q/p) infinite. The other proportions are left as they are, so a
# comparison without empty bins is the textbook formula exactly (scipy.stats.entropy, for kl, then
# rescales both smoothed vectors to sum to 1; psi uses them as they are, as Evidently does).
EMPTY_BIN_PROPORTION = 1e-4

# (warning, failing) per metric: a score at or above the first is "warning", at or above the second
# "failing".
#
# psi: 0.15 is DataRobot's default drift threshold (a feature above it counts as drifted), and
# 0.25 is the classic "significant shift" level of credit scoring (Siddiqi, "Credit Risk
# Scorecards", 2006; Yurdakul, "Statistical properties of population stability index", 2018),
# where 0.1 to 0.25 is "moderate".
#
# No vendor publishes two levels for the other metrics, and their single defaults disagree with each
# other (Evidently flags 0.1 of every metric, Vertex AI 0.3 of Jensen-Shannon). So the other levels
# are psi's translated: the value each metric takes for the same drift, a normal feature whose mean
# moves by δ standard deviations, with δ² = psi (the continuous psi of that shift is exactly δ²):
# δ = 0.387 for warning, δ = 0.5 for failing. kl = δ²/2; Hellinger = sqrt(1 - exp(-δ²/8));
# ks = 2Φ(δ/2) - 1; Wasserstein over the standard deviation = δ; js (bits) by numerical integration.
# A user picking another metric is thereby warned about the same drift as with psi. Counted over ten
# quantile bins every metric reads a little below its continuous value, and by about as much, so they
# still agree (a 0.5 sd shift of 20,000 vs 5,000 normal rows: psi 0.243, kl 0.123, js 0.0428,
# hellinger 0.173, ks 0.198, wasserstein 0.476).
# tests/monitoring/test_divergence.py recomputes every pair from these formulas.
DEFAULT_THRESHOLDS: dict[Metric, tuple[float, float]] = {
    "psi": (0.15, 0.25),
    "kl_divergence": (0.075, 0.125),
    "js_divergence": (0.0266, 0.0437),
    "hellinger": (0.136, 0.175),
    "dissimilarity": (0.154, 0.197),
    "ks": (0.154, 0.197),
    "wasserstein": (0.387, 0.5),
}


def score(metric: Metric, baseline: Sequence[int], current: Sequence[int], bins: Bins) -> float | None:
    """How far `current` is from `baseline` (counts over `bins`) by `metric`; 0 means no difference.

    - psi: Σ (q - p) ln(q / p) over the proportions, an empty bin's proportion taken as 1e-4.
    - kl_divergence: KL(baseline ‖ current) in nats, empty bins as for psi (scipy.stats.entropy).
    - js_divergence: the Jensen-Shannon *divergence* in bits, in [0, 1]: the square of what
      scipy.spatial.distance.jensenshannon (a distance) returns with base 2.
    - hellinger: the Hellinger distance, in [0, 1].
    - dissimilarity: half the sum of the absolute differences of the bins' proportions (the total
      variation distance), in [0, 1]. DataRobot lists a "dissimilarity" metric without publishing its
      formula; this is the one its name describes. For a normal shift it equals ks's continuous value,
      so it has ks's levels.
    - ks: the largest gap between the two binned cumulative distributions. It approximates the
      two-sample Kolmogorov-Smirnov statistic: it is that statistic looked at only at the bin edges,
      so never above it on the raw values. Numeric bins only.
    - wasserstein: scipy.stats.wasserstein_distance between the bins' representative points (an
      inner bin's midpoint; an open-ended outer bin's one edge) weighted by the counts, divided by
      the baseline's standard deviation over the same points so it is unit-free (Evidently divides by
      the reference's standard deviation). Numeric bins only. With fewer than two edges every
      number is represented by one point, so it is 0 there (a constant baseline): use psi or ks.

    None when either side has no rows to compare (for ks and wasserstein: no non-missing rows).
    ValueError for an unknown metric, ks or wasserstein on categorical bins, or counts that do not fit
    the bins.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown drift metric {metric!r}: use one of {', '.join(METRICS)}")
    if metric in ORDERED_METRICS and bins.kind == "categorical":
        unordered = ", ".join(m for m in METRICS if m not in ORDERED_METRICS)
        raise ValueError(
            f"{metric} compares ordered values and is not defined for a categorical feature: use one of {unordered}"
        )
    p, q = _counts(baseline, bins, "baseline"), _counts(current, bins, "current")
    if metric in ORDERED_METRICS:
        p, q = p[:-1], q[:-1]  # the missing-values bin has no place on the number line
    if p.sum() == 0 or q.sum() == 0:
        return None
    # scipy here, not at the top: a server loads it when drift is asked for, not at start.
    from scipy import stats  # type: ignore[import-untyped]
    from scipy.spatial import distance  # type: ignore[import-untyped]

    match metric:
        case "psi":
            return _psi(p, q)
        case "kl_divergence":
            return float(stats.entropy(_smoothed(p), _smoothed(q)))
        case "js_divergence":
            return _js_divergence(p, q)
        case "hellinger":
            return float(distance.euclidean(np.sqrt(p / p.sum()), np.sqrt(q / q.sum())) / math.sqrt(2))
        case "dissimilarity":
            return float(np.abs(p / p.sum() - q / q.sum()).sum() / 2)
        case "ks":
            return _ks(p, q)
        case "wasserstein":
            return _wasserstein(p, q, bins.edges)


def level(metric: Metric, value: float | None, *, thresholds: tuple[float, float] | None = None) -> Level | None:
    """Where a score stands: passing, warning (at or above the first level) or failing (the second).

    `thresholds` (warning, failing) replaces the metric's default levels; None for no score.
    """
    if metric not in DEFAULT_THRESHOLDS:
        raise ValueError(f"unknown drift metric {metric!r}: use one of {', '.join(METRICS)}")
    if value is None:
        return None
    if math.isnan(value):
        raise ValueError("a drift score is a number, not NaN")
    warning, failing = thresholds if thresholds is not None else DEFAULT_THRESHOLDS[metric]
    if value >= failing:
        return "failing"
    if value >= warning:
        return "warning"
    return "passing"


def _counts(counts: Sequence[int], bins: Bins, side: str) -> NDArray[np.float64]:
    array = np.asarray(counts)
    if array.ndim != 1 or len(array) != bins.size():
        raise ValueError(f"{side} must hold {bins.size()} counts, one per bin")
    if array.dtype.kind not in "iu" or array.min() < 0:
        raise ValueError(f"{side} counts must be non-negative integers")
    return array.astype(np.float64)


def _smoothed(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    proportions = counts / counts.sum()
    return np.where(proportions == 0, EMPTY_BIN_PROPORTION, proportions)


def _psi(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    # By hand: neither numpy nor scipy has psi, and it is one line over the smoothed proportions.
    expected, actual = _smoothed(p), _smoothed(q)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _js_divergence(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    # jensenshannon takes the square root of a sum that rounding can leave a hair below zero for two
    # nearly equal distributions; that NaN is a divergence of 0.
    from scipy.spatial import distance

    with np.errstate(invalid="ignore"):
        root = float(distance.jensenshannon(p, q, base=2))
    return 0.0 if math.isnan(root) else root**2


def _ks(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    # By hand: scipy.stats.ks_2samp needs the raw samples, and the counts are all there is.
    return float(np.max(np.abs(np.cumsum(p) / p.sum() - np.cumsum(q) / q.sum())))


def _wasserstein(p: NDArray[np.float64], q: NDArray[np.float64], edges: tuple[float, ...]) -> float:
    from scipy import stats

    points = _representatives(edges)
    moved = float(stats.wasserstein_distance(points, points, u_weights=p, v_weights=q))
    if moved == 0:
        return 0.0
    # Not zero, so there are two distinct points, hence at least two edges: the span is positive.
    # It is the scale when the whole baseline sits in one bin (a standard deviation of zero).
    mean = np.average(points, weights=p)
    spread = math.sqrt(float(np.average((points - mean) ** 2, weights=p))) or edges[-1] - edges[0]
    return moved / spread


def _representatives(edges: tuple[float, ...]) -> NDArray[np.float64]:
    """One point per numeric bin: an inner bin's midpoint, an outer (open-ended) bin's edge."""
    if not edges:
        return np.zeros(1)
    bounds = np.asarray(edges, dtype=np.float64)
    return np.concatenate([bounds[:1], (bounds[:-1] + bounds[1:]) / 2, bounds[-1:]])
