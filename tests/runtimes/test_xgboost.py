"""The XGBoost adapter against the XGBoost sklearn wrapper's own predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from champion import runtimes
from champion.runtimes import Feature, FeatureType, Framework, RuntimeLoadError, TargetType
from champion.runtimes.sklearn import SklearnModel

from .conftest import NAMES, Trained


def test_binary_json_signature_has_the_booster_names(xgb_binary: Trained) -> None:
    signature = runtimes.load(xgb_binary.path, Framework.XGBOOST).signature()
    assert signature.named
    assert signature.features == tuple(Feature(n, FeatureType.DOUBLE) for n in NAMES)
    assert signature.target.type is TargetType.BINARY
    assert signature.target.classes == (0, 1)


def test_binary_predicts_like_xgboost(xgb_binary: Trained) -> None:
    prediction = runtimes.load(xgb_binary.path, Framework.XGBOOST).predict(xgb_binary.rows)
    frame = pd.DataFrame(xgb_binary.rows, columns=NAMES)
    np.testing.assert_array_equal(prediction.labels, xgb_binary.model.predict(frame))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, xgb_binary.model.predict_proba(frame), rtol=1e-6, atol=1e-7)


def test_multiclass_ubj_has_placeholders_and_class_indices(xgb_multi: Trained) -> None:
    loaded = runtimes.load(xgb_multi.path, Framework.XGBOOST)
    signature = loaded.signature()
    assert not signature.named
    assert [f.name for f in signature.features] == ["f0", "f1", "f2"]
    assert signature.target.type is TargetType.MULTICLASS
    assert signature.target.classes == (0, 1, 2)
    prediction = loaded.predict(xgb_multi.rows)
    np.testing.assert_array_equal(prediction.labels, xgb_multi.model.predict(xgb_multi.rows))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, xgb_multi.model.predict_proba(xgb_multi.rows), rtol=1e-6)


def test_sklearn_wrapper_pickle_loads_as_sklearn_and_exposes_the_estimator(
    xgb_binary: Trained, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import joblib

    path = tmp_path_factory.mktemp("wrapped") / "xgb.joblib"
    joblib.dump(xgb_binary.model, path)
    assert runtimes.detect(path) is Framework.SKLEARN
    loaded = runtimes.load(path, Framework.SKLEARN)
    assert isinstance(loaded, SklearnModel)
    assert type(loaded.estimator).__module__.split(".")[0] == "xgboost"
    assert [f.name for f in loaded.signature().features] == NAMES
    assert loaded.signature().target.classes == (0, 1)
    frame = pd.DataFrame(xgb_binary.rows, columns=NAMES)
    assert loaded.predict(xgb_binary.rows).probabilities is not None
    np.testing.assert_array_equal(loaded.predict(xgb_binary.rows).labels, xgb_binary.model.predict(frame))


def test_other_frameworks_files_are_not_xgboost(
    sk_named: Trained, lgb_binary: Trained, onnx_classifier: Trained
) -> None:
    for path in (sk_named.path, lgb_binary.path, onnx_classifier.path):
        with pytest.raises(RuntimeLoadError, match="could not load as an XGBoost model"):
            runtimes.load(path, Framework.XGBOOST)
