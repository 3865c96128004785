"""Bins fixed from a baseline: quantile edges and top categories, counts that add, JSON that round-trips."""

from __future__ import annotations

import json
import sys
from types import FrameType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from champion.monitoring.binning import Bins, add, count, fit

PROPERTIES = settings(max_examples=100, deadline=None, database=None)


# --- numeric -----------------------------------------------------------------------------------


def test_numeric_edges_are_the_baselines_quantiles() -> None:
    values = np.random.default_rng(1).permutation(np.arange(1, 1001, dtype=np.float64))
    bins = fit(values, "numeric", bins=10)
    assert bins.edges == (100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0)
    assert bins.size() == 11  # ten bins and missing
    assert count(bins, values) == [99] + [100] * 8 + [101, 0]


def test_edges_are_baseline_values_never_points_between_them() -> None:
    # Interpolated quantiles would put an edge at 0.2 here, and an empty baseline bin [0.2, 1).
    values = np.array([0.0] * 80 + [1.0] * 20)
    bins = fit(values, "numeric", bins=10)
    assert bins.edges == (0.0, 1.0)  # nine quantiles, two distinct
    assert count(bins, values) == [0, 80, 20, 0]


def test_a_value_on_an_edge_falls_in_the_bin_it_opens() -> None:
    bins = Bins(kind="numeric", edges=(0.0, 1.0))
    values = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan])
    assert count(bins, values) == [1, 2, 2, 1]


def test_infinities_are_numbers_in_the_outer_bins() -> None:
    bins = Bins(kind="numeric", edges=(0.0, 1.0))
    assert count(bins, np.array([-np.inf, np.inf, np.inf])) == [1, 0, 2, 0]
    # fit ignores them: the edges come from the finite values only
    assert fit(np.array([-np.inf, -np.inf, -np.inf, 1.0, 2.0, 3.0]), "numeric", bins=2).edges == (2.0,)


def test_numeric_missing_values_are_nan_or_none() -> None:
    bins = Bins(kind="numeric", edges=(0.0,))
    assert count(bins, np.array([np.nan, -1.0, 1.0, np.nan])) == [1, 1, 2]
    assert count(bins, np.array([None, -1.0, 1.0, None, 2], dtype=object)) == [1, 2, 2]
    # and missing values play no part in the edges
    assert fit(np.array([np.nan, 1.0, None, 2.0, None, 3.0], dtype=object), "numeric", bins=2).edges == (2.0,)


def test_a_constant_feature_gets_one_edge() -> None:
    values = np.full(50, 7.5)
    bins = fit(values, "numeric")
    assert bins.edges == (7.5,)
    assert bins.size() == 3
    assert bins.labels() == ["< 7.5", ">= 7.5", "missing"]
    assert count(bins, values) == [0, 50, 0]
    assert count(bins, np.array([7.0, 8.0])) == [1, 1, 0]


@pytest.mark.parametrize("values", [np.full(4, np.nan), np.array([None, None], dtype=object), np.array([])])
def test_no_finite_value_gives_one_bin(values: np.ndarray[Any, Any]) -> None:
    bins = fit(values, "numeric")
    assert bins.edges == ()
    assert bins.size() == 2
    assert bins.labels() == ["any value", "missing"]
    assert count(bins, np.array([1.0, np.nan, -5.0, np.inf])) == [3, 1]


def test_numeric_labels_are_short_but_tell_neighbouring_edges_apart() -> None:
    assert Bins(kind="numeric", edges=(0.5, 1.2, 3.1)).labels() == [
        "< 0.5",
        "[0.5, 1.2)",
        "[1.2, 3.1)",
        ">= 3.1",
        "missing",
    ]
    assert Bins(kind="numeric", edges=(0.512386491, 2.0)).labels()[0] == "< 0.512"
    assert Bins(kind="numeric", edges=(1.00001, 1.00002)).labels()[:3] == [
        "< 1.00001",
        "[1.00001, 1.00002)",
        ">= 1.00002",
    ]
    assert Bins(kind="numeric", edges=(-1e9, 0.0)).labels()[:2] == ["< -1e+09", "[-1e+09, 0)"]


# --- categorical -------------------------------------------------------------------------------


