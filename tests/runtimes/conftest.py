"""Tiny real models of every framework, trained once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import lightgbm
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import xgboost
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NAMES = ["x1", "x2", "x3"]


@dataclass(frozen=True)
class Trained:
    """A saved model file, the in-memory model it came from, and rows to predict."""

    path: Path
    model: Any
    rows: npt.NDArray[Any]


@pytest.fixture(scope="session")
def data() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(120, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=120) > 0).astype(np.int64)
    return x, y


@pytest.fixture(scope="session")
def three_classes(data: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    x, _ = data
    return np.digitize(x[:, 0], [-0.4, 0.4]).astype(np.int64)


@pytest.fixture(scope="session")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def sk_named(folder: Path, data: Any) -> Trained:
    x, y = data
    model = LogisticRegression().fit(pd.DataFrame(x, columns=NAMES), y)
    joblib.dump(model, folder / "named.joblib")
    return Trained(folder / "named.joblib", model, x[:20])


@pytest.fixture(scope="session")
def sk_numpy(folder: Path, data: Any) -> Trained:
    x, y = data
    model = LogisticRegression().fit(x, y)
    # Compressed on purpose: detect() must see through joblib's zlib wrapping.
    joblib.dump(model, folder / "numpy.pkl", compress=3)
    return Trained(folder / "numpy.pkl", model, x[:20])


@pytest.fixture(scope="session")
def sk_forest(folder: Path, data: Any, three_classes: npt.NDArray[np.int64]) -> Trained:
    x, _ = data
    labels = np.array(["low", "mid", "high"])[three_classes]
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, labels)
    joblib.dump(model, folder / "forest.joblib")
    return Trained(folder / "forest.joblib", model, x[:20])


@pytest.fixture(scope="session")
def sk_regressor(folder: Path, data: Any) -> Trained:
    x, _ = data
    model = LinearRegression().fit(x, x @ np.array([1.0, -2.0, 0.5]))
    joblib.dump(model, folder / "linear.joblib")
    return Trained(folder / "linear.joblib", model, x[:20])


@pytest.fixture(scope="session")
def sk_pipeline(folder: Path, data: Any) -> Trained:
    x, y = data
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(
        pd.DataFrame(x, columns=NAMES), y
    )
    joblib.dump(model, folder / "pipeline.joblib")
    return Trained(folder / "pipeline.joblib", model, x[:20])


@pytest.fixture(scope="session")
def mixed_frame(data: Any) -> pd.DataFrame:
    x, _ = data
    colors = np.array(["red", "green", "blue"])[(np.abs(x[:, 2]) * 2).astype(int) % 3]
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "color": colors})


@pytest.fixture(scope="session")
def mixed_pipeline(data: Any, mixed_frame: pd.DataFrame) -> Any:
    _, y = data
    columns = ColumnTransformer([("num", StandardScaler(), ["x1", "x2"]), ("cat", OneHotEncoder(), ["color"])])
    return Pipeline([("columns", columns), ("clf", LogisticRegression())]).fit(mixed_frame, y)


@pytest.fixture(scope="session")
def sk_mixed(folder: Path, mixed_pipeline: Any, mixed_frame: pd.DataFrame) -> Trained:
    joblib.dump(mixed_pipeline, folder / "mixed.joblib")
    return Trained(folder / "mixed.joblib", mixed_pipeline, mixed_frame.to_numpy(dtype=object)[:20])


@pytest.fixture(scope="session")
def onnx_classifier(folder: Path, data: Any) -> Trained:
    x, y = data
    model = LogisticRegression().fit(x.astype(np.float32), y)
    # The default ZipMap output: probabilities arrive as a list of {label: p}.
    (folder / "logistic.onnx").write_bytes(to_onnx(model, x[:1].astype(np.float32)).SerializeToString())
    return Trained(folder / "logistic.onnx", model, x[:20].astype(np.float32))


@pytest.fixture(scope="session")
def onnx_forest(folder: Path, data: Any, three_classes: npt.NDArray[np.int64]) -> Trained:
    x, _ = data
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x.astype(np.float32), three_classes)
    # Without ZipMap: probabilities arrive as a plain (n, k) tensor. No extension, on purpose.
    onx = to_onnx(model, x[:1].astype(np.float32), options={"zipmap": False})
    (folder / "forest_model").write_bytes(onx.SerializeToString())
    return Trained(folder / "forest_model", model, x[:20].astype(np.float32))


@pytest.fixture(scope="session")
def onnx_regressor(folder: Path, data: Any) -> Trained:
    x, _ = data
    model = LinearRegression().fit(x.astype(np.float32), x @ np.array([1.0, -2.0, 0.5]))
    (folder / "linear.onnx").write_bytes(to_onnx(model, x[:1].astype(np.float32)).SerializeToString())
    return Trained(folder / "linear.onnx", model, x[:20].astype(np.float32))


@pytest.fixture(scope="session")
def onnx_columns(folder: Path, mixed_pipeline: Any, mixed_frame: pd.DataFrame) -> Trained:
    inputs = [
        ("x1", FloatTensorType([None, 1])),
        ("x2", FloatTensorType([None, 1])),
        ("color", StringTensorType([None, 1])),
    ]
    onx = to_onnx(mixed_pipeline, initial_types=inputs)
    (folder / "columns.onnx").write_bytes(onx.SerializeToString())
    return Trained(folder / "columns.onnx", mixed_pipeline, mixed_frame.to_numpy(dtype=object)[:20])


@pytest.fixture(scope="session")
def xgb_binary(folder: Path, data: Any) -> Trained:
    x, y = data
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(pd.DataFrame(x, columns=NAMES), y)
    model.save_model(folder / "binary.json")
    return Trained(folder / "binary.json", model, x[:20])


@pytest.fixture(scope="session")
def xgb_multi(folder: Path, data: Any, three_classes: npt.NDArray[np.int64]) -> Trained:
    x, _ = data
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(x, three_classes)
    model.save_model(folder / "multi.ubj")
    return Trained(folder / "multi.ubj", model, x[:20])


@pytest.fixture(scope="session")
def lgb_binary(folder: Path, data: Any) -> Trained:
    x, y = data
    model = lightgbm.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1)
    model.fit(pd.DataFrame(x, columns=NAMES), y)
    model.booster_.save_model(folder / "binary.txt")
    return Trained(folder / "binary.txt", model, x[:20])


@pytest.fixture(scope="session")
def lgb_regressor(folder: Path, data: Any) -> Trained:
    x, _ = data
    model = lightgbm.LGBMRegressor(n_estimators=5, min_child_samples=5, verbose=-1)
    model.fit(x, x @ np.array([1.0, -2.0, 0.5]))
    model.booster_.save_model(folder / "regression.txt")
    return Trained(folder / "regression.txt", model, x[:20])
