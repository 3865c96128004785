"""Drift scores from two count vectors: hand-computed values, no drift scores 0, real drift scores high."""

from __future__ import annotations

import math
import typing
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats  # type: ignore[import-untyped]

from champion.monitoring.binning import Bins, count, fit
from champion.monitoring.divergence import (
    DEFAULT_METRIC,
    DEFAULT_THRESHOLDS,
    METRICS,
    ORDERED_METRICS,
    Metric,
    level,
    score,
)

PROPERTIES = settings(max_examples=100, deadline=None, database=None)

ONE_EDGE = Bins(kind="numeric", edges=(0.0,))  # below 0, from 0 on, missing
TWO_EDGES = Bins(kind="numeric", edges=(0.0, 1.0))  # (-inf, 0), [0, 1), [1, inf), missing
COLOURS = Bins(kind="categorical", categories=("red", "green"))  # red, green, other, missing
UNORDERED: list[Metric] = [m for m in METRICS if m not in ORDERED_METRICS]


def test_the_metrics() -> None:
    assert typing.get_args(Metric) == METRICS
    assert DEFAULT_METRIC == "psi"
    assert set(DEFAULT_THRESHOLDS) == set(METRICS)
    assert all(0 < warning < failing for warning, failing in DEFAULT_THRESHOLDS.values())


# --- hand-computed values ----------------------------------------------------------------------


def test_psi_by_hand() -> None:
    # proportions 0.6, 0.4 against 0.4, 0.6, nothing missing on either side:
    # (0.4 - 0.6) ln(0.4 / 0.6) + (0.6 - 0.4) ln(0.6 / 0.4) = 0.4 ln 1.5
    assert score("psi", [60, 40, 0], [40, 60, 0], ONE_EDGE) == pytest.approx(0.4 * math.log(1.5), rel=1e-12)


def test_psi_gives_an_empty_bin_a_proportion_of_one_in_ten_thousand() -> None:
    # baseline 0.5, 0.3, 0.2, 0 (taken as 0.0001); current 0.4, 0.3, 0.2, 0.1
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - 0.0001) * math.log(0.1 / 0.0001)
    assert score("psi", [50, 30, 20, 0], [40, 30, 20, 10], TWO_EDGES) == pytest.approx(expected, rel=1e-12)


def test_psi_and_kl_are_finite_when_a_bin_is_empty_on_one_side() -> None:
    for metric in ("psi", "kl_divergence"):
        there = score(metric, [10, 0, 0], [0, 10, 0], ONE_EDGE)
        back = score(metric, [0, 10, 0], [10, 0, 0], ONE_EDGE)
        assert there is not None and back is not None
        assert math.isfinite(there) and there > 1
        assert math.isfinite(back) and back > 1


def test_kl_divergence_is_of_the_current_window_from_the_baseline_in_nats() -> None:
    # KL(baseline ‖ current) = 0.5 ln(0.5 / 0.25) + 0.5 ln(0.5 / 0.75)
    expected = 0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    assert score("kl_divergence", [1, 1, 0], [1, 3, 0], ONE_EDGE) == pytest.approx(expected, rel=1e-3)
    # asymmetric: the other way round is another number
    assert score("kl_divergence", [1, 3, 0], [1, 1, 0], ONE_EDGE) != pytest.approx(expected, rel=1e-2)


def test_js_is_the_divergence_in_bits_not_the_distance() -> None:
    # p = (1, 0), q = (0.5, 0.5), m = (0.75, 0.25):
    # KL(p ‖ m) = log2(4/3); KL(q ‖ m) = 0.5 log2(2/3) + 0.5 log2(2); JS = their mean
    expected = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2
    assert score("js_divergence", [2, 0, 0], [1, 1, 0], ONE_EDGE) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.3113, abs=1e-4)  # the distance would be 0.558
    assert score("js_divergence", [1, 0, 0], [0, 1, 0], ONE_EDGE) == pytest.approx(1.0)  # disjoint


def test_js_of_nearly_proportional_counts_is_zero_where_scipy_would_answer_nan() -> None:
    # All but the same proportions (668 times the counts, one count more): rounding leaves
    # jensenshannon's sum a hair below zero, and its square root warns and answers NaN.
    baseline, current = [729015, 970323, 927423], [486982020, 648175764, 619518565]
    assert score("js_divergence", baseline, current, ONE_EDGE) == 0.0


def test_hellinger_by_hand() -> None:
    # sqrt(1 - Σ sqrt(p q)) = sqrt(1 - sqrt(0.5))
    assert score("hellinger", [2, 0, 0], [1, 1, 0], ONE_EDGE) == pytest.approx(math.sqrt(1 - math.sqrt(0.5)))
    assert score("hellinger", [1, 0, 0], [0, 1, 0], ONE_EDGE) == pytest.approx(1.0)


def test_ks_is_the_largest_gap_between_the_binned_cumulative_distributions() -> None:
    # cumulative 0.25, 0.5, 1 against 0, 0.5, 1; the missing values play no part
    assert score("ks", [1, 1, 2, 0], [0, 2, 2, 5], TWO_EDGES) == pytest.approx(0.25)


