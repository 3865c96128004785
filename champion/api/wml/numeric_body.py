"""A WML scoring body of one block of plain numbers, read by simdjson straight into the model's matrix.

The common request, `{"input_data": [{"fields": [...], "values": [[1.5, 2, ...], ...]}]}` for a model
whose features are all numeric, parsed by orjson becomes a Python float per value, which
`inputs.from_records` then checks and copies into a float64 matrix: for 100 rows of 20 features
that is most of the route's own CPU. pysimdjson reads every number of `values` into one float64
buffer instead (`Array.as_buffer`), and no Python number is made.

It takes only a body that is plainly that shape: one object holding only `input_data`, one block
holding `values` and perhaps `fields` (no other key, none twice), every row an array of as many
JSON numbers as there are fields (`as_buffer` refuses true and false, null, strings and objects),
no more rows than a request may score, and a matrix that `inputs.quick_records` accepts. Anything
else, bad JSON included, it declines (None): the route then parses the body with orjson and takes
the long way, which accepts it or names the fault, as it always did.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import simdjson

from champion.runtimes.base import Signature
from champion.serving import inputs

# What simdjson raises for JSON it refuses (ValueError, UnicodeDecodeError is one), an integer past
# 64 bits (RuntimeError), and a value of another type than asked for (TypeError).
_REFUSED = (ValueError, RuntimeError, TypeError)

_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def matrix(
    signature: Signature, body: bytes, *, max_rows: int, ignore: frozenset[str] = frozenset()
) -> npt.NDArray[np.float64] | None:
    """The model's matrix for a plain numeric body (see above), or None for the long way to judge."""
    # simdjson skips a UTF-8 byte order mark that orjson refuses: the long way answers it.
    if not inputs.numeric(signature) or body.startswith(_BYTE_ORDER_MARK):
        return None
    try:
        # A parser per call: it costs nothing next to the parse, and is never shared between threads.
        document = simdjson.Parser().parse(body)
        return _matrix(signature, body, document, max_rows, ignore)
    except _REFUSED:
        return None


def _matrix(
    signature: Signature, body: bytes, document: object, max_rows: int, ignore: frozenset[str]
) -> npt.NDArray[np.float64] | None:
    if not (isinstance(document, simdjson.Object) and len(document) == 1 and "input_data" in document):
        return None
    blocks = document["input_data"]
    if not (isinstance(blocks, simdjson.Array) and len(blocks) == 1):
        return None
    block = blocks[0]
    # `len` counts a key given twice twice, where a lookup finds one of them: never taken.
    if not (isinstance(block, simdjson.Object) and "values" in block and len(block) == 1 + ("fields" in block)):
        return None
    fields, values = block.get("fields"), block["values"]
    if fields is not None and not isinstance(fields, simdjson.Array):
        return None
    names = None if fields is None else fields.as_list()
    width = len(signature.features) if names is None else len(names)
    if not (isinstance(values, simdjson.Array) and 0 < len(values) <= max_rows):
        return None
    for row in values:
        if not (isinstance(row, simdjson.Array) and len(row) == width):
            return None
    # `as_buffer` flattens arrays within a row too ([[1, [2]]] reads as [[1, 2]]). The body holds exactly
    # the arrays seen so far (input_data, fields when given, values and one per row) only when its bytes
    # hold that many "[": a nested array, or a "[" inside a string, is one more, and declined.
    if body.count(b"[") != 2 + (names is not None) + len(values):
        return None
    flat = np.frombuffer(values.as_buffer(of_type="d"), dtype=np.float64)
    return inputs.quick_records(signature, names, flat.reshape(len(values), width), ignore=ignore)
