"""The DataRobot prediction route's quick way (`quick_input`) takes only what the long way takes, and gives the same.

The route reads the common body, CSV whose header is the model's features in order or JSON records
holding every feature, straight into the model's matrix, without building the table. The quick way
may decline (None), never differ: Hypothesis generates bodies around the common case, valid and not
(quotes, carriage returns, blank lines, empty cells, text, NaN and infinities, ragged rows, columns
out of order or missing, extra columns, too many rows, records that are not objects), with and
without passthrough columns and an association id column, and for every one the route's parse
(`predictions._parse`) must give what the long way gives (the route before the quick way): the same
matrix, association ids and echoed columns, or the very same error (class, message and field).
"""

from __future__ import annotations

import asyncio
import gzip
import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_multipart.multipart import parse_options_header
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request

from champion.api.body import too_large
from champion.api.datarobot import predict_input, predictions, quick_input
from champion.api.datarobot.predict_output import Passthrough
from champion.errors import ChampionError
from champion.monitoring.capture import CapturePolicy
from champion.runtimes.base import Feature, FeatureType, Framework, Signature, Target, TargetType
from champion.serving import inputs
from champion.serving.engine import DeploymentView, VersionRef

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_ROWS = 3
TARGET = Target(TargetType.BINARY, (0, 1))
DOUBLE, INTEGER, BOOLEAN, STRING = FeatureType.DOUBLE, FeatureType.INTEGER, FeatureType.BOOLEAN, FeatureType.STRING


def signature(*features: tuple[str, FeatureType], allows_missing: bool = False) -> Signature:
    return Signature(tuple(Feature(name, kind) for name, kind in features), TARGET, allows_missing=allows_missing)


SIGNATURES = (
    signature(("x1", DOUBLE), ("x2", DOUBLE), ("x3", DOUBLE)),
    signature(("x1", DOUBLE), ("x2", INTEGER), ("x3", DOUBLE), allows_missing=True),
    signature(("x1", DOUBLE), ("x2", INTEGER), ("x3", BOOLEAN), allows_missing=True),
    signature(("x1", DOUBLE), ("x2", STRING)),
    # Names a header line cannot carry as they are: the CSV quick way must decline them.
    signature(("a,b", DOUBLE), ("x1", DOUBLE)),
    signature(
        ("", DOUBLE),
    ),
    signature(("x1", DOUBLE), ('x"2', DOUBLE)),
    signature(("x1", DOUBLE), ("x1", DOUBLE)),
)
EXTRA = ("id", "x9")

PLAIN_CELLS = st.one_of(st.floats(-1e3, 1e3).map(repr), st.integers(-3, 3).map(str))
ODD_CELLS = st.one_of(
    st.floats(width=32).map(repr),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1_0", " 2 ", "true", "1e0", "0.0", "abc", "1e400", "0x1", '"1"']),
)
PLAIN_VALUES = st.one_of(st.floats(-1e3, 1e3), st.integers(-3, 3))
ODD_VALUES = st.one_of(
    st.floats(width=32),
    st.sampled_from([None, True, False, "a", "1.5", 2**63 - 1, -(2**63), [1.0], {"k": 1}]),
)


def view_of(sig: Signature, association: str | None) -> DeploymentView:
    ref = VersionRef("version", "model", 1, Framework.SKLEARN, "sha", sig)
    capture = CapturePolicy(1.0, association_column=association) if association is not None else None
    return DeploymentView("d", "s", "dep", "online", "ready", None, ref, True, False, capture=capture)


@st.composite
def csv_text(draw: st.DrawFn, sig: Signature) -> str:
    """Mostly the common body (the features in order, plain numbers), changed in up to three places."""
    names = [f.name for f in sig.features]
    header = draw(st.sampled_from([names] * 5 + [names[::-1], [*names, "id"], names[:-1], names * 2]))
    rows = draw(st.lists(st.lists(PLAIN_CELLS, min_size=len(header), max_size=len(header)), max_size=MAX_ROWS + 1))
    lines = [",".join(header), *(",".join(row) for row in rows)]
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        where = draw(st.integers(0, len(lines) - 1))
        line = lines[where]
        at = draw(st.integers(0, len(line)))
        change = draw(st.sampled_from(["odd", "blank", "short", "long", "quote", "cr"]))
        if change == "odd" and where > 0:
            cells = line.split(",")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(ODD_CELLS)
            lines[where] = ",".join(cells)
        elif change == "blank":
            lines.insert(where, "")
        elif change == "short":
            lines[where] = line.rpartition(",")[0]
        elif change == "long":
            lines[where] = f"{line},1"
        else:  # a quote or a carriage return anywhere in the line
            lines[where] = line[:at] + ('"' if change == "quote" else "\r") + line[at:]
    ending = draw(st.sampled_from(["\n", "", "\n\n"]))
    return "\n".join(lines) + ending


