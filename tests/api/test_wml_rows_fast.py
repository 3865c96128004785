"""A WML scoring body of plain numbers is read by simdjson straight into its matrix (`numeric_body`).

The quick way may decline (None), never differ: Hypothesis writes bodies around the common one, as
text (so that a key may be given twice and numbers written in every JSON form), valid and not, and
for every one the route's parsing (`scoring._parse`) must give what the long way gives, orjson and
the schema and `inputs.from_records`: the same matrix to the bit, or the same error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request

from champion.api.body import loads, read_bytes, refuse_declared
from champion.api.wml import numeric_body, scoring
from champion.errors import InvalidInput, PayloadTooLarge
from champion.runtimes.base import Feature, FeatureType, Framework, Signature
from champion.serving.engine import DeploymentView, VersionRef
from tests.api.test_fast_parsing import SIGNATURES, TARGET

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_ROWS = 3
RETIRED = frozenset({"x0"})
NAMES = ("x1", "x2", "x3", "x0", "x9", "x[1]")
WIDE = Signature(tuple(Feature(f"f{i}", FeatureType.DOUBLE) for i in range(20)), TARGET)

# JSON numbers as a client may write them: the same value in several forms, and those near the edges
# of a float64 (subnormal, past the largest, more digits than it holds) and of a 64-bit integer.
NUMBER_TEXT = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][-+]?[0-9]{1,2})?", fullmatch=True),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: orjson.dumps(x).decode()),
    st.integers(-(2**64), 2**64).map(str),
    st.sampled_from(
        [
            "-0", "-0.0", "0e0", "1E2", "1e-400", "1e400", "-1e400", "4.9e-324", "2.2250738585072011e-308",
            "1.7976931348623157e308", "1.7976931348623159e308", "9007199254740993", "9223372036854775807",
            "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
            "18446744073709551616", "123456789012345678901234567890", "0.1000000000000000055511151231257827",
        ]
    ),
)  # fmt: skip
OTHER_TEXT = st.sampled_from(["true", "false", "null", '"1.5"', '"a"', "[1.5]", "[]", "[[2]]", '{"v":1}', "NaN"])
SPACE = st.sampled_from(["", "", "", " ", "\n\t "])
FAULTS = (
    "a value of another kind", "a row of another length", "a row that is no array", "one row too many",
    "other fields", "no fields", "null fields", "fields of numbers", "a field of a string", "another key in the block",
    "a block key twice", "two blocks", "another key at the top", "a top key twice", "damaged text",
)  # fmt: skip


def _array(draw: st.DrawFn, items: list[str]) -> str:
    space = draw(SPACE)
    return "[" + space + ("," + space).join(items) + space + "]"


def _object(draw: st.DrawFn, pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{orjson.dumps(key).decode()}:{draw(SPACE)}{value}" for key, value in pairs) + "}"


@st.composite
def body_text(draw: st.DrawFn) -> bytes:
    """A WML scoring body of one block of numeric rows under the features' names (in any order, perhaps
    with a retired field), with none, one or two faults."""
    faults = draw(st.lists(st.sampled_from(FAULTS), max_size=2)) if draw(st.integers(0, 2)) else []
    names = draw(st.permutations(NAMES[:4] if draw(st.booleans()) else NAMES[:3]))
    if "other fields" in faults:
        names = draw(st.lists(st.sampled_from(NAMES), max_size=5))
    count = draw(st.integers(1, MAX_ROWS)) + ("one row too many" in faults)
    cells = [[draw(NUMBER_TEXT) for _ in names] for _ in range(count)]
    if "a value of another kind" in faults and names:
        cells[draw(st.integers(0, count - 1))][draw(st.integers(0, len(names) - 1))] = draw(OTHER_TEXT)
    if "a row of another length" in faults:
        cells[draw(st.integers(0, count - 1))] = [draw(NUMBER_TEXT) for _ in range(draw(st.integers(0, 5)))]
    rows = [_array(draw, row) for row in cells]
    if "a row that is no array" in faults:
        rows[draw(st.integers(0, count - 1))] = draw(st.one_of(NUMBER_TEXT, OTHER_TEXT))
    fields = _array(draw, [orjson.dumps(name).decode() for name in names])
    fields = "[1, 2, 3]" if "fields of numbers" in faults else '"x1"' if "a field of a string" in faults else fields
    block = [("values", _array(draw, rows))]
    if "no fields" not in faults:
        block.append(("fields", "null" if "null fields" in faults else fields))
    if "another key in the block" in faults:
        block.append(("id", '"b"'))
    if "a block key twice" in faults:
        block.append(draw(st.sampled_from(block)))
    blocks = [_object(draw, draw(st.permutations(block)))]
    if "two blocks" in faults:
        blocks.append(blocks[0])
    top = [("input_data", _array(draw, blocks))]
    if "another key at the top" in faults:
        top.append(draw(st.sampled_from([("scoring_parameters", "{}"), ("scoring_parameters", "null"), ("x", "1")])))
    if "a top key twice" in faults:
        top.append(("input_data", draw(st.sampled_from(["[]", top[0][1]]))))
    text = _object(draw, draw(st.permutations(top)))
    if "damaged text" in faults:
        text = draw(
            st.sampled_from([text + "x", text[:-1], "[" + text + "]", text.replace(":", "", 1), "\ufeff" + text])
        )
    return (draw(SPACE) + text + draw(SPACE)).encode()


def view_of(signature: Signature) -> DeploymentView:
    version = VersionRef("v1", "m1", 1, Framework.SKLEARN, "0" * 64, signature)
    return DeploymentView("d1", "s1", "dep", "online", "ready", None, version, True, False, retired_fields=RETIRED)


def outcome(parse: Any) -> tuple[Any, ...]:
    """What parsing gives: the matrix (its dtype, shape and bytes; values for an object matrix) or the error."""
    try:
        blocks, association_ids = parse()
    except InvalidInput as error:
        return type(error).__name__, error.message, error.field
    assert association_ids is None
    return tuple(
        (m.dtype.str, m.shape, m.tobytes() if m.dtype != object else repr(m.tolist())) for m in blocks
    )  # fmt: skip


def the_long_way(view: DeploymentView, body: bytes) -> tuple[Any, ...]:
    return outcome(lambda: scoring._parse_payload(view, loads(body), MAX_ROWS))


# Found by Hypothesis: simdjson skips a byte order mark, orjson refuses it.
BYTE_ORDER_MARK_BODY = b'\xef\xbb\xbf{"input_data":[{"values":[[0,0,0,0.0],[0,0,0,0]],"fields":["x1","x2","x3","x0"]}]}'


@SETTINGS
@given(body=body_text(), signature=st.sampled_from(SIGNATURES))
@example(body=BYTE_ORDER_MARK_BODY, signature=SIGNATURES[0])
def test_the_route_gives_what_the_long_way_gives(body: bytes, signature: Signature) -> None:
    view = view_of(signature)
    assert outcome(lambda: scoring._parse(view, body, MAX_ROWS)) == the_long_way(view, body)


@SETTINGS
@given(body=body_text())
@example(body=BYTE_ORDER_MARK_BODY)
def test_what_the_quick_way_takes_is_the_long_ways_matrix(body: bytes) -> None:
    signature = SIGNATURES[0]  # every feature a double: the quick way's case
    quick = numeric_body.matrix(signature, body, max_rows=MAX_ROWS, ignore=RETIRED)
    if quick is None:
        return
    long = the_long_way(view_of(signature), body)
    assert long == ((quick.dtype.str, quick.shape, quick.tobytes()),)
    assert quick.flags.writeable


def numbers(rows: int, width: int = 3) -> list[list[float]]:
    return np.round(np.random.default_rng(7).normal(size=(rows, width)), 6).tolist()


@pytest.mark.parametrize(
    "body",
    [
        {"input_data": [{"fields": ["x1", "x2", "x3"], "values": numbers(2)}]},
        {"input_data": [{"fields": ["x3", "x1", "x2"], "values": numbers(3)}]},
        {"input_data": [{"values": numbers(1)}]},
        {"input_data": [{"fields": None, "values": [[1, 2, 3], [-4, 5, 18446744073709551615]]}]},
        {"input_data": [{"fields": ["x1", "x0", "x2", "x3"], "values": numbers(2, 4)}]},  # x0 retired
    ],
)
def test_plain_bodies_take_the_quick_way(body: dict[str, Any]) -> None:
    text = orjson.dumps(body)
    quick = numeric_body.matrix(SIGNATURES[0], text, max_rows=MAX_ROWS, ignore=RETIRED)
    assert quick is not None
    assert the_long_way(view_of(SIGNATURES[0]), text) == ((quick.dtype.str, quick.shape, quick.tobytes()),)


def test_escaped_field_names_are_read_as_the_long_way_reads_them() -> None:
    text = rb'{"input_data": [{"fields": ["x\u0031", "x2", "\u0078\u0033"], "values": [[1, 2.5, 3]]}]}'
    quick = numeric_body.matrix(SIGNATURES[0], text, max_rows=MAX_ROWS)
    assert quick is not None and quick.tolist() == [[1.0, 2.5, 3.0]]
    assert the_long_way(view_of(SIGNATURES[0]), text) == ((quick.dtype.str, quick.shape, quick.tobytes()),)


def test_a_hundred_rows_of_twenty_take_the_quick_way() -> None:
    """The bench's request (bench/run.py write_bodies)."""
    values = numbers(100, 20)
    text = orjson.dumps({"input_data": [{"fields": [f"f{i}" for i in range(20)], "values": values}]})
    quick = numeric_body.matrix(WIDE, text, max_rows=100)
    assert quick is not None and quick.tolist() == values


