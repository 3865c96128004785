"""The limits bench/run.py measures champion against, besides the HTTP floor (bench/floor_app.py).

- **Compute time**: the median `predict_proba` of the bench model for 1 and 100 rows, in this
  process, on the float64 array champion's sklearn runtime hands the estimator (after a
  warm-up, repeated for a fixed time), on the process's CPU clock (the wall clock beside it).
  1 / that time is the most requests per second one core could answer if serving cost nothing.
- **Start-up**: the wall time from spawning a server to its first correct prediction (polled
  every 10 ms): champion started a second time on a home that already holds one deployment,
  against the plain FastAPI app (bench/baseline_app.py) loading the same model.
- **CLI**: `champion --help` against `python -c "import typer"` (a Typer CLI that imports
  nothing else) and `python -c pass` (the interpreter alone), each the median of a few runs.
- **Many deployments**: the resident memory of one champion server before and after more
  deployments of the same model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

CLI_RUNS = 5
POLL_SECONDS = 0.010
START_TIMEOUT = 120.0


# -- compute time ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ComputeTime:
    rows: int
    median_ms: float
    """CPU time of one call (this process's CPU clock): what other processes on the machine cannot inflate."""
    wall_median_ms: float
    wall_p90_ms: float
    calls: int

    @property
    def max_rps(self) -> float:
        """Requests per second one core could answer if everything but the model were free."""
        return 1e3 / self.median_ms


def compute_times(model: Path, bodies: dict[int, Path], seconds: float = 2.0) -> dict[int, ComputeTime]:
    """Median predict_proba per row count, measured for `seconds` each after a 0.5 s warm-up.

    Each call is timed on the process's CPU clock and on the wall clock. The limit is the CPU
    median: on a shared machine the wall clock also counts the time other processes held the
    core (the wall median and p90 are reported beside it, and match it on a quiet machine).
    GradientBoostingClassifier predicts on one thread, so CPU time is its compute time.
    """
    import joblib
    import numpy as np

    estimator = joblib.load(model)
    # champion's fast path gives a fitted-on-DataFrame estimator a bare array; sklearn warns each call.
    warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)
    times = {}
    for rows, body in bodies.items():
        (block,) = json.loads(body.read_text())["input_data"]
        matrix = np.asarray(block["values"], dtype=np.float64)
        _repeat(functools.partial(estimator.predict_proba, matrix), 0.5)
        cpu, wall = _repeat(functools.partial(estimator.predict_proba, matrix), seconds)
        wall.sort()
        times[rows] = ComputeTime(
            rows,
            statistics.median(cpu) * 1e3,
            statistics.median(wall) * 1e3,
            wall[int(0.9 * (len(wall) - 1))] * 1e3,
            len(wall),
        )
    return times


def served_compute_times(
    model: Path, bodies: dict[int, Path], seconds: float = 2.0
) -> tuple[str, dict[int, ComputeTime]]:
    """The same timing of the form champion serves the model in (`runtimes.load`, then compiled when it matches).

    Not the issue's limit (that is the model's own `predict_proba`), but what the serving path can at
    best reach now: `predict` of the served form, labels and probabilities, on the same arrays.
    Returns the form's name ("native" when champion has no compiled forms) and the times.
    """
    import numpy as np

    from champion.runtimes import Framework, load

    served: Any = load(model, Framework.SKLEARN)
    form = "native"
    try:
        from champion.runtimes import compiled
    except ImportError:  # a champion from before compiled forms
        pass
    else:
        served = compiled.serving(served, model)
        form = getattr(getattr(served, "form", None), "form", None) or "native"
    times = {}
    for rows, body in bodies.items():
        (block,) = json.loads(body.read_text())["input_data"]
        matrix = np.asarray(block["values"], dtype=np.float64)
        _repeat(functools.partial(served.predict, matrix), 0.5)
        cpu, wall = _repeat(functools.partial(served.predict, matrix), seconds)
        wall.sort()
        times[rows] = ComputeTime(
            rows,
            statistics.median(cpu) * 1e3,
            statistics.median(wall) * 1e3,
            wall[int(0.9 * (len(wall) - 1))] * 1e3,
            len(wall),
        )
    return form, times


def _repeat(call: Callable[[], Any], seconds: float) -> tuple[list[float], list[float]]:
    """(CPU seconds, wall seconds) of each call, for `seconds` of wall time and at least 20 calls."""
    cpu: list[float] = []
    wall: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(wall) < 20:
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return cpu, wall


