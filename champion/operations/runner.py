"""The operation runner: each server process takes pending operations and runs their handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping

from sqlalchemy.orm import Session, sessionmaker

from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState

logger = logging.getLogger(__name__)

Handler = Callable[[Operation], Awaitable[None]]
"""Runs an operation to its end and records the outcome (operation and target) in one commit."""


LiveRunners = Callable[[Session], Collection[str]]
"""The names of the runners whose processes are alive (they report to the cluster table)."""


class OperationRunner:
    """Claims pending operations and runs them; now and then puts back those a dead process held.

    Without that reaper, an operation whose worker died (a crash, an out-of-memory kill) or whose
    replica was killed would stay running, and its deployment updating, until the whole server
    restarted. It looks every second: a dead process's operations move to a live one within
    about a second of its lease (`cluster.STALE_AFTER`) running out.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        handlers: Mapping[str, Handler],
        *,
        name: str,
        live_runners: LiveRunners,
        poll_seconds: float = 0.5,
        reap_seconds: float = 1.0,
    ):
        self._sessions = sessions
        self._handlers = handlers
        self._live_runners = live_runners
        self._poll_seconds = poll_seconds
        self._reap_seconds = reap_seconds
        self._reaped_at = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.name = name

    def wake(self) -> None:
        """A new operation was committed (here, or elsewhere and announced): look at once instead of
        at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="operation-runner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            if time.monotonic() - self._reaped_at >= self._reap_seconds:
                self._reaped_at = time.monotonic()
                await asyncio.to_thread(self._reap)
            operation = await asyncio.to_thread(self._claim)
            if operation is not None:
                # Operations on different deployments run side by side.
                task = asyncio.get_running_loop().create_task(self._execute(operation))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    def _reap(self) -> None:
        with self._sessions() as session:
            operations.recover(session, live_runners={*self._live_runners(session), self.name})

    def _claim(self) -> Operation | None:
        with self._sessions() as session:
            return operations.claim_next(session, runner=self.name)

    async def _execute(self, operation: Operation) -> None:
        handler = self._handlers.get(operation.kind)
        try:
            if handler is None:
                raise RuntimeError(f"no handler for operations of kind {operation.kind!r}")
            await handler(operation)
        except Exception as exc:
            # Handlers record their own failures; this is the net under a handler that broke.
            logger.exception("operation %s failed unexpectedly", operation.id)
            await asyncio.to_thread(self._fail, operation.id, f"internal error: {exc}")

    def _fail(self, operation_id: str, message: str) -> None:
        with self._sessions() as session:
            operations.finish(session, operation_id=operation_id, state=OperationState.FAILED, message=message)
            session.commit()
