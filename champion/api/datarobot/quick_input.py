"""The common DataRobot prediction body turned into the model's matrix the quick way.

`predict_input` reads any body into a table, then takes the model's columns from it, checking each
step so that an error names its column and row. Most bodies are the plainest case: CSV whose header
is the model's features in order (`df.to_csv(index=False)` of the training columns), or JSON records
holding every feature. For them the table is work thrown away, and on a one-row request it costs more
than the conversion: here the rows are taken straight from the CSV lines or the records.

It may decline (None), never differ: it takes only what `predict_input` turns into this very matrix
without an error, and declines the rest (a value to look at closely, a quote, a header in another
order, more rows than a request may hold), which then goes the long way to its answer or its exact
error. The route asks only when nothing else is wanted from the table: no passthrough columns, no
association ids.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from champion.api.datarobot.predict_input import Content
from champion.errors import InvalidInput
from champion.runtimes import FeatureType, Signature
from champion.serving import inputs


class _Shape(NamedTuple):
    """What a signature asks of a quick body, worked out once per signature."""

    names: tuple[str, ...]
    known: frozenset[str]
    header: str | None
    """The CSV header line the quick way takes; None when CSV goes the long way (see `_shape`)."""


_NUMBERS = frozenset({FeatureType.DOUBLE, FeatureType.INTEGER})
# A header line only means these names when splitting it at commas gives them back.
_NOT_IN_NAMES = (",", "\n", "\r", '"')

# By id, holding the signature so that the id cannot be reused, as `champion.serving.inputs` does:
# hashing a Signature walks every Feature through Python-level __hash__ methods.
_SHAPES: dict[int, tuple[Signature, _Shape]] = {}
_MAX_CACHED = 256


def matrix(signature: Signature, content: Content, *, max_rows: int) -> npt.NDArray[Any] | None:
    """The model's matrix for `content`, or None: then `predict_input` decides (it gives this matrix or an error)."""
    shape = _shape(signature)
    if content.json:
        rows = _records_rows(shape, content.value, max_rows)
        if rows is None:
            return None
        try:
            # The long way's own last step (`predict_input._by_rows`), on the same rows.
            return inputs.from_records(signature, None, rows, field="body")
        except InvalidInput:
            return None
    numbers = _csv_rows(shape, content.value, max_rows)
    # Python floats only: `from_records` would take them into this matrix, and check it as here.
    return None if numbers is None else inputs.quick_records(signature, None, np.array(numbers, dtype=np.float64))


def _records_rows(shape: _Shape, records: Any, max_rows: int) -> list[list[Any]] | None:
    """Each record's feature values in feature order, when every record is an object holding every feature."""
    if type(records) is not list or not records or len(records) > max_rows:
        return None
    known = shape.known
    for record in records:
        if type(record) is not dict or not record.keys() >= known:
            return None
    return [list(map(record.get, shape.names)) for record in records]


def _csv_rows(shape: _Shape, text: str, max_rows: int) -> list[list[float]] | None:
    """The rows as numbers, when the header is the features in order and no line needs the csv module."""
    if shape.header is None or '"' in text or "\r" in text:
        return None
    header, _, rest = text.partition("\n")
    if header != shape.header:
        return None
    lines = [line for line in rest.split("\n") if line]  # empty lines are skipped, as the long way does
    if not lines or len(lines) > max_rows:
        return None
    width = len(shape.names)
    try:
        rows = [list(map(float, line.split(","))) for line in lines]
    except ValueError:  # an empty cell (missing) or text: the long way decides
        return None
    return rows if all(len(row) == width for row in rows) else None


def _shape(signature: Signature) -> _Shape:
    entry = _SHAPES.get(id(signature))
    if entry is not None and entry[0] is signature:
        return entry[1]
    names = tuple(f.name for f in signature.features)
    plain_names = len(set(names)) == len(names) and all(n and not any(c in n for c in _NOT_IN_NAMES) for n in names)
    # CSV text is numbers only for numeric features; the long way reads other types cell by cell.
    numeric = all(f.type in _NUMBERS for f in signature.features)
    shape = _Shape(names, frozenset(names), ",".join(names) if plain_names and numeric else None)
    if len(_SHAPES) >= _MAX_CACHED:
        _SHAPES.clear()  # models come and go; a rare rebuild is cheaper than tracking use
    _SHAPES[id(signature)] = (signature, shape)
    return shape
