"""Bins fixed once from a baseline, so that every later window is only a vector of integer counts.

Drift compares the distribution of a feature (or of the predictions) in a window of time with a
baseline. Keeping each window's raw values would make every chart a scan of prediction rows; keeping
counts over bins the baseline fixed instead makes a window a short list of integers, and two windows
(or the same window seen by two server processes) merge by adding them. So the bins are decided once,
by `fit` on the baseline, stored as JSON beside it (`Bins.to_json`), and never change: `count` puts
any batch of values into them, `add` merges counts, and `divergence.score` compares two count vectors.

Numeric bins are cut at the baseline's quantiles, so each holds about the same share of the baseline.
The quantiles are baseline values (the inverted-CDF definition, never a point interpolated between two
values), so every bin [e_i, ...) holds at least its edge's rows: in the baseline only the first bin
can be empty, when the smallest value is itself a quantile. (Empty baseline bins are where divergences
misbehave, and an edge interpolated between two values would make one for any feature of few values.)
Categorical bins are the baseline's most frequent categories plus one "other" bin, so a category first
seen in production is counted (as other) rather than lost. Every Bins ends with a bin for missing
values: a feature that starts arriving empty has drifted, and that must show.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Kind = Literal["numeric", "categorical"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical")

_FIELDS = {"kind", "edges", "categories"}


@dataclass(frozen=True)
class Bins:
    """How values of one feature are counted.

    numeric: `edges` are strictly increasing finite interior edges e0 < e1 < ... and the bins are
    (-inf, e0), [e0, e1), ..., [e_last, +inf) — no edges at all is one bin for every number.
    categorical: `categories` are the baseline's most frequent values (as `str`), each its own bin,
    followed by one "other" bin for every value not among them.
    Either kind then has one last bin for missing values (None or NaN).
    """

    kind: Kind
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.kind == "numeric":
            if self.categories:
                raise ValueError("numeric bins have edges, not categories")
            if not all(isinstance(e, float) and math.isfinite(e) for e in self.edges):
                raise ValueError("numeric edges must be finite floats")
            if any(a >= b for a, b in itertools.pairwise(self.edges)):
                raise ValueError("numeric edges must be strictly increasing")
        else:
            if self.edges:
                raise ValueError("categorical bins have categories, not edges")
            if not all(isinstance(c, str) for c in self.categories):
                raise ValueError("categories must be strings")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError("categories must be distinct")

    def size(self) -> int:
        """How many counts a window over these bins holds (the missing-values bin included)."""
        if self.kind == "numeric":
            return len(self.edges) + 2
        return len(self.categories) + 2

    def labels(self) -> list[str]:
        """One short label per bin, in count order: the x-axis of a drift chart."""
        if self.kind == "numeric":
            return [*_numeric_labels(self.edges), "missing"]
        taken = set(self.categories)
        other = _unclaimed("other", taken)
        return [*self.categories, other, _unclaimed("missing", taken | {other})]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types (edges as floats, which JSON carries exactly); `from_json` reads it back."""
        return {"kind": self.kind, "edges": list(self.edges), "categories": list(self.categories)}

    @classmethod
    def from_json(cls, data: Any) -> Bins:
        """The Bins `to_json` wrote; ValueError for anything else (a stored document must not half-load)."""
        if not isinstance(data, dict) or set(data) != _FIELDS:
            raise ValueError(f"bins must be an object with exactly the members {', '.join(sorted(_FIELDS))}")
        edges, categories = data["edges"], data["categories"]
        if not isinstance(edges, list) or not all(_is_number(e) for e in edges):
            raise ValueError("bins.edges must be a list of numbers")
        if not isinstance(categories, list):
            raise ValueError("bins.categories must be a list of strings")
        try:
            floats = tuple(float(e) for e in edges)
        except OverflowError as exc:  # an integer too large for a float
            raise ValueError("bins.edges must be finite numbers") from exc
        return cls(kind=data["kind"], edges=floats, categories=tuple(categories))


