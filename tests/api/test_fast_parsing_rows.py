"""The quick ways added for the Open Inference face take only what the long way takes, and give the same.

A single 2-D tensor is checked at a glance (`tensors.plain_rows`) instead of through pydantic and
tensor by tensor, and named columns (one tensor per feature, DataRobot tables) are taken whole when
they are exactly the features (`inputs._quick_columns`) instead of column by column. Each quick way
may decline (None), never differ: Hypothesis generates inputs around the common case, valid and not,
and everything a quick way accepts must give what the long way gives.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from champion.api.inference import schemas, tensors
from champion.serving import inputs
from champion.serving.inputs import _columns, _plan, _quick_columns
from tests.api.test_fast_parsing import SIGNATURES, VALUES, outcome

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TENSOR_MUTATIONS: tuple[tuple[str, list[Any]], ...] = (
    ("datatype", ["FP32", "INT64", "BOOL", "BYTES", "FP99", 64]),
    ("shape", [[1, 3], [2, 3], [3, 2], [2, 2], [-1, 3], [True, 3], [2, 3, 1], [6], "2"]),
    ("name", ["x", "x1", "x3", 1]),
    ("data", [[1.0, None, 2, 3, 4, 5], [1.0, True, 2, 3, 4, 5], [[1.0, 2, 3], [4, 5, 6]], [[1.0, 2], [3, 4, 5, 6]]]),
    ("data", [[[1.0, 2, 3], [4, 5, "a"]], [1, 2, 3], [[[1.0], [2], [3]], [4, 5, 6]], [2**63 - 1, 1, 2, 3, 4, 5]]),
    ("parameters", [{}, None]),
    ("extra", [1]),
)


@st.composite
def rows_body(draw: st.DrawFn) -> Any:
    """A valid request with one [2, 3] tensor (flat or one list per row), changed in up to three places."""
    data = draw(st.sampled_from([[0.5, -1, 2, 3.5, 4, 5], [[0.5, -1, 2], [3.5, 4, 5]]]))
    tensor: dict[str, Any] = {"name": "x", "shape": [2, 3], "datatype": "FP64", "data": data}
    body: dict[str, Any] = {"inputs": [tensor]}
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.integers(0, 3)) == 0:
            key = draw(st.sampled_from(["id", "parameters", "outputs", "other", "inputs"]))
            body[key] = draw(st.sampled_from(["req-1", 7, None, {}, [], [{"name": "predict"}], [tensor, tensor]]))
        elif draw(st.integers(0, 5)) == 0:
            tensor.pop(draw(st.sampled_from(sorted(tensor))), None)
        else:
            key, choices = draw(st.sampled_from(TENSOR_MUTATIONS))
            tensor[key] = draw(st.sampled_from(choices))
    return body


@SETTINGS
@given(body=rows_body(), signature=st.sampled_from(SIGNATURES))
def test_plain_rows_agree_with_the_schema_and_tensors(body: Any, signature: Any) -> None:
    body = orjson.loads(orjson.dumps(body))  # as the route reads it
    plain = tensors.plain_rows(signature, body)
    if plain is None:
        return
    rows, request_id = plain
    parsed = schemas.parse(body)  # raises (and fails the test) if the schema refuses what was taken
    assert request_id == parsed.id and parsed.outputs is None
    long = outcome(lambda: tensors.matrix(signature, parsed.inputs))
    assert outcome(lambda: inputs.from_records(signature, None, rows, field="inputs[0]")) == long


def test_the_common_2d_request_takes_the_quick_way() -> None:
    signature = SIGNATURES[0]
    flat = {"id": "r", "inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP64", "data": [1.0, 2, 3, 4, 5, 6]}]}
    assert tensors.plain_rows(signature, flat) == ([[1.0, 2, 3], [4, 5, 6]], "r")
    nested = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [[1.0, 2, 3]]}]}
    assert tensors.plain_rows(signature, nested) == ([[1.0, 2, 3]], None)


COLUMN_NAMES = ("x1", "x2", "x3", "x9")


@st.composite
def named_columns(draw: st.DrawFn) -> Any:
    """Columns named after the features (or not), lists (or not) of one length (or not)."""
    names = draw(st.lists(st.sampled_from(COLUMN_NAMES), min_size=0, max_size=4, unique=True))
    length = draw(st.integers(0, 3))
    columns: dict[str, Any] = {}
    for name in names:
        size = length if draw(st.integers(0, 6)) else draw(st.integers(0, 3))
        column: Any = draw(st.lists(VALUES, min_size=size, max_size=size))
        columns[name] = tuple(column) if draw(st.integers(0, 8)) == 0 else column
        if draw(st.integers(0, 12)) == 0:
            columns[name] = draw(st.sampled_from([None, 1.5, "abc", {"k": 1}]))
    return columns


@SETTINGS
@given(columns=named_columns(), signature=st.sampled_from(SIGNATURES), ignore=st.sampled_from([(), ("x9",)]))
def test_quick_columns_agree_with_the_column_by_column_checks(
    columns: dict[str, Any], signature: Any, ignore: tuple[str, ...]
) -> None:
    plan = _plan(signature)
    quick = _quick_columns(columns, plan)
    if quick is None:
        return
    long = _columns(signature.features, columns, "inputs", frozenset(ignore), plan)  # must not raise
    assert [id(column) for column in quick] == [id(column) for column in long]


def test_the_common_columns_take_the_quick_way() -> None:
    signature = SIGNATURES[0]
    columns: dict[str, list[float | int]] = {"x3": [3.0], "x1": [1.0], "x2": [2]}
    assert _quick_columns(columns, _plan(signature)) == [[1.0], [2], [3.0]]
    assert inputs.from_columns(signature, columns).tolist() == [[1.0, 2.0, 3.0]]
