"""Adaptive micro-batching: predict calls that arrive while a model is busy share its next call.

A request larger than a batch is not queued: it is one model call of its own, on a few threads
shared by every model (`LargeRequests`), so it runs at the model's own speed for that many rows,
small requests are not stuck behind it, and it is never refused for the size of the queue (it
waits for a thread instead). Without those threads it goes through the queue in batch-sized chunks.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from champion.errors import Unavailable
from champion.runtimes.base import Prediction
from champion.serving.stacking import join, split, stack

Rows = npt.NDArray[Any]


class LargeRequests:
    """A few threads, shared by every model, each scoring one request larger than a batch in one call.

    One call for the whole request is faster than the same rows in batch-sized chunks (a model's
    per-call cost is paid once), and on its own thread it runs beside the model's batches: the
    runtimes' predict calls only read the fitted model (scikit-learn, ONNX Runtime sessions, XGBoost's
    inplace_predict and LightGBM's predict may be called from several threads). Requests beyond the
    threads wait for one: none is refused for its size.
    """

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="champion-large")
        # Waiting here rather than in the executor's queue: a caller that goes away stops waiting.
        self._slots = asyncio.Semaphore(threads)

    async def predict(self, predict: Callable[[Rows], Prediction], rows: Rows) -> Prediction:
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._executor, predict, rows)

    def close(self) -> None:
        self._executor.shutdown(wait=False)


@dataclass(frozen=True, eq=False)
class _Request:
    """One caller's rows and the future its caller awaits; the two travel together through the queue."""

    rows: Rows
    future: asyncio.Future[Prediction]


