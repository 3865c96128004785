"""A prediction in WML's shape: `{"fields": [...], "values": [[label, probabilities], ...]}`.

A module of its own, apart from `render`: the scoring route is on the start-up path (it answers from
the first moment), and `render` imports the deployment, replacement and job services for the other routes.
"""

from __future__ import annotations

from typing import Any

from champion.serving.engine import Answer


def predictions(answer: Answer) -> dict[str, Any]:
    """The rows as tuples, which orjson writes as arrays: zip makes them without a Python loop."""
    labels = answer.prediction.labels.tolist()
    probabilities = answer.prediction.probabilities
    if probabilities is None:
        return {"fields": ["prediction"], "values": list(zip(labels))}
    return {"fields": ["prediction", "probability"], "values": list(zip(labels, probabilities.tolist(), strict=True))}
