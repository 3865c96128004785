"""A large request (`MicroBatcher(alone_rows=...)`, a 100-row WML request to a compiled model) is a model
call of its own, handed to the model's thread at once rather than merged with the requests queued.

(Beside the WML 100-row work it was measured for; the batcher's own tests are tests/serving/test_batching.py,
whose fakes these use.)
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from champion.errors import Unavailable
from champion.runtimes.base import Prediction
from champion.serving.batching import MicroBatcher
from tests.serving.test_batching import Model, queued, row, run, until

BIG = np.arange(15, dtype=np.float64).reshape(5, 3)


def test_a_request_of_alone_rows_is_its_own_call_ahead_of_the_queue_behind_it() -> None:
    model = Model(held=True)

    async def test() -> None:
        batcher = MicroBatcher(model, alone_rows=5)
        first = asyncio.create_task(batcher.predict(row(0)))
        await until(lambda: len(model.batches) == 1)
        small = await queued(batcher, row(1), row(2))
        big = await queued(batcher, BIG)  # on the model's thread now, behind the running call
        model.open()
        assert float((await first).labels[0]) == 0
        answer = await big[0]
        np.testing.assert_array_equal(answer.labels, BIG[:, 0])
        np.testing.assert_array_equal(answer.probabilities, BIG)
        assert [float((await t).labels[0]) for t in small] == [1, 2]
        # The two small requests shared a call, taken once the first ended; the large one went alone.
        assert model.sizes == [1, 5, 2]
        assert batcher.pending_rows == 0
        await batcher.close()

    run(test)


def test_without_alone_rows_a_large_request_shares_the_next_call() -> None:
    model = Model(held=True)

    async def test() -> None:
        batcher = MicroBatcher(model)
        first = asyncio.create_task(batcher.predict(row(0)))
        await until(lambda: len(model.batches) == 1)
        waiting = await queued(batcher, row(1), row(2), BIG)
        model.open()
        await asyncio.gather(first, *waiting)
        assert model.sizes == [1, 7]
        await batcher.close()

    run(test)


def test_a_request_alone_counts_against_the_queue_and_is_refused_when_closing() -> None:
    model = Model(held=True)

    async def test() -> None:
        batcher = MicroBatcher(model, max_queue_rows=8, alone_rows=5)
        running = await queued(batcher, row(0), BIG)
        assert batcher.pending_rows == 6
        with pytest.raises(Unavailable, match="queue is full"):
            await batcher.predict(np.ones((5, 3)))
        closing = asyncio.create_task(batcher.close())
        await asyncio.sleep(0.01)
        with pytest.raises(Unavailable, match="shutting down"):
            await batcher.predict(np.ones((5, 3)))
        model.open()
        await asyncio.gather(closing, *running)
        assert batcher.pending_rows == 0

    run(test)


def test_a_model_error_reaches_the_request_alone() -> None:
    model = Model()

    async def test() -> None:
        batcher = MicroBatcher(model, alone_rows=5)
        with pytest.raises(ValueError, match="poisoned rows in a call of 5"):
            await batcher.predict(np.full((5, 3), -999.0))
        assert batcher.pending_rows == 0
        answer = await batcher.predict(BIG)
        np.testing.assert_array_equal(answer.labels, BIG[:, 0])
        await batcher.close()

    run(test)


def test_a_request_alone_within_inline_rows_is_answered_on_the_event_loop() -> None:
    threads: list[str] = []
    model = Model()

    def predict(rows: np.ndarray) -> Prediction:
        threads.append(threading.current_thread().name)
        return model(rows)

    async def test() -> None:
        batcher = MicroBatcher(predict, alone_rows=5, inline_rows=8)
        await batcher.predict(BIG)
        await batcher.predict(np.ones((9, 3)))
        assert threads[0] == "MainThread" and threads[1].startswith("champion-batch")
        await batcher.close()

    run(test)
