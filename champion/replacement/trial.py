"""A candidate's trial before a replacement: load it, warm it up, and replay captured traffic through it.

The trial runs in a child process of its own, never in a serving process's memory: a model that
takes too long is killed at `timeout` seconds, and one that needs too much memory fails against the
child's address-space limit (`RLIMIT_AS`), while the server goes on answering. The child is started
once (spawned, so it shares no threads or locks with the server) and kept for the next trial; a
killed or crashed one is replaced.

The replay gives the candidate the rows the champion was asked most recently (prediction capture),
in the candidate's own feature order, and compares its answers with what the champion answered:
how many rows it failed on, and how often it disagrees. The comparison is the replay check's
(`model_checks.replay`); this module only measures.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import resource
import threading
import time
import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

import numpy as np

from champion.runtimes import Framework, Prediction, RuntimeLoadError, Signature, TargetType, compiled, load
from champion.serving.warmup import warm_up


@dataclass(frozen=True)
class Limits:
    """How long a trial may take and how much memory its process may use (`Settings.trial_*`)."""

    timeout: float = 120.0
    memory_bytes: int = 8 * 1024**3


LIMITS = Limits()
"""Set once per server process from its settings (`configure`, called by `context.open_context`)."""


def configure(limits: Limits) -> None:
    global LIMITS
    LIMITS = limits


CHUNK_ROWS = 64
"""Replay rows per call to the model; a chunk that fails is retried row by row to count the failures."""


@dataclass(frozen=True)
class Replayed:
    """How the candidate answered captured rows, against what the champion answered them."""

    rows: int
    failed_rows: int
    first_error: str | None
    missing_features: tuple[str, ...] = ()
    """Features the candidate takes that the captured rows lack: nothing was replayed then."""
    disagreement: float | None = None
    """Classifiers: the share of rows labelled differently. Regressors: the mean absolute difference
    over the champion's own mean absolute deviation (0 = the same answers; 1 = as far apart as the
    champion's answers are spread)."""
    mean_probability_difference: float | None = None
    """Classifiers with probabilities for the same classes: mean absolute difference, per class cell."""
    labels: np.ndarray | None = None
    """The candidate's answer per replayed row, in row order (None where it failed): for accuracy on the
    rows that have actuals (a challenger's replay)."""


@dataclass(frozen=True)
class TrialOutcome:
    loads: bool
    load_error: str | None = None
    seconds: float = 0.0
    replayed: Replayed | None = None


@dataclass(frozen=True)
class ReplayInput:
    """The captured rows to replay, by feature name, and the champion's answers to them."""

    features: dict[str, np.ndarray]
    labels: np.ndarray
    probabilities: np.ndarray | None
    classes: tuple[str, ...]
    """The champion's classes, as text (its probability columns' order)."""


def run(path: Path, framework: Framework, signature: Signature, replay: ReplayInput | None) -> TrialOutcome:
    """Try the candidate in the trial process; a timeout or a crash of that process is a failed load."""
    timeout, memory_bytes = LIMITS.timeout, LIMITS.memory_bytes
    started = time.monotonic()
    try:
        outcome: TrialOutcome = _runner(memory_bytes).run(
            _trial, (str(path), framework.value, signature.to_dict(), replay), timeout=timeout
        )
        return outcome
    except multiprocessing.TimeoutError:
        return TrialOutcome(False, f"it did not load and answer sample rows within {timeout:g} s", timeout)
    except _ProcessLost as lost:
        return TrialOutcome(False, str(lost), time.monotonic() - started)


