"""A job's predictions as a file, written a part at a time so no job holds all of them at once.

The output data asset's name picks the format: `.parquet` (or `.pq`) writes Parquet, anything
else CSV, as WML writes batch output and as champion always did. Both have a `prediction`
column and, for a classifier giving probabilities, a `probability` column in the model's class
order (JSON text in CSV, a list of doubles in Parquet).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet_name(name: str) -> bool:
    return name.lower().endswith(PARQUET_SUFFIXES)


def mime_type(name: str) -> str:
    return "application/vnd.apache.parquet" if is_parquet_name(name) else "text/csv"


class PredictionsFile:
    """Appends parts of a job's predictions, in input order, to one CSV or Parquet file."""

    def __init__(self, path: Path, *, parquet: bool) -> None:
        self.path = path
        self.parquet = parquet
        self.rows = 0
        self._with_probabilities: bool | None = None
        self._writer: Any = None  # pyarrow's ParquetWriter, opened with the first part's schema
        self._schema: Any = None

    def append(self, labels: Sequence[Any] | np.ndarray, probabilities: Sequence[Any] | np.ndarray | None) -> None:
        # The first part decides whether there is a probability column; one model answers every part.
        if self._with_probabilities is None:
            self._with_probabilities = probabilities is not None
        kept = probabilities if self._with_probabilities else None
        if self.parquet:
            self._parquet(labels, kept)
        else:
            self._csv(labels, kept)
        self.rows += len(labels)

    def append_csv(self, rows: bytes, count: int, *, with_probabilities: bool) -> None:
        """Append rows `csv_rows` rendered elsewhere (a Dask worker): the server only copies bytes."""
        if self._with_probabilities is None:
            self._with_probabilities = with_probabilities
        with self.path.open("ab") as handle:
            if handle.tell() == 0:
                handle.write(_header(with_probabilities))
            handle.write(rows)
        self.rows += count

    def close(self) -> None:
        if self.parquet:
            if self._writer is None:  # no part at all: still a valid, empty file
                self._parquet([], [] if self._with_probabilities else None)
            self._writer.close()
        elif not self.path.exists():
            self.path.write_bytes(_header(bool(self._with_probabilities)))

    def _csv(self, labels: Sequence[Any] | np.ndarray, probabilities: Sequence[Any] | np.ndarray | None) -> None:
        self.append_csv(csv_rows(labels, probabilities), len(labels), with_probabilities=probabilities is not None)

    def _parquet(self, labels: Sequence[Any] | np.ndarray, probabilities: Sequence[Any] | np.ndarray | None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns: dict[str, Any] = {"prediction": _labels(labels)}
        if probabilities is not None:
            values = np.asarray(probabilities, dtype=np.float64)
            width = values.shape[1] if values.ndim == 2 else 0
            offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32) * width)
            columns["probability"] = pa.ListArray.from_arrays(offsets, pa.array(values.ravel()))
        table = pa.table(columns)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, self._schema)
        elif table.schema != self._schema:
            try:
                table = table.cast(self._schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise ValueError(
                    f"the predictions changed type from {self._schema.field('prediction').type} to "
                    f"{table.schema.field('prediction').type} (a humility override of another type?): "
                    "name the output data asset .csv"
                ) from None
        self._writer.write_table(table)


def csv_rows(labels: Sequence[Any] | np.ndarray, probabilities: Sequence[Any] | np.ndarray | None) -> bytes:
    """Predictions as CSV lines without the header: the label, and the probabilities as JSON text."""
    import pandas as pd  # here, not at the top: a server loads pandas only when a job writes a file

    columns: dict[str, Any] = {"prediction": labels}
    if probabilities is not None:
        rows = probabilities.tolist() if isinstance(probabilities, np.ndarray) else probabilities
        columns["probability"] = [orjson.dumps(row).decode() for row in rows]
    text: str = pd.DataFrame(columns).to_csv(index=False, header=False, lineterminator="\n")
    return text.encode()


def _header(with_probabilities: bool) -> bytes:
    return b"prediction,probability\n" if with_probabilities else b"prediction\n"


def _labels(labels: Sequence[Any] | np.ndarray) -> Any:
    import pyarrow as pa

    try:
        return pa.array(labels)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Labels of mixed types (an override value of another type than the classes): kept as text.
        return pa.array([None if label is None else str(label) for label in labels], type=pa.string())
