"""The LightGBM adapter against LightGBM's own predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from champion import runtimes
from champion.runtimes import Feature, FeatureType, Framework, RuntimeLoadError, TargetType

from .conftest import NAMES, Trained


def test_binary_signature_has_the_training_names(lgb_binary: Trained) -> None:
    signature = runtimes.load(lgb_binary.path, Framework.LIGHTGBM).signature()
    assert signature.named
    assert signature.features == tuple(Feature(n, FeatureType.DOUBLE) for n in NAMES)
    assert signature.target.type is TargetType.BINARY
    assert signature.target.classes == (0, 1)


def test_binary_predicts_like_lightgbm(lgb_binary: Trained) -> None:
    prediction = runtimes.load(lgb_binary.path, Framework.LIGHTGBM).predict(lgb_binary.rows)
    frame = pd.DataFrame(lgb_binary.rows, columns=NAMES)
    np.testing.assert_array_equal(prediction.labels, lgb_binary.model.predict(frame))
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, lgb_binary.model.predict_proba(frame))


def test_regressor_with_unnamed_columns_gets_placeholders(lgb_regressor: Trained) -> None:
    loaded = runtimes.load(lgb_regressor.path, Framework.LIGHTGBM)
    signature = loaded.signature()
    assert not signature.named
    assert [f.name for f in signature.features] == ["f0", "f1", "f2"]
    assert signature.target.type is TargetType.REGRESSION
    prediction = loaded.predict(lgb_regressor.rows)
    assert prediction.probabilities is None
    np.testing.assert_allclose(prediction.labels, lgb_regressor.model.predict(lgb_regressor.rows))


def test_other_frameworks_files_are_not_lightgbm(sk_named: Trained, xgb_binary: Trained) -> None:
    for path in (sk_named.path, xgb_binary.path):
        with pytest.raises(RuntimeLoadError, match="could not load as a LightGBM model"):
            runtimes.load(path, Framework.LIGHTGBM)
