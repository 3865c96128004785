"""The LightGBM adapter: a native text model file run by a bare Booster."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import numpy.typing as npt

from champion.runtimes.base import (
    Feature,
    FeatureType,
    Framework,
    Prediction,
    Signature,
    Target,
    TargetType,
    placeholder_names,
)

# LightGBM's own names for columns it was given without names.
UNNAMED = re.compile(r"Column_\d+")


class LightGBMModel:
    """A Booster with its objective, read from the model file's header."""

    framework: Framework = Framework.LIGHTGBM

    def __init__(self, booster: lightgbm.Booster, objective: str) -> None:
        self.booster = booster
        names = booster.feature_name()
        named = not all(UNNAMED.fullmatch(n) for n in names)
        features = tuple(Feature(n, FeatureType.DOUBLE) for n in (names if named else placeholder_names(len(names))))
        self._signature = Signature(
            features=features, target=_target(objective, booster), named=named, allows_missing=True
        )

    def signature(self) -> Signature:
        return self._signature

    def predict(self, rows: npt.NDArray[Any]) -> Prediction:
        output = np.asarray(self.booster.predict(rows.astype(np.float64, copy=False)), dtype=np.float64)
        kind = self._signature.target.type
        if kind is TargetType.REGRESSION:
            return Prediction(labels=output, probabilities=None)
        if kind is TargetType.BINARY:
            # Strictly above one half: the library's own classifier sends a tie to class 0.
            return Prediction(
                labels=(output > 0.5).astype(np.int64), probabilities=np.column_stack([1.0 - output, output])
            )
        return Prediction(labels=output.argmax(axis=1), probabilities=output)


def load(path: Path) -> LightGBMModel:
    booster = lightgbm.Booster(model_file=str(path))
    return LightGBMModel(booster, _header_objective(path))


def _header_objective(path: Path) -> str:
    """The objective's name from the header, which precedes the trees (e.g. `objective=binary sigmoid:1`)."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("objective="):
                words = line.removeprefix("objective=").split()
                return words[0] if words else "custom"
            if line.startswith("Tree="):
                break
    # Models trained with a custom objective function carry no objective line: raw scores.
    return "custom"


def _target(objective: str, booster: lightgbm.Booster) -> Target:
    # binary and the two multiclass objectives are LightGBM's only classifiers; every other
    # objective (regression*, huber, poisson, quantile, lambdarank, ...) yields one score a row.
    if objective == "binary":
        return Target(type=TargetType.BINARY, classes=(0, 1))
    if objective in ("multiclass", "multiclassova"):
        return Target(type=TargetType.MULTICLASS, classes=tuple(range(booster.num_model_per_iteration())))
    return Target(type=TargetType.REGRESSION)
