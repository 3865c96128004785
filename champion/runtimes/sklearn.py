"""The scikit-learn adapter: a joblib or pickle file holding a fitted estimator or Pipeline."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.utils import get_tags

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

# Estimators fitted on a DataFrame get a bare array on the fast path (columns already in their
# order), and scikit-learn would warn on every call. The filter is installed once, for that
# message only: toggling filters per call is not thread-safe, and predictions run in threads.
warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)


class SklearnModel:
    """A fitted scikit-learn-compatible estimator; `estimator` is the unpickled object itself."""

    framework: Framework = Framework.SKLEARN

    def __init__(self, estimator: Any) -> None:
        if not callable(getattr(estimator, "predict", None)):
            raise RuntimeLoadError(f"the pickle holds a {type(estimator).__name__}, which has no predict method")
        self.estimator = estimator
        names = getattr(estimator, "feature_names_in_", None)
        # Kept as a list so building the DataFrame on every predict does not convert it again.
        self._columns: list[str] | None = [str(n) for n in names] if names is not None else None
        self._signature = _read_signature(estimator, self._columns)
        self._proba = self._signature.target.type is not TargetType.REGRESSION and callable(
            getattr(estimator, "predict_proba", None)
        )
        classes = getattr(estimator, "classes_", None)
        self._classes = np.asarray(classes) if classes is not None and self._proba else None
        # A DataFrame costs more than the model on small batches (building it, then
        # scikit-learn validating it); only estimators that select columns by name need one.
        self._needs_frame = self._columns is not None and (_selects_by_name(estimator) or not _numeric(self._signature))

    @property
    def library(self) -> str:
        """The top-level package of the final estimator (`xgboost` for a Pipeline ending in XGBClassifier)."""
        final = self.estimator.steps[-1][1] if hasattr(self.estimator, "steps") else self.estimator
        return type(final).__module__.split(".")[0]

    def signature(self) -> Signature:
        return self._signature

    def predict(self, rows: npt.NDArray[Any]) -> Prediction:
        batch: Any = rows
        if self._needs_frame:
            # Name-based column selection (ColumnTransformer) needs the names back.
            frame = pd.DataFrame(rows, columns=self._columns, copy=False)
            batch = frame.infer_objects() if rows.dtype == object else frame
        if self._classes is not None:
            # One pass through the model: the label is the most probable class, which is how
            # scikit-learn's classifiers decide, and keeps label and probabilities consistent.
            probabilities = np.asarray(self.estimator.predict_proba(batch), dtype=np.float64)
            return Prediction(labels=self._classes[np.argmax(probabilities, axis=1)], probabilities=probabilities)
        labels = np.asarray(self.estimator.predict(batch))
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels.ravel()
        return Prediction(labels=labels, probabilities=None)


def _selects_by_name(estimator: Any) -> bool:
    """Whether a ColumnTransformer sits anywhere in the estimator (it may pick columns by name)."""
    if isinstance(estimator, ColumnTransformer):
        return True
    children: list[Any] = [step for _, step in getattr(estimator, "steps", [])]
    children += [part for _, part in getattr(estimator, "transformer_list", [])]
    children += [getattr(estimator, name) for name in ("estimator", "base_estimator") if hasattr(estimator, name)]
    return any(_selects_by_name(child) for child in children if child is not None and child != "passthrough")


def _numeric(signature: Signature) -> bool:
    return all(f.type is not FeatureType.STRING for f in signature.features)


def load(path: Path) -> SklearnModel:
    return SklearnModel(joblib.load(path))


def _read_signature(estimator: Any, columns: list[str] | None) -> Signature:
    if columns is not None:
        strings = _string_columns(estimator)
        features = tuple(Feature(n, FeatureType.STRING if n in strings else FeatureType.DOUBLE) for n in columns)
    else:
        count = getattr(estimator, "n_features_in_", None)
        if not isinstance(count, int | np.integer):
            raise RuntimeLoadError(
                f"the {type(estimator).__name__} does not say how many features it takes: is it fitted?"
            )
        features = tuple(Feature(n, FeatureType.DOUBLE) for n in placeholder_names(int(count)))
    return Signature(
        features=features,
        target=_read_target(estimator),
        named=columns is not None,
        allows_missing=_allows_nan(estimator),
    )


def _allows_nan(estimator: Any) -> bool:
    """Whether the estimator takes NaN itself (scikit-learn's own input tags say so)."""
    try:
        return bool(get_tags(estimator).input_tags.allow_nan)
    except Exception:
        # Third-party estimators may not implement tags; then assume they do not.
        return False


def _read_target(estimator: Any) -> Target:
    classes = getattr(estimator, "classes_", None)
    classifier = is_classifier(estimator) or (classes is not None and hasattr(estimator, "predict_proba"))
    if not classifier:
        return Target(type=TargetType.REGRESSION)
    if classes is None:
        raise RuntimeLoadError(f"the {type(estimator).__name__} is a classifier without classes_: is it fitted?")
    values = np.asarray(classes)
    if values.ndim != 1:
        raise RuntimeLoadError("multi-output classifiers are not supported")
    # tolist() turns numpy scalars into plain Python ones, which the signature must hold.
    labels = tuple(values.tolist())
    return Target(type=TargetType.BINARY if len(labels) == 2 else TargetType.MULTICLASS, classes=labels)


def _string_columns(estimator: Any) -> set[str]:
    """Columns a fitted ColumnTransformer feeds to an encoder that learned string categories."""
    steps = getattr(estimator, "steps", None)
    head = steps[0][1] if steps else estimator
    found: set[str] = set()
    for _, transformer, columns in getattr(head, "transformers_", ()):
        encoder = transformer
        for _, step in getattr(transformer, "steps", ()):
            if hasattr(step, "categories_"):
                encoder = step
        categories = getattr(encoder, "categories_", None)
        if categories is None or isinstance(columns, str | slice) or callable(columns):
            continue
        for column, values in zip(list(columns), categories, strict=False):
            if isinstance(column, str) and np.asarray(values).dtype.kind in "OUS":
                found.add(column)
    return found
