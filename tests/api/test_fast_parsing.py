"""The prediction faces' quick parsing takes only what the long way takes, and builds the same matrix.

Open Inference per-feature tensors are checked in one pass (`tensors.plain_columns`) instead of
through pydantic and tensor by tensor; DataRobot tables are built row by row (`predict_input._by_rows`)
instead of column by column. Each quick way may decline (None), never differ: Hypothesis generates
bodies around the common case, valid and not, and every one the quick way accepts must give what
the long way gives: the same matrix, or the same error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from champion.api.datarobot import predict_input
from champion.api.inference import schemas, tensors
from champion.errors import InvalidInput
from champion.runtimes.base import Feature, FeatureType, Signature, Target, TargetType

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TARGET = Target(TargetType.BINARY, (0, 1))
SIGNATURES = (
    Signature(tuple(Feature(n, FeatureType.DOUBLE) for n in ("x1", "x2", "x3")), TARGET),
    Signature(
        (Feature("x1", FeatureType.DOUBLE), Feature("x2", FeatureType.INTEGER), Feature("x3", FeatureType.BOOLEAN)),
        TARGET,
        allows_missing=True,
    ),
    Signature((Feature("x1", FeatureType.DOUBLE), Feature("x2", FeatureType.STRING)), TARGET, allows_missing=True),
)
NAMES = ("x1", "x2", "x3", "x9")
VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(-3, 3),
    st.sampled_from([None, True, False, "a", 2**63 - 1, -(2**63), [1.0], {"k": 1}]),
)


def outcome(build: Callable[[], np.ndarray]) -> tuple[str, Any]:
    """What building gives: the matrix (as comparable values and dtype) or the error's message."""
    try:
        matrix = build()
    except InvalidInput as error:
        return "error", error.message
    return "matrix", (matrix.dtype.kind, matrix.shape, [[_same(v) for v in row] for row in matrix.tolist()])


def _same(value: Any) -> Any:
    return "nan" if isinstance(value, float) and value != value else value


# -- Open Inference: per-feature tensors ---------------------------------------------------------


MUTATIONS = (
    ("datatype", ["FP32", "INT64", "INT8", "BOOL", "BYTES", "FP99", 64]),
    ("shape", [[1], [2, 1], [3], [-1], [True], [2, 1, 1], "2"]),
    ("name", ["x1", "x9", 1]),
    ("data", [[1.0, None], [1.0, True], [1.0, "a"], [1, 2], [[1.0], [2.0]], [1.0], [2**63 - 1, 1.5], "ab"]),
    ("parameters", [{}, None, 1]),
    ("extra", [1]),
)


@st.composite
def inference_body(draw: st.DrawFn) -> Any:
    """A valid two-row request, changed in up to three places (a tensor's field or the request's)."""
    names = draw(st.permutations(["x1", "x2", "x3"]))
    items: list[dict[str, Any]] = [{"name": n, "shape": [2], "datatype": "FP64", "data": [0.5, -1]} for n in names]
    body: dict[str, Any] = {"inputs": items}
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(-1, len(items) - 1))
        if where < 0:
            key = draw(st.sampled_from(["id", "parameters", "outputs", "other", "inputs"]))
            body[key] = draw(st.sampled_from(["req-1", 7, None, {}, [], [{"name": "predict"}]]))
            continue
        key, choices = draw(st.sampled_from(MUTATIONS))
        if draw(st.integers(0, 5)) == 0:
            items[where].pop(draw(st.sampled_from(sorted(items[where]))), None)
        else:
            items[where][key] = draw(st.sampled_from(choices))
    return body


@SETTINGS
@given(body=inference_body(), signature=st.sampled_from(SIGNATURES))
def test_plain_columns_agree_with_the_schema_and_tensors(body: Any, signature: Signature) -> None:
    body = orjson.loads(orjson.dumps(body))  # as the route reads it
    plain = tensors.plain_columns(body)
    if plain is None:
        return
    columns, request_id = plain
    parsed = schemas.parse(body)  # raises (and fails the test) if the schema refuses what was taken
    assert request_id == parsed.id and parsed.outputs is None
    long = outcome(lambda: tensors.matrix(signature, parsed.inputs))
    assert outcome(lambda: tensors.columns_matrix(signature, columns)) == long


def test_the_common_request_takes_the_quick_way() -> None:
    body = {"id": "r", "inputs": [{"name": n, "shape": [2], "datatype": "FP64", "data": [1.0, 2]} for n in NAMES[:3]]}
    plain = tensors.plain_columns(body)
    assert plain == ({"x1": [1.0, 2], "x2": [1.0, 2], "x3": [1.0, 2]}, "r")


# -- DataRobot: JSON records and CSV ----------------------------------------------------------------


@st.composite
def json_table(draw: st.DrawFn) -> predict_input.Table:
    keys = st.sampled_from(NAMES)
    records = draw(st.lists(st.dictionaries(keys, VALUES, min_size=2, max_size=4), min_size=1, max_size=4))
    return predict_input._records(orjson.dumps(records))


CELLS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.integers(-3, 3).map(str),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1_0", " 2 ", "true", "False", "abc", "1e400", "0x1"]),
)


@st.composite
def csv_table(draw: st.DrawFn) -> predict_input.Table:
    header = draw(st.permutations(NAMES))
    rows = draw(st.lists(st.lists(CELLS, min_size=4, max_size=4), min_size=1, max_size=4))
    text = "\n".join(",".join(row) for row in [header, *rows]) + "\n"
    return predict_input._csv(text.encode(), None)


@SETTINGS
@given(table=st.one_of(json_table(), csv_table()), signature=st.sampled_from(SIGNATURES))
def test_rows_agree_with_columns(table: predict_input.Table, signature: Signature) -> None:
    if any(f.name not in table.names for f in signature.features):
        return  # refused before either way is taken
    quick = predict_input._by_rows(signature, table)
    if quick is None:
        return
    assert outcome(lambda: quick) == outcome(lambda: predict_input._by_columns(signature, table))


def test_numeric_json_and_csv_take_the_quick_way() -> None:
    signature = SIGNATURES[0]
    table = predict_input._records(b'[{"x1": 1.5, "x2": 2, "x3": -1, "id": "a"}]')
    assert predict_input._by_rows(signature, table) is not None
    table = predict_input._csv(b"id,x3,x2,x1\na,3,2,1.5\n", None)
    np.testing.assert_array_equal(predict_input._by_rows(signature, table), [[1.5, 2.0, 3.0]])
