"""Tiny real model files, trained once per test session."""

from __future__ import annotations

import io
import multiprocessing
import tarfile
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression

FEATURES = ["x1", "x2", "x3"]


@dataclass(frozen=True)
class ModelFiles:
    classifier_named: Path  # joblib LogisticRegression fitted on a DataFrame (x1, x2, x3)
    classifier_plain: Path  # joblib LogisticRegression fitted on a bare array (3 features)
    regressor: Path  # joblib LinearRegression fitted on a DataFrame
    classifier_tar: Path  # gzip tar holding ./scikit_model.pkl, as the WML client uploads
    xgboost_json: Path  # native XGBoost binary classifier
    garbage: Path  # bytes that are no model


def training_data(rows: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    target = (frame["x1"] + 0.5 * frame["x2"] > 0).astype(int).to_numpy()
    return frame, target


def build(folder: Path) -> ModelFiles:
    import xgboost

    folder.mkdir(parents=True, exist_ok=True)
    frame, target = training_data()
    named = folder / "classifier.joblib"
    joblib.dump(LogisticRegression().fit(frame, target), named)
    plain = folder / "classifier-plain.joblib"
    joblib.dump(LogisticRegression().fit(frame.to_numpy(), target), plain)
    regressor = folder / "regressor.joblib"
    joblib.dump(LinearRegression().fit(frame, frame["x1"] * 2.0), regressor)
    tar_path = folder / "classifier.tar.gz"
    with tarfile.open(tar_path, "w:gz") as archive:
        archive.add(named, arcname="./scikit_model.pkl")
    booster = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(frame, target)
    xgb_path = folder / "xgb.json"
    booster.get_booster().save_model(xgb_path)
    garbage = folder / "garbage.bin"
    garbage.write_bytes(b"this is not a model at all" * 10)
    return ModelFiles(named, plain, regressor, tar_path, xgb_path, garbage)


def tar_bytes(path: Path, arcname: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(path, arcname=arcname)
    return buffer.getvalue()


class FailsOnZerosEverywhere(LogisticRegression):
    """Loads fine, but cannot answer the all-zero rows warm-up sends: a model that must not serve."""

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        if not np.asarray(X, dtype=float).any() and self._refuses_here():
            raise ValueError("this model refuses all-zero rows")
        return super().predict_proba(X)

    def _refuses_here(self) -> bool:
        return True

    def predict(self, X):  # type: ignore[no-untyped-def]
        self.predict_proba(X)
        return super().predict(X)


class FailsOnZeros(FailsOnZerosEverywhere):
    """Passes its trial before a replacement but fails warm-up in the serving processes: a model that
    behaves differently where it runs (a file, a library or a setting only the trial's machine has).
    It drives the replacement's phase-one failure: the swap stops with the old model serving."""

    def _refuses_here(self) -> bool:
        return multiprocessing.current_process().name != "champion-trial"


def build_failing(folder: Path, *, everywhere: bool = False) -> Path:
    """A model that fails warm-up in the serving processes; `everywhere`: in its trial too."""
    frame, target = training_data()
    path = folder / f"fails-on-zeros{'-everywhere' if everywhere else ''}.joblib"
    joblib.dump((FailsOnZerosEverywhere if everywhere else FailsOnZeros)().fit(frame, target), path)
    return path


def build_variants(folder: Path) -> dict[str, Path]:
    """Candidates for replacing `classifier_named`: compatible, fewer features, other target type."""
    folder.mkdir(parents=True, exist_ok=True)
    frame, target = training_data(seed=1)
    variants = {
        "retrained": LogisticRegression(C=0.1).fit(frame, target),
        "fewer_features": LogisticRegression().fit(frame[["x1", "x2"]], target),
        "regressor": LinearRegression().fit(frame, frame["x1"]),
        "three_classes": LogisticRegression().fit(frame, (frame["x1"] * 2).round().clip(-1, 1).astype(int)),
    }
    paths = {}
    for name, estimator in variants.items():
        paths[name] = folder / f"{name}.joblib"
        joblib.dump(estimator, paths[name])
    return paths


def tar_folder(folder: Path, target: Path, *, top: str = "") -> Path:
    """A gzip tar of `folder`'s files at the archive's root, or inside one top-level folder `top`."""
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                relative = path.relative_to(folder).as_posix()
                archive.add(path, arcname=f"{top}/{relative}" if top else relative)
    return target
