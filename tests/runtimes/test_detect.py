"""detect() tells frameworks apart by content; load() reports what went wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from champion import runtimes
from champion.runtimes import Framework, RuntimeLoadError

from .conftest import Trained

CASES = [
    ("sk_named", Framework.SKLEARN),
    ("sk_numpy", Framework.SKLEARN),
    ("sk_forest", Framework.SKLEARN),
    ("sk_regressor", Framework.SKLEARN),
    ("sk_pipeline", Framework.SKLEARN),
    ("onnx_classifier", Framework.ONNX),
    ("onnx_forest", Framework.ONNX),
    ("onnx_regressor", Framework.ONNX),
    ("xgb_binary", Framework.XGBOOST),
    ("xgb_multi", Framework.XGBOOST),
    ("lgb_binary", Framework.LIGHTGBM),
    ("lgb_regressor", Framework.LIGHTGBM),
]


@pytest.mark.parametrize(("fixture", "framework"), CASES)
def test_detect_recognises_each_framework(fixture: str, framework: Framework, request: pytest.FixtureRequest) -> None:
    trained: Trained = request.getfixturevalue(fixture)
    assert runtimes.detect(trained.path) is framework


def test_detect_ignores_a_misleading_extension(xgb_binary: Trained, tmp_path: Path) -> None:
    renamed = tmp_path / "model.onnx"
    renamed.write_bytes(xgb_binary.path.read_bytes())
    assert runtimes.detect(renamed) is Framework.XGBOOST


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is not a model\n", bytes(range(256)) * 4, b"\x08\x01garbage", b'{"some": "json"}'],
    ids=["empty", "text", "binary", "onnx-like", "json"],
)
def test_detect_refuses_what_is_no_model(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(RuntimeLoadError, match="not a recognised model file"):
        runtimes.detect(path)


def test_detect_and_load_refuse_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeLoadError, match="is not a file"):
        runtimes.detect(tmp_path / "absent.joblib")
    with pytest.raises(RuntimeLoadError, match="is not a file"):
        runtimes.load(tmp_path / "absent.joblib", Framework.SKLEARN)


def test_load_error_message_is_one_short_line(sk_named: Trained) -> None:
    with pytest.raises(RuntimeLoadError) as caught:
        runtimes.load(sk_named.path, Framework.XGBOOST)
    message = str(caught.value)
    assert message.startswith("could not load as an XGBoost model: ")
    assert "\n" not in message
    assert len(message) < 400


@pytest.mark.parametrize(("fixture", "framework"), CASES)
def test_loaded_model_reports_its_framework(fixture: str, framework: Framework, request: pytest.FixtureRequest) -> None:
    trained: Trained = request.getfixturevalue(fixture)
    assert runtimes.load(trained.path, framework).framework is framework
