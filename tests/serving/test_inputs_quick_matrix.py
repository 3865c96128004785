"""`inputs.quick_matrix`: columns already in feature order, taken at a glance or declined, never differently.

The Open Inference face hands it the data of one tensor per feature, with the types the tensors'
datatype allows. Whatever it accepts, `from_columns` must accept and build the same; and it must
take no value of a type the caller did not allow, even one `from_columns` would take.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from champion.runtimes.base import Signature
from champion.serving import inputs
from tests.api.test_fast_parsing import SIGNATURES

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALUES = st.one_of(
    st.floats(width=32),  # NaN and infinities included
    st.integers(-3, 3),
    st.sampled_from([None, True, False, 0, 1, "a", 2**63 - 1, 10**400, [1.0]]),
)
NUMBERS = st.floats(-10, 10) | st.integers(-1, 1)
TYPES = st.sampled_from(
    [frozenset({int, float, type(None)}), frozenset({int}), frozenset({float}), frozenset({bool}), frozenset({str})]
)


@st.composite
def ordered_columns(draw: st.DrawFn) -> tuple[Signature, list[list[Any]]]:
    """One list per feature, of numbers mostly, all of one length (a few rows, or many) or not."""
    signature = draw(st.sampled_from(SIGNATURES))
    count = draw(st.sampled_from([1, 2, 3, 16, 20]))
    columns = [draw(st.lists(NUMBERS, min_size=count, max_size=count)) for _ in signature.features]
    for _ in range(draw(st.integers(0, 2))):
        column = columns[draw(st.integers(0, len(columns) - 1))]
        if draw(st.integers(0, 4)):
            column[draw(st.integers(0, count - 1))] = draw(VALUES)
        else:
            column.append(draw(VALUES))  # one value too many
    return signature, columns


def _same(matrix: np.ndarray) -> list[list[Any]]:
    return [["nan" if isinstance(v, float) and math.isnan(v) else v for v in row] for row in matrix.tolist()]


@SETTINGS
@given(case=ordered_columns(), types=TYPES)
def test_quick_matrix_takes_only_what_from_columns_takes(
    case: tuple[Signature, list[list[Any]]], types: frozenset[type]
) -> None:
    signature, columns = case
    quick = inputs.quick_matrix(signature, columns, types=types)
    if quick is None:
        return
    assert all(type(value) in types for column in columns for value in column)
    named = dict(zip(inputs.feature_order(signature), columns, strict=True))
    long = inputs.from_columns(signature, named)  # raises (and fails the test) if it refuses them
    assert (quick.dtype, quick.shape, _same(quick)) == (long.dtype, long.shape, _same(long))


def test_plain_numbers_are_taken_and_others_declined() -> None:
    signature = SIGNATURES[1]  # DOUBLE, INTEGER, BOOLEAN; missing values allowed
    numbers = frozenset({int, float, type(None)})
    matrix = inputs.quick_matrix(signature, [[0.5, None], [3, 4], [1, 0]], types=numbers)
    assert matrix is not None
    np.testing.assert_array_equal(matrix, [[0.5, 3.0, 1.0], [math.nan, 4.0, 0.0]])
    assert inputs.quick_matrix(signature, [[0.5], [3], [1]], types=frozenset({int})) is None  # 0.5: not allowed
    assert inputs.quick_matrix(signature, [[0.5], [3.5], [1]], types=numbers) is None  # x2 is an integer
    assert inputs.quick_matrix(signature, [[0.5], [3]], types=numbers) is None  # a column short
    assert inputs.quick_matrix(SIGNATURES[2], [[0.5], ["a"]], types=frozenset({str, float})) is None  # strings


# Values around a float's limits: sums of finite ones overflow, and infinities and NaN cancel or stay.
EXTREMES = st.sampled_from([1e308, -1e308, 1.7e308, 10**308, -(10**308), math.inf, -math.inf, math.nan, 0.5, 3])


@SETTINGS
@given(count=st.sampled_from([1, 2, 3, 16]), data=st.data())
def test_a_few_plain_numbers_are_taken_exactly_when_every_one_is_finite(count: int, data: st.DataObject) -> None:
    """For a few rows the quick way judges finiteness by the values' sum first (`_finite_sum`), and
    looks at each value only when the sum is not finite. Taken iff every value is finite, whatever
    the sum does: inf and -inf cancelling to NaN is declined, 1e308 + 1e308 overflowing is taken."""
    signature = SIGNATURES[0]  # three DOUBLE features, no missing values
    columns = [data.draw(st.lists(EXTREMES, min_size=count, max_size=count)) for _ in signature.features]
    quick = inputs.quick_matrix(signature, columns, types=frozenset({int, float}))
    values = [float(value) for column in columns for value in column]
    assert (quick is not None) == all(math.isfinite(value) for value in values)
    if quick is not None:
        assert quick.T.ravel().tolist() == values


def test_finite_values_whose_sum_overflows_are_taken_and_cancelling_infinities_declined() -> None:
    signature, numbers = SIGNATURES[0], frozenset({int, float})
    matrix = inputs.quick_matrix(signature, [[1e308], [1e308], [10**308]], types=numbers)
    assert matrix is not None and matrix.tolist() == [[1e308, 1e308, 1e308]]
    assert inputs.quick_matrix(signature, [[math.inf], [-math.inf], [1.0]], types=numbers) is None  # sum: NaN
    assert inputs.quick_matrix(signature, [[math.nan], [1.0], [1.0]], types=numbers) is None
    assert inputs.quick_matrix(signature, [[10**400], [1.0], [1.0]], types=numbers) is None  # no float holds it
