"""Several requests' rows as one model input, and one prediction handed back as each request's own.

The batcher stacks concurrent callers into one model call and splits the answer; it joins the
answers of a large request's chunks; the WML face stacks a request's input blocks so one model
version answers them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from champion.runtimes.base import Prediction

Rows = npt.NDArray[Any]


def stack(parts: Sequence[Rows]) -> Rows:
    """The parts' rows, in order, as one matrix."""
    # numpy would promote mixed dtypes to a common one (or refuse, for floats beside strings);
    # object keeps every value exactly as its caller sent it, which is what the runtimes accept.
    if len({p.dtype for p in parts}) > 1:
        parts = [p.astype(object) for p in parts]
    return np.concatenate(parts)


def split(prediction: Prediction, sizes: Sequence[int]) -> list[Prediction]:
    """`prediction` cut into consecutive parts of `sizes` rows; refused if it does not answer them all."""
    total = sum(sizes)
    answered = [len(prediction.labels)]
    if prediction.probabilities is not None:
        answered.append(len(prediction.probabilities))
    # A model that answers the wrong number of rows would hand callers each other's answers.
    if any(n != total for n in answered):
        raise ValueError(f"the model answered {answered[0]} rows for {total}")
    parts: list[Prediction] = []
    start = 0
    for size in sizes:
        stop = start + size
        probabilities = None if prediction.probabilities is None else prediction.probabilities[start:stop]
        parts.append(Prediction(prediction.labels[start:stop], probabilities))
        start = stop
    return parts


def join(parts: Sequence[Prediction]) -> Prediction:
    """The predictions of consecutive chunks of rows as one, in order (all from one model)."""
    if len(parts) == 1:
        return parts[0]
    labels = np.concatenate([p.labels for p in parts])
    if any(p.probabilities is None for p in parts):
        return Prediction(labels, None)
    return Prediction(labels, np.concatenate([p.probabilities for p in parts if p.probabilities is not None]))