def test_ks_never_exceeds_the_statistic_on_the_raw_values() -> None:
    rng = np.random.default_rng(3)
    for shift in (0.0, 0.2, 1.0):
        baseline, current = rng.normal(size=500), rng.normal(shift, 1.3, size=400)
        bins = fit(baseline, "numeric")
        binned = score("ks", count(bins, baseline), count(bins, current), bins)
        exact = stats.ks_2samp(baseline, current).statistic
        assert binned is not None and binned <= exact + 1e-12
        assert binned >= exact - 0.05  # and with ten bins it is close


def test_wasserstein_by_hand() -> None:
    # representative points: 0 (the edge of (-inf, 0)), 0.5, 1.5, 2 (the edge of [2, inf))
    bins = Bins(kind="numeric", edges=(0.0, 1.0, 2.0))
    baseline, current = [0, 1, 1, 0, 7], [0, 0, 1, 1, 0]
    # half the mass moves from 0.5 to 1.5 and half from 1.5 to 2: 0.5 + 0.25, over the baseline's
    # standard deviation 0.5 (points 0.5 and 1.5, equal weights); its missing values do not count
    assert score("wasserstein", baseline, current, bins) == pytest.approx(0.75 / 0.5)


def test_wasserstein_is_unit_free() -> None:
    rng = np.random.default_rng(4)
    baseline, current = rng.normal(size=2000), rng.normal(0.3, 1.0, size=2000)
    scores = []
    for unit in (1.0, 1000.0, 0.001):
        bins = fit(baseline * unit, "numeric")
        scores.append(score("wasserstein", count(bins, baseline * unit), count(bins, current * unit), bins))
    assert scores == pytest.approx([scores[0]] * 3, rel=1e-9)


def test_wasserstein_of_a_baseline_in_one_bin_is_measured_by_the_span_of_the_edges() -> None:
    bins = Bins(kind="numeric", edges=(0.0, 1.0, 2.0))
    # all of the baseline at 0.5 (no spread), all of the window at 1.5: moved 1, over the span 2
    assert score("wasserstein", [0, 5, 0, 0, 0], [0, 0, 5, 0, 0], bins) == pytest.approx(0.5)


def test_with_fewer_than_two_edges_wasserstein_has_one_point_and_sees_nothing() -> None:
    # No edge: one bin for every number. One edge (a constant baseline): both bins are represented
    # by the edge, so a window wholly below a constant baseline moves no mass; ks still sees it.
    no_edge, one_edge = Bins(kind="numeric"), Bins(kind="numeric", edges=(3.0,))
    assert score("wasserstein", [5, 0], [1, 3], no_edge) == 0.0
    assert score("ks", [5, 0], [1, 3], no_edge) == 0.0
    assert score("wasserstein", [0, 5, 0], [4, 0, 0], one_edge) == 0.0
    assert score("ks", [0, 5, 0], [4, 0, 0], one_edge) == 1.0


# --- no drift, real drift ----------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_identical_distributions_score_zero(metric: Metric) -> None:
    counts = [3, 0, 7, 2, 1]
    numeric = Bins(kind="numeric", edges=(0.0, 1.0, 2.0))
    assert score(metric, counts, counts, numeric) == 0.0
    # the same proportions from windows of other sizes
    assert score(metric, counts, [c * 7 for c in counts], numeric) == pytest.approx(0.0, abs=1e-12)
    if metric not in ORDERED_METRICS:
        assert score(metric, [4, 1, 0, 2], [4, 1, 0, 2], COLOURS) == 0.0


@pytest.mark.parametrize("metric", METRICS)
def test_a_shifted_normal_fails_and_a_resample_passes(metric: Metric) -> None:
    rng = np.random.default_rng(20261206)
    baseline = rng.normal(10.0, 2.0, size=20_000)
    bins = fit(baseline, "numeric")
    expected = count(bins, baseline)
    same = score(metric, expected, count(bins, rng.normal(10.0, 2.0, size=5000)), bins)
    shifted = score(metric, expected, count(bins, rng.normal(12.0, 2.0, size=5000)), bins)  # one sd
    assert same is not None and shifted is not None
    assert level(metric, same) == "passing"
    assert level(metric, shifted) == "failing"
    assert same < DEFAULT_THRESHOLDS[metric][0] / 5


@pytest.mark.parametrize("metric", UNORDERED)
def test_a_categorical_shift_fails_and_a_resample_passes(metric: Metric) -> None:
    rng = np.random.default_rng(7)
    colours = np.array(["red", "green", "blue", "pink"], dtype=object)
    baseline = rng.choice(colours, p=[0.5, 0.3, 0.15, 0.05], size=10_000)
    bins = fit(baseline, "categorical", max_categories=3)
    expected = count(bins, baseline)
    same = count(bins, rng.choice(colours, p=[0.5, 0.3, 0.15, 0.05], size=3000))
    shifted = count(bins, rng.choice(colours, p=[0.25, 0.3, 0.15, 0.3], size=3000))
    assert level(metric, score(metric, expected, same, bins)) == "passing"
    assert level(metric, score(metric, expected, shifted, bins)) == "failing"


