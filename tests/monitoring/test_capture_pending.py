"""The capture buffer's columns (`capture.Pending`): what concatenating every request's own arrays gives."""

from __future__ import annotations

import gc

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from champion.monitoring.capture import CaptureBuffer, CapturePolicy, Pending
from champion.runtimes import Prediction, Signature
from champion.runtimes.base import Feature, FeatureType, Target, TargetType

PROPERTIES = settings(max_examples=100, deadline=None, database=None)
SIGNATURE = Signature(
    (Feature("x", FeatureType.DOUBLE), Feature("y", FeatureType.DOUBLE)), Target(TargetType.BINARY, ("a", "b"))
)

labels_of_a_kind = st.sampled_from(
    [
        lambda n, i: np.arange(n, dtype=np.int64) % 3,
        lambda n, i: np.array(["x" * (i % 4 + 1)] * n),  # ever longer texts: the column widens
        lambda n, i: np.arange(n, dtype=np.float64) / 2,
        lambda n, i: np.array([1, "1"] * n, dtype=object)[:n],
    ]
)


@PROPERTIES
@given(
    st.lists(st.tuples(st.integers(1, 70), st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=12),
    labels_of_a_kind,
)
def test_the_columns_are_the_requests_concatenated(requests: list[tuple[int, bool, bool, bool]], kind: object) -> None:
    pending = Pending(SIGNATURE)
    rng = np.random.default_rng(3)
    all_rows: list[np.ndarray] = []
    all_labels: list[np.ndarray] = []
    all_probabilities: list[np.ndarray | None] = []
    ids: list[str | None] = []
    at: list[float] = []
    for i, (n, integers, with_probabilities, with_ids) in enumerate(requests):
        rows = rng.integers(0, 9, size=(n, 2)) if integers else rng.normal(size=(n, 2))
        labels = kind(n, i)  # type: ignore[operator]
        probabilities = rng.dirichlet([1, 1], size=n) if with_probabilities else None
        request_ids = [f"r{i}-{j}" for j in range(n)] if with_ids else None
        pending.add(100.0 + i, rows, Prediction(labels, probabilities), request_ids)
        all_rows.append(rows)
        all_labels.append(labels)
        all_probabilities.append(probabilities)
        ids += request_ids or [None] * n
        at += [100.0 + i] * n
    assert len(pending) == sum(n for n, *_ in requests)
    np.testing.assert_array_equal(pending.rows, np.concatenate(all_rows).astype(pending.rows.dtype))
    assert pending.rows.dtype == np.result_type(*all_rows)
    assert pending.labels.tolist() == np.concatenate(all_labels).tolist()
    assert pending.at.tolist() == at and pending.association_ids == ids
    if all(p is not None for p in all_probabilities):
        np.testing.assert_array_equal(
            pending.probabilities, np.concatenate([p for p in all_probabilities if p is not None])
        )
    else:
        assert pending.probabilities is None


def test_an_unlike_request_is_dropped_and_counted_never_raised() -> None:
    buffer = CaptureBuffer()
    policy = CapturePolicy(sampling=1.0)

    def offer(width: int) -> None:
        rows = np.zeros((2, width))
        prediction = Prediction(np.array(["a", "b"]), np.full((2, 2), 0.5))
        buffer.offer(
            policy, deployment_id="d", version_id="v", signature=SIGNATURE, rows=rows,
            prediction=prediction, association_ids=None, latency=0.001,
        )  # fmt: skip

    offer(2)
    offer(3)  # not the version's width
    offer(2)
    drained = buffer.drain()
    assert len(drained.pending[("d", "v")]) == 4
    ((_, tally),) = drained.tallies.items()
    assert (tally.requests, tally.dropped_rows) == (3, 2)


def test_a_kept_request_leaves_no_object_for_the_collector() -> None:
    # Kept one object per request, 1-row traffic held tens of thousands for every full collection to walk.
    buffer = CaptureBuffer()
    labels, probabilities = np.zeros(32, dtype=np.int64), np.full((32, 2), 0.5)
    gc.collect()
    before = len(gc.get_objects())
    for i in range(5_000):
        answer = Prediction(labels[i % 32 : i % 32 + 1], probabilities[i % 32 : i % 32 + 1])  # views of a batch's
        buffer.offer(
            CapturePolicy(sampling=1.0), deployment_id="d", version_id="v", signature=SIGNATURE,
            rows=np.zeros((1, 2)), prediction=answer, association_ids=None, latency=0.001,
        )  # fmt: skip
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert len(buffer.drain().pending[("d", "v")]) == 5_000