@st.composite
def json_records(draw: st.DrawFn, sig: Signature) -> Any:
    """Mostly records holding every feature (some more), plain numbers, changed in up to three places."""
    names = [f.name for f in sig.features]
    count = draw(st.integers(0, MAX_ROWS + 1))
    records: list[Any] = [
        {name: draw(PLAIN_VALUES) for name in draw(st.sampled_from([names, names[::-1], [*names, "id"]]))}
        for _ in range(count)
    ]
    for _ in range(draw(st.integers(0, 3)) if records else 0):
        where = draw(st.integers(0, len(records) - 1))
        record = records[where]
        change = draw(st.sampled_from(["odd", "drop", "extra", "not an object"]))
        if not isinstance(record, dict) or not record:
            continue
        if change == "odd":
            record[draw(st.sampled_from(sorted(record)))] = draw(ODD_VALUES)
        elif change == "drop":
            record.pop(draw(st.sampled_from(sorted(record))))
        elif change == "extra":
            record[draw(st.sampled_from(EXTRA))] = draw(PLAIN_VALUES | ODD_VALUES)
        else:
            records[where] = draw(st.sampled_from([[1.0], "a", None]))
    body: Any = draw(st.sampled_from([records, records, records, {"data": records}]))
    return orjson.loads(orjson.dumps(body))  # what the route parses: JSON's own types


QUERIES = st.sampled_from(
    [
        predictions.NO_QUERY,
        QueryParams("maxExplanations=0"),
        QueryParams("passthroughColumns=id"),
        QueryParams("passthroughColumns=x1&passthroughColumns=x9"),
        QueryParams("passthroughColumnsSet=all"),
    ]
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[DeploymentView, QueryParams, predict_input.Content]:
    sig = draw(st.sampled_from(SIGNATURES))
    is_json = draw(st.booleans())
    value = draw(json_records(sig)) if is_json else draw(csv_text(sig))
    view = view_of(sig, draw(st.sampled_from([None, None, "id", "x9"])))
    return view, draw(QUERIES), predict_input.Content(is_json, value)


def long_way(
    view: DeploymentView, query: QueryParams, content: predict_input.Content, max_rows: int
) -> tuple[Any, list[str] | None, Passthrough]:
    """The route's reading before the quick way: always through the table."""
    table = predict_input.table(content)
    inputs.check_row_count(table.rows, limit=max_rows, field=None)
    echoed = predict_input.passthrough_names(query, table)
    rows = predict_input.matrix(view.champion.signature, table)
    ids = predictions._association_ids(view, table)
    return rows, ids, Passthrough(echoed, tuple(table.column(name) for name in echoed))


def outcome(parse: Any) -> tuple[Any, ...]:
    """What parsing gives, comparable: the matrix (type, shape, values), ids and passthrough; or the error."""
    try:
        rows, ids, passthrough = parse()
    except ChampionError as error:
        return ("error", type(error).__name__, error.message, getattr(error, "field", None))
    values = [[_same(value) for value in row] for row in rows.tolist()]
    echoed = (passthrough.names, [[_same(v) for v in column] for column in passthrough.columns])
    return ("matrix", rows.dtype.kind, rows.shape, values, ids, echoed)


def _same(value: Any) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


@SETTINGS
@given(case=cases())
def test_the_route_parses_as_the_long_way(case: tuple[DeploymentView, QueryParams, predict_input.Content]) -> None:
    view, query, content = case
    quick = outcome(lambda: predictions._parse(view, query, content, MAX_ROWS))
    assert quick == outcome(lambda: long_way(view, query, content, MAX_ROWS))


@SETTINGS
@given(case=cases())
def test_the_quick_way_gives_the_long_ways_matrix(
    case: tuple[DeploymentView, QueryParams, predict_input.Content],
) -> None:
    sig, content = case[0].champion.signature, case[2]
    rows = quick_input.matrix(sig, content, max_rows=MAX_ROWS)
    if rows is None:
        return
    # Everything it takes, the long way takes too (no error), into the same matrix.
    long = long_way(view_of(sig, None), predictions.NO_QUERY, content, MAX_ROWS)
    np.testing.assert_array_equal(rows, long[0])
    assert rows.dtype == long[0].dtype


COMMON = SIGNATURES[0]


@pytest.mark.parametrize(
    "content",
    [
        predict_input.Content(False, "x1,x2,x3\n0.5,-1,2e3\n"),  # pandas' to_csv(index=False)
        predict_input.Content(False, "x1,x2,x3\n0.5,-1,2\n\n1,2,3"),
        predict_input.Content(True, [{"x1": 0.5, "x2": -1, "x3": 2}]),
        predict_input.Content(True, [{"x3": 2, "id": "a", "x2": -1, "x1": 0.5}]),  # any order, extra keys
    ],
)
def test_the_common_body_takes_the_quick_way(content: predict_input.Content) -> None:
    assert quick_input.matrix(COMMON, content, max_rows=MAX_ROWS) is not None


@pytest.mark.parametrize(
    "text",
    [
        "x3,x2,x1\n1,2,3\n",  # another order: the table's way maps the columns
        "x1,x2,x3,id\n1,2,3,a\n",  # an extra column
        'x1,x2,x3\n1,2,"3"\n',  # quotes: the csv module's
        "x1,x2,x3\r\n1,2,3\r\n",
        "x1,x2,x3\n1,,3\n",  # an empty cell: missing
        "x1,x2,x3\n" + "1,2,3\n" * (MAX_ROWS + 1),  # more rows than allowed: the long way refuses them
    ],
)
def test_other_csv_goes_the_long_way(text: str) -> None:
    assert quick_input.matrix(COMMON, predict_input.Content(False, text), max_rows=MAX_ROWS) is None


def test_an_association_column_or_passthrough_needs_the_table() -> None:
    content = predict_input.Content(False, "x1,x2,x3\n1,2,3\n")
    with_ids = view_of(COMMON, "x1")
    _, ids, _ = predictions._parse(with_ids, predictions.NO_QUERY, content, MAX_ROWS)
    assert ids == ["1"]
    _, _, passthrough = predictions._parse(
        view_of(COMMON, None), QueryParams("passthroughColumns=x2"), content, MAX_ROWS
    )
    assert passthrough.names == ("x2",) and passthrough.columns == (["2"],)


# -- the request's headers, read by hand --------------------------------------------------------------

HEADER_NAMES = st.sampled_from([b"content-type", b"content-encoding", b"accept", b"authorization", b"x-other"])
HEADER_VALUES = st.binary(max_size=12) | st.sampled_from([b"text/csv", b" Text/CSV ; charset=UTF-8", b"gzip", b""])


@SETTINGS
@given(raw=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6), name=HEADER_NAMES)
def test_a_header_is_read_as_starlette_reads_it(raw: list[tuple[bytes, bytes]], name: bytes) -> None:
    request = Request({"type": "http", "headers": raw})
    assert predict_input.header(request, name) == request.headers.get(name.decode())


