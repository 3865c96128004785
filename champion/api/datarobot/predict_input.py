"""A DataRobot prediction request's body as a table: JSON records, CSV, or a multipart `file`, maybe gzipped.

The body is read once, counted as it streams in and, when `Content-Encoding: gzip`, inflated as it
arrives with a cap on the output, so neither a large body nor a gzip bomb is held past the server's
`max_request_bytes`. The table keeps every column the caller sent; `matrix` takes the ones the model's
signature names, by name and in any order, and converts CSV text by each feature's type. The typing
rules themselves (integers, booleans, missing values) are `champion.serving.inputs`' alone.

Errors name what is wrong the way a DataRobot caller thinks of its data: `body` for the request as a
whole, `rows[3]` for a row, `x1` for a column, `x1[3]` for one value (rows count from 0, as `rowId`).
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy.typing as npt
import orjson
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import QueryParams
from starlette.requests import Request

from champion.api.body import read_bytes, refuse_declared, too_large
from champion.errors import InvalidInput
from champion.runtimes import FeatureType, Signature
from champion.serving import inputs


class UnsupportedMedia(InvalidInput):
    """A Content-Type or Content-Encoding this API does not read (HTTP 415)."""


CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv"})
JSON_TYPES = frozenset({"application/json"})
MULTIPART = "multipart/form-data"
ACCEPTED = "application/json, text/csv, text/plain or multipart/form-data"
_GZIP = frozenset({"gzip", "x-gzip"})


@dataclass(frozen=True)
class Table:
    """The caller's rows as named columns, in the order the caller sent them.

    `text` is True when the values are CSV text still to be typed by the model's signature;
    JSON values arrive typed.
    """

    names: tuple[str, ...]
    rows: int
    text: bool
    _column: Callable[[str], Sequence[Any]]
    _records: Callable[[Sequence[str]], list[list[Any]]]

    def column(self, name: str) -> Sequence[Any]:
        return self._column(name)

    def records(self, names: Sequence[str]) -> list[list[Any]]:
        """The values of the columns `names` (all present), row by row."""
        return self._records(names)


# -- reading the body -------------------------------------------------------------------


class Content(NamedTuple):
    """A body read and decoded, not yet a table: parsed JSON (`json`), or CSV text."""

    json: bool
    value: Any


async def read_table(request: Request, *, limit: int) -> Table:
    """The request's rows, or InvalidInput (400), UnsupportedMedia (415) or PayloadTooLarge (413)."""
    return table(await read_content(request, limit=limit))


async def read_content(request: Request, *, limit: int) -> Content:
    """The request's data decoded (JSON parsed, CSV text), with `read_table`'s errors up to that point."""
    media, params = _media_type(header(request, b"content-type"))
    if media not in CSV_TYPES and media not in JSON_TYPES and media != MULTIPART:
        shown = f"'{media}'" if media else "no Content-Type"
        raise UnsupportedMedia(f"{shown} is not accepted; send {ACCEPTED}", field="Content-Type")
    data = await read_body(request, limit=limit)
    if media == MULTIPART:
        data, media, params = _file_part(data, params)
    if media in JSON_TYPES:
        return Content(True, _parsed(data))
    return Content(False, _text(data, params.get("charset")))


def table(content: Content) -> Table:
    """The content's rows as a table, or the InvalidInput naming what is wrong with its shape."""
    return _records_table(content.value) if content.json else _csv_table(content.value)


def header(request: Request, name: bytes) -> str | None:
    """The first value of the header `name` (in lower case), as `request.headers.get` gives it.

    Read from the ASGI scope by hand: Starlette's mapping lowers and encodes the name on every call,
    and a missing header costs it a raised KeyError; this route asks for five on every request.
    """
    raw: list[tuple[bytes, bytes]] = request.scope["headers"]
    for key, value in raw:
        if key == name:
            return value.decode("latin-1")
    return None


async def read_body(request: Request, *, limit: int) -> bytes:
    """The body, inflated when gzipped; PayloadTooLarge once either form passes `limit` bytes,
    ClientDisconnect when the caller goes away first.

    The compressed stream is inflated chunk by chunk with `max_length`, so a small body that
    would inflate to gigabytes stops at `limit + 1` bytes of output instead of being expanded.
    """
    encoding = (header(request, b"content-encoding") or "identity").strip().lower()
    if encoding not in _GZIP and encoding not in ("identity", ""):
        raise UnsupportedMedia(f"'{encoding}' is not accepted; send gzip or no encoding", field="Content-Encoding")
    refuse_declared(header(request, b"content-length"), limit=limit)
    if encoding not in _GZIP:
        return await read_bytes(request, limit=limit)
    inflater = _Inflater(limit)
    inflated = await read_bytes(request, limit=limit, each=inflater.feed)
    inflater.finish()
    return inflated


