"""Micro-batching against a real scikit-learn model and fakes that count calls, hold them, or fail."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.linear_model import LogisticRegression

from champion.errors import Unavailable
from champion.runtimes.base import Prediction
from champion.serving.batching import MicroBatcher

Rows = npt.NDArray[Any]
POISON = -999.0


class Model:
    """A fake predict function: answers each row with its first value and records every call.

    `held` makes each call wait for a permit (`release`) so a test can queue requests behind
    a running call; rows containing POISON make the call raise, as a bad input would.
    """

    def __init__(self, *, held: bool = False, probabilities: bool = True) -> None:
        self.batches: list[Rows] = []
        self.raised: list[Exception] = []
        self._held = held
        self._probabilities = probabilities
        self._permits = threading.Semaphore(0)

    def __call__(self, rows: Rows) -> Prediction:
        self.batches.append(rows)
        if self._held and not self._permits.acquire(timeout=5):
            raise TimeoutError("the test never released this call")
        if (rows == POISON).any():
            error = ValueError(f"poisoned rows in a call of {len(rows)}")
            self.raised.append(error)
            raise error
        return Prediction(rows[:, 0].copy(), rows.copy() if self._probabilities else None)

    def release(self, calls: int = 1) -> None:
        self._permits.release(calls)

    def open(self) -> None:
        self._held = False
        self._permits.release(100)

    @property
    def sizes(self) -> list[int]:
        return [len(b) for b in self.batches]


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=10))


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.001)


def row(value: float, width: int = 3) -> Rows:
    return np.full((1, width), value)


async def queued(batcher: MicroBatcher, *requests: Rows) -> list[asyncio.Task[Prediction]]:
    """Start requests and return once they are all in the batcher's queue."""
    expected = batcher.pending_rows + sum(len(r) for r in requests)
    tasks = [asyncio.create_task(batcher.predict(r)) for r in requests]
    await until(lambda: batcher.pending_rows == expected)
    return tasks


@pytest.fixture(scope="module")
def logistic() -> tuple[LogisticRegression, Rows]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int64)
    return LogisticRegression().fit(x, y), x


def test_concurrent_single_rows_share_calls_and_each_gets_its_own_answer(
    logistic: tuple[LogisticRegression, Rows],
) -> None:
    model, x = logistic
    calls: list[int] = []

    def predict(rows: Rows) -> Prediction:
        calls.append(len(rows))
        return Prediction(model.predict(rows), model.predict_proba(rows))

    async def test() -> None:
        batcher = MicroBatcher(predict)
        answers = await asyncio.gather(*(batcher.predict(x[i : i + 1]) for i in range(len(x))))
        await batcher.close()
        for i, answer in enumerate(answers):
            np.testing.assert_array_equal(answer.labels, model.predict(x[i : i + 1]))
            assert answer.probabilities is not None
            np.testing.assert_allclose(answer.probabilities, model.predict_proba(x[i : i + 1]))
        assert sum(calls) == 200
        assert len(calls) <= 5
        assert batcher.pending_rows == 0

    run(test)


def test_batches_never_exceed_max_batch_rows() -> None:
    model = Model()

    async def test() -> None:
        batcher = MicroBatcher(model, max_batch_rows=16)
        answers = await asyncio.gather(*(batcher.predict(row(i)) for i in range(200)))
        assert [float(a.labels[0]) for a in answers] == list(range(200))
        assert max(model.sizes) == 16
        assert len(model.sizes) == 13
        await batcher.close()

    run(test)


def test_requests_arriving_during_a_call_share_the_next_call() -> None:
    model = Model(held=True)

    async def test() -> None:
        batcher = MicroBatcher(model)
        first = asyncio.create_task(batcher.predict(row(0)))
        await until(lambda: len(model.batches) == 1)
        waiting = await queued(batcher, *(row(i) for i in range(1, 11)))
        model.open()
        assert float((await first).labels[0]) == 0
        assert [float((await t).labels[0]) for t in waiting] == list(range(1, 11))
        # The first request ran at once, alone; the ten that waited for it ran as one call.
        assert model.sizes == [1, 10]
        await batcher.close()

    run(test)