def test_categories_are_the_most_frequent_then_other_then_missing() -> None:
    values = np.array(["b", "a", "b", None, "c", "b", "a", float("nan")], dtype=object)
    bins = fit(values, "categorical")
    assert bins.categories == ("b", "a", "c")
    assert bins.labels() == ["b", "a", "c", "other", "missing"]
    assert count(bins, values) == [3, 2, 1, 0, 2]
    assert count(bins, np.array(["d", "a", None], dtype=object)) == [0, 1, 0, 1, 1]


def test_more_categories_than_max_categories_go_to_other() -> None:
    # category k appears k + 1 times: the five most frequent are the last five
    values = np.array([f"c{k:02d}" for k in range(30) for _ in range(k + 1)], dtype=object)
    bins = fit(values, "categorical", max_categories=5)
    assert bins.categories == ("c29", "c28", "c27", "c26", "c25")
    assert bins.size() == 7
    counts = count(bins, values)
    assert counts == [30, 29, 28, 27, 26, sum(range(1, 26)), 0]


def test_ties_are_broken_by_value_whatever_the_order_of_the_rows() -> None:
    values = ["y", "x", "z", "x", "y", "z", "w"]
    for seed in range(5):
        shuffled = np.random.default_rng(seed).permutation(np.array(values, dtype=object))
        assert fit(shuffled, "categorical", max_categories=2).categories == ("x", "y")


def test_categories_compare_as_str() -> None:
    bins = fit(np.array([1, "1", 2.5, True], dtype=object), "categorical")
    assert bins.categories == ("1", "2.5", "True")
    assert count(bins, np.array(["1", 1, "2.5", "True", "true"], dtype=object)) == [2, 1, 1, 1, 0]
    # string arrays work the same way, and cannot hold a missing value
    assert count(bins, np.array(["1", "None", "nan"])) == [1, 0, 0, 2, 0]


def test_a_categorical_baseline_with_only_missing_values() -> None:
    bins = fit(np.array([None, None], dtype=object), "categorical")
    assert bins.categories == ()
    assert bins.labels() == ["other", "missing"]
    assert count(bins, np.array(["a", None], dtype=object)) == [1, 1]


def test_a_category_named_like_a_special_bin_keeps_labels_distinct() -> None:
    bins = Bins(kind="categorical", categories=("other", "missing", "(other)"))
    labels = bins.labels()
    assert labels == ["other", "missing", "(other)", "((other))", "(missing)"]
    assert len(set(labels)) == bins.size()


# --- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "numeric", "bins": 0}, "bins"),
        ({"kind": "categorical", "max_categories": 0}, "max_categories"),
        ({"kind": "ordinal"}, "kind"),
    ],
)
def test_fit_refuses_bad_arguments(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit(np.array([1.0, 2.0]), **arguments)


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_values_must_be_one_dimensional(kind: Any) -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        fit(np.ones((2, 2)), kind)
    with pytest.raises(ValueError, match="one-dimensional"):
        count(Bins(kind=kind), np.ones((2, 2)))


def test_add_merges_counts_over_the_same_bins_only() -> None:
    assert add([1, 0, 2], [3, 4, 0]) == [4, 4, 2]
    with pytest.raises(ValueError, match="different bins"):
        add([1, 2], [1, 2, 3])


# --- counts that merge -------------------------------------------------------------------------

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none())
words = st.one_of(st.sampled_from(["a", "b", "c", "other", ""]), st.text(max_size=3), st.none(), st.just(float("nan")))


@PROPERTIES
@given(baseline=st.lists(numbers, max_size=30), window=st.lists(numbers, max_size=40), data=st.data())
def test_numeric_counts_of_two_halves_add_up_to_the_counts_of_the_whole(
    baseline: list[float | None], window: list[float | None], data: st.DataObject
) -> None:
    bins = fit(np.array(baseline, dtype=object), "numeric", bins=data.draw(st.integers(1, 12)))
    cut = data.draw(st.integers(0, len(window)))
    whole = count(bins, np.array(window, dtype=object))
    halves = add(count(bins, np.array(window[:cut], dtype=object)), count(bins, np.array(window[cut:], dtype=object)))
    assert halves == whole
    assert len(whole) == bins.size()
    assert sum(whole) == len(window)


