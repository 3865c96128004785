"""The ONNX adapter against the scikit-learn models it was converted from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from champion import runtimes
from champion.runtimes import Feature, FeatureType, Framework, RuntimeLoadError, TargetType

from .conftest import Trained


def test_single_tensor_classifier_has_placeholder_features(onnx_classifier: Trained) -> None:
    signature = runtimes.load(onnx_classifier.path, Framework.ONNX).signature()
    assert not signature.named
    assert signature.features == tuple(Feature(n, FeatureType.DOUBLE) for n in ("f0", "f1", "f2"))
    assert signature.target.type is TargetType.BINARY
    assert signature.target.classes == (0, 1)


def test_zipmap_probabilities_come_back_as_a_matrix(onnx_classifier: Trained) -> None:
    loaded = runtimes.load(onnx_classifier.path, Framework.ONNX)
    # float64 rows, as the server passes them: the adapter casts to the graph's float32.
    prediction = loaded.predict(onnx_classifier.rows.astype(np.float64))
    np.testing.assert_array_equal(prediction.labels, onnx_classifier.model.predict(onnx_classifier.rows))
    assert prediction.probabilities is not None
    assert prediction.probabilities.shape == (20, 2)
    np.testing.assert_allclose(
        prediction.probabilities, onnx_classifier.model.predict_proba(onnx_classifier.rows), rtol=1e-5, atol=1e-6
    )


def test_tensor_probabilities_follow_the_graph_class_order(onnx_forest: Trained) -> None:
    loaded = runtimes.load(onnx_forest.path, Framework.ONNX)
    assert loaded.signature().target.type is TargetType.MULTICLASS
    assert loaded.signature().target.classes == (0, 1, 2)
    prediction = loaded.predict(onnx_forest.rows.astype(np.float64))
    np.testing.assert_array_equal(prediction.labels, onnx_forest.model.predict(onnx_forest.rows))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(
        prediction.probabilities, onnx_forest.model.predict_proba(onnx_forest.rows), rtol=1e-5, atol=1e-6
    )


def test_regressor(onnx_regressor: Trained) -> None:
    loaded = runtimes.load(onnx_regressor.path, Framework.ONNX)
    assert loaded.signature().target.type is TargetType.REGRESSION
    prediction = loaded.predict(onnx_regressor.rows.astype(np.float64))
    assert prediction.probabilities is None
    assert prediction.labels.shape == (20,)
    np.testing.assert_allclose(
        prediction.labels, onnx_regressor.model.predict(onnx_regressor.rows), rtol=1e-5, atol=1e-5
    )


def test_one_input_per_column_is_named_and_typed(onnx_columns: Trained) -> None:
    loaded = runtimes.load(onnx_columns.path, Framework.ONNX)
    signature = loaded.signature()
    assert signature.named
    assert signature.features == (
        Feature("x1", FeatureType.DOUBLE),
        Feature("x2", FeatureType.DOUBLE),
        Feature("color", FeatureType.STRING),
    )
    frame = pd.DataFrame(onnx_columns.rows, columns=["x1", "x2", "color"]).infer_objects()
    prediction = loaded.predict(onnx_columns.rows)
    np.testing.assert_array_equal(prediction.labels, onnx_columns.model.predict(frame))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, onnx_columns.model.predict_proba(frame), rtol=1e-4, atol=1e-5)


def test_other_frameworks_files_are_not_onnx(sk_named: Trained, lgb_binary: Trained) -> None:
    for path in (sk_named.path, lgb_binary.path):
        with pytest.raises(RuntimeLoadError, match="could not load as an ONNX model"):
            runtimes.load(path, Framework.ONNX)