@SETTINGS
@given(value=st.text(st.characters(max_codepoint=255), max_size=20) | st.sampled_from(["text/csv", " TEXT/CSV\t"]))
def test_a_media_type_is_read_as_python_multipart_reads_it(value: str) -> None:
    media, raw = parse_options_header(value)
    expected = (
        media.decode("latin-1").lower(),
        {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw.items()},
    )
    assert predict_input._media_type(value) == (expected if value else ("", {}))


# -- the body, read from the ASGI messages by hand ----------------------------------------------------

MESSAGES = st.one_of(
    st.builds(lambda body: {"type": "http.request", "body": body, "more_body": True}, st.binary(max_size=40)),
    st.just({"type": "http.request", "more_body": True}),  # no body key
    st.just({"type": "http.other"}),
)


async def body_by_stream(request: Request, *, limit: int) -> bytes:
    """`read_body` as it was, over `Request.stream`: the reference."""
    gzipped = predict_input.header(request, b"content-encoding") == "gzip"
    inflater = predict_input._Inflater(limit) if gzipped else None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(inflater.feed(chunk) if inflater is not None else chunk)
    if inflater is not None:
        inflater.finish()
    return b"".join(chunks)


@SETTINGS
@given(
    messages=st.lists(MESSAGES, max_size=5),
    last=st.sampled_from(["end", "end with a body", "disconnect"]),
    gzipped=st.booleans(),
    limit=st.sampled_from([16, 64, 1000]),
)
def test_the_body_is_read_as_request_stream_reads_it(
    messages: list[dict[str, Any]], last: str, gzipped: bool, limit: int
) -> None:
    if gzipped:  # the same chunks, cut from one gzip stream of their bytes
        whole = gzip.compress(b"".join(m.get("body", b"") for m in messages))
        cut = [whole[i : i + 7] for i in range(0, len(whole), 7)]
        messages = [{"type": "http.request", "body": part, "more_body": True} for part in cut]
    endings: dict[str, dict[str, Any]] = {
        "end": {"type": "http.request", "body": b"", "more_body": False},
        "end with a body": {"type": "http.request", "body": b"x,y\n", "more_body": False},
        "disconnect": {"type": "http.disconnect"},
    }
    ending = endings[last]

    def request() -> Request:
        queue: list[dict[str, Any]] = [*messages, ending, {"type": "http.disconnect"}]

        async def receive() -> dict[str, Any]:
            return queue.pop(0)

        headers = [(b"content-encoding", b"gzip")] if gzipped else []
        return Request({"type": "http", "method": "POST", "headers": headers}, receive)

    def outcome(read: Any) -> tuple[Any, ...]:
        try:
            return ("body", asyncio.run(read(request(), limit=limit)))
        except (ChampionError, ClientDisconnect) as error:
            return ("error", type(error).__name__, str(error))

    assert outcome(predict_input.read_body) == outcome(body_by_stream)
