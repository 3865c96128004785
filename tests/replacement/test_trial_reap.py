"""A trial process that ends by itself is reaped at once, not left a zombie until the next trial.

A trial process ends when idle for `IDLE_SECONDS` (exit status `IDLE_EXIT`) or when it crashes; the
runner waits for it in a thread of its own, so the process table holds no ended trial process.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess

import pytest

from champion.replacement import trial

WAIT_SECONDS = 60.0
"""How long the runner may take to notice its child ended: far more than it needs, never waited for."""


@pytest.fixture
def runner() -> Iterator[trial._Runner]:
    """A runner of its own, so other tests' trial process is left alone."""
    own = trial._Runner(3 * 1024**3)
    try:
        yield own
    finally:
        own.close()


def forgotten(runner: trial._Runner) -> bool:
    """The runner has let go of its child: reaped it (`_stop` joins it before forgetting it)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with runner._lock:
            if runner._child is None:
                return True
        time.sleep(0.02)
    return False


def test_a_trial_process_that_ends_idle_is_reaped_without_another_call(
    runner: trial._Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trial, "IDLE_SECONDS", 0.5)
    started: list[SpawnProcess | None] = []
    start = runner._start

    def recorded() -> Connection:
        connection = start()
        started.append(runner._child)
        return connection

    monkeypatch.setattr(runner, "_start", recorded)
    pid = runner.run(os.getpid, (), timeout=60)
    (child,) = started
    assert child is not None and child.pid == pid != os.getpid()
    assert forgotten(runner)
    assert child.exitcode == trial.IDLE_EXIT
    with pytest.raises(ChildProcessError):  # no zombie left to wait for: reaped already
        os.waitpid(pid, os.WNOHANG)
    assert runner.run(os.getpid, (), timeout=60) not in (pid, os.getpid())  # the next call starts another


def test_a_trial_process_that_dies_is_reaped_without_another_call(runner: trial._Runner) -> None:
    pid = runner.run(os.getpid, (), timeout=60)
    os.kill(pid, signal.SIGKILL)
    assert forgotten(runner)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
