"""An answer in DataRobot's prediction shapes: `{"data": [...]}` JSON, or the CSV `datarobot-predict` reads.

Binary classifiers name a positive class, as DataRobot's do: the second of the model's classes (the
one scikit-learn, XGBoost and LightGBM give the probability of in their last column), listed first in
`predictionValues` and in the CSV, with `predictionThreshold` 0.5. The label itself is the model's own
answer, so the API and the model never disagree. A model that records no target name is rendered as
`target` (`<target>_PREDICTION`). A classifier that gives no probabilities (an SVC without
`probability=True`) answers labels only: no `predictionValues`, no per-class columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from champion.runtimes import Prediction, Signature, TargetType

THRESHOLD = 0.5
FALLBACK_TARGET = "target"
APPROVED = "APPROVED"
"""Champion has no deployment approval workflow: every deployment that answers is approved."""


@dataclass(frozen=True)
class Passthrough:
    """Input columns echoed beside each row's prediction, in the caller's order."""

    names: tuple[str, ...] = ()
    columns: tuple[Sequence[Any], ...] = ()


NO_PASSTHROUGH = Passthrough()


def target_name(signature: Signature) -> str:
    return signature.target.name or FALLBACK_TARGET


def _classes(signature: Signature) -> list[tuple[int, Any]]:
    """(probability column, label) per class, in the order DataRobot lists them."""
    classes = list(enumerate(signature.target.classes))
    if signature.target.type is TargetType.BINARY and len(classes) == 2:
        classes.reverse()  # the positive class first
    return classes


def positive_class(signature: Signature) -> Any:
    classes = signature.target.classes
    return classes[-1] if signature.target.type is TargetType.BINARY and len(classes) == 2 else None


def as_json(signature: Signature, prediction: Prediction, passthrough: Passthrough = NO_PASSTHROUGH) -> bytes:
    labels = prediction.labels.tolist()
    rows: list[dict[str, Any]]
    if prediction.probabilities is None:
        if signature.target.type is TargetType.REGRESSION:
            target = target_name(signature)
            rows = [
                {"rowId": i, "prediction": value, "predictionValues": [{"label": target, "value": value}]}
                for i, value in enumerate(labels)
            ]
        else:
            rows = [{"rowId": i, "prediction": label} for i, label in enumerate(labels)]
    else:
        classes = _classes(signature)
        probabilities = prediction.probabilities.tolist()
        rows = [
            {
                "rowId": i,
                "prediction": label,
                "predictionValues": [{"label": name, "value": row[k]} for k, name in classes],
            }
            for i, (label, row) in enumerate(zip(labels, probabilities, strict=True))
        ]
        if positive_class(signature) is not None:
            for row in rows:
                row["predictionThreshold"] = THRESHOLD
    if passthrough.names:
        for i, row in enumerate(rows):
            row["passthroughValues"] = {n: c[i] for n, c in zip(passthrough.names, passthrough.columns, strict=True)}
    return orjson.dumps({"data": rows})


def as_csv(signature: Signature, prediction: Prediction, passthrough: Passthrough = NO_PASSTHROUGH) -> bytes:
    """DataRobot's column names: passthrough columns, `<target>_<class>_PREDICTION` per class,
    `<target>_PREDICTION`, then `THRESHOLD` and `POSITIVE_CLASS` for binary models, and
    `DEPLOYMENT_APPROVAL_STATUS`."""
    target = target_name(signature)
    count = len(prediction.labels)
    names: list[str] = list(passthrough.names)
    columns: list[Sequence[Any]] = list(passthrough.columns)
    if prediction.probabilities is not None:
        probabilities = prediction.probabilities
        for k, label in _classes(signature):
            names.append(f"{target}_{label}_PREDICTION")
            columns.append(probabilities[:, k].tolist())
    names.append(f"{target}_PREDICTION")
    columns.append(prediction.labels.tolist())
    positive = positive_class(signature)
    if positive is not None and prediction.probabilities is not None:
        names += ["THRESHOLD", "POSITIVE_CLASS"]
        columns += [[THRESHOLD] * count, [positive] * count]
    names.append("DEPLOYMENT_APPROVAL_STATUS")
    columns.append([APPROVED] * count)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(zip(*columns, strict=True))
    return out.getvalue().encode()