@PROPERTIES
@given(baseline=st.lists(words, max_size=30), window=st.lists(words, max_size=40), data=st.data())
def test_categorical_counts_of_two_halves_add_up_to_the_counts_of_the_whole(
    baseline: list[str | float | None], window: list[str | float | None], data: st.DataObject
) -> None:
    bins = fit(np.array(baseline, dtype=object), "categorical", max_categories=data.draw(st.integers(1, 4)))
    cut = data.draw(st.integers(0, len(window)))
    whole = count(bins, np.array(window, dtype=object))
    halves = add(count(bins, np.array(window[:cut], dtype=object)), count(bins, np.array(window[cut:], dtype=object)))
    assert halves == whole
    assert len(whole) == bins.size()
    assert sum(whole) == len(window)
    # each value is in its own category's bin, or in other, or missing
    for value, in_bin in zip(window, [count(bins, np.array([v], dtype=object)).index(1) for v in window], strict=True):
        if value is None or value != value:
            assert in_bin == bins.size() - 1
        elif value in bins.categories:
            assert bins.categories[in_bin] == value
        else:
            assert in_bin == bins.size() - 2


# --- JSON --------------------------------------------------------------------------------------

numeric_bins = st.lists(st.floats(allow_nan=False, allow_infinity=False), unique=True, max_size=12).map(
    lambda edges: Bins(kind="numeric", edges=tuple(sorted({e + 0.0 for e in edges})))
)
categorical_bins = st.lists(st.text(max_size=8), unique=True, max_size=12).map(
    lambda categories: Bins(kind="categorical", categories=tuple(categories))
)


@PROPERTIES
@given(bins=st.one_of(numeric_bins, categorical_bins))
def test_bins_round_trip_through_json_exactly(bins: Bins) -> None:
    document = json.loads(json.dumps(bins.to_json(), allow_nan=False))
    back = Bins.from_json(document)
    assert back == bins
    assert [repr(e) for e in back.edges] == [repr(e) for e in bins.edges]  # bit for bit, -0.0 included
    assert len(back.labels()) == back.size()


def test_integral_edges_in_stored_json_are_read_as_floats() -> None:
    assert Bins.from_json({"kind": "numeric", "edges": [0, 1.5], "categories": []}).edges == (0.0, 1.5)


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        "numeric",
        {"kind": "numeric", "edges": []},
        {"kind": "numeric", "edges": [], "categories": [], "extra": 1},
        {"kind": "ordinal", "edges": [], "categories": []},
        {"kind": ["numeric"], "edges": [], "categories": []},
        {"kind": "numeric", "edges": "0.5", "categories": []},
        {"kind": "numeric", "edges": [1.0, "2"], "categories": []},
        {"kind": "numeric", "edges": [True], "categories": []},
        {"kind": "numeric", "edges": [2.0, 1.0], "categories": []},
        {"kind": "numeric", "edges": [1.0, 1.0], "categories": []},
        {"kind": "numeric", "edges": [float("nan")], "categories": []},
        {"kind": "numeric", "edges": [float("inf")], "categories": []},
        {"kind": "numeric", "edges": [10**400], "categories": []},
        {"kind": "numeric", "edges": [1.0], "categories": ["a"]},
        {"kind": "categorical", "edges": [1.0], "categories": ["a"]},
        {"kind": "categorical", "edges": [], "categories": "ab"},
        {"kind": "categorical", "edges": [], "categories": ["a", 1]},
        {"kind": "categorical", "edges": [], "categories": ["a", "a"]},
    ],
)
def test_from_json_refuses_a_malformed_document(document: Any) -> None:
    with pytest.raises(ValueError):
        Bins.from_json(document)


# --- speed -------------------------------------------------------------------------------------


def lines_run(call: Any) -> int:
    """How many Python lines `call()` executes: a loop over rows runs at least one per row."""
    lines = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(previous)
    return lines


def test_counting_runs_no_python_code_per_row() -> None:
    rng = np.random.default_rng(0)
    rows = 20_000
    numbers = rng.normal(size=rows)
    numbers[::7] = np.nan
    with_none = numbers.astype(object)
    with_none[::5] = None
    words = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), size=rows)
    words[::9] = None
    numeric, categorical = fit(numbers, "numeric"), fit(words, "categorical", max_categories=3)
    for bins, values in ((numeric, numbers), (numeric, with_none), (categorical, words)):
        assert lines_run(lambda b=bins, v=values: count(b, v)) < 500
        assert lines_run(lambda b=bins, v=values: fit(v, b.kind)) < 500