@pytest.mark.parametrize(
    "text",
    [
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, [2], 3]]}]}',  # flattened alike
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3], [4, 5, 6, [7]]]}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3, 4], [5, 6]]}]}',  # six values
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, true]]}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, null]]}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, "3"]]}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 1e400]]}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 18446744073709551616]]}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3]], "values": [[4, 5, 6]]}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3]]}], "input_data": []}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3]]}], "scoring_parameters": {}}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3]], "id": "b"}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3]]}, {"values": [[1, 2, 3]]}]}',
        b'{"input_data": [{"fields": ["x1", "x2", "x9"], "values": [[1, 2, 3]]}]}',  # unknown field
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3]]}]} x',
        b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], '
        b"[1, 2, 3]]}]}",  # one row more than MAX_ROWS
    ],
)
def test_anything_else_is_declined(text: bytes) -> None:
    assert numeric_body.matrix(SIGNATURES[0], text, max_rows=MAX_ROWS, ignore=RETIRED) is None


@pytest.mark.parametrize(
    "text",
    [b"", b" ", b"\x00", b'{"input_data": [{"values": ' + b"[" * 5000 + b"]" * 5000 + b"}]}", b"[" * 100_000],
)
def test_empty_and_deeply_nested_bodies_are_declined_and_refused_as_before(text: bytes) -> None:
    assert numeric_body.matrix(SIGNATURES[0], text, max_rows=MAX_ROWS) is None
    view = view_of(SIGNATURES[0])
    assert outcome(lambda: scoring._parse(view, text, MAX_ROWS)) == the_long_way(view, text)


