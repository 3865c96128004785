"""The server's connection to the Dask scheduler: made on the first job that needs it, remade when lost.

`distributed` is imported here, inside `client()`, and nowhere else on the server: a server without
CHAMPION_DASK_SCHEDULER never loads it (tests/test_imports.py).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from champion.jobs.errors import SchedulerUnavailable

logger = logging.getLogger(__name__)

CONNECT_SECONDS = 10.0


class DaskScheduler:
    """One `distributed.Client` per server process, shared by its jobs (it is thread-safe)."""

    def __init__(self, address: str, *, connect_seconds: float = CONNECT_SECONDS) -> None:
        self.address = address
        self.connect_seconds = connect_seconds
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """A connected client with at least one worker; raises SchedulerUnavailable saying why not."""
        with self._lock:
            if self._client is not None and self._client.status != "running":
                # The scheduler went away (the client gave up reconnecting) or was restarted: start afresh.
                logger.info("the Dask client for %s is %s: connecting again", self.address, self._client.status)
                self._close()
            if self._client is None:
                self._client = self._connect()
            client = self._client
        if not self.workers(client):
            raise SchedulerUnavailable(
                f"the Dask scheduler at {self.address} has no workers: start some with `dask worker {self.address}`"
            )
        return client

    def workers(self, client: Any) -> int:
        try:
            return len(client.scheduler_info(n_workers=-1).get("workers", {}))
        except Exception as exc:  # the connection broke between the status check and the question
            raise self._unreachable(exc) from None

    def close(self) -> None:
        with self._lock:
            self._close()

    def _connect(self) -> Any:
        from distributed import Client

        try:
            return Client(self.address, timeout=self.connect_seconds, set_as_default=False)  # type: ignore[no-untyped-call]
        except Exception as exc:  # OSError, TimeoutError, a refused handshake: all mean "not reachable"
            raise self._unreachable(exc) from None

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close(timeout=2)
            except Exception as exc:  # closing a client whose scheduler is gone may complain; it is gone anyway
                logger.debug("closing the Dask client for %s: %s", self.address, exc)

    def _unreachable(self, exc: Exception) -> SchedulerUnavailable:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return SchedulerUnavailable(
            f"the Dask scheduler at {self.address} (CHAMPION_DASK_SCHEDULER) cannot be reached: {reason}"
        )
