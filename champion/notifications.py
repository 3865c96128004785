"""Waking this process when any process commits a change: PostgreSQL's LISTEN/NOTIFY.

Each server process keeps one connection of its own (autocommit, outside SQLAlchemy's pool) that
LISTENs on `changes.CHANNEL`. A notification's payload names what moved (a change topic, or
`changes.NEW_OPERATIONS`) and the callbacks subscribed to it run at once: the follower reads the
counters, the runner looks at the queue. The counters and the queue stay the truth, so a lost
notification costs only time: while the connection is down the follower polls at its fast
interval, the listener reconnects with backoff, and after each (re)connect every callback runs
once, for whatever was committed while nobody listened.

It runs on the server's own event loop (psycopg's AsyncConnection waits through the loop's
`add_reader`, which uvloop implements) rather than on a thread: the callbacks set asyncio events
of that loop, which another thread could only reach through `call_soon_threadsafe`, and stopping
is a task cancellation instead of interrupting a blocking wait. A notification is handled in
microseconds, so it never holds up the loop; if the loop itself is blocked, nothing could act on
the notification sooner anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine

from champion import changes

logger = logging.getLogger(__name__)

CHECK_SECONDS = 10.0
"""After this long without a notification the connection is asked a `SELECT 1`: a peer that vanished
without a word (a host or a network gone) leaves a socket that would otherwise wait forever."""
FIRST_RETRY_SECONDS = 0.5
LAST_RETRY_SECONDS = 10.0

CONNECTION_DEFAULTS = {
    "application_name": "champion-listener",
    "connect_timeout": 5,
    # TCP keepalives notice a dead peer between checks (libpq ignores them on a Unix socket).
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

Callback = Callable[[], None]


class Listener:
    """One LISTEN connection per server process, calling back whoever follows each payload."""

    def __init__(self, connect: dict[str, Any] | None) -> None:
        self._connect = connect
        """psycopg's connection parameters; None: nothing to listen to (SQLite), the followers poll."""
        self._callbacks: dict[str, list[Callback]] = {}
        self._task: asyncio.Task[None] | None = None
        self.live = False
        """Whether notifications arrive now: the connection is up and LISTENing."""

    @classmethod
    def for_engine(cls, engine: Engine) -> Listener:
        """A listener on `engine`'s database, with the parameters SQLAlchemy connects with."""
        if engine.dialect.name != "postgresql":
            return cls(None)
        _, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)  # SQLAlchemy's own adapters for the connections it makes
        return cls({**CONNECTION_DEFAULTS, **params})

    def is_live(self) -> bool:
        return self.live

    def on(self, payloads: Iterable[str], callback: Callback) -> None:
        """Call `callback` on the loop whenever a notification with one of `payloads` arrives."""
        for payload in payloads:
            self._callbacks.setdefault(payload, []).append(callback)

    def start(self) -> None:
        if self._connect is not None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notification-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.live = False

    async def _run(self) -> None:
        retry = FIRST_RETRY_SECONDS
        failures = 0
        while True:
            try:
                await self._listen()
            except Exception as exc:
                # Said once per outage; the attempts that follow fail quietly until one succeeds.
                if self.live or failures == 0:
                    logger.warning("database notifications stopped (%s); polling until they are back", exc)
                if self.live:
                    retry = FIRST_RETRY_SECONDS
                failures += 1
            self.live = False
            await asyncio.sleep(retry)
            retry = min(retry * 2, LAST_RETRY_SECONDS)

    async def _listen(self) -> None:
        # Imported here: only a server on PostgreSQL needs it, and SQLAlchemy's dialect loaded it already.
        import psycopg
        from psycopg import sql

        assert self._connect is not None
        async with await psycopg.AsyncConnection.connect(**self._connect, autocommit=True) as connection:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(changes.CHANNEL)))
            self.live = True
            logger.info("listening for database notifications on %s", changes.CHANNEL)
            self._call_all()  # whatever was committed while nobody listened
            while True:
                async for notification in connection.notifies(timeout=CHECK_SECONDS):
                    self._call(notification.payload)
                await asyncio.wait_for(connection.execute("SELECT 1"), CHECK_SECONDS)

    def _call(self, payload: str) -> None:
        for callback in self._callbacks.get(payload, ()):
            _safely(callback)

    def _call_all(self) -> None:
        for callback in {id(c): c for callbacks in self._callbacks.values() for c in callbacks}.values():
            _safely(callback)


def _safely(callback: Callback) -> None:
    try:
        callback()
    except Exception:
        logger.exception("a notification callback failed")