def test_a_signature_with_strings_or_checks_declined_values_the_long_way() -> None:
    text = b'{"input_data": [{"fields": ["x1", "x2"], "values": [[1, 2]]}]}'
    assert numeric_body.matrix(SIGNATURES[2], text, max_rows=MAX_ROWS) is None  # a string feature
    integral = b'{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1.5, 2.5, 1]]}]}'
    assert numeric_body.matrix(SIGNATURES[1], integral, max_rows=MAX_ROWS) is None  # x2 is an INTEGER
    error = the_long_way(view_of(SIGNATURES[1]), integral)
    assert error == (
        "InvalidInput",
        "input_data[0].values[0][1]: x2: expected an integer, got 2.5",
        "input_data[0].values[0][1]",
    )


# -- reading the body as bytes (body.read_bytes, as read_json read it over Request.stream) --------------


async def read_json_by_stream(request: Request, *, limit: int) -> Any:
    """`read_json` as it was, over `Request.stream`: the reference."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes", field="body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes", field="body")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", field="body") from None


async def read_bytes_as_the_route_does(request: Request, *, limit: int) -> bytes:
    refuse_declared(request.headers.get("content-length"), limit=limit)
    return await read_bytes(request, limit=limit)


def _request(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    pending = iter(messages)

    async def receive() -> dict[str, Any]:
        return next(pending)

    return Request(
        {"type": "http", "method": "POST", "headers": headers or [], "path": "/", "query_string": b""}, receive
    )


def _chunks(*parts: bytes) -> list[dict[str, Any]]:
    return [{"type": "http.request", "body": part, "more_body": k < len(parts) - 1} for k, part in enumerate(parts)]


async def _both(messages: list[dict[str, Any]], limit: int, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    """What read_bytes (then loads) and read_json give for the same messages: the value or the error."""
    answers = []
    for read in (
        lambda r: read_bytes_as_the_route_does(r, limit=limit),
        lambda r: read_json_by_stream(r, limit=limit),
    ):
        try:
            value = await read(_request(messages, headers))
            answers.append(("value", loads(value) if isinstance(value, bytes) else value))
        except (InvalidInput, ClientDisconnect) as error:
            answers.append((type(error).__name__, str(error)))
    return answers


@pytest.mark.parametrize(
    ("messages", "limit", "headers"),
    [
        (_chunks(b'{"input_data": ', b'[{"values": [[1, 2, 3]]}]}'), 100, None),
        (_chunks(b'{"input_data": ', b"", b'[{"values": [[1, 2, 3]]}]}'), 100, None),
        (_chunks(b'{"a": 1}', b'{"b": 2}'), 100, None),  # bad JSON, over two chunks
        (_chunks(b"x" * 60, b"x" * 60), 100, None),  # streamed past the limit, no length declared
        (_chunks(b'{"a": 1}'), 100, [(b"content-length", b"101")]),  # declared past the limit
        ([{"type": "http.request", "body": b'{"a"', "more_body": True}, {"type": "http.disconnect"}], 100, None),
    ],
)
def test_the_body_is_read_as_read_json_reads_it(
    messages: list[dict[str, Any]], limit: int, headers: list[tuple[bytes, bytes]] | None
) -> None:
    bytes_way, json_way = asyncio.run(_both(messages, limit, headers))
    assert bytes_way == json_way