def fit(values: NDArray[Any], kind: Kind, *, bins: int = 10, max_categories: int = 25) -> Bins:
    """The bins of a baseline: `bins` quantile bins for numbers, the top `max_categories` for strings.

    Numeric edges are the baseline's interior quantiles (1/bins, 2/bins, ...) over its finite values,
    deduplicated, so a feature with few distinct values gets fewer bins (a constant one edge: below it
    and from it on); with no finite value there is no edge and one bin. Categories are ranked by
    frequency, ties by value, so the same baseline always gives the same bins. Missing values are
    never a category: they have their own bin.
    """
    if bins < 1:
        raise ValueError("bins must be at least 1")
    if max_categories < 1:
        raise ValueError("max_categories must be at least 1")
    if kind == "numeric":
        numbers = _floats(values)
        finite = numbers[np.isfinite(numbers)]
        if finite.size == 0:
            return Bins(kind="numeric")
        # k / bins, each correctly rounded (np.linspace's 0.30000000000000004 would pick the 301st of 1000).
        quantiles = np.quantile(finite, np.arange(1, bins) / bins, method="inverted_cdf")
        # np.unique sorts and deduplicates; adding 0.0 turns a -0.0 edge into 0.0 (same bins, plainer label).
        edges = np.unique(quantiles) + 0.0
        return Bins(kind="numeric", edges=tuple(float(e) for e in edges))
    if kind == "categorical":
        strings, missing = _strings(values)
        present, counts = np.unique(strings[~missing], return_counts=True)
        # np.unique returns the values sorted, so a stable sort by descending count breaks ties by value.
        top = present[np.argsort(-counts, kind="stable")[:max_categories]]
        return Bins(kind="categorical", categories=tuple(str(c) for c in top))
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def count(bins: Bins, values: NDArray[Any]) -> list[int]:
    """How many of `values` fall in each bin: `bins.size()` counts that sum to `len(values)`.

    Numbers come as a float64 array (NaN is missing) or an object array that may hold None;
    +inf and -inf are numbers and land in the outer bins. Categories come as an object or string
    array, each value compared as `str(value)`; None and NaN are missing. Vectorised with numpy:
    it runs on batches of thousands of rows.
    """
    if bins.kind == "numeric":
        numbers = _floats(values)
        # side="right" counts the edges <= v, which is the index of v's bin [e_{i-1}, e_i).
        index = np.searchsorted(np.asarray(bins.edges, dtype=np.float64), numbers, side="right")
        index[np.isnan(numbers)] = bins.size() - 1
    else:
        strings, missing = _strings(values)
        index = _category_index(bins.categories, strings)
        index[missing] = bins.size() - 1
    counts: list[int] = np.bincount(index, minlength=bins.size()).tolist()
    return counts


def add(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Two count vectors over the same bins merged: two windows, or one window from two processes."""
    if len(a) != len(b):
        raise ValueError(f"cannot add counts over different bins ({len(a)} and {len(b)} counts)")
    return [x + y for x, y in zip(a, b, strict=True)]


def _floats(values: NDArray[Any]) -> NDArray[np.float64]:
    """Values as a 1-d float64 array; numpy turns None in an object array into NaN on the way."""
    numbers = np.asarray(values, dtype=np.float64)
    if numbers.ndim != 1:
        raise ValueError(f"values must be one-dimensional, not of shape {numbers.shape}")
    return numbers


_STR = np.frompyfunc(str, 1, 1)  # str() of each element, called from C: no Python loop per row


def _strings(values: NDArray[Any]) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
    """Values as `str(value)` in an object array, and which of them are missing (None or NaN).

    Python strings in an object array rather than a numpy string array: numpy's fixed-width strings
    drop trailing NUL characters (a value "a" + NUL would count as "a") and give every row the longest
    value's width (one long text would make a batch gigabytes).
    """
    objects = np.asarray(values).astype(object)
    if objects.ndim != 1:
        raise ValueError(f"values must be one-dimensional, not of shape {objects.shape}")
    # Element-wise in numpy's C loops: None, and NaN (the one value unequal to itself).
    missing = np.equal(objects, np.asarray(None, dtype=object)) | np.not_equal(objects, objects)
    strings: NDArray[np.object_] = _STR(objects)
    return strings, missing.astype(bool)


def _category_index(categories: tuple[str, ...], strings: NDArray[np.object_]) -> NDArray[np.intp]:
    """Each value's bin: its category's position, or the "other" bin after the categories."""
    other = np.full(strings.shape, len(categories), dtype=np.intp)
    if not categories:
        return other
    known = np.asarray(categories, dtype=object)
    order = np.argsort(known)
    ordered = known[order]
    # Binary search in the sorted categories; a value is known when the category found equals it.
    found = np.minimum(np.searchsorted(ordered, strings), len(ordered) - 1)
    return np.where(np.equal(ordered[found], strings), order[found], other)


def _numeric_labels(edges: tuple[float, ...]) -> list[str]:
    if not edges:
        return ["any value"]
    texts = _shortest_distinct(edges)
    inner = [f"[{a}, {b})" for a, b in itertools.pairwise(texts)]
    return [f"< {texts[0]}", *inner, f">= {texts[-1]}"]


def _shortest_distinct(edges: tuple[float, ...]) -> list[str]:
    """The edges with as few significant digits (at least 3) as keep neighbouring edges apart.

    Quantile edges have long decimal tails ("0.5123864911"); chart labels need "0.512", but two
    close edges must not print the same. 17 significant digits tell any two doubles apart.
    """
    for digits in range(3, 18):
        texts = [f"{e:.{digits}g}" for e in edges]
        if len(set(texts)) == len(texts):
            return texts
    return [repr(e) for e in edges]


def _unclaimed(name: str, taken: set[str]) -> str:
    """`name`, or `(name)` if a category already has that text, so no two bins share a label."""
    while name in taken:
        name = f"({name})"
    return name


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
