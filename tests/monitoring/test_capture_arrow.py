"""Capture files' Arrow arrays made from their buffers: the arrays pyarrow's own conversions make,
without the pandas those conversions import into the serving process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from champion.monitoring import arrow

PROPERTIES = settings(max_examples=200, deadline=None, database=None)


@PROPERTIES
@given(st.lists(st.none() | st.text(), max_size=30))
def test_texts_are_the_array_pyarrow_makes(values: list[str | None]) -> None:
    made = arrow.texts(values)
    assert made.type == pa.string()
    assert made.equals(pa.array(values, type=pa.string()))
    assert made.to_pylist() == values


@PROPERTIES
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=30))
def test_numbers_keep_every_float_and_nan(values: list[float]) -> None:
    made = arrow.numbers(np.array(values, dtype=np.float64))
    expected = pa.array(np.array(values, dtype=np.float64), type=pa.float64())
    assert made.type == pa.float64() and made.null_count == expected.null_count == 0
    assert made.buffers()[1].to_pybytes() == expected.buffers()[1].to_pybytes()  # NaN != NaN in equals()


def test_numbers_of_a_column_slice_are_its_values() -> None:
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3)
    assert arrow.numbers(matrix[:, 1]).to_pylist() == [1.0, 4.0, 7.0, 10.0]
    assert arrow.numbers(np.array([3, 1], dtype=np.int32)).type == pa.int32()


def test_numbers_refuse_booleans() -> None:
    with pytest.raises(TypeError, match="bool"):
        arrow.numbers(np.array([True, False]))


@PROPERTIES
@given(st.lists(st.lists(st.none() | st.floats(allow_nan=False), max_size=6), min_size=1, max_size=4), st.data())
def test_floats_read_chunks_slices_and_nulls_as_nan(chunks: list[list[float | None]], data: st.DataObject) -> None:
    arrays = [pa.array(chunk, type=pa.float64()) for chunk in chunks]
    # A chunk may start inside its buffers, as a sliced array does.
    arrays = [a.slice(data.draw(st.integers(0, len(a)))) for a in arrays]
    column = pa.chunked_array(arrays, type=pa.float64())
    expected = [np.nan if v is None else v for v in column.to_pylist()]
    np.testing.assert_array_equal(arrow.floats(column), np.array(expected, dtype=np.float64))


def test_floats_read_integers_as_floats() -> None:
    column = pa.chunked_array([pa.array([1, None, 3], type=pa.int64())])
    np.testing.assert_array_equal(arrow.floats(column), [1.0, np.nan, 3.0])


def test_writing_and_reading_a_capture_file_imports_no_pandas(tmp_path: object) -> None:
    # pyarrow's own conversions import pandas (about 48 MiB) into the serving process: the capture
    # writer must not, whatever the file holds (text features, association ids, a classifier's labels).
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
        print("pandas" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
