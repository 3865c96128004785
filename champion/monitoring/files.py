"""Captured rows as Parquet: one file per deployment, model version and writer flush.

A file holds, per row: `at` (when it was answered, UTC), `association_id` (null without one),
one column per feature named `feature.<name>` (text for string features, float64 otherwise, in the
model's own order), and what the model said: `prediction` (a classifier's label as text, a
regressor's value) and, for a classifier that gives them, `probability.<class>` per class. The
prefixes keep a feature called `prediction` apart from the answer. Parquet because it is columnar
and compressed, and any data tool reads it back.

They are written and read with arro3 (arrow-rs's Arrow and Parquet), not pyarrow: importing pyarrow
keeps about 60 MiB of its shared libraries resident in the serving process, arro3 about 20 MiB after a
write and a read. arro3 is imported by the first file written or read, not with this module: a server
that captures nothing never loads it. Files written by earlier versions (pyarrow's) read the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from champion.monitoring.capture import Pending
from champion.runtimes import FeatureType, Signature, TargetType

if TYPE_CHECKING:
    from arro3.core import Array, ChunkedArray, DataType
    from arro3.core.types import ArrayInput, ArrowStreamExportable

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
    from arro3.core import Array, DataType, Table
    from arro3.io import write_parquet

    text = DataType.string()
    columns: dict[str, ArrayInput | ArrowStreamExportable] = {
        "at": Array.from_numpy((rows.at * 1e6).astype(np.int64)).cast(DataType.timestamp("us", tz="UTC")),
        "association_id": Array(rows.association_ids, text),
    }
    textual: list[str] = ["association_id"]
    for feature in signature.features:
        name, values = FEATURE + feature.name, rows.features[feature.name]
        if values.dtype == object:
            columns[name] = Array(values.tolist(), text)
            textual.append(name)
        else:
            columns[name] = _numbers(values)
    if signature.target.type is TargetType.REGRESSION:
        columns["prediction"] = _numbers(rows.labels.astype(np.float64))
    else:
        # Each row's label taken by its code from the few distinct ones (making every row's text costs 5x).
        labels, index = rows.label_codes()
        columns["prediction"] = Array(labels.tolist(), text).take(Array.from_numpy(index.astype(np.int64)))
        textual.append("prediction")
    if rows.probabilities is not None:
        for k, label in enumerate(signature.target.classes):
            columns[PROBABILITY + str(label)] = _numbers(rows.probabilities[:, k])
    # Dictionary encoding only for the text columns: tried on every float column it costs ten times the
    # rest of the write and saves nothing on measured values; snappy is cheap.
    dictionary: dict[str | Sequence[str], bool] = dict.fromkeys(textual, True)
    write_parquet(
        Table.from_pydict(columns),
        path,
        compression="snappy",
        dictionary_enabled=False,
        column_dictionary_enabled=dictionary,
    )


def read(path: Path, signature: Signature) -> Rows:
    """A capture file's rows, this writer's or pyarrow's (which wrote them before: a classifier's
    labels as a dictionary column, every column nullable)."""
    from arro3.core import DataType
    from arro3.io import read_parquet

    table = read_parquet(path, batch_size=_BATCH_ROWS).read_all()
    names = set(table.column_names)
    at = _floats(table.column("at").cast(DataType.int64())) / 1e6
    ids = _texts_of(table.column("association_id"))
    features = {}
    for feature in signature.features:
        column = table.column(FEATURE + feature.name)
        if _textual(column.type):
            features[feature.name] = np.asarray(_texts_of(column), dtype=object)
        else:
            features[feature.name] = _floats(column)
    prediction = table.column("prediction")
    labels = np.asarray(_texts_of(prediction), dtype=object) if _textual(prediction.type) else _floats(prediction)
    wanted = [PROBABILITY + str(label) for label in signature.target.classes]
    probabilities = None
    if wanted and all(name in names for name in wanted):
        probabilities = np.column_stack([_floats(table.column(name)) for name in wanted])
    return Rows(at, ids, features, labels, probabilities)


_BATCH_ROWS = 1 << 16
"""Rows per record batch read: most flushes' files are one batch (arrow-rs reads 1,024 a batch by default)."""


def _numbers(values: np.ndarray) -> Array:
    from arro3.core import Array

    return Array.from_numpy(np.ascontiguousarray(values, dtype=np.float64))


def _floats(column: ChunkedArray) -> np.ndarray:
    """A numeric column as float64, nulls (which another tool may have written) as NaN."""
    from arro3.core import DataType

    if column.null_count:
        return np.array([np.nan if v is None else v for v in column.to_pylist()], dtype=np.float64)
    if len(column) == 0:
        return np.empty(0, dtype=np.float64)
    return np.asarray(column.cast(DataType.float64()).to_numpy(), dtype=np.float64)


def _texts_of(column: ChunkedArray) -> list[str | None]:
    from arro3.core import DataType

    if DataType.is_dictionary(column.type):  # pyarrow's files
        column = column.cast(DataType.string())
    return cast("list[str | None]", column.to_pylist())  # a list, whatever arro3's stub says


def _textual(kind: DataType) -> bool:
    from arro3.core import DataType

    return bool(DataType.is_string(kind) or DataType.is_large_string(kind) or DataType.is_dictionary(kind))


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
