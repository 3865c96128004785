"""A flush's rows as gathered, written and counted into drift: the same as the plain way, whatever the labels.

The writer gathers a flush's requests column by column, codes a classifier's labels from the model's own
values (only the distinct ones become text) and counts drift without a search per value. These check that
each shortcut gives exactly what the plain way gives: the labels' text, the Parquet file byte for byte, the
association ids, and every bin count, for labels of every kind a model answers with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from champion.monitoring import binning, drift, files
from champion.monitoring.capture import Pending
from champion.runtimes import Prediction, Signature
from champion.runtimes.base import Feature, FeatureType, Target, TargetType

PROPERTIES = settings(max_examples=100, deadline=None, database=None)
HOUR = 3600.0
NOW = 1_800_000_000.0  # an hour's start: NOW + 10 and NOW - 10 fall in two hours


def _signature(classes: tuple[str | int | float | bool, ...], features: int = 3) -> Signature:
    kind = TargetType.REGRESSION if not classes else TargetType.BINARY if len(classes) == 2 else TargetType.MULTICLASS
    return Signature(tuple(Feature(f"f{i}", FeatureType.DOUBLE) for i in range(features)), Target(kind, classes))


def _pending(
    signature: Signature,
    labels: list[np.ndarray],
    *,
    ids: list[list[str] | None] | None = None,
    at: float = NOW,
    values: list[np.ndarray] | None = None,
    step: float = 1.0,
) -> Pending:
    """The requests, one per chunk of labels (answered `step` seconds apart), as the buffer keeps them."""
    rng = np.random.default_rng(7)
    width = len(signature.features)
    pending = Pending(signature)
    for i, chunk in enumerate(labels):
        rows = values[i] if values is not None else rng.normal(size=(len(chunk), width))
        probabilities = None
        if signature.target.classes:
            probabilities = rng.dirichlet(np.ones(len(signature.target.classes)), size=len(chunk))
        pending.add(at + i * step, rows, Prediction(chunk, probabilities), ids[i] if ids else None)
    return pending


LABELS = {
    "int64": (np.array([1, 0, 1, 10, 2]), np.array([0, 2, 10])),
    "bool": (np.array([True, False]), np.array([True, True])),
    "float64 with -0.0 and NaNs": (
        np.array([0.0, -0.0, np.nan, 1.5]),
        np.array([-np.nan, np.float64("nan"), 0.0, 1e-7]),
    ),
    "float32": (np.array([0.1, 0.2], dtype=np.float32), np.array([0.1], dtype=np.float32)),
    "text": (np.array(["yes", "no", "no"]), np.array(["maybe", "yes"])),
    "objects, 1 and '1' alike": (np.array([1, "1", "a"], dtype=object), np.array(["b", 1], dtype=object)),
}


@pytest.mark.parametrize("kind", LABELS)
def test_gathered_labels_are_their_text_and_coded_as_numpy_would(kind: str) -> None:
    chunks = list(LABELS[kind])
    signature = _signature((0, 1, 2))
    rows = files.gather(_pending(signature, chunks))
    text = np.concatenate(chunks).astype(str)
    assert rows.labels.dtype == text.dtype and rows.labels.tolist() == text.tolist()
    texts, positions = rows.label_codes()
    want_texts, want_positions = np.unique(text, return_inverse=True)
    assert texts.tolist() == want_texts.tolist() and positions.tolist() == want_positions.tolist()


def test_gathered_features_are_the_requests_columns_in_order() -> None:
    signature = _signature((0, 1), features=4)
    pending = _pending(signature, [np.zeros(3, dtype=np.int64), np.ones(2, dtype=np.int64)])
    matrix = pending.rows.copy()
    rows = files.gather(pending)
    assert [rows.features[f"f{j}"].tolist() for j in range(4)] == matrix.T.tolist()
    assert rows.at.tolist() == [NOW] * 3 + [NOW + 1] * 2
    assert rows.rows_of(signature).tolist() == matrix.tolist()


def test_a_file_written_from_coded_labels_is_the_file_written_from_their_text(tmp_path: Path) -> None:
    signature = _signature((0, 1, 2))
    rows = files.gather(_pending(signature, [np.array([2, 0, 2]), np.array([1, 10, 0])]))
    assert rows.codes is not None
    plain = files.Rows(rows.at, rows.association_ids, rows.features, rows.labels, rows.probabilities)
    files.write(tmp_path / "coded.parquet", signature, rows)
    files.write(tmp_path / "plain.parquet", signature, plain)
    assert (tmp_path / "coded.parquet").read_bytes() == (tmp_path / "plain.parquet").read_bytes()
    back = files.read(tmp_path / "coded.parquet", signature)
    assert back.labels.tolist() == ["2", "0", "2", "1", "10", "0"]


def test_association_ids_are_written_when_any_row_has_one(tmp_path: Path) -> None:
    signature = _signature((0, 1))
    chunks = [np.array([0, 1]), np.array([1])]
    without = files.gather(_pending(signature, chunks))
    with_some = files.gather(_pending(signature, chunks, ids=[None, ["o-1"]]))
    assert not without.has_association_ids() and with_some.has_association_ids()
    files.write(tmp_path / "without.parquet", signature, without)
    files.write(tmp_path / "with.parquet", signature, with_some)
    assert pq.read_table(tmp_path / "without.parquet").column("association_id").null_count == 3
    assert files.read(tmp_path / "with.parquet", signature).association_ids == [None, None, "o-1"]


def _rows_over_two_hours(labels: np.ndarray, values: np.ndarray) -> files.Rows:
    signature = _signature((0, 1, 2), features=1)
    half = len(labels) // 2
    parts = [values[:half, None], values[half:, None]]
    # Answered 20 seconds apart, across an hour's start.
    return files.gather(_pending(signature, [labels[:half], labels[half:]], at=NOW - 10, values=parts, step=20))


floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5]),  # on the edges below
)


@PROPERTIES
@given(
    values=st.lists(floats, min_size=2, max_size=60),
    edges=st.sampled_from([(), (0.0,), (-1.0, 0.0, 0.5, 1.0), (0.5,)]),
)
def test_drift_counts_numbers_into_the_bins_binning_would(values: list[float], edges: tuple[float, ...]) -> None:
    numbers = np.asarray(values, dtype=np.float64)
    rows = _rows_over_two_hours(np.zeros(len(numbers), dtype=np.int64), numbers)
    bins = binning.Bins(kind="numeric", edges=edges)
    assert drift._counts(bins, rows, "f0", slice(None)) == binning.count(bins, numbers)
    hours = rows.at - rows.at % HOUR
    for start in np.unique(hours):
        in_hour = hours == start
        assert drift._counts(bins, rows, "f0", in_hour) == binning.count(bins, numbers[in_hour])


@pytest.mark.parametrize("kind", LABELS)
def test_drift_counts_a_classifiers_labels_into_the_bins_binning_would(kind: str) -> None:
    labels = np.concatenate(list(LABELS[kind]))
    rows = _rows_over_two_hours(labels, np.zeros(len(labels)))
    assert rows.codes is not None
    # One known label, one not among the categories (the "other" bin), and the missing bin.
    bins = binning.Bins(kind="categorical", categories=(str(labels[0]), "never answered"))
    assert drift._counts(bins, rows, drift.TARGET, slice(None)) == binning.count(bins, rows.labels)
    hours = rows.at - rows.at % HOUR
    for start in np.unique(hours):
        in_hour = hours == start
        assert drift._counts(bins, rows, drift.TARGET, in_hour) == binning.count(bins, rows.labels[in_hour])


def test_labels_read_back_from_a_file_are_counted_the_plain_way(tmp_path: Path) -> None:
    signature = _signature((0, 1))
    files.write(tmp_path / "f.parquet", signature, files.gather(_pending(signature, [np.array([0, 1, 1])])))
    rows = files.read(tmp_path / "f.parquet", signature)
    assert rows.codes is None  # only a flush codes them
    bins = binning.Bins(kind="categorical", categories=("0", "1"))
    assert drift._counts(bins, rows, drift.TARGET, slice(None)) == [1, 2, 0, 0]


def test_a_regressors_values_are_counted_as_numbers() -> None:
    signature = _signature(())
    rows = files.gather(_pending(signature, [np.array([0.5, np.nan, 3.0])]))
    assert rows.codes is None and rows.labels.dtype == np.float64
    bins = binning.Bins(kind="numeric", edges=(1.0,))
    assert drift._counts(bins, rows, drift.TARGET, slice(None)) == binning.count(bins, rows.labels) == [1, 1, 1]
