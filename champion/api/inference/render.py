"""Open Inference Protocol response bodies: server and model metadata, and inference outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from champion import __version__
from champion.api.inference.schemas import RequestOutput
from champion.errors import InvalidInput
from champion.runtimes.base import FeatureType, Signature, TargetType
from champion.serving.engine import Answer, DeploymentView, VersionRef

PREDICT, PROBABILITIES = "predict", "predict_proba"

_FEATURE_DATATYPES = {
    FeatureType.DOUBLE: "FP64",
    FeatureType.INTEGER: "INT64",
    FeatureType.STRING: "BYTES",
    FeatureType.BOOLEAN: "BOOL",
}


def server() -> dict[str, Any]:
    return {"name": "champion", "version": __version__, "extensions": []}


def version(ref: VersionRef) -> str:
    """The same value as the Champion-Model-Version header: `<model_id>:<revision>`."""
    return ref.name


def model(view: DeploymentView) -> dict[str, Any]:
    ref = view.champion
    signature = ref.signature
    target = signature.target
    outputs = [{"name": PREDICT, "datatype": _label_datatype(signature), "shape": [-1]}]
    if _classifier(signature):
        outputs.append({"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, len(target.classes)]})
    return {
        "name": view.id,
        "versions": [version(ref)],
        "platform": ref.framework.value,
        "inputs": [{"name": f.name, "datatype": _FEATURE_DATATYPES[f.type], "shape": [-1]} for f in signature.features],
        "outputs": outputs,
        "parameters": {
            "target_type": target.type.value,
            "class_labels": list(target.classes),
            "deployment_name": view.name,
        },
    }


def wanted(signature: Signature, outputs: Sequence[RequestOutput] | None) -> list[str] | None:
    """The output names asked for (None: all the model gives), checked before predicting."""
    if outputs is None:
        return None
    known = [PREDICT, PROBABILITIES] if _classifier(signature) else [PREDICT]
    for i, output in enumerate(outputs):
        if output.name not in known:
            raise InvalidInput(
                f"unknown output '{output.name}'; this model gives {', '.join(known)}", field=f"outputs[{i}].name"
            )
    return [output.name for output in outputs]


def response_id(random: bytes) -> str:
    """The id of a response to a request that named none: the text of a version-4 UUID made from 16
    random bytes, exactly `str(uuid.UUID(bytes=random, version=4))` (so, given `os.urandom(16)`, what
    `str(uuid.uuid4())` gives).

    Written out for the hot path: `uuid.uuid4()` builds a UUID object and formats it through its int,
    which cost about twice the whole of this (3.5 against 1.2 us) on every such request.
    """
    text = random.hex()
    # The version digit is 4; the variant's two bits (10) over the next two random bits give 8, 9, a or b.
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{'89ab'[random[8] >> 4 & 3]}{text[17:20]}-{text[20:]}"


def inference(answer: Answer, *, model_name: str, request_id: str, names: list[str] | None) -> dict[str, Any]:
    labels, probabilities = answer.prediction.labels, answer.prediction.probabilities
    if names is None:
        names = [PREDICT] if probabilities is None else [PREDICT, PROBABILITIES]
    outputs: list[dict[str, Any]] = []
    for name in names:
        if name == PREDICT:
            data = labels.tolist()
            outputs.append({"name": PREDICT, "shape": [len(data)], "datatype": _array_datatype(labels), "data": data})
        elif probabilities is None:
            # Known only after predicting: a classifier may lack probabilities (an SVC without them).
            raise InvalidInput(f"this model gives no probabilities: ask for '{PREDICT}' only", field="outputs")
        else:
            outputs.append(
                {
                    "name": PROBABILITIES,
                    "shape": list(probabilities.shape),
                    "datatype": "FP64",
                    "data": probabilities.ravel().tolist(),
                }
            )
    return {"model_name": model_name, "model_version": version(answer.version), "id": request_id, "outputs": outputs}


def _classifier(signature: Signature) -> bool:
    return signature.target.type is not TargetType.REGRESSION


def _label_datatype(signature: Signature) -> str:
    return _datatype(signature.target.classes) if _classifier(signature) else "FP64"


def _array_datatype(labels: np.ndarray) -> str:
    # The dtype answers at once for numeric labels; only object arrays need a look at the values.
    kind = labels.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return "BYTES" if kind in "US" else _datatype(labels.tolist())


def _datatype(values: Sequence[Any]) -> str:
    """The protocol's datatype for labels: the narrowest one every value fits."""
    if not values:
        return "FP64"
    if all(isinstance(v, bool | np.bool_) for v in values):
        return "BOOL"
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"
