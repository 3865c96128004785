"""Arrow arrays to and from numpy and lists without pyarrow's pandas shim.

Every call of `pyarrow.array()`, `Array.to_numpy()` and `pyarrow.parquet.read_table()` asks
pyarrow's pandas shim whether its argument is a pandas object, and the shim's first question
imports pandas: about 48 MiB resident in the serving process, for capture files that hold no
pandas object. The arrays here are built from, and read into, their buffers
(`Array.from_buffers`, `Array.buffers()`), which is what those calls do once pandas has said no.
pyarrow offers no switch to skip the shim; this is the whole of what capture files need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


def numbers(values: np.ndarray) -> pa.Array:
    """An Arrow array of a one-dimensional numeric numpy array, of the same type (no nulls: a NaN
    stays a NaN, as `pyarrow.array` keeps it)."""
    import pyarrow as pa

    data = np.ascontiguousarray(values)
    if data.dtype.kind not in "iuf":  # Arrow packs booleans in bits: not numpy's layout
        raise TypeError(f"not a numeric array: {data.dtype}")
    return pa.Array.from_buffers(pa.from_numpy_dtype(data.dtype), len(data), [None, pa.py_buffer(data)])


def texts(values: Sequence[str | None]) -> pa.Array:
    """A UTF-8 string Arrow array of `values`, None as null."""
    import pyarrow as pa

    encoded = [b"" if value is None else value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    missing = np.fromiter((value is None for value in values), dtype=bool, count=len(encoded))
    validity = None
    if missing.any():
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    # large_string's 64-bit offsets: a flush's text may pass 2 GiB; cast down for the file's plain string.
    array = pa.Array.from_buffers(
        pa.large_string(), len(encoded), [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )
    return array.cast(pa.string()) if offsets[-1] < 2**31 else array


def floats(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric Arrow column as float64, nulls as NaN."""
    import pyarrow as pa

    parts = []
    for chunk in column.chunks:
        chunk = chunk.cast(pa.float64())
        validity, data = chunk.buffers()
        values = np.frombuffer(data, dtype=np.float64, count=chunk.offset + len(chunk))[chunk.offset :].copy()
        if validity is not None and chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            values[~bits[chunk.offset : chunk.offset + len(chunk)].astype(bool)] = np.nan
        parts.append(values)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
