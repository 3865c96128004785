"""The contract every framework adapter meets: load a file, describe it, predict a batch."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Framework(enum.StrEnum):
    """The model frameworks champion loads with their own libraries."""

    SKLEARN = "scikit-learn"
    ONNX = "onnx"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"


class FeatureType(enum.StrEnum):
    """Column types, named as WML input schemas name them."""

    DOUBLE = "double"
    INTEGER = "integer"
    STRING = "string"
    BOOLEAN = "boolean"


class TargetType(enum.StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


@dataclass(frozen=True)
class Feature:
    name: str
    type: FeatureType


@dataclass(frozen=True)
class Target:
    """What the model predicts. `classes` is empty for regression; `name` is None when unknown."""

    type: TargetType
    classes: tuple[str | int | float | bool, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class Signature:
    """A model's inputs and output, read from the artifact itself.

    `named` is False when the artifact carries no feature names and the names are
    placeholders (`f0`, `f1`, ...), so a declared input schema may supply real ones.
    `allows_missing` is True when the model itself handles missing values (NaN), so a
    request may leave numeric values empty.
    """

    features: tuple[Feature, ...]
    target: Target
    named: bool = True
    allows_missing: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": [{"name": f.name, "type": f.type.value} for f in self.features],
            "target": {
                "name": self.target.name,
                "type": self.target.type.value,
                "classes": list(self.target.classes),
            },
            "named": self.named,
            "allows_missing": self.allows_missing,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        target = data["target"]
        return cls(
            features=tuple(Feature(f["name"], FeatureType(f["type"])) for f in data["features"]),
            target=Target(
                type=TargetType(target["type"]),
                classes=tuple(target.get("classes", ())),
                name=target.get("name"),
            ),
            named=data.get("named", True),
            allows_missing=data.get("allows_missing", False),
        )


@dataclass(frozen=True)
class Prediction:
    """One answer per input row, in input order.

    `labels` has shape (n,). `probabilities` has shape (n, len(classes)) for classifiers,
    columns in the order of `Signature.target.classes`; it is None for regressors and for
    classifiers that cannot give probabilities (an SVC without `probability=True`).
    """

    labels: np.ndarray
    probabilities: np.ndarray | None


class LoadedModel(Protocol):
    """A model held in memory, ready to predict."""

    framework: Framework

    def signature(self) -> Signature: ...

    def predict(self, rows: np.ndarray) -> Prediction:
        """Predict a 2-D batch whose columns are in `signature().features` order.

        `rows` is float64 when every feature is numeric, otherwise an object array.
        """
        ...


class RuntimeLoadError(Exception):
    """The file is not a loadable model of the expected framework; the message says why."""


def placeholder_names(count: int) -> tuple[str, ...]:
    return tuple(f"f{i}" for i in range(count))


def ensure_file(path: Path) -> None:
    if not path.is_file():
        raise RuntimeLoadError(f"{path.name} is not a file")