class _Inflater:
    """gzip members inflated as they stream in, never past `limit` bytes of output."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._out = 0
        self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._open = False
        """The current member has taken bytes and not reached its end yet."""

    def feed(self, data: bytes) -> bytes:
        parts = []
        while data:
            self._open = True
            try:
                # At most one byte past the limit: enough to know it was passed.
                part = self._member.decompress(data, self._limit - self._out + 1)
            except zlib.error as exc:
                raise InvalidInput(f"not valid gzip: {exc}", field="body") from None
            self._out += len(part)
            if self._out > self._limit:
                raise too_large(self._limit, which="inflated request body")
            parts.append(part)
            if self._member.eof:  # a gzip stream may hold several members, one after another
                data = self._member.unused_data
                self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._open = False
            else:
                data = self._member.unconsumed_tail
        return b"".join(parts)

    def finish(self) -> None:
        if self._open:
            raise InvalidInput("not valid gzip: the stream ends early", field="body")


def _media_type(value: str | None) -> tuple[str, dict[str, str]]:
    if not value:
        return "", {}
    if ";" not in value:  # parse_options_header's own answer, without its round trip through bytes
        return value.lower().strip(" \t"), {}
    media, raw = parse_options_header(value)
    params = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw.items()}
    return media.decode("latin-1").lower(), params


# -- multipart --------------------------------------------------------------------------


def _file_part(data: bytes, params: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    """The `file` field of a multipart body, with the media type its part or file name gives."""
    boundary = params.get("boundary")
    if not boundary:
        raise InvalidInput("a multipart/form-data body needs a boundary parameter", field="Content-Type")
    parts: list[tuple[dict[bytes, bytes], list[bytes]]] = []
    header: list[bytes] = [b"", b""]

    def begin() -> None:
        parts.append(({}, []))

    def field(chunk: bytes, start: int, end: int) -> None:
        header[0] += chunk[start:end]

    def value(chunk: bytes, start: int, end: int) -> None:
        header[1] += chunk[start:end]

    def header_end() -> None:
        parts[-1][0][header[0].lower()] = header[1]
        header[0] = header[1] = b""

    def body(chunk: bytes, start: int, end: int) -> None:
        parts[-1][1].append(chunk[start:end])

    parser = MultipartParser(
        boundary.encode("latin-1"),
        {
            "on_part_begin": begin,
            "on_header_field": field,
            "on_header_value": value,
            "on_header_end": header_end,
            "on_part_data": body,
        },
    )
    try:
        parser.write(data)
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidInput(f"not a valid multipart/form-data body: {exc}", field="body") from None
    for headers, chunks in parts:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        if disposition.get(b"name") != b"file":
            continue
        media, part_params = _media_type(headers.get(b"content-type", b"").decode("latin-1"))
        filename = disposition.get(b"filename", b"").decode("latin-1").lower()
        if media not in JSON_TYPES and filename.endswith(".json"):
            media = "application/json"
        return b"".join(chunks), media or "text/csv", part_params
    raise InvalidInput("a multipart/form-data body must carry the data in a field named 'file'", field="file")


# -- the two formats --------------------------------------------------------------------


def _records(data: bytes) -> Table:
    return _records_table(_parsed(data))


def _parsed(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", field="body") from None


def _records_table(records: Any) -> Table:
    if not isinstance(records, list):
        raise InvalidInput("expected a JSON list of records, [{column: value, ...}, ...]", field="body")
    if not records:
        raise InvalidInput("empty input: the list holds no records", field="body")
    names: dict[str, None] = {}
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise InvalidInput("expected an object of column values", field=f"rows[{i}]")
        if i == 0 or record.keys() != records[0].keys():
            names.update(dict.fromkeys(record))

    def column(name: str) -> list[Any]:
        # A record without the key leaves that value missing, as an empty CSV cell does.
        return [record.get(name) for record in records]

    def rows(wanted: Sequence[str]) -> list[list[Any]]:
        return [list(map(record.get, wanted)) for record in records]

    return Table(tuple(names), len(records), text=False, _column=column, _records=rows)


def _csv(data: bytes, charset: str | None) -> Table:
    return _csv_table(_text(data, charset))


def _text(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "utf-8-sig")
    except LookupError:
        raise UnsupportedMedia(f"unknown charset '{charset}'", field="Content-Type") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"not valid {charset or 'UTF-8'} text: {exc.reason} at byte {exc.start}", field="body"
        ) from None


def _csv_table(text: str) -> Table:
    if '"' not in text and "\r" not in text:
        # Without quotes or carriage returns CSV is lines of commas: splitting is twice as fast
        # as the csv module, and datarobot-predict's `df.to_csv()` of numbers never quotes.
        lines = [line.split(",") for line in text.split("\n") if line]
    else:
        try:
            lines = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
        except csv.Error as exc:
            raise InvalidInput(f"not valid CSV: {exc}", field="body") from None
    if not lines:
        raise InvalidInput("empty input: expected a header row and at least one row of data", field="body")
    header, rows = tuple(lines[0]), lines[1:]
    if not rows:
        raise InvalidInput("empty input: the CSV has a header row but no rows of data", field="body")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InvalidInput(f"the header names column '{name}' twice", field=name)
        seen.add(name)
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise InvalidInput(f"has {len(row)} values but the header names {width} columns", field=f"rows[{i}]")
    position = {name: k for k, name in enumerate(header)}

    # Cut out when asked, not transposed up front: the model's columns usually go row by row.
    def column(name: str) -> list[str]:
        k = position[name]
        return [row[k] for row in rows]

    def records(wanted: Sequence[str]) -> list[list[Any]]:
        indexes = [position[name] for name in wanted]
        return [[row[k] for k in indexes] for row in rows]

    return Table(header, len(rows), text=True, _column=column, _records=records)


# -- into the model's matrix ------------------------------------------------------------


def matrix(signature: Signature, table: Table) -> npt.NDArray[Any]:
    """The model's input matrix from the table's columns the signature names; the rest are left out."""
    present = set(table.names)
    missing = [f.name for f in signature.features if f.name not in present]
    if missing:
        listed = ", ".join(f"'{name}'" for name in missing)
        raise InvalidInput(
            f"missing column{'s' if len(missing) > 1 else ''} {listed}; the model takes "
            f"{', '.join(f.name for f in signature.features)}",
            field=missing[0],
        )
    quick = _by_rows(signature, table)
    return quick if quick is not None else _by_columns(signature, table)


def _by_columns(signature: Signature, table: Table) -> npt.NDArray[Any]:
    """The matrix built column by column: each value checked, a refused one named `x1[3]`."""
    columns: dict[str, Sequence[Any]] = {}
    for feature in signature.features:
        values = table.column(feature.name)
        columns[feature.name] = _typed(feature.type, values) if table.text else values
    return inputs.from_columns(signature, columns, field="")


_NUMBERS = frozenset({FeatureType.DOUBLE, FeatureType.INTEGER})


def _by_rows(signature: Signature, table: Table) -> npt.NDArray[Any] | None:
    """The matrix built row by row, the quick way (one list per row rather than per column,
    `inputs.from_records`' vectorised checks); None when a value needs a closer look, so the
    table goes the column way, which converts the same values and names a refused one by
    column and row (`x1[3]`) as DataRobot callers expect. CSV text is read here only for
    numeric features, with `float`, as `_typed` reads it first.
    """
    features = signature.features
    rows = table.records([f.name for f in features])
    if table.text:
        if not all(f.type in _NUMBERS for f in features):
            return None
        try:
            rows = [list(map(float, row)) for row in rows]
        except ValueError:  # an empty cell (missing) or text: `_typed` decides
            return None
    try:
        return inputs.from_records(signature, None, rows, field="body")
    except InvalidInput:
        return None


_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}


def _typed(kind: FeatureType, cells: Sequence[str]) -> Sequence[Any]:
    """CSV text as the values its feature takes; an empty cell is a missing value.

    A cell that does not parse is passed on as text, so `inputs` rejects it naming its column
    and row with the same message JSON input would get.
    """
    if kind is FeatureType.STRING:
        return [cell if cell != "" else None for cell in cells]
    if kind is FeatureType.BOOLEAN:
        return [_BOOLEANS.get(cell.strip().lower(), cell) if cell.strip() else None for cell in cells]
    try:
        return list(map(float, cells))  # the common case, at C speed
    except ValueError:
        return [_number(cell) for cell in cells]


def _number(cell: str) -> float | str | None:
    if not cell.strip():
        return None
    try:
        return float(cell)
    except ValueError:
        return cell


# -- query parameters -------------------------------------------------------------------


def check_explanations(query: QueryParams) -> None:
    """`maxExplanations=0` (what datarobot-predict always sends) or absent: champion computes none."""
    raw = query.get("maxExplanations")
    if raw is None or raw.strip() == "0":
        return
    if raw.strip().isdigit() or raw.strip() == "all":
        raise InvalidInput(
            "champion does not compute prediction explanations; send maxExplanations=0 or leave it out",
            field="maxExplanations",
        )
    raise InvalidInput(f"expected a whole number, got {raw!r}", field="maxExplanations")


def asks_passthrough(query: QueryParams) -> bool:
    """Whether the query names columns to echo (`passthrough_names` says which, or why it cannot)."""
    return "passthroughColumns" in query or "passthroughColumnsSet" in query


def passthrough_names(query: QueryParams, table: Table) -> tuple[str, ...]:
    """The columns to echo: those `passthroughColumns` names, or all with `passthroughColumnsSet=all`."""
    named = query.getlist("passthroughColumns")
    every = query.get("passthroughColumnsSet")
    if every is not None:
        if every != "all":
            raise InvalidInput(f"the only value accepted is 'all', got {every!r}", field="passthroughColumnsSet")
        if named:
            raise InvalidInput("give passthroughColumns or passthroughColumnsSet, not both", field="passthroughColumns")
        return table.names
    present = set(table.names)
    for name in named:
        if name not in present:
            raise InvalidInput(f"no column '{name}' in the input to pass through", field="passthroughColumns")
    return tuple(dict.fromkeys(named))
