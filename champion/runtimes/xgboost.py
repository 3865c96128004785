"""The XGBoost adapter: a native model file (JSON or UBJSON) run by a bare Booster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost

from champion.runtimes.base import (
    Feature,
    FeatureType,
    Framework,
    Prediction,
    RuntimeLoadError,
    Signature,
    Target,
    TargetType,
    placeholder_names,
)

# XGBoost's feature type codes: 'q' is quantitative, 'i' indicator, 'c' categorical.
FEATURE_TYPES: dict[str, FeatureType] = {
    "float": FeatureType.DOUBLE,
    "q": FeatureType.DOUBLE,
    "int": FeatureType.INTEGER,
    "i": FeatureType.BOOLEAN,
    "c": FeatureType.STRING,
}


class XGBoostModel:
    """A Booster predicting in place from numpy, with no DMatrix built per call."""

    framework: Framework = Framework.XGBOOST

    def __init__(self, booster: xgboost.Booster) -> None:
        self.booster = booster
        config = json.loads(booster.save_config())
        learner = config["learner"]
        self._objective: str = learner["objective"]["name"]
        self._signature = Signature(
            features=_features(booster),
            target=_target(self._objective, int(learner["learner_model_param"].get("num_class", "0"))),
            named=booster.feature_names is not None,
            allows_missing=True,
        )

    def signature(self) -> Signature:
        return self._signature

    def predict(self, rows: npt.NDArray[Any]) -> Prediction:
        data = rows.astype(np.float64, copy=False)
        kind = self._signature.target.type
        if kind is TargetType.REGRESSION:
            return Prediction(labels=np.asarray(self.booster.inplace_predict(data)), probabilities=None)
        if kind is TargetType.BINARY:
            score = np.asarray(self.booster.inplace_predict(data), dtype=np.float64).reshape(-1)
            if self._objective == "binary:logitraw":
                # logitraw leaves the margin untransformed: apply the logistic function here.
                score = 1.0 / (1.0 + np.exp(-score))
            # Strictly above one half: the library's own classifier sends a tie to class 0.
            return Prediction(
                labels=(score > 0.5).astype(np.int64), probabilities=np.column_stack([1.0 - score, score])
            )
        if self._objective == "multi:softmax":
            # softmax returns only the winning index: ask for margins to get probabilities.
            margin = np.asarray(self.booster.inplace_predict(data, predict_type="margin"), dtype=np.float64)
            exp = np.exp(margin - margin.max(axis=1, keepdims=True))
            probabilities = exp / exp.sum(axis=1, keepdims=True)
        else:
            probabilities = np.asarray(self.booster.inplace_predict(data), dtype=np.float64)
        return Prediction(labels=probabilities.argmax(axis=1), probabilities=probabilities)


def load(path: Path) -> XGBoostModel:
    return XGBoostModel(xgboost.Booster(model_file=str(path)))


def _features(booster: xgboost.Booster) -> tuple[Feature, ...]:
    names = booster.feature_names or placeholder_names(booster.num_features())
    types = booster.feature_types or ["float"] * len(names)
    unknown = sorted({t for t in types if t not in FEATURE_TYPES})
    if unknown:
        raise RuntimeLoadError(f"the XGBoost model has unsupported feature types: {', '.join(unknown)}")
    return tuple(Feature(name, FEATURE_TYPES[kind]) for name, kind in zip(names, types, strict=True))


def _target(objective: str, num_class: int) -> Target:
    if objective.startswith("binary:"):
        return Target(type=TargetType.BINARY, classes=(0, 1))
    if objective in ("multi:softprob", "multi:softmax"):
        if num_class < 2:
            raise RuntimeLoadError(f"the XGBoost model's objective is {objective} but num_class is {num_class}")
        return Target(type=TargetType.MULTICLASS, classes=tuple(range(num_class)))
    if objective.split(":")[0] in ("reg", "count", "survival", "rank"):
        return Target(type=TargetType.REGRESSION)
    raise RuntimeLoadError(f"the XGBoost objective {objective} is not supported")