class MicroBatcher:
    """Gathers concurrent predict calls for one loaded model into one model call.

    There is no timer: a request that finds the model idle runs at once, and requests that
    arrive while a call is running wait for it to end and then share the next call. Batches
    therefore grow with load on their own, and at low load latency is the model's own.

    With `alone_rows`, a request of at least that many rows is never merged: it is a call of its own,
    handed to the model's thread at once (`_alone`), for models whose per-call cost is small next to
    that many rows' own.
    """

    def __init__(
        self,
        predict: Callable[[Rows], Prediction],
        *,
        max_batch_rows: int = 256,
        max_queue_rows: int = 8192,
        executor: concurrent.futures.Executor | None = None,
        large: LargeRequests | None = None,
        inline_rows: int = 0,
        alone_rows: int | None = None,
    ) -> None:
        if max_batch_rows < 1 or max_queue_rows < 1:
            raise ValueError("max_batch_rows and max_queue_rows must be at least 1")
        self._predict = predict
        # A chunk always fits an empty queue, so one request alone is never refused as too large.
        self._max_batch_rows = min(max_batch_rows, max_queue_rows)
        self._max_queue_rows = max_queue_rows
        # One thread per model serialises its calls (a model is not faster called from two
        # threads at once, and not every runtime is thread-safe) and keeps the event loop free.
        self._owns_executor = executor is None
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="champion-batch"
        )
        self._large = large
        self._inline_rows = inline_rows
        self._alone_rows = alone_rows
        """Requests of at least this many rows are never merged (None: every request up to a batch may be)."""
        self._queue: collections.deque[_Request] = collections.deque()
        self._pending_rows = 0
        self._closing = False
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    @property
    def pending_rows(self) -> int:
        """Rows queued or inside a running model call."""
        return self._pending_rows

    async def predict(self, rows: Rows) -> Prediction:
        """Predict `rows` (possibly in one call with other callers' rows); answers are for these rows only, in order.

        More rows than a batch are one call of their own on the shared large-request threads, or
        without them go through in batch-sized chunks, each queued when the one before is answered;
        either way all of them by this batcher's model, so one request is answered by one model.
        """
        size = self._max_batch_rows
        if len(rows) <= size:
            if self._alone_rows is not None and len(rows) >= self._alone_rows:
                return await self._alone(rows)
            return await self._submit(rows)
        if self._large is not None:
            if self._closing:
                raise Unavailable("the model is shutting down")
            return await self._large.predict(self._predict, rows)
        return join([await self._submit(rows[start : start + size]) for start in range(0, len(rows), size)])

    async def _alone(self, rows: Rows) -> Prediction:
        """`rows` as a model call of their own, handed to the model's thread at once (see `alone_rows`).

        Merged, such a request waits for the batcher's worker to take it, and the model's thread waits
        for the worker, on a busy event loop, between one call and the next. A model whose per-call
        cost is small next to that many rows' (a compiled tree ensemble: about 7 us a call, 2.3 us a
        row) saves nothing by merging them. The call is not queued here: `close` does not wait for it,
        its caller does (the model's thread finishes it after the batcher has closed).
        """
        self._admit(rows)
        self._pending_rows += len(rows)
        try:
            return await self._call(asyncio.get_running_loop(), rows)
        finally:
            self._pending_rows -= len(rows)

    def _admit(self, rows: Rows) -> None:
        if self._closing:
            raise Unavailable("the model is shutting down")
        # Refuse rather than wait: a bounded queue keeps latency bounded, and the client may retry elsewhere.
        if self._pending_rows + len(rows) > self._max_queue_rows:
            raise Unavailable(f"the model's queue is full ({self._pending_rows} rows waiting); retry later")

    async def _submit(self, rows: Rows) -> Prediction:
        self._admit(rows)
        loop = asyncio.get_running_loop()
        request = _Request(rows, loop.create_future())
        self._queue.append(request)
        self._pending_rows += len(rows)
        self._ensure_worker(loop).set()
        return await request.future

    async def close(self) -> None:
        """Take no new work, finish everything already queued, then return."""
        self._closing = True
        if self._worker is not None and not self._worker.done():
            assert self._wakeup is not None
            self._wakeup.set()
            # Shielded: if whoever awaits close() is cancelled, queued callers must still get their answers.
            await asyncio.shield(self._worker)
        if self._owns_executor:
            self._executor.shutdown(wait=False)

    def _ensure_worker(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        # Started lazily so the batcher can be built outside a running loop; restarted only if
        # the previous worker died (then its Event may belong to a finished loop, so it is new too).
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run(self._wakeup), name="champion-micro-batcher")
        assert self._wakeup is not None
        return self._wakeup

    async def _run(self, wakeup: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        batch: list[_Request] = []
        try:
            while True:
                batch = self._take_batch()
                if not batch:
                    if self._closing:
                        return
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                await self._run_batch(loop, batch)
                self._pending_rows -= sum(len(r.rows) for r in batch)
        finally:
            # Only reached with work left if the worker itself was cancelled or crashed: fail
            # its callers rather than leave them waiting for an answer that will never come.
            stranded = [r for r in (*batch, *self._queue) if not r.future.done()]
            # Only theirs: a request scored alone (`_alone`) counts its own rows until it is answered.
            self._pending_rows -= sum(len(r.rows) for r in (*batch, *self._queue))
            self._queue.clear()
            for request in stranded:
                request.future.set_exception(Unavailable("the model's batch worker stopped"))

    def _take_batch(self) -> list[_Request]:
        batch: list[_Request] = []
        rows = 0
        while self._queue:
            request = self._queue[0]
            if request.future.done():
                # Its caller was cancelled while waiting (e.g. disconnected): spend no model time on it.
                self._queue.popleft()
                self._pending_rows -= len(request.rows)
                continue
            # Always take at least one request (none is larger than a batch: `predict` chunks them).
            if batch and rows + len(request.rows) > self._max_batch_rows:
                break
            batch.append(self._queue.popleft())
            rows += len(request.rows)
        return batch

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Request]) -> None:
        if len(batch) == 1:
            await self._run_alone(loop, batch[0])
            return
        try:
            combined = await self._call(loop, stack([r.rows for r in batch]))
            parts = split(combined, [len(r.rows) for r in batch])
        except Exception:
            # One bad request must not fail its neighbours: run each alone, so only callers
            # whose own rows fail see an error, and it is the model's own exception.
            for request in batch:
                await self._run_alone(loop, request)
            return
        for request, part in zip(batch, parts, strict=True):
            if not request.future.done():
                request.future.set_result(part)

    async def _call(self, loop: asyncio.AbstractEventLoop, rows: Rows) -> Prediction:
        if len(rows) <= self._inline_rows:
            return self._predict(rows)
        return await loop.run_in_executor(self._executor, self._predict, rows)

    async def _run_alone(self, loop: asyncio.AbstractEventLoop, request: _Request) -> None:
        if request.future.done():
            return
        try:
            prediction = await self._call(loop, request.rows)
        except Exception as exc:
            if not request.future.done():
                request.future.set_exception(exc)
        else:
            if not request.future.done():
                request.future.set_result(prediction)
