"""Request rows and columns become the model's input matrix, or an InvalidInput naming the field."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from champion.errors import InvalidInput
from champion.runtimes.base import Feature, FeatureType, Signature, Target, TargetType
from champion.serving import inputs
from champion.serving.inputs import from_columns, from_records

D, INT, S, B = FeatureType.DOUBLE, FeatureType.INTEGER, FeatureType.STRING, FeatureType.BOOLEAN


def signature(*types: FeatureType, allows_missing: bool = False) -> Signature:
    features = tuple(Feature(f"x{k + 1}", t) for k, t in enumerate(types))
    return Signature(features=features, target=Target(TargetType.REGRESSION), allows_missing=allows_missing)


NUMERIC = signature(D, D, D)
FIELDS = ["x1", "x2", "x3"]


def invalid(call: Any, *args: Any, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def no_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any) -> Any:
        raise AssertionError("took the slow path")

    monkeypatch.setattr(inputs, "_convert", fail)


# from_records: shape and order


def test_records_in_signature_order_give_a_float64_matrix() -> None:
    matrix = from_records(NUMERIC, FIELDS, [[1, 2.5, 3], [4.0, 5, 6]])
    assert matrix.dtype == np.float64
    assert matrix.tolist() == [[1.0, 2.5, 3.0], [4.0, 5.0, 6.0]]


def test_fields_in_another_order_give_the_same_matrix() -> None:
    expected = from_records(NUMERIC, FIELDS, [[1, 2, 3], [4, 5, 6]])
    for _ in range(2):  # the second call meets the remembered order
        shuffled = from_records(NUMERIC, ["x3", "x1", "x2"], [[3, 1, 2], [6, 4, 5]])
        assert shuffled.dtype == np.float64
        assert shuffled.tolist() == expected.tolist()


def test_rows_without_fields_are_positional() -> None:
    assert from_records(NUMERIC, None, [[1, 2, 3]]).tolist() == [[1.0, 2.0, 3.0]]
    assert from_records(NUMERIC, None, ((1, 2, 3),)).shape == (1, 3)


def test_plain_numbers_take_the_fast_path(no_slow_path: None) -> None:
    assert from_records(NUMERIC, ["x2", "x3", "x1"], [[2, 3, 1]]).tolist() == [[1.0, 2.0, 3.0]]
    assert from_records(signature(D, INT, B), None, [[0.5, 2.0, 1]]).tolist() == [[0.5, 2.0, 1.0]]


def test_a_large_batch_is_converted_exactly() -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(size=(1000, 3))
    rows = [[int(a * 100), b, c] for a, b, c in data.tolist()]
    matrix = from_records(signature(INT, D, D), ["x3", "x1", "x2"], [[c, a, b] for a, b, c in rows])
    assert matrix.shape == (1000, 3)
    assert np.array_equal(matrix, np.array(rows, dtype=np.float64))


# from_records: fields


def test_a_missing_field_is_named() -> None:
    error = invalid(from_records, NUMERIC, ["x1", "x2"], [[1, 2]])
    assert error.field == "input_data[0].fields"
    assert "missing field 'x3'" in error.message


def test_an_unknown_field_is_named_with_the_fields_the_model_takes() -> None:
    error = invalid(from_records, NUMERIC, ["x1", "x2", "x3", "x9"], [[1, 2, 3, 4]])
    assert error.field == "input_data[0].fields[3]"
    assert "unknown field 'x9'; the model takes x1, x2, x3" in error.message


def test_a_duplicated_field_is_named() -> None:
    error = invalid(from_records, NUMERIC, ["x1", "x2", "x1", "x3"], [[1, 2, 1, 3]])
    assert error.field == "input_data[0].fields[2]"
    assert "duplicate field 'x1'" in error.message


def test_fields_must_be_a_list_of_names() -> None:
    assert invalid(from_records, NUMERIC, "x1", [[1, 2, 3]]).field == "input_data[0].fields"
    error = invalid(from_records, NUMERIC, ["x1", ["x2"], "x3"], [[1, 2, 3]])
    assert error.field == "input_data[0].fields[1]"
    assert "expected a field name, got a list" in error.message


def test_the_field_prefix_is_the_callers() -> None:
    assert invalid(from_records, NUMERIC, ["x1"], [[1]], field="input_data[2]").field == "input_data[2].fields"


# from_records: rows


def test_empty_values_are_rejected() -> None:
    error = invalid(from_records, NUMERIC, FIELDS, [])
    assert error.field == "input_data[0].values"
    assert "must hold at least one row" in error.message


def test_a_row_of_the_wrong_length_is_named() -> None:
    error = invalid(from_records, NUMERIC, FIELDS, [[1, 2, 3], [1, 2]])
    assert error.field == "input_data[0].values[1]"
    assert "expected 3 values, got 2" in error.message


def test_a_positional_row_must_hold_every_feature() -> None:
    error = invalid(from_records, NUMERIC, None, [[1, 2, 3, 4]])
    assert error.field == "input_data[0].values[0]"
    assert "expected 3 values, got 4" in error.message


def test_a_row_must_be_a_list() -> None:
    error = invalid(from_records, NUMERIC, FIELDS, [[1, 2, 3], "123"])
    assert error.field == "input_data[0].values[1]"
    assert "expected a list of 3 values, got '123'" in error.message
    assert invalid(from_records, NUMERIC, FIELDS, {"x1": 1}).field == "input_data[0].values"


def test_a_nested_list_is_not_a_value() -> None:
    error = invalid(from_records, NUMERIC, FIELDS, [[1, [2], 3]])
    assert error.field == "input_data[0].values[0][1]"
    assert "x2: expected a number, got a list" in error.message


# Types


def test_a_string_in_a_numeric_column_is_named() -> None:
    error = invalid(from_records, NUMERIC, FIELDS, [[1, 2, 3], [4, "abc", 6]])
    assert error.field == "input_data[0].values[1][1]"
    assert "x2: expected a number, got 'abc'" in error.message


def test_a_numeric_string_is_not_parsed() -> None:
    error = invalid(from_records, NUMERIC, FIELDS, [[1, "1.5", 3]])
    assert error.field == "input_data[0].values[0][1]"
    assert "x2: expected a number, got '1.5'" in error.message


def test_a_bool_in_a_double_column_is_rejected() -> None:
    rows = [[1.0, 2.0, 3.0]] * 50 + [[1.0, True, 3.0]]
    assert np.asarray(rows, dtype=np.float64).shape == (51, 3)  # numpy alone would take it
    error = invalid(from_records, NUMERIC, FIELDS, rows)
    assert error.field == "input_data[0].values[50][1]"
    assert "x2: expected a number, got true" in error.message


def test_the_error_index_is_the_position_in_the_callers_row() -> None:
    error = invalid(from_records, NUMERIC, ["x3", "x1", "x2"], [[3, 1, 2], ["c", 4, 5]])
    assert error.field == "input_data[0].values[1][0]"
    assert "x3: expected a number, got 'c'" in error.message


def test_the_first_bad_value_is_reported() -> None:
    error = invalid(from_records, NUMERIC, FIELDS, [[1, 2, "late"], ["early", 2, 3]][::-1])
    assert error.field == "input_data[0].values[0][0]"


def test_an_integer_feature_takes_integral_numbers() -> None:
    ints = signature(D, INT)
    assert from_records(ints, None, [[0.5, 1.0], [0.5, 2]]).tolist() == [[0.5, 1.0], [0.5, 2.0]]
    error = invalid(from_records, ints, None, [[0.5, 1.0], [0.5, 1.5]])
    assert error.field == "input_data[0].values[1][1]"
    assert "x2: expected an integer, got 1.5" in error.message


def test_a_boolean_feature_takes_true_false_0_and_1() -> None:
    flags = signature(B, D)
    assert from_records(flags, None, [[True, 1.0], [False, 2.0], [1, 3.0], [0.0, 4.0]])[:, 0].tolist() == [1, 0, 1, 0]
    for bad, shown in ((2, "2"), ("true", "'true'")):
        error = invalid(from_records, flags, None, [[True, 1.0], [bad, 2.0]])
        assert error.field == "input_data[0].values[1][0]"
        assert f"x1: expected true or false (or 0 or 1), got {shown}" in error.message


def test_infinity_is_rejected() -> None:
    for sig in (NUMERIC, signature(D, D, D, allows_missing=True)):
        error = invalid(from_records, sig, FIELDS, [[1, math.inf, 3]])
        assert error.field == "input_data[0].values[0][1]"
        assert "x2: expected a finite number, got inf" in error.message
    assert "x1: expected a finite number" in invalid(from_records, NUMERIC, None, [[10**400, 2, 3]]).message


# Missing values


def test_a_missing_value_is_rejected_when_the_model_cannot_take_it() -> None:
    for gap in (None, math.nan):
        error = invalid(from_records, NUMERIC, FIELDS, [[1, 2, 3], [4, gap, 6]])
        assert error.field == "input_data[0].values[1][1]"
        assert "x2 is missing, and this model cannot take missing values" in error.message


def test_a_missing_value_becomes_nan_when_the_model_takes_it() -> None:
    sig = signature(D, INT, B, allows_missing=True)
    matrix = from_records(sig, None, [[None, None, None], [math.nan, 2, True]])
    assert matrix.dtype == np.float64
    assert np.isnan(matrix[0]).all()
    assert np.isnan(matrix[1, 0]) and matrix[1, 1:].tolist() == [2.0, 1.0]


# Strings: an object matrix


def test_a_string_feature_gives_an_object_matrix() -> None:
    sig = signature(D, S, INT, B)
    matrix = from_records(sig, ["x2", "x1", "x3", "x4"], [["red", 1, 2.0, True], ["blue", 0.5, 3, 0]])
    assert matrix.dtype == object and matrix.shape == (2, 4)
    assert matrix.tolist() == [[1.0, "red", 2, True], [0.5, "blue", 3, False]]
    assert [type(v) for v in matrix[0]] == [float, str, int, bool]


def test_a_number_in_a_string_column_is_rejected_not_converted() -> None:
    # str(1.0) is "1.0", not the "1" a model may have learned: an error beats a silent miss.
    error = invalid(from_records, signature(D, S), None, [[1.0, "a"], [2.0, 1.0]])
    assert error.field == "input_data[0].values[1][1]"
    assert "x2: expected a string, got 1.0" in error.message


def test_a_missing_string_follows_the_models_rule() -> None:
    error = invalid(from_records, signature(D, S), None, [[1.0, None]])
    assert "x2 is missing, and this model cannot take missing values" in error.message
    matrix = from_records(signature(D, S, allows_missing=True), None, [[1.0, None]])
    assert matrix.dtype == object and math.isnan(matrix[0, 1])


# from_columns


def test_columns_give_the_matrix_in_signature_order(no_slow_path: None) -> None:
    matrix = from_columns(NUMERIC, {"x3": [3, 6], "x1": [1, 4], "x2": [2.0, 5.0]})
    assert matrix.dtype == np.float64 and matrix.flags.c_contiguous
    assert matrix.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_columns_with_a_string_feature_give_an_object_matrix() -> None:
    matrix = from_columns(signature(S, INT), {"x1": ["a", "b"], "x2": [1.0, 2]})
    assert matrix.dtype == object
    assert matrix.tolist() == [["a", 1], ["b", 2]]


def test_a_missing_column_is_named() -> None:
    error = invalid(from_columns, NUMERIC, {"x1": [1], "x2": [2]})
    assert error.field == "inputs.x3"
    assert "missing input 'x3'" in error.message


def test_an_unknown_column_is_named() -> None:
    error = invalid(from_columns, NUMERIC, {"x1": [1], "x2": [2], "x3": [3], "x9": [4]})
    assert error.field == "inputs.x9"
    assert "unknown input 'x9'; the model takes x1, x2, x3" in error.message


def test_columns_of_unequal_length_are_named() -> None:
    error = invalid(from_columns, NUMERIC, {"x1": [1, 2], "x2": [2], "x3": [3, 4]})
    assert error.field == "inputs.x2"
    assert "has 1 values but x1 has 2" in error.message


def test_a_column_must_be_a_non_empty_list() -> None:
    assert "expected a list of values" in invalid(from_columns, NUMERIC, {"x1": [1], "x2": 2, "x3": [3]}).message
    error = invalid(from_columns, NUMERIC, {"x1": [], "x2": [], "x3": []})
    assert error.field == "inputs.x1"
    assert "must hold at least one value" in error.message
    assert invalid(from_columns, NUMERIC, [[1, 2, 3]]).field == "inputs"


def test_a_bad_value_in_a_column_is_named() -> None:
    error = invalid(from_columns, NUMERIC, {"x1": [1, 2], "x2": [2, "abc"], "x3": [3, 4]}, field="in")
    assert error.field == "in.x2[1]"
    assert "x2: expected a number, got 'abc'" in error.message
    error = invalid(from_columns, NUMERIC, {"x1": [1, 2], "x2": [2, False], "x3": [3, 4]})
    assert error.field == "inputs.x2[1]"
    assert "x2: expected a number, got false" in error.message


# Retired fields: accepted and dropped


def test_an_ignored_field_is_accepted_and_dropped() -> None:
    retired = frozenset({"old"})
    expected = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    rows = [[3, 9, 1, 2], [6, 9, 4, 5]]
    assert from_records(NUMERIC, ["x3", "old", "x1", "x2"], rows, ignore=retired).tolist() == expected
    # A string in the dropped column sends the batch down the slow path, which drops it too.
    mixed: list[list[Any]] = [[3, "gone", 1, 2], [6, None, 4, 5]]
    assert from_records(NUMERIC, ["x3", "old", "x1", "x2"], mixed, ignore=retired).tolist() == expected
    error = invalid(from_records, NUMERIC, ["x1", "x2", "x3", "old"], [[1, 2, 3, 4]])
    assert error.field == "input_data[0].fields[3]"
    assert "unknown field 'old'" in error.message


def test_an_ignored_field_does_not_stand_in_for_a_missing_one() -> None:
    error = invalid(from_records, NUMERIC, ["x1", "x2", "old"], [[1, 2, 3]], ignore=frozenset({"old"}))
    assert error.field == "input_data[0].fields"
    assert "missing field 'x3'" in error.message


def test_an_ignored_column_is_accepted_and_dropped() -> None:
    columns: dict[str, list[Any]] = {"x1": [1], "x2": [2], "x3": [3], "old": ["anything", "of any length"]}
    assert from_columns(NUMERIC, columns, ignore=frozenset({"old"})).tolist() == [[1.0, 2.0, 3.0]]
    assert invalid(from_columns, NUMERIC, columns).field == "inputs.old"
