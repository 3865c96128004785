"""Model runtimes: tell a model file's framework from its bytes, and load it with that framework's library."""

from __future__ import annotations

import re
from pathlib import Path

from champion.runtimes.base import (
    Feature,
    FeatureType,
    Framework,
    LoadedModel,
    Prediction,
    RuntimeLoadError,
    Signature,
    Target,
    TargetType,
    ensure_file,
)

__all__ = [
    "Feature",
    "FeatureType",
    "Framework",
    "LoadedModel",
    "Prediction",
    "RuntimeLoadError",
    "Signature",
    "Target",
    "TargetType",
    "detect",
    "load",
]

# Enough of the head to find XGBoost's "learner" key and LightGBM's version line.
HEAD_BYTES = 4096

# How joblib's compressors start their output (joblib pickles are often compressed).
COMPRESSED_MAGIC = (
    b"\x1f\x8b",  # gzip
    b"BZh",  # bz2
    b"\xfd7zXZ\x00",  # xz
    b"]\x00\x00",  # lzma
    b"\x04\x22\x4d\x18",  # lz4
    b"ZF",  # joblib < 0.10's own zlib container
)

LIGHTGBM_VERSION = re.compile(rb"^version=v\d", re.MULTILINE)

ARTICLES = {
    Framework.SKLEARN: "a scikit-learn",
    Framework.ONNX: "an ONNX",
    Framework.XGBOOST: "an XGBoost",
    Framework.LIGHTGBM: "a LightGBM",
}


def detect(path: Path) -> Framework:
    """The framework a model file belongs to, judged from its content rather than its name."""
    ensure_file(path)
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    if not head:
        raise RuntimeLoadError(f"not a recognised model file: {path.name} is empty")
    # Pickle protocol 2 and later open with the PROTO opcode.
    if head[0] == 0x80 or head.startswith(COMPRESSED_MAGIC) or _is_zlib(head):
        return Framework.SKLEARN
    if head.lstrip().startswith(b"{") and b"learner" in head:
        return Framework.XGBOOST
    if head.startswith((b"tree\n", b"tree\r\n")) or LIGHTGBM_VERSION.search(head):
        return Framework.LIGHTGBM
    # A serialised ModelProto starts with field 1 (ir_version) as a varint: tag byte 0x08.
    if (head[0] == 0x08 or path.suffix.lower() == ".onnx") and _is_onnx(path):
        return Framework.ONNX
    raise RuntimeLoadError(
        f"not a recognised model file: {path.name} is neither a pickle, ONNX, XGBoost nor LightGBM model"
    )


def load(path: Path, framework: Framework) -> LoadedModel:
    """Load `path` with `framework`'s library; any failure becomes a RuntimeLoadError."""
    ensure_file(path)
    try:
        # Imported here so a server only pays for the libraries of the models it serves.
        match framework:
            case Framework.SKLEARN:
                from champion.runtimes import sklearn

                return sklearn.load(path)
            case Framework.ONNX:
                from champion.runtimes import onnx

                return onnx.load(path)
            case Framework.XGBOOST:
                from champion.runtimes import xgboost

                return xgboost.load(path)
            case Framework.LIGHTGBM:
                from champion.runtimes import lightgbm

                return lightgbm.load(path)
    except RuntimeLoadError:
        raise
    # Unpickling alone can raise almost anything (missing modules, bad opcodes, EOF), and so
    # can the native libraries: all of it means "not a model of this framework".
    except Exception as exc:
        raise RuntimeLoadError(f"could not load as {ARTICLES[framework]} model: {_reason(exc)}") from exc
    raise RuntimeLoadError(f"unknown framework {framework!r}")


def _is_zlib(head: bytes) -> bool:
    # A zlib stream (joblib's default compressor) starts with CMF 0x78 and a header checksum.
    return len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0


def _is_onnx(path: Path) -> bool:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:
        # Any parse failure just means "not ONNX"; protobuf raises several unrelated types.
        return False
    return model.ir_version > 0 and len(model.graph.node) > 0


def _reason(exc: Exception) -> str:
    """The first line of a library's message: native libraries append stack traces."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
