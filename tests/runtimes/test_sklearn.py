"""The scikit-learn adapter against scikit-learn's own predictions."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from champion import runtimes
from champion.runtimes import Feature, FeatureType, Framework, RuntimeLoadError, TargetType
from champion.runtimes.sklearn import SklearnModel

from .conftest import NAMES, Trained


def test_named_binary_signature_uses_the_training_column_names(sk_named: Trained) -> None:
    signature = runtimes.load(sk_named.path, Framework.SKLEARN).signature()
    assert signature.named
    assert signature.features == tuple(Feature(n, FeatureType.DOUBLE) for n in NAMES)
    assert signature.target.type is TargetType.BINARY
    assert signature.target.classes == (0, 1)
    assert all(type(c) is int for c in signature.target.classes)


def test_named_binary_predicts_like_sklearn(sk_named: Trained) -> None:
    loaded = runtimes.load(sk_named.path, Framework.SKLEARN)
    frame = pd.DataFrame(sk_named.rows, columns=NAMES)
    prediction = loaded.predict(sk_named.rows)
    np.testing.assert_array_equal(prediction.labels, sk_named.model.predict(frame))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, sk_named.model.predict_proba(frame))


def test_numpy_fitted_model_has_placeholder_names(sk_numpy: Trained) -> None:
    loaded = runtimes.load(sk_numpy.path, Framework.SKLEARN)
    signature = loaded.signature()
    assert not signature.named
    assert [f.name for f in signature.features] == ["f0", "f1", "f2"]
    prediction = loaded.predict(sk_numpy.rows)
    np.testing.assert_array_equal(prediction.labels, sk_numpy.model.predict(sk_numpy.rows))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, sk_numpy.model.predict_proba(sk_numpy.rows))


def test_multiclass_forest_keeps_sklearn_class_order_as_plain_strings(sk_forest: Trained) -> None:
    loaded = runtimes.load(sk_forest.path, Framework.SKLEARN)
    target = loaded.signature().target
    assert target.type is TargetType.MULTICLASS
    assert target.classes == tuple(sk_forest.model.classes_) == ("high", "low", "mid")
    assert all(type(c) is str for c in target.classes)
    prediction = loaded.predict(sk_forest.rows)
    np.testing.assert_array_equal(prediction.labels, sk_forest.model.predict(sk_forest.rows))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, sk_forest.model.predict_proba(sk_forest.rows))


def test_regressor_has_no_classes_and_no_probabilities(sk_regressor: Trained) -> None:
    loaded = runtimes.load(sk_regressor.path, Framework.SKLEARN)
    assert loaded.signature().target.type is TargetType.REGRESSION
    assert loaded.signature().target.classes == ()
    prediction = loaded.predict(sk_regressor.rows)
    assert prediction.probabilities is None
    np.testing.assert_allclose(prediction.labels, sk_regressor.model.predict(sk_regressor.rows))


def test_pipeline_is_described_by_its_first_and_last_steps(sk_pipeline: Trained) -> None:
    loaded = runtimes.load(sk_pipeline.path, Framework.SKLEARN)
    signature = loaded.signature()
    assert [f.name for f in signature.features] == NAMES
    assert signature.target.type is TargetType.BINARY
    frame = pd.DataFrame(sk_pipeline.rows, columns=NAMES)
    prediction = loaded.predict(sk_pipeline.rows)
    np.testing.assert_array_equal(prediction.labels, sk_pipeline.model.predict(frame))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, sk_pipeline.model.predict_proba(frame))


def test_column_transformer_string_column_is_typed_string(sk_mixed: Trained) -> None:
    loaded = runtimes.load(sk_mixed.path, Framework.SKLEARN)
    assert loaded.signature().features == (
        Feature("x1", FeatureType.DOUBLE),
        Feature("x2", FeatureType.DOUBLE),
        Feature("color", FeatureType.STRING),
    )
    frame = pd.DataFrame(sk_mixed.rows, columns=["x1", "x2", "color"]).infer_objects()
    prediction = loaded.predict(sk_mixed.rows)
    np.testing.assert_array_equal(prediction.labels, sk_mixed.model.predict(frame))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, sk_mixed.model.predict_proba(frame))


def test_estimator_is_exposed_for_the_caller(sk_named: Trained) -> None:
    loaded = runtimes.load(sk_named.path, Framework.SKLEARN)
    assert isinstance(loaded, SklearnModel)
    assert type(loaded.estimator).__name__ == "LogisticRegression"


def test_pickle_without_predict_is_refused(tmp_path: Path) -> None:
    joblib.dump({"not": "a model"}, tmp_path / "dict.joblib")
    with pytest.raises(RuntimeLoadError, match="no predict method"):
        runtimes.load(tmp_path / "dict.joblib", Framework.SKLEARN)


def test_unfitted_estimator_is_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    joblib.dump(LogisticRegression(), tmp_path / "unfitted.joblib")
    with pytest.raises(RuntimeLoadError, match="is it fitted"):
        runtimes.load(tmp_path / "unfitted.joblib", Framework.SKLEARN)


def test_other_frameworks_files_are_not_pickles(onnx_classifier: Trained, xgb_binary: Trained) -> None:
    for path in (onnx_classifier.path, xgb_binary.path):
        with pytest.raises(RuntimeLoadError, match="could not load as a scikit-learn model"):
            runtimes.load(path, Framework.SKLEARN)
