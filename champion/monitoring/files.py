"""Captured rows as Parquet: one file per deployment, model version and writer flush.

A file holds, per row: `at` (when it was answered, UTC), `association_id` (null without one),
one column per feature named `feature.<name>` (text for string features, float64 otherwise, in the
model's own order), and what the model said: `prediction` (a classifier's label as text, a
regressor's value) and, for a classifier that gives them, `probability.<class>` per class. The
prefixes keep a feature called `prediction` apart from the answer. Parquet because it is columnar
and compressed, pyarrow writes it without pandas, and any data tool reads it back.

pyarrow (about 36 MiB resident) is imported by the first file written or read, not with this module:
a server that captures nothing never loads it. Its arrays are made and read through `arrow.py`, so
that pyarrow never imports pandas into the serving process.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from champion.monitoring import arrow
from champion.monitoring.capture import Pending
from champion.runtimes import FeatureType, Signature, TargetType

if TYPE_CHECKING:
    import pyarrow as pa

FEATURE = "feature."
PROBABILITY = "probability."


class LabelCodes(NamedTuple):
    """A classifier's labels as their distinct texts and each row's index into them: what
    `np.unique(labels.astype(str), return_inverse=True)` gives."""

    texts: np.ndarray
    """The distinct labels as text, sorted."""
    positions: np.ndarray
    """Per row, the position of its label in `texts`."""


@dataclass(frozen=True)
class Rows:
    """Captured rows held in memory: what a file holds, or what one flush gathered."""

    at: np.ndarray
    """Seconds since the epoch, float64."""
    association_ids: list[str | None]
    features: dict[str, np.ndarray]
    """By feature name: float64 for numbers, an object array of text (None when missing) for strings."""
    labels: np.ndarray
    """A classifier's labels as text (a str or object array), or a regressor's values (float64)."""
    probabilities: np.ndarray | None
    """(rows, classes) in the order of the signature's classes; None for regressors."""
    codes: LabelCodes | None = field(default=None, compare=False, repr=False)
    """A classifier's `labels` coded, when `gather` found them from the model's own labels (cheap for
    numbers): writing the file and counting the prediction's drift then sort no text per row."""

    def __len__(self) -> int:
        return len(self.at)

    def label_codes(self) -> LabelCodes:
        """A classifier's labels as distinct texts and each row's index into them."""
        if self.codes is not None:
            return self.codes
        texts, index = np.unique(self.labels.astype(str), return_inverse=True)
        return LabelCodes(texts, index.reshape(-1))

    def has_association_ids(self) -> bool:
        """Whether any row has an association id (counted in C: a flush holds tens of thousands of rows)."""
        return self.association_ids.count(None) < len(self.association_ids)

    def rows_of(self, signature: Signature) -> np.ndarray:
        """The rows as the model takes them (its features in order): float64, or object with text."""
        columns = [self.features[f.name] for f in signature.features]
        if all(c.dtype == np.float64 for c in columns):
            return np.column_stack(columns) if columns else np.empty((len(self), 0))
        return np.column_stack([c.astype(object) for c in columns])


def gather(pending: Pending) -> Rows:
    """One `Rows` from the requests one flush took for one deployment and model version."""
    signature = pending.signature
    # Feature by feature, each feature's values side by side in memory: the Parquet columns and the drift
    # counts read each whole, which costs several times as much from a column of a row-major matrix.
    columns = np.ascontiguousarray(pending.rows.T)
    features = {f.name: _column(f.type, columns[j]) for j, f in enumerate(signature.features)}
    at, ids, labels, probabilities = pending.at, pending.association_ids, pending.labels, pending.probabilities
    if signature.target.type is TargetType.REGRESSION:
        return Rows(at, ids, features, labels.astype(np.float64), probabilities)
    # A classifier's labels are never missing, and few: coded first, only the distinct ones become text.
    codes = _codes(labels)
    return Rows(at, ids, features, codes.texts[codes.positions], probabilities, codes)