def test_at_concurrency_one_every_request_is_its_own_call_without_added_wait() -> None:
    model = Model()

    async def test() -> None:
        batcher = MicroBatcher(model)
        slowest = 0.0
        for i in range(20):
            started = time.monotonic()
            answer = await batcher.predict(row(i))
            slowest = max(slowest, time.monotonic() - started)
            assert float(answer.labels[0]) == i
        assert model.sizes == [1] * 20
        # Only the hop to the model's thread and back: no batching window is waited out.
        assert slowest < 0.05
        await batcher.close()

    run(test)


def test_a_request_larger_than_a_batch_goes_in_chunks_with_small_requests_between() -> None:
    model = Model(held=True)
    big = np.arange(30, dtype=np.float64).reshape(10, 3)

    async def test() -> None:
        batcher = MicroBatcher(model, max_batch_rows=4)
        first = asyncio.create_task(batcher.predict(row(0)))
        await until(lambda: len(model.batches) == 1)
        large = asyncio.create_task(batcher.predict(big))
        await until(lambda: batcher.pending_rows == 5)  # the running row, and the first chunk of four
        small = asyncio.create_task(batcher.predict(row(1)))
        await until(lambda: batcher.pending_rows == 6)
        model.open()
        await first
        answer = await large
        np.testing.assert_array_equal(answer.labels, big[:, 0])
        np.testing.assert_array_equal(answer.probabilities, big)
        assert float((await small).labels[0]) == 1
        # The small request, queued behind the first chunk, ran before the second: it did not wait
        # for all ten rows, and the large one went on right after it.
        assert model.sizes == [1, 4, 1, 4, 2]
        await batcher.close()

    run(test)


def test_a_request_larger_than_the_queue_is_answered_whole(logistic: tuple[LogisticRegression, Rows]) -> None:
    """Once refused as "queue full (0 rows waiting)", which no retry could ever get past."""
    model, x = logistic
    rows = np.tile(x, (10, 1))  # 2,000 rows through a queue of 64
    calls: list[int] = []

    def predict(part: Rows) -> Prediction:
        calls.append(len(part))
        return Prediction(model.predict(part), model.predict_proba(part))

    async def test() -> None:
        batcher = MicroBatcher(predict, max_batch_rows=256, max_queue_rows=64)
        answer = await batcher.predict(rows)
        np.testing.assert_array_equal(answer.labels, model.predict(rows))
        assert answer.probabilities is not None
        np.testing.assert_allclose(answer.probabilities, model.predict_proba(rows))
        assert sum(calls) == len(rows) and max(calls) == 64
        assert batcher.pending_rows == 0
        await batcher.close()

    run(test)


@pytest.mark.parametrize("probabilities", [True, False])
def test_multi_row_requests_keep_their_rows_in_order(probabilities: bool) -> None:
    model = Model(held=True, probabilities=probabilities)
    rng = np.random.default_rng(5)
    requests = [rng.normal(size=(n, 3)) for n in (3, 1, 5, 2, 4)]

    async def test() -> None:
        batcher = MicroBatcher(model)
        first = asyncio.create_task(batcher.predict(row(0)))
        await until(lambda: len(model.batches) == 1)
        tasks = await queued(batcher, *requests)
        model.open()
        await first
        for rows, task in zip(requests, tasks, strict=True):
            answer = await task
            np.testing.assert_array_equal(answer.labels, rows[:, 0])
            if probabilities:
                assert answer.probabilities is not None
                np.testing.assert_array_equal(answer.probabilities, rows)
            else:
                assert answer.probabilities is None
        assert model.sizes == [1, 15]
        await batcher.close()

    run(test)


