"""Capture files as Parquet that any tool reads, written and read without pyarrow in the serving process.

The writer is arro3's (arrow-rs): pyarrow reads its files back as the same table, with the documented
column types; the files earlier versions wrote with pyarrow (a classifier's labels as a dictionary
column, nullable columns) still read the same; and writing and reading one imports neither pyarrow nor
pandas, which would keep some 60 and 48 MiB resident in the serving process.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from champion.monitoring import files
from champion.runtimes import Signature
from champion.runtimes.base import Feature, FeatureType, Target, TargetType

PROPERTIES = settings(max_examples=60, deadline=None, database=None)
CLASSES = ("no", "yes", "maybe")
SIGNATURE = Signature(
    (Feature("x", FeatureType.DOUBLE), Feature("city", FeatureType.STRING)),
    Target(TargetType.MULTICLASS, CLASSES),
)
REGRESSOR = Signature((Feature("x", FeatureType.DOUBLE),), Target(TargetType.REGRESSION))

numbers = st.floats(allow_nan=True, allow_infinity=True)
texts = st.none() | st.text(max_size=12)


@st.composite
def classified(draw: st.DrawFn) -> files.Rows:
    size = draw(st.integers(1, 40))
    at = np.array(draw(st.lists(st.integers(0, 2**40), min_size=size, max_size=size)), dtype=np.float64) / 1e3
    probabilities = np.array(
        draw(st.lists(st.lists(numbers, min_size=3, max_size=3), min_size=size, max_size=size)), dtype=np.float64
    )
    return files.Rows(
        at=at,
        association_ids=draw(st.lists(texts, min_size=size, max_size=size)),
        features={
            "x": np.array(draw(st.lists(numbers, min_size=size, max_size=size)), dtype=np.float64),
            "city": np.array(draw(st.lists(texts, min_size=size, max_size=size)), dtype=object),
        },
        labels=np.array(draw(st.lists(st.sampled_from(CLASSES), min_size=size, max_size=size))),
        probabilities=probabilities,
    )


def _same_floats(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)  # NaN equals NaN here


def _assert_same_rows(got: files.Rows, want: files.Rows) -> None:
    _same_floats(got.at, (want.at * 1e6).astype(np.int64) / 1e6)  # kept to the microsecond
    assert got.association_ids == want.association_ids
    _same_floats(got.features["x"], want.features["x"])
    assert got.features["city"].tolist() == want.features["city"].tolist()
    assert got.labels.tolist() == want.labels.tolist()
    assert got.probabilities is not None and want.probabilities is not None
    _same_floats(got.probabilities, want.probabilities)


@PROPERTIES
@given(rows=classified())
def test_a_file_reads_back_as_the_rows_written(tmp_path_factory: pytest.TempPathFactory, rows: files.Rows) -> None:
    path = tmp_path_factory.mktemp("capture") / "f.parquet"
    files.write(path, SIGNATURE, rows)
    _assert_same_rows(files.read(path, SIGNATURE), rows)


@PROPERTIES
@given(rows=classified())
def test_pyarrow_reads_the_file_as_the_documented_table(
    tmp_path_factory: pytest.TempPathFactory, rows: files.Rows
) -> None:
    path = tmp_path_factory.mktemp("capture") / "f.parquet"
    files.write(path, SIGNATURE, rows)
    table = pq.ParquetFile(path).read()
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.column("at").cast(pa.int64()).to_pylist() == (rows.at * 1e6).astype(np.int64).tolist()
    assert table.column("association_id").to_pylist() == rows.association_ids
    assert table.schema.field("feature.x").type == pa.float64()
    _same_floats(table.column("feature.x").to_numpy(), rows.features["x"])
    assert table.column("feature.city").to_pylist() == rows.features["city"].tolist()
    assert table.schema.field("prediction").type == pa.string()
    assert table.column("prediction").to_pylist() == rows.labels.tolist()
    for k, label in enumerate(CLASSES):
        _same_floats(table.column(f"probability.{label}").to_numpy(), rows.probabilities[:, k])  # type: ignore[index]


def _write_as_pyarrow_did(path: Path, signature: Signature, rows: files.Rows) -> None:
    """A capture file as champion wrote them with pyarrow, before arro3: every column nullable, a
    classifier's labels a dictionary column, ids all null when no row had one."""
    labels, index = rows.label_codes()
    columns = {
        "at": pa.array((rows.at * 1e6).astype(np.int64)).cast(pa.timestamp("us", tz="UTC")),
        "association_id": pa.array(rows.association_ids, type=pa.string()),
    }
    for feature in signature.features:
        values = rows.features[feature.name]
        textual = values.dtype == object
        columns[files.FEATURE + feature.name] = (
            pa.array(values.tolist(), type=pa.string()) if textual else pa.array(values)
        )
    if signature.target.type is TargetType.REGRESSION:
        columns["prediction"] = pa.array(rows.labels.astype(np.float64))
    else:
        columns["prediction"] = pa.DictionaryArray.from_arrays(
            pa.array(index.astype(np.int32)), pa.array(labels.tolist(), type=pa.string())
        )
    if rows.probabilities is not None:
        for k, label in enumerate(signature.target.classes):
            columns[files.PROBABILITY + str(label)] = pa.array(rows.probabilities[:, k])
    text = [
        name
        for name, column in columns.items()
        if pa.types.is_string(column.type) or pa.types.is_dictionary(column.type)
    ]
    pq.write_table(pa.table(columns), path, compression="snappy", use_dictionary=text)


