"""Meters summed over the worker processes of `champion serve --workers N` (prometheus_client's multiprocess mode).

Each uvicorn worker is a process of its own, and a scrape of /metrics lands on one of them.
So that every scrape reports the whole server, the serving process (`champion/server.py`)
gives the workers a fresh, private directory in `PROMETHEUS_MULTIPROC_DIR` before starting
them. prometheus_client reads that variable once, when it is first imported, and from then
on every meter of the process keeps its values in a memory-mapped file of that directory,
named after the pid; /metrics then reads and sums all the files (`MultiProcessCollector`).

What this changes, and why it is only done for several workers:
- Counters and histograms of a worker that exited stay in the sum, as they should: what a
  worker answered was answered. A restart of the server starts from zero, as before.
- `champion_models_loaded` is a "livesum" gauge: the models in the memory of the live
  workers. A worker forgets its own on the way out (`leave`); one that was killed is
  forgotten at the next scrape (`forget_dead_workers`), since uvicorn has no hook that runs
  when a worker dies.
- Per-process collectors (process_* CPU and memory, python_gc_*) would describe whichever
  worker answered the scrape and jump between workers, so they are not exposed; python_info
  is the same everywhere and stays.
- Each meter update writes to the file under one process-wide lock: about 1 µs more per
  update, some 4 µs per prediction (four updates). A single-worker server needs none of it
  and keeps plain in-memory values.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, PlatformCollector, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's own name for the directory; `champion/server.py` spells it out too,
because importing this package there would import prometheus_client before it is set."""


def shared_directory() -> Path | None:
    """Where this process's meters are shared with the other workers, or None for a single process."""
    configured = os.environ.get(DIRECTORY_VARIABLE)
    if not configured:
        return None
    if values.ValueClass is values.MutexValue:
        # prometheus_client chose in-memory values before the variable was set: the files
        # would stay empty and /metrics would report nothing.
        raise RuntimeError(f"{DIRECTORY_VARIABLE} was set after prometheus_client was imported")
    return Path(configured)


def exposition_registry(directory: Path, *, platform: bool) -> CollectorRegistry:
    """A registry that sums the files of every worker at each collection."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    if platform:
        PlatformCollector(registry=registry)
    return registry


def leave(directory: Path) -> None:
    """This process stops serving: its live gauges (models loaded) leave the sum."""
    mark_process_dead(os.getpid(), str(directory))  # type: ignore[no-untyped-call]


def forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers that died without `leave` (killed, out of memory)."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        if not _alive(pid):
            mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    # Workers run as this user: a pid that exists but is not ours (PermissionError) was reused.
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