def _codes(labels: np.ndarray) -> LabelCodes:
    """`np.unique(labels.astype(str), return_inverse=True)`, turning only the distinct labels into text.

    Sorting tens of thousands of texts costs fifty times sorting as many numbers. Numbers and booleans
    are told apart by their bits (so 0.0 and -0.0, or two NaNs, stay apart until their texts meet); the
    distinct ones become text; texts that came out equal are merged and sorted, as the text of every row
    would have been. Any other kind of label takes the long way.
    """
    kind, size = labels.dtype.kind, labels.dtype.itemsize
    if kind in "biu":
        bits = labels
    elif kind == "f" and size in (2, 4, 8):
        bits = np.ascontiguousarray(labels).view(f"u{size}")
    else:
        texts, index = np.unique(labels.astype(str), return_inverse=True)
        return LabelCodes(texts, index.reshape(-1))
    _, first, index = np.unique(bits, return_index=True, return_inverse=True)
    texts, merged = np.unique(labels[first].astype(str), return_inverse=True)
    return LabelCodes(texts, merged.reshape(-1)[index.reshape(-1)])


def write(path: Path, signature: Signature, rows: Rows) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, pa.Array] = {
        "at": arrow.numbers((rows.at * 1e6).astype(np.int64)).cast(pa.timestamp("us", tz="UTC")),
        "association_id": (
            arrow.texts(rows.association_ids) if rows.has_association_ids() else pa.nulls(len(rows), pa.string())
        ),
    }
    for feature in signature.features:
        values = rows.features[feature.name]
        textual = values.dtype == object
        columns[FEATURE + feature.name] = arrow.texts(values.tolist()) if textual else arrow.numbers(values)
    if signature.target.type is TargetType.REGRESSION:
        columns["prediction"] = arrow.numbers(rows.labels.astype(np.float64))
    else:
        # As a dictionary of the few labels: converting each row's text costs five times as much.
        labels, index = rows.label_codes()
        columns["prediction"] = pa.DictionaryArray.from_arrays(
            arrow.numbers(index.astype(np.int32)), arrow.texts(labels.tolist())
        )
    if rows.probabilities is not None:
        for k, label in enumerate(signature.target.classes):
            columns[PROBABILITY + str(label)] = arrow.numbers(rows.probabilities[:, k].astype(np.float64))
    # Dictionary encoding only for the text columns: tried on every float column (pyarrow's default)
    # it costs ten times the rest of the write and saves nothing on measured values; snappy is cheap.
    text = [name for name, column in columns.items() if _textual(column.type)]
    pq.write_table(pa.table(columns), path, compression="snappy", use_dictionary=text)


def read(path: Path, signature: Signature) -> Rows:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read()  # not read_table: it looks for pandas metadata, importing pandas
    at = arrow.floats(table.column("at").cast(pa.int64())) / 1e6
    ids: list[str | None] = table.column("association_id").to_pylist()
    features = {}
    for feature in signature.features:
        column = table.column(FEATURE + feature.name)
        if pa.types.is_string(column.type):
            features[feature.name] = np.asarray(column.to_pylist(), dtype=object)
        else:
            features[feature.name] = arrow.floats(column)
    prediction = table.column("prediction")
    textual = _textual(prediction.type)
    labels = np.asarray(prediction.to_pylist(), dtype=object) if textual else arrow.floats(prediction)
    names = [PROBABILITY + str(label) for label in signature.target.classes]
    probabilities = None
    if names and all(name in table.column_names for name in names):
        probabilities = np.column_stack([arrow.floats(table.column(n)) for n in names])
    return Rows(at, ids, features, labels, probabilities)


def _textual(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_dictionary(kind))


def _column(kind: FeatureType, values: np.ndarray) -> np.ndarray:
    if kind is FeatureType.STRING:
        return _texts(values)
    if values.dtype == np.float64:
        return values
    return np.asarray([_number(v) for v in values], dtype=np.float64)


def _texts(values: np.ndarray) -> np.ndarray:
    return np.asarray([None if _missing(v) else str(v) for v in values.tolist()], dtype=object)


def _number(value: Any) -> float:
    if _missing(value):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def hour_of(seconds: float) -> dt.datetime:
    """The start of the UTC hour `seconds` (since the epoch) falls in: the windows figures are kept in."""
    return dt.datetime.fromtimestamp(seconds - seconds % 3600, tz=dt.UTC)


def moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
