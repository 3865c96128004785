"""The Open Inference face's quickest way, one tensor per feature in the features' order, takes only
what the long way takes and gives what it gives; and a request's body is gone before its prediction
is awaited.

`tensors.feature_matrix` compares the tensors' names with the features' in one go and builds the
matrix without a dict of columns (`inputs.quick_matrix`). It may decline (None), never differ:
Hypothesis generates bodies around the common case, valid and not (bools, strings, NaN and
infinities, wrong shapes and lengths, extra keys, tensors out of order or no objects at all), and
every body it takes must give the long way's matrix and id. The whole ladder the route climbs
(`infer._request`: this way, then `plain_columns`, `plain_rows`, then pydantic) must give the long
way's answer or its very error (message and field) for every body.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from champion.api.inference import infer, render, schemas, tensors
from champion.deployments import scoring
from champion.errors import InvalidInput
from champion.runtimes.base import Feature, FeatureType, Framework, Signature
from champion.serving import inputs
from champion.serving.engine import Answer, DeploymentView, VersionRef
from tests.api.test_fast_parsing import SIGNATURES
from tests.api.test_fast_parsing_rows import rows_body
from tests.api.test_inference import columns_body, deployed, outputs
from tests.api.test_wml_routes import Server, serving
from tests.model_files import ModelFiles

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROW_LIMIT = 5

VALUES = st.one_of(
    st.floats(width=32),  # NaN and infinities too: the route never sees them, but nothing here may rely on it
    st.integers(-3, 3),
    st.sampled_from([None, True, False, "a", "1.5", 2**63 - 1, 2**64, 10**400, [1.0], {"k": 1}]),
)
DATATYPES = ["FP64", "FP32", "FP16", "INT64", "INT8", "UINT8", "BOOL", "BYTES", "FP99", 64, None, ["FP64"]]


def _plain_value(feature: Feature, draw: st.DrawFn) -> Any:
    if feature.type is FeatureType.INTEGER:
        return draw(st.integers(-5, 5))
    if feature.type is FeatureType.BOOLEAN:
        return draw(st.integers(0, 1))
    if feature.type is FeatureType.STRING:
        return "a"
    return draw(st.floats(-10, 10) | st.integers(-5, 5))


@st.composite
def feature_tensors(draw: st.DrawFn, signature: Signature) -> Any:
    """A request of one tensor per feature, in order, valid for the route's checks (the model's may
    refuse a value), changed in up to three places."""
    count = draw(st.integers(0, 3))
    items: list[Any] = [
        {
            "name": f.name,
            "shape": [count],
            "datatype": "FP64",
            "data": [_plain_value(f, draw) for _ in range(count)],
        }
        for f in signature.features
    ]
    body: dict[str, Any] = {"inputs": items}
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(0, len(items) - 1))
        change = draw(st.integers(0, 9))
        if change == 0:  # the request's own fields
            key = draw(st.sampled_from(["id", "parameters", "outputs", "other", "inputs"]))
            body[key] = draw(
                st.sampled_from(["req-1", 7, None, {}, [], [{"name": "predict"}], [{"name": "explain"}], "x"])
            )
        elif change == 1:  # the tensors' order and number
            other = draw(st.integers(0, len(items) - 1))
            how = draw(st.sampled_from(["swap", "twice", "drop"]))
            if how == "swap":
                items[where], items[other] = items[other], items[where]
            elif how == "twice":
                items.append(items[other])
            elif len(items) > 1:
                items.pop(where)
        elif change == 2:  # a tensor that is no object
            items[where] = draw(st.sampled_from([[], "x1", None, 1, [items[where]]]))
        elif type(items[where]) is not dict:
            continue
        elif change == 3:  # a field too many or too few
            key = draw(st.sampled_from(["parameters", "extra", "name", "shape", "datatype", "data"]))
            if key in items[where]:
                del items[where][key]
            else:
                items[where][key] = draw(st.sampled_from([{}, None, 1]))
        elif change == 4:
            items[where]["datatype"] = draw(st.sampled_from(DATATYPES))
        elif change == 5:
            shapes = [[count], [count, 1], [count + 1], [0], [-1], [True], [1.0], [float(count)], "1", [[count]], []]
            items[where]["shape"] = draw(st.sampled_from(shapes))
        elif change == 6:
            names = [*(f.name for f in signature.features), "x9", 1, None, ["x1"]]
            items[where]["name"] = draw(st.sampled_from(names))
        elif change == 7:  # other values, as many or not
            size = count if draw(st.booleans()) else draw(st.integers(0, 3))
            items[where]["data"] = draw(st.lists(VALUES, min_size=size, max_size=size))
        elif change == 8:
            data = items[where].get("data")
            nested = [[value] for value in data] if type(data) is list else data
            items[where]["data"] = draw(st.sampled_from(["ab", {}, None, [], nested]))
        else:  # one value of another type (or NaN, or an infinity)
            data = items[where].get("data")
            if type(data) is list and data:
                data[draw(st.integers(0, len(data) - 1))] = draw(VALUES)
    return body


@st.composite
def signature_and_body(draw: st.DrawFn) -> tuple[Signature, Any]:
    signature = draw(st.sampled_from(SIGNATURES))
    return signature, draw(feature_tensors(signature))


def outcome(build: Callable[[], tuple[np.ndarray, str | None, list[str] | None]]) -> tuple[str, Any]:
    """What a way gives: the matrix (as comparable values and dtype), id and outputs, or the error."""
    try:
        matrix, request_id, names = build()
    except InvalidInput as error:
        return "error", (error.message, error.field)
    values = [[_same(v) for v in row] for row in matrix.tolist()]
    return "matrix", (matrix.dtype.kind, matrix.shape, values, request_id, names)


def _same(value: Any) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def long_way(
    signature: Signature, body: Any, ignore: frozenset[str]
) -> tuple[np.ndarray, str | None, list[str] | None]:
    """What the route did before any quick way: pydantic, then the tensors one by one."""
    parsed = schemas.parse(body)
    names = render.wanted(signature, parsed.outputs)
    rows = tensors.matrix(signature, parsed.inputs, ignore=ignore)
    inputs.check_row_count(len(rows), limit=ROW_LIMIT, field="inputs")
    return rows, parsed.id, names


def view_of(signature: Signature, ignore: frozenset[str] = frozenset()) -> DeploymentView:
    ref = VersionRef("version", "model", 1, Framework.SKLEARN, "sha", signature)
    return DeploymentView("d", "s", "dep", "online", "ready", None, ref, True, False, retired_fields=ignore)


@SETTINGS
@given(case=signature_and_body())
def test_feature_matrix_agrees_with_the_long_way(case: tuple[Signature, Any]) -> None:
    signature, body = case
    quick = tensors.feature_matrix(signature, body)
    if quick is None:
        return
    rows, request_id = quick
    long = long_way(signature, body, frozenset())  # raises (and fails the test) if the long way refuses it
    assert outcome(lambda: (rows, request_id, None)) == outcome(lambda: long)


@SETTINGS
@given(
    case=signature_and_body() | st.tuples(st.sampled_from(SIGNATURES), rows_body()),
    ignore=st.sampled_from([frozenset(), frozenset({"x9"})]),
)
def test_the_route_gives_the_long_ways_answer_or_error(case: tuple[Signature, Any], ignore: frozenset[str]) -> None:
    """Per-feature tensors and single 2-D tensors, each changed in a few places."""
    signature, body = case
    view = view_of(signature, ignore)
    route = outcome(lambda: infer._request(body, view, limit=ROW_LIMIT))
    assert route == outcome(lambda: long_way(signature, body, ignore))


def test_the_common_request_takes_the_quickest_way() -> None:
    signature = SIGNATURES[1]  # DOUBLE, INTEGER, BOOLEAN; missing values allowed
    data = {"x1": [0.5, None], "x2": [3, 4], "x3": [1, 0]}
    body = {"id": "r", "inputs": [{"name": n, "shape": [2], "datatype": "FP64", "data": d} for n, d in data.items()]}
    quick = tensors.feature_matrix(signature, body)
    assert quick is not None
    np.testing.assert_array_equal(quick[0], [[0.5, 3.0, 1.0], [math.nan, 4.0, 0.0]])
    assert quick[1] == "r"
    integers = {"inputs": [{"name": n, "shape": [1], "datatype": "INT64", "data": [1]} for n in data]}
    assert tensors.feature_matrix(signature, integers) is not None


@pytest.mark.parametrize(
    "change",
    [
        lambda items: items.reverse(),  # out of order: plain_columns takes it by name
        lambda items: items[0].update(parameters={}),
        lambda items: items[1].update(datatype="FP32"),  # two datatypes
        lambda items: items[1].update(data=[1.5]),  # INT64 holds integers
        lambda items: items[2].update(shape=[True]),
    ],
)
def test_anything_else_goes_a_longer_way(change: Callable[[list[dict[str, Any]]], None]) -> None:
    items: list[dict[str, Any]] = [
        {"name": n, "shape": [1], "datatype": "INT64", "data": [1]} for n in inputs.feature_order(SIGNATURES[1])
    ]
    change(items)
    assert tensors.feature_matrix(SIGNATURES[1], {"inputs": items}) is None


# -- the route: the body's objects are gone while the prediction is awaited --------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("oip-quick-home"), "alice") as server:
        yield server


def test_the_body_is_dropped_before_the_prediction_is_awaited(
    server: Server, model_files: ModelFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held by every request in flight, a body's dict and two lists per tensor outlive the
    collector's young generations and bring on full collections (bench: 1 row, c32)."""
    space = server.call("POST", "/v2/spaces", json={"name": "quick"}).json()["metadata"]["id"]
    deployment_id, _ = deployed(server, space, model_files.classifier_named.read_bytes(), "clf")
    marker = "body-under-watch"
    alive: list[int] = []
    predict = scoring.predict

    async def watching(*args: Any, **kwargs: Any) -> Answer:
        gc.collect()
        alive.append(sum(1 for o in gc.get_objects() if type(o) is dict and o.get("id") == marker))
        return await predict(*args, **kwargs)

    monkeypatch.setattr(scoring, "predict", watching)
    content = orjson.dumps({"id": marker, **columns_body()})  # bytes: the test itself holds no such dict
    response = server.call(
        "POST", f"/v2/models/{deployment_id}/infer", content=content, headers={"Content-Type": "application/json"}
    )
    assert outputs(response) and response.json()["id"] == marker
    assert alive == [0]