def test_mixed_dtypes_are_combined_as_object() -> None:
    model = Model(held=True, probabilities=False)
    mixed = np.array([[2.0, "red", 1.0]], dtype=object)

    async def test() -> None:
        batcher = MicroBatcher(model)
        first = asyncio.create_task(batcher.predict(row(0)))
        await until(lambda: len(model.batches) == 1)
        numeric, text = await queued(batcher, row(1), mixed)
        model.open()
        await first
        assert float((await numeric).labels[0]) == 1
        assert (await text).labels[0] == 2.0
        assert model.batches[1].dtype == object
        assert model.batches[1][1, 1] == "red"
        await batcher.close()

    run(test)


def test_a_poisoned_request_fails_alone_with_the_models_own_error() -> None:
    model = Model(held=True)

    async def test() -> None:
        batcher = MicroBatcher(model)
        first = asyncio.create_task(batcher.predict(row(0)))
        await until(lambda: len(model.batches) == 1)
        tasks = await queued(batcher, row(1), row(POISON), row(3))
        model.open()
        await first
        before, poisoned, after = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(before, Prediction) and float(before.labels[0]) == 1
        assert isinstance(after, Prediction) and float(after.labels[0]) == 3
        # The combined call failed, each request was retried alone, and the poisoned caller
        # got the exception its own rows raised, not a wrapper.
        assert model.sizes == [1, 3, 1, 1, 1]
        assert poisoned is model.raised[1]
        assert batcher.pending_rows == 0
        await batcher.close()

    run(test)


def test_a_full_queue_refuses_at_once() -> None:
    model = Model(held=True)

    async def test() -> None:
        batcher = MicroBatcher(model, max_queue_rows=4)
        running, waiting = await queued(batcher, np.zeros((2, 3)), np.ones((2, 3)))
        with pytest.raises(Unavailable, match="queue is full"):
            await batcher.predict(row(5))
        assert batcher.pending_rows == 4
        model.open()
        await asyncio.gather(running, waiting)
        assert batcher.pending_rows == 0
        await batcher.predict(row(5))
        await batcher.close()

    run(test)


def test_close_finishes_queued_work_then_refuses() -> None:
    model = Model(held=True)

    async def test() -> None:
        batcher = MicroBatcher(model)
        tasks = await queued(batcher, row(0), row(1), row(2))
        await until(lambda: len(model.batches) == 1)
        closing = asyncio.create_task(batcher.close())
        await asyncio.sleep(0.01)
        assert not closing.done()
        with pytest.raises(Unavailable, match="shutting down"):
            await batcher.predict(row(9))
        model.open()
        await closing
        assert all(t.done() for t in tasks)
        assert [float(t.result().labels[0]) for t in tasks] == [0, 1, 2]
        assert batcher.pending_rows == 0
        with pytest.raises(Unavailable, match="shutting down"):
            await batcher.predict(row(9))

    run(test)


def test_cancelled_waiters_do_not_break_the_others() -> None:
    model = Model(held=True)

    async def test() -> None:
        batcher = MicroBatcher(model)
        first = asyncio.create_task(batcher.predict(row(0)))
        await until(lambda: len(model.batches) == 1)
        kept, gone_before, in_flight = await queued(batcher, row(1), row(2), row(3))
        # Cancelled while queued: its rows never reach the model.
        gone_before.cancel()
        model.release()
        await first
        await until(lambda: len(model.batches) == 2)
        late = await queued(batcher, row(4))
        # Cancelled while its batch is running: the batch's other answers still arrive.
        in_flight.cancel()
        model.open()
        assert float((await kept).labels[0]) == 1
        assert float((await late[0]).labels[0]) == 4
        for task in (gone_before, in_flight):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert model.sizes == [1, 2, 1]
        assert [float(v) for v in model.batches[1][:, 0]] == [1, 3]
        assert batcher.pending_rows == 0
        await batcher.close()

    run(test)