# -- start-up ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StartUp:
    seconds: float
    attempts: int
    """Prediction requests sent before the first correct answer (refused connections included)."""


def time_to_first_prediction(
    process: subprocess.Popen[bytes],
    started: float,
    url: str,
    body: bytes,
    headers: dict[str, str],
    correct: Callable[[Any], bool],
    log_tail: Callable[[], str],
) -> StartUp:
    """Poll `url` until an answer passes `correct`: the time since `started` (monotonic, just before spawning).

    Any answer other than a refused connection, a 404, 409 or 503 (not ready yet) or a correct 200 fails.
    The caller stops the process.
    """
    attempts = 0
    with httpx.Client(timeout=30, headers=headers) as http:
        while True:
            if process.poll() is not None:
                raise StartUpError(f"the server exited with {process.returncode} while starting:\n{log_tail()}")
            if time.monotonic() - started > START_TIMEOUT:
                raise StartUpError(f"no correct prediction within {START_TIMEOUT:.0f}s:\n{log_tail()}")
            attempts += 1
            with contextlib.suppress(httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                response = http.post(url, content=body)
                if response.status_code == 200:
                    if not correct(response.json()):
                        raise StartUpError(f"the first prediction was wrong: {response.text[:500]}")
                    return StartUp(time.monotonic() - started, attempts)
                if response.status_code not in (409, 503, 404):
                    raise StartUpError(f"a prediction while starting answered {response.status_code}: {response.text}")
            time.sleep(POLL_SECONDS)


class StartUpError(RuntimeError):
    """A server did not reach a correct first prediction."""


# -- the CLI ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CliTimes:
    help_s: float
    typer_s: float
    python_s: float


def cli_times(champion: list[str], env: dict[str, str]) -> CliTimes:
    """Median wall times of `champion --help`, `python -c "import typer"` and `python -c pass`."""

    def median(command: list[str]) -> float:
        samples = []
        for _ in range(CLI_RUNS):
            started = time.monotonic()
            done = subprocess.run(command, env=env, capture_output=True, timeout=60, check=False)
            samples.append(time.monotonic() - started)
            if done.returncode != 0:
                raise StartUpError(f"{' '.join(command)} exited with {done.returncode}: {done.stderr[-500:]!r}")
        return statistics.median(samples)

    return CliTimes(
        median([*champion, "--help"]),
        median([sys.executable, "-c", "import typer"]),
        median([sys.executable, "-c", "pass"]),
    )


# -- many deployments ------------------------------------------------------------------------------


def add_deployments(
    base_url: str, authorization: str, space: str, model_id: str, count: int, version: dict[str, str]
) -> list[str]:
    """`count` more online deployments of the model, all created first, then waited for (each ready)."""
    ids = []
    with httpx.Client(base_url=base_url, headers={"Authorization": authorization}, timeout=60) as http:
        for i in range(count):
            body = {"name": f"bench-{i + 2}", "online": {}, "asset": {"id": model_id}, "space_id": space}
            response = http.post("/ml/v4/deployments", params=version, json=body)
            if response.status_code != 202:
                raise StartUpError(f"deploying #{i + 2} answered {response.status_code}: {response.text[:500]}")
            ids.append(response.json()["metadata"]["id"])
        deadline = time.monotonic() + 30 + 5 * count
        for deployment in ids:
            while True:
                response = http.get(f"/ml/v4/deployments/{deployment}", params={"space_id": space})
                state = response.json()["entity"]["status"]["state"] if response.status_code == 200 else "?"
                if state == "ready":
                    break
                if state not in ("initializing", "updating") or time.monotonic() > deadline:
                    raise StartUpError(f"deployment {deployment} is {state}: {response.text[:500]}")
                time.sleep(0.1)
    return ids


def same_prediction(expected: list[list[Any]], tolerance: float = 1e-9) -> Callable[[Any], bool]:
    """A check of a WML answer against the rows `expected` (labels equal, probabilities within `tolerance`)."""

    def check(answer: Any) -> bool:
        try:
            values = answer["predictions"][0]["values"]
        except (KeyError, IndexError, TypeError):
            return False
        return len(values) == len(expected) and all(
            got[0] == want[0]
            and all(math.isclose(a, b, rel_tol=0, abs_tol=tolerance) for a, b in zip(got[1], want[1], strict=True))
            for got, want in zip(values, expected, strict=True)
        )

    return check