@PROPERTIES
@given(rows=classified())
def test_a_file_pyarrow_wrote_reads_the_same(tmp_path_factory: pytest.TempPathFactory, rows: files.Rows) -> None:
    path = tmp_path_factory.mktemp("capture") / "old.parquet"
    _write_as_pyarrow_did(path, SIGNATURE, rows)
    _assert_same_rows(files.read(path, SIGNATURE), rows)


def test_a_regressors_values_read_back_as_numbers(tmp_path: Path) -> None:
    rows = files.Rows(
        at=np.array([1.0, 2.0]),
        association_ids=[None, None],
        features={"x": np.array([0.5, math.nan])},
        labels=np.array([3.25, math.nan]),
        probabilities=None,
    )
    for name, write in (("new", files.write), ("old", _write_as_pyarrow_did)):
        write(tmp_path / f"{name}.parquet", REGRESSOR, rows)
        back = files.read(tmp_path / f"{name}.parquet", REGRESSOR)
        _same_floats(back.labels, rows.labels)
        assert back.probabilities is None and back.association_ids == [None, None]


def test_null_numbers_another_tool_wrote_read_as_nan(tmp_path: Path) -> None:
    table = pa.table(
        {
            "at": pa.array([1_000_000, 2_000_000, 3_000_000]).cast(pa.timestamp("us", tz="UTC")),
            "association_id": pa.array(["a", None, "c"]),
            "feature.x": pa.array([1.5, None, 2.5]),
            "prediction": pa.array([None, 1.0, 2.0]),
        }
    )
    pq.write_table(table, tmp_path / "f.parquet")
    back = files.read(tmp_path / "f.parquet", REGRESSOR)
    _same_floats(back.features["x"], np.array([1.5, math.nan, 2.5]))
    _same_floats(back.labels, np.array([math.nan, 1.0, 2.0]))
    _same_floats(back.at, np.array([1.0, 2.0, 3.0]))
    assert back.association_ids == ["a", None, "c"]


def test_writing_and_reading_a_capture_file_imports_neither_pyarrow_nor_pandas(tmp_path: Path) -> None:
    # pyarrow keeps about 60 MiB of shared libraries resident once imported, and its conversions
    # import pandas (48 MiB): the serving process writes a capture file with neither, whatever it holds
    # (text features, association ids, a classifier's labels).
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import numpy as np
        from champion.monitoring import files
        from champion.monitoring.capture import Pending
        from champion.runtimes import Prediction, Signature
        from champion.runtimes.base import Feature, FeatureType, Target, TargetType

        signature = Signature(
            (Feature("x", FeatureType.DOUBLE), Feature("city", FeatureType.STRING)),
            Target(TargetType.BINARY, ("no", "yes")),
        )
        rows = np.array([[1.5, "Paris"], [np.nan, None]], dtype=object)
        prediction = Prediction(np.array(["yes", "no"]), np.array([[0.2, 0.8], [0.9, 0.1]]))
        pending = Pending(signature)
        pending.add(1.0, rows, prediction, ["a", None])
        path = Path({str(tmp_path)!r}) / "captured.parquet"
        files.write(path, signature, files.gather(pending))
        back = files.read(path, signature)
        assert back.association_ids == ["a", None], back.association_ids
        assert back.features["city"].tolist() == ["Paris", None], back.features["city"]
        assert np.isnan(back.features["x"][1]) and back.features["x"][0] == 1.5
        assert back.labels.tolist() == ["yes", "no"]
        print(sorted(name for name in ("pyarrow", "pandas") if name in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