@pytest.mark.parametrize("metric", UNORDERED)
def test_a_feature_that_arrives_empty_has_drifted(metric: Metric) -> None:
    baseline, current = [30, 30, 40, 0], [15, 15, 20, 50]  # the same values, and half missing
    assert level(metric, score(metric, baseline, current, TWO_EDGES)) == "failing"
    assert level(metric, score(metric, [60, 40, 0, 0], [30, 20, 0, 50], COLOURS)) == "failing"


@pytest.mark.parametrize("metric", sorted(ORDERED_METRICS))
def test_ordered_metrics_leave_missing_values_out(metric: Metric) -> None:
    assert score(metric, [30, 30, 40, 0], [15, 15, 20, 50], TWO_EDGES) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_no_rows_on_either_side_is_no_score(metric: Metric) -> None:
    assert score(metric, [0, 0, 0, 0], [1, 2, 3, 0], TWO_EDGES) is None
    assert score(metric, [1, 2, 3, 0], [0, 0, 0, 0], TWO_EDGES) is None
    # only missing values: nothing for ks and wasserstein to place on the number line
    only_missing = score(metric, [1, 2, 3, 0], [0, 0, 0, 4], TWO_EDGES)
    assert (only_missing is None) == (metric in ORDERED_METRICS)


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", sorted(ORDERED_METRICS))
def test_ordered_metrics_refuse_categorical_bins(metric: Metric) -> None:
    for counts in ([1, 2, 3, 0], [0, 0, 0, 0]):
        with pytest.raises(ValueError, match=f"{metric} .* not defined for a categorical feature: use one of psi"):
            score(metric, counts, counts, COLOURS)


def test_score_refuses_counts_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="unknown drift metric 'chi2'"):
        score("chi2", [1, 1, 1], [1, 1, 1], ONE_EDGE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="baseline must hold 3 counts"):
        score("psi", [1, 1], [1, 1, 1], ONE_EDGE)
    with pytest.raises(ValueError, match="current must hold 3 counts"):
        score("psi", [1, 1, 1], [1, 1, 1, 1], ONE_EDGE)
    with pytest.raises(ValueError, match="non-negative integers"):
        score("psi", [1, -1, 1], [1, 1, 1], ONE_EDGE)
    with pytest.raises(ValueError, match="non-negative integers"):
        score("psi", [1, 1, 1], [0.5, 1, 1], ONE_EDGE)  # type: ignore[list-item]


# --- every score is a sane number --------------------------------------------------------------

counts = st.lists(st.integers(0, 10**6), min_size=4, max_size=4)


@PROPERTIES
@given(baseline=counts, current=counts, metric=st.sampled_from(METRICS))
def test_every_score_is_finite_non_negative_and_bounded_where_it_should_be(
    baseline: list[int], current: list[int], metric: Metric
) -> None:
    value = score(metric, baseline, current, TWO_EDGES)
    if value is None:
        return
    assert math.isfinite(value) and value >= -1e-12
    if metric in ("js_divergence", "hellinger", "ks"):
        assert value <= 1 + 1e-12


# --- levels ------------------------------------------------------------------------------------


def test_levels() -> None:
    assert level("psi", None) is None
    assert level("psi", 0.0) == "passing"
    assert level("psi", 0.1499) == "passing"
    assert level("psi", 0.15) == "warning"
    assert level("psi", 0.2499) == "warning"
    assert level("psi", 0.25) == "failing"
    assert level("psi", 3.0) == "failing"
    assert level("psi", 0.12, thresholds=(0.1, 0.2)) == "warning"
    with pytest.raises(ValueError, match="unknown drift metric"):
        level("chi2", 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        level("psi", math.nan)


def test_default_levels_mean_the_same_drift_for_every_metric() -> None:
    # Each pair is the value the metric takes when a normal feature's mean moves by δ standard
    # deviations, for the δ at which psi (exactly δ² for that shift) reaches its levels.
    def js_bits(delta: float) -> float:
        p, q = stats.norm(0, 1).pdf, stats.norm(delta, 1).pdf

        def integrand(x: float) -> float:
            m = (p(x) + q(x)) / 2
            return float(p(x) * math.log2(p(x) / m) + q(x) * math.log2(q(x) / m)) / 2

        return float(integrate.quad(integrand, -12, 12 + delta)[0])

    formulas: dict[Metric, Callable[[float], float]] = {
        "psi": lambda d: d**2,
        "kl_divergence": lambda d: d**2 / 2,
        "js_divergence": js_bits,
        "hellinger": lambda d: math.sqrt(1 - math.exp(-(d**2) / 8)),
        "ks": lambda d: float(2 * stats.norm.cdf(d / 2) - 1),
        "wasserstein": lambda d: d,
    }
    warning, failing = (math.sqrt(psi) for psi in DEFAULT_THRESHOLDS["psi"])
    for metric, formula in formulas.items():
        assert DEFAULT_THRESHOLDS[metric] == pytest.approx((formula(warning), formula(failing)), rel=5e-3), metric