def inspect(path: Path, framework: Framework) -> tuple[Signature, str | None]:
    """The signature of the model file at `path`, and for a pickle the library of the estimator it holds
    (`SklearnModel.library`), read in the trial process: an uploaded file is loaded (a pickle unpickled)
    there, bounded in time and memory, and never in a serving process, which would also keep the
    framework imported for good. Raises RuntimeLoadError with the reason the file is not a model.
    """
    try:
        # A process of its own: an upload does not wait behind a replacement's trial or a replay.
        found: tuple[dict[str, Any], str | None] | str = _runner(LIMITS.memory_bytes, "uploads").run(
            _inspect, (str(path), framework.value), timeout=LIMITS.timeout
        )
    except multiprocessing.TimeoutError:
        raise RuntimeLoadError(f"the model did not load within {LIMITS.timeout:g} s") from None
    except _ProcessLost as lost:
        raise RuntimeLoadError(f"the model could not be loaded: {lost}") from None
    if isinstance(found, str):
        raise RuntimeLoadError(found)
    signature, library = found
    return Signature.from_dict(signature), library


def _inspect(path: str, framework: str) -> tuple[dict[str, Any], str | None] | str:
    """In the trial process: the signature and library of the model at `path`, or why it is no model."""
    try:
        model = load(Path(path), Framework(framework))
        library = getattr(model, "library", None) if model.framework is Framework.SKLEARN else None
        return model.signature().to_dict(), library
    except MemoryError:
        return "it needs more memory than loading a model may use"
    except RuntimeLoadError as exc:
        return str(exc)
    except Exception as exc:
        return _first_line(exc)


def answers(path: Path, framework: Framework, signature: Signature, rows: np.ndarray) -> np.ndarray:
    """What the model at `path` answers for `rows` (labels or values), computed in the trial process.

    For work that must not run in a serving process, such as predicting a whole training set to fix
    a drift baseline. Raises RuntimeError with the model's reason when it cannot load or answer.
    """
    try:
        found: np.ndarray | str = _runner(LIMITS.memory_bytes).run(
            _answers, (str(path), framework.value, signature.to_dict(), rows), timeout=LIMITS.timeout
        )
    except multiprocessing.TimeoutError:
        raise RuntimeError(f"the model did not answer within {LIMITS.timeout:g} s") from None
    except _ProcessLost as lost:
        raise RuntimeError(str(lost)) from None
    if isinstance(found, str):
        raise RuntimeError(found)
    return found


def _answers(path: str, framework: str, signature_data: dict[str, Any], rows: np.ndarray) -> np.ndarray | str:
    """In the trial process: the model's labels for `rows`, or why it could not give them."""
    try:
        model = load(Path(path), Framework(framework))
        return np.concatenate(
            [np.asarray(model.predict(rows[start : start + 4096]).labels) for start in range(0, len(rows), 4096)]
        )
    except Exception as exc:
        return _first_line(exc)


def _trial(path: str, framework: str, signature_data: dict[str, Any], replay: ReplayInput | None) -> TrialOutcome:
    """In the trial process: load, warm up, replay."""
    started = time.monotonic()
    signature = Signature.from_dict(signature_data)
    try:
        model = load(Path(path), Framework(framework))
        warm_up(model, signature)
    except MemoryError:
        return TrialOutcome(False, "it needs more memory than a trial may use", time.monotonic() - started)
    except Exception as exc:
        return TrialOutcome(False, _first_line(exc), time.monotonic() - started)
    replayed = _replay(model.predict, signature, replay) if replay is not None else None
    _compile_on_captured(model, Path(path), signature, replay)
    return TrialOutcome(True, None, time.monotonic() - started, replayed)


def _compile_on_captured(model: Any, path: Path, signature: Signature, replay: ReplayInput | None) -> None:
    """Check the candidate's compiled form on the captured rows too, here where they are at hand: the
    check is kept beside the model file (`runtimes.compiled`), so the servers loading the candidate next
    serve natively a model whose compiled form differed on them. Never fails the trial."""
    if replay is None or any(f.name not in replay.features for f in signature.features):
        return
    matrix = _matrix(signature, replay)
    if matrix.dtype != np.float64:
        return
    try:
        compiled.serving(model, path, rows=matrix)
    except Exception as exc:  # the trial measures the candidate; compiling it is the servers' concern
        warnings.warn(f"could not check the compiled form on captured rows: {_first_line(exc)}", stacklevel=1)


