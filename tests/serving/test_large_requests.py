"""Requests larger than a batch: one model call each, beside the model's batches, never refused for size.

Before, a 5,000-row request went through the model's queue in 256-row chunks: at concurrency 4 most
were refused with a full queue (503) while the machine had capacity, and the ones answered paid the
model's per-call cost once per chunk.
"""

from __future__ import annotations

import asyncio
import threading

import joblib
import numpy as np

from champion.errors import Unavailable
from champion.runtimes import Framework, load
from champion.runtimes.base import Prediction
from champion.serving.batching import LargeRequests, MicroBatcher
from champion.serving.engine import ServingEngine, VersionRef
from tests.model_files import ModelFiles, training_data
from tests.serving.test_batching import Model, row, run, until


def test_a_large_request_is_one_call_and_is_not_refused_by_a_full_queue() -> None:
    async def scenario() -> None:
        model = Model()
        large = LargeRequests(2)
        batcher = MicroBatcher(model, max_batch_rows=4, max_queue_rows=8, large=large)
        requests = [np.full((50, 3), float(n)) for n in range(4)]  # each over the whole queue
        answers = await asyncio.gather(*(batcher.predict(r) for r in requests))
        for n, answer in enumerate(answers):
            assert answer.labels.tolist() == [float(n)] * 50
        assert sorted(model.sizes) == [50, 50, 50, 50]  # one call each, no chunks
        assert batcher.pending_rows == 0  # the queue never held them
        await batcher.close()
        large.close()

    run(scenario)


def test_a_large_request_runs_beside_a_busy_batch_and_threads_bound_how_many_run_at_once() -> None:
    async def scenario() -> None:
        small_gate, large_gate = threading.Event(), threading.Event()
        running, most = [0], [0]
        lock = threading.Lock()

        def predict(rows: np.ndarray) -> Prediction:
            if len(rows) <= 4:
                assert small_gate.wait(5)
            else:
                with lock:
                    running[0] += 1
                    most[0] = max(most[0], running[0])
                assert large_gate.wait(5)
                with lock:
                    running[0] -= 1
            return Model()(rows)

        large = LargeRequests(2)
        batcher = MicroBatcher(predict, max_batch_rows=4, large=large)
        small = asyncio.create_task(batcher.predict(row(1.0)))
        await until(lambda: batcher.pending_rows == 1)
        bigs = [asyncio.create_task(batcher.predict(np.full((10, 3), 2.0))) for _ in range(4)]
        await until(lambda: running[0] == 2)
        await asyncio.sleep(0.05)
        assert running[0] == 2 and not any(b.done() for b in bigs)  # two threads: two at once, two waiting
        large_gate.set()
        for answer in await asyncio.gather(*bigs):  # answered while the small batch is still held
            assert answer.labels.tolist() == [2.0] * 10
        assert not small.done() and most[0] == 2
        small_gate.set()
        assert (await small).labels.tolist() == [1.0]
        await batcher.close()
        with_closed = asyncio.create_task(batcher.predict(np.full((10, 3), 3.0)))
        await asyncio.gather(with_closed, return_exceptions=True)
        assert isinstance(with_closed.exception(), Unavailable)
        large.close()

    run(scenario)


def test_5000_row_requests_at_concurrency_4_are_each_one_call_answered_like_the_model(
    model_files: ModelFiles,
) -> None:
    """A real model behind the default queue (256-row batches, 8,192 rows): sixteen 5,000-row requests,
    four at a time, each answered as the model answers it, in one call of its own."""
    native = joblib.load(model_files.classifier_named)
    frame = training_data(rows=5_000, seed=31)[0]
    expected = native.predict_proba(frame)
    model = load(model_files.classifier_named, Framework.SKLEARN)
    sizes: list[int] = []

    def predict(rows: np.ndarray) -> Prediction:
        sizes.append(len(rows))
        return model.predict(rows)

    async def scenario() -> None:
        large = LargeRequests(2)
        batcher = MicroBatcher(predict, large=large)
        for _ in range(4):
            answers = await asyncio.gather(*(batcher.predict(frame.to_numpy()) for _ in range(4)))
            for answer in answers:
                assert answer.probabilities is not None
                np.testing.assert_allclose(answer.probabilities, expected)
        await batcher.close()
        large.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert sizes == [5_000] * 16


def test_the_engine_answers_concurrent_large_requests_like_the_model(model_files: ModelFiles) -> None:
    """Every model the engine loads shares its large-request threads (here one: the requests take turns)."""
    frame = training_data(rows=1_000, seed=32)[0]
    native = joblib.load(model_files.classifier_named)

    async def scenario() -> None:
        engine = ServingEngine(large_request_threads=1)
        model = load(model_files.classifier_named, Framework.SKLEARN)
        ref = VersionRef("v1", "m", 1, Framework.SKLEARN, "0" * 64, model.signature())
        loaded = await engine.load(ref, model_files.classifier_named)
        await engine.install("d", loaded)
        answers = await asyncio.gather(*(engine.predict("d", frame.to_numpy()) for _ in range(3)))
        for answer in answers:
            assert answer.prediction.labels.tolist() == native.predict(frame).tolist()
        await engine.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))
