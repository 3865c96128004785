"""The ONNX adapter: a model run by onnxruntime on the CPU, in the shapes skl2onnx produces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime

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

# onnxruntime's tensor type names, mapped to the numpy dtype fed and the feature type shown.
TENSOR_TYPES: dict[str, tuple[type[Any], FeatureType]] = {
    "tensor(float)": (np.float32, FeatureType.DOUBLE),
    "tensor(double)": (np.float64, FeatureType.DOUBLE),
    "tensor(int64)": (np.int64, FeatureType.INTEGER),
    "tensor(int32)": (np.int32, FeatureType.INTEGER),
    "tensor(string)": (np.object_, FeatureType.STRING),
    "tensor(bool)": (np.bool_, FeatureType.BOOLEAN),
}


@dataclass(frozen=True)
class _Input:
    name: str
    dtype: type[Any]
    rank: int


class OnnxModel:
    """An inference session fed either one (n, k) tensor or one (n, 1) tensor per column."""

    framework: Framework = Framework.ONNX

    def __init__(self, session: Any, graph: onnx.GraphProto) -> None:
        self.session = session
        inputs = session.get_inputs()
        if not inputs:
            raise RuntimeLoadError("the ONNX graph has no input")
        self._inputs = [_Input(i.name, _tensor_type(i)[0], len(i.shape)) for i in inputs]
        if len(inputs) == 1:
            shape = inputs[0].shape
            if len(shape) != 2 or not isinstance(shape[1], int):
                raise RuntimeLoadError(f"the ONNX input {inputs[0].name} is not a matrix with a fixed column count")
            kind = _tensor_type(inputs[0])[1]
            features = tuple(Feature(n, kind) for n in placeholder_names(shape[1]))
        else:
            features = tuple(Feature(i.name, _tensor_type(i)[1]) for i in inputs)
        outputs = session.get_outputs()
        self._classifier = len(outputs) >= 2
        target = _classifier_target(graph, outputs[1]) if self._classifier else Target(type=TargetType.REGRESSION)
        self._signature = Signature(features=features, target=target, named=len(inputs) > 1)
        self._outputs = [o.name for o in outputs[:2]]

    def signature(self) -> Signature:
        return self._signature

    def predict(self, rows: npt.NDArray[Any]) -> Prediction:
        if len(self._inputs) == 1:
            only = self._inputs[0]
            feed = {only.name: rows.astype(only.dtype, copy=False)}
        else:
            feed = {
                spec.name: (rows[:, i : i + 1] if spec.rank == 2 else rows[:, i]).astype(spec.dtype, copy=False)
                for i, spec in enumerate(self._inputs)
            }
        results = self.session.run(self._outputs, feed)
        labels = np.asarray(results[0])
        labels = labels.ravel() if labels.ndim == 2 and labels.shape[1] == 1 else labels
        if not self._classifier:
            return Prediction(labels=labels, probabilities=None)
        return Prediction(labels=labels, probabilities=self._probabilities(results[1]))

    def _probabilities(self, raw: Any) -> npt.NDArray[np.float64]:
        # A ZipMap output is a list of {label: probability}; reorder it into class order.
        if isinstance(raw, list):
            classes = self._signature.target.classes
            return np.array([[row[c] for c in classes] for row in raw], dtype=np.float64).reshape(len(raw), -1)
        return np.asarray(raw, dtype=np.float64)


def load(path: Path) -> OnnxModel:
    # The graph is read only for the classifier's labels; weights stored outside stay there.
    graph = onnx.load(str(path), load_external_data=False).graph
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return OnnxModel(session, graph)


def _tensor_type(arg: Any) -> tuple[type[Any], FeatureType]:
    try:
        return TENSOR_TYPES[arg.type]
    except KeyError:
        raise RuntimeLoadError(f"the ONNX input {arg.name} has the unsupported type {arg.type}") from None


def _classifier_target(graph: onnx.GraphProto, probabilities: Any) -> Target:
    labels = _class_labels(graph)
    if labels is None:
        # No ai.onnx.ml node names the classes: fall back to column positions, if fixed.
        shape = probabilities.shape
        if len(shape) != 2 or not isinstance(shape[1], int):
            raise RuntimeLoadError("the ONNX classifier names no class labels and its probability width is unknown")
        labels = tuple(range(shape[1]))
    return Target(type=TargetType.BINARY if len(labels) == 2 else TargetType.MULTICLASS, classes=labels)


def _class_labels(graph: onnx.GraphProto) -> tuple[str | int, ...] | None:
    """The labels of the last ai.onnx.ml node that names them: a ZipMap comes after the classifier."""
    found: tuple[str | int, ...] | None = None
    for node in graph.node:
        if node.domain != "ai.onnx.ml":
            continue
        for attribute in node.attribute:
            if attribute.name == "classlabels_int64s" and attribute.ints:
                found = tuple(int(v) for v in attribute.ints)
            elif attribute.name == "classlabels_strings" and attribute.strings:
                found = tuple(v.decode("utf-8") for v in attribute.strings)
    return found
