"""Warm-up: real predictions on sample rows built from the signature, before any traffic."""

from __future__ import annotations

import numpy as np

from champion.runtimes import FeatureType, LoadedModel, Signature

SAMPLE_VALUES = {FeatureType.DOUBLE: 0.0, FeatureType.INTEGER: 0, FeatureType.BOOLEAN: False, FeatureType.STRING: ""}


def sample_rows(signature: Signature, count: int) -> np.ndarray:
    numeric = all(f.type is not FeatureType.STRING for f in signature.features)
    row = [SAMPLE_VALUES[f.type] for f in signature.features]
    return np.array([row] * count, dtype=np.float64 if numeric else object)


def warm_up(model: LoadedModel, signature: Signature) -> None:
    """Predict a single row and a small batch, so the first real request pays no first-call cost.

    Raises whatever the model raises: a model that cannot answer sample rows must not serve.
    """
    for count in (1, 8):
        prediction = model.predict(sample_rows(signature, count))
        if len(prediction.labels) != count:
            raise ValueError(f"the model answered {len(prediction.labels)} rows for {count}")