def _replay(predict: Any, signature: Signature, replay: ReplayInput) -> Replayed:
    missing = tuple(f.name for f in signature.features if f.name not in replay.features)
    rows = len(replay.labels)
    if missing:
        return Replayed(rows=0, failed_rows=0, first_error=None, missing_features=missing)
    matrix = _matrix(signature, replay)
    answered: list[tuple[int, Prediction]] = []
    failed, first_error = 0, None
    for start in range(0, rows, CHUNK_ROWS):
        chunk = matrix[start : start + CHUNK_ROWS]
        try:
            answered.append((start, predict(chunk)))
            continue
        except Exception as exc:
            first_error = first_error or _first_line(exc)
        for offset in range(len(chunk)):  # find which rows fail
            try:
                answered.append((start + offset, predict(chunk[offset : offset + 1])))
            except Exception as exc:
                failed += 1
                first_error = first_error or _first_line(exc)
    return _compared(signature, replay, answered, failed, first_error)


def _matrix(signature: Signature, replay: ReplayInput) -> np.ndarray:
    columns = [replay.features[f.name] for f in signature.features]
    if all(c.dtype == np.float64 for c in columns):
        return np.column_stack(columns)
    return np.column_stack([c.astype(object) for c in columns])


def _compared(
    signature: Signature,
    replay: ReplayInput,
    answered: list[tuple[int, Prediction]],
    failed: int,
    first_error: str | None,
) -> Replayed:
    rows = len(replay.labels)
    if not answered:
        return Replayed(rows, failed, first_error)
    index = np.concatenate([np.arange(start, start + len(p.labels)) for start, p in answered])
    labels = np.concatenate([np.asarray(p.labels) for _, p in answered])
    champion = replay.labels[index]
    every = np.full(rows, None, dtype=object)
    every[index] = labels
    if signature.target.type is TargetType.REGRESSION:
        ours, theirs = labels.astype(np.float64), champion.astype(np.float64)
        spread = float(np.mean(np.abs(theirs - theirs.mean()))) or 1.0
        difference = float(np.mean(np.abs(ours - theirs)) / spread)
        return Replayed(rows, failed, first_error, disagreement=difference, labels=every)
    disagreement = float(np.mean([str(a) != str(b) for a, b in zip(labels, champion, strict=True)]))
    classes = tuple(str(c) for c in signature.target.classes)
    probability_difference = None
    if (
        replay.probabilities is not None
        and classes == replay.classes
        and all(p.probabilities is not None for _, p in answered)
    ):
        ours_p = np.concatenate([np.asarray(p.probabilities) for _, p in answered])
        probability_difference = float(np.mean(np.abs(ours_p - replay.probabilities[index])))
    return Replayed(
        rows,
        failed,
        first_error,
        disagreement=disagreement,
        mean_probability_difference=probability_difference,
        labels=every,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# --- the trial process -------------------------------------------------------------------------------


class _ProcessLost(Exception):
    """The trial process died (a crash in native code, or the memory limit's consequences)."""


class _EndedIdle(Exception):
    """The trial process ended for want of work before it read what was sent."""


IDLE_SECONDS = 60.0
"""A trial process given nothing to do for this long ends, handing back the memory of the models and
frameworks it loaded; the next trial starts a new one."""

IDLE_EXIT = 75
"""The exit status of a trial process that ended idle: whatever was sent to it meanwhile never ran."""


def _serve(connection: Connection, memory_bytes: int, idle_seconds: float) -> None:
    """The trial process's loop: take (function, arguments), send back the result, until the pipe closes
    or nothing comes for `idle_seconds`."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    warnings.simplefilter("ignore")  # a candidate's warnings on replayed rows would flood the server's log
    while True:
        try:
            if not connection.poll(idle_seconds):
                # os._exit: no interpreter shutdown (atexit, the pipe's finalisers) between the
                # decision and the exit status the server reads.
                os._exit(IDLE_EXIT)
            function, arguments = connection.recv()
        except EOFError:
            return
        connection.send(function(*arguments))


class _Runner:
    """One spawned child process, reused for each trial and replaced when a trial kills or hangs it.

    Written on a Pipe rather than with multiprocessing.Pool or ProcessPoolExecutor: a Pool quietly
    restarts a worker that dies and leaves the caller waiting for the timeout, and an executor
    cannot kill a worker that hangs (before Python 3.14). Here a dead child is noticed at once (the
    pipe closes) and a hung one is killed.
    """

    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self._child: SpawnProcess | None = None
        self._connection: Connection | None = None
        self._lock = threading.Lock()  # one trial at a time: the child holds one candidate

    def run(self, function: Any, arguments: tuple[Any, ...], *, timeout: float) -> Any:
        with self._lock:
            try:
                return self._run(function, arguments, timeout)
            except _EndedIdle:  # it ended idle just as this was sent, so it never ran: in a new one
                return self._run(function, arguments, timeout)

    def _run(self, function: Any, arguments: tuple[Any, ...], timeout: float) -> Any:
        connection = self._connection if self._connection is not None and self._alive() else self._start()
        try:
            connection.send((function, arguments))
            if not connection.poll(timeout):
                self._stop()
                raise multiprocessing.TimeoutError
            return connection.recv()
        except (EOFError, OSError) as exc:
            child = self._child
            if child is not None:
                child.join(timeout=5)
            self._stop()
            if child is not None and child.exitcode == IDLE_EXIT:
                raise _EndedIdle from None
            raise _ProcessLost(f"the trial process ended while trying it ({_first_line(exc)})") from None

    def _alive(self) -> bool:
        return self._child is not None and self._child.is_alive() and self._connection is not None

    def _start(self) -> Connection:
        self._stop()
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        child = context.Process(
            target=_serve, args=(theirs, self.memory_bytes, IDLE_SECONDS), daemon=True, name="champion-trial"
        )
        child.start()
        theirs.close()
        self._child, self._connection = child, ours
        threading.Thread(target=self._reap, args=(child,), daemon=True, name="champion-trial-reaper").start()
        return ours

    def _reap(self, child: SpawnProcess) -> None:
        """Wait for `child` to end, then reap it (and close its pipe) at once, rather than leave it a zombie
        until the next trial: a trial process ends by itself when idle (`IDLE_SECONDS`), or by crashing.
        Nothing else joins a child that has not been stopped: two threads joining one multiprocessing
        child at once can lose its exit status.

        A thread per child, waiting on the child's sentinel: multiprocessing offers no callback on a
        child's exit. The reaping happens under the runner's lock, so never during a trial's own handling
        of its child (which reaps a child that ends during a trial, and starts the next).
        """
        wait([child.sentinel])
        with self._lock:
            if self._child is child:
                self._stop()

    def _stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._child is not None:
            self._child.kill()
            self._child.join(timeout=5)
        self._child = self._connection = None

    def close(self) -> None:
        with self._lock:
            self._stop()


_RUNNERS: dict[tuple[int, str], _Runner] = {}
_RUNNERS_LOCK = threading.Lock()


def _runner(memory_bytes: int, purpose: str = "trials") -> _Runner:
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get((memory_bytes, purpose))
        if runner is None:
            runner = _RUNNERS[(memory_bytes, purpose)] = _Runner(memory_bytes)
        return runner


def close() -> None:
    """Stop the trial processes (at the interpreter's exit); a later trial would start a new one.

    Not at an app's shutdown: the child belongs to the process, and several apps in one process
    (tests, a restarted lifespan) share it rather than each paying for a fresh spawn.
    """
    with _RUNNERS_LOCK:
        for runner in _RUNNERS.values():
            runner.close()


atexit.register(close)
