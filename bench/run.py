"""Benchmark champion against the machine's limits and a hand-written FastAPI baseline (`make bench`).

One run: fit a GradientBoostingClassifier (fixed seed) and time its `predict_proba` in this
process (the compute limit, bench/limits.py); then start each server alone on 127.0.0.1 (the
HTTP floor of bench/floor_app.py, the baseline, then champion), load it with wrk for every
scenario (1-row and 100-row requests at each concurrency), read its peak memory and stop it.
champion also answers the same row through every prediction face (bench/faces.py), loaded at
1 row and the top concurrency, and runs the top concurrency again with prediction capture off
and on alternately (off, on, on, off: the difference of the means is capture's cost). The floor
and champion are then served again with `--also-workers` uvicorn workers (2 by default) at the
points that matter, each against the floor on as many workers, every load noting how the workers
split its connections and CPU (the second table). Then
champion is started a second time on the same home and timed from spawn to its first correct
prediction, as is the baseline app; 19 more deployments of the model give the memory of 20; and
`champion --help` is timed against `python -c "import typer"`. It prints the limits table
(bench/limits_report.py), then the baseline's, in Markdown (also written to
bench/results/latest.md and latest.json; latest-<N>w.* with `--workers N`).

Every load is bounded: a fixed duration per scenario, a timeout on every wait, and servers
are stopped on the way out whatever happened. Any non-2xx answer or socket error fails the
run: a fast server that answers errors has measured nothing.

    .venv/bin/python bench/run.py [--duration 10] [--warmup 2] [--concurrency 1,8,32] [--rows 1,100] [--workers 1]
        [--also-workers 2] [--also-duration 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import functools
import io
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import faces  # noqa: E402  (bench/faces.py: every prediction face's body)
import limits  # noqa: E402  (bench/limits.py: compute time, start-up, the CLI, many deployments)
import limits_report  # noqa: E402  (bench/limits_report.py: the issue's table)
from faces import FaceError  # noqa: E402
from limits import StartUpError  # noqa: E402

ROOT = BENCH.parent
RESULTS = BENCH / "results"
LUA = BENCH / "score.lua"
HOST = "127.0.0.1"
WML_VERSION = {"version": "2026-10-14"}

N_FEATURES = 20
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
TRAIN_ROWS = 5_000
SEED = 20_240_601


class BenchError(RuntimeError):
    """The run cannot give honest numbers (a server failed, answered errors, or never started)."""


# -- the model and the request bodies ---------------------------------------------------------


def fit_model(folder: Path) -> Path:
    """A 100-tree, depth-6 GradientBoostingClassifier on 20 named float features, saved with joblib."""
    import joblib
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    started = time.monotonic()
    x, y = make_classification(
        n_samples=TRAIN_ROWS, n_features=N_FEATURES, n_informative=10, n_redundant=4, random_state=SEED
    )
    frame = pd.DataFrame(x, columns=FEATURES)
    model = GradientBoostingClassifier(n_estimators=100, max_depth=6, random_state=SEED).fit(frame, y)
    path = folder / "model.joblib"
    joblib.dump(model, path)
    log(f"fitted the model in {time.monotonic() - started:.1f}s ({path.stat().st_size / 1e6:.1f} MB)")
    return path


def write_bodies(folder: Path, row_counts: list[int]) -> dict[int, Path]:
    """One WML scoring body per row count, from rows the model has not seen (another seed)."""
    import numpy as np

    rng = np.random.default_rng(SEED + 1)
    bodies = {}
    for rows in row_counts:
        values = np.round(rng.normal(size=(rows, N_FEATURES)), 6).tolist()
        path = folder / f"body-{rows}.json"
        path.write_text(json.dumps({"input_data": [{"fields": FEATURES, "values": values}]}))
        bodies[rows] = path
    return bodies


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    path: str = ""
    """The scoring path (set once the server has a deployment)."""
    authorization: str = ""
    settings_path: str = ""
    """champion only: the deployment's settings extension (capture is switched off there for a second run)."""
    space: str = ""
    model_id: str = ""
    deployment_id: str = ""
    """champion only: what deploy_on_champion created (more deployments of the model join the space)."""
    command: list[str] = dataclasses.field(default_factory=list)
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    """How it was started (champion is started again on the same home to time its start-up)."""
    started: float = 0.0
    """time.monotonic() just before the process was spawned."""
    serving_form: dict[str, Any] | None = None
    """champion only: the deployment's `status.serving_form` once ready (compiled or native, and why)."""
    workers: int = 1
    """uvicorn workers: with more than one, each load notes how its connections and CPU were split."""

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start(name: str, command: list[str], port: int, log_path: Path, env: dict[str, str], ready_path: str) -> Server:
    log_file = log_path.open("wb")
    # A session of its own, so stopping it reaches anything it started (and nothing else).
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    log_file.close()
    server = Server(name, process, f"http://{HOST}:{port}", log_path, command=command, env=env)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode} while starting:\n{server.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.base_url + ready_path, timeout=2).status_code < 500:
                    return server
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not answer within 90s:\n{server.log_tail()}")
            time.sleep(0.2)
    except BaseException:
        stop(server)  # not yet in the caller's hands, so it would outlive the bench
        raise


def stop(server: Server) -> None:
    """SIGTERM to the server's own process group, SIGKILL after 10 s."""
    process = server.process
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def start_floor(model: Path, work: Path, workers: int = 1) -> Server:
    """The HTTP floor (bench/floor_app.py): a constant answer on the same uvicorn settings. `model` is unused."""
    port = free_port()
    command = [sys.executable, str(BENCH / "floor_app.py"), "--port", str(port), "--workers", str(workers)]
    server = start(
        "floor",
        command,
        port,
        work / ("floor.log" if workers == 1 else f"floor-{workers}w.log"),
        dict(os.environ),
        "/health",
    )
    server.path, server.workers = "/ml/v4/deployments/floor/predictions", workers
    return server


def baseline_command(model: Path, port: int, workers: int = 1) -> list[str]:
    return [
        sys.executable, str(BENCH / "baseline_app.py"), "--model", str(model), "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip


def start_baseline(model: Path, work: Path, workers: int = 1) -> Server:
    port = free_port()
    command = baseline_command(model, port, workers)
    server = start("baseline", command, port, work / "baseline.log", dict(os.environ), "/health")
    server.path, server.workers = "/ml/v4/deployments/baseline/predictions", workers
    return server


def start_champion_at(ref: str, model: Path, work: Path, workers: int) -> Server:
    """champion's code as of the git commit `ref` (`git archive` into the work folder; the repository is
    only read), served from this venv: `python -P` keeps the current folder off sys.path, so PYTHONPATH's
    old copy comes before the editable install. Each worker count gets a home of its own."""
    source = work / "before"
    source.mkdir(exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "champion"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if archive.returncode != 0:
        raise BenchError(f"git archive {ref} failed: {archive.stderr.decode(errors='replace')}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(source, filter="data")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(source)], check=False)  # as for champion now
    port = free_port()
    key = f"bench.{secrets.token_hex(16)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    env |= {"CHAMPION_ADMIN_API_KEY": key, "PYTHONPATH": str(source)}
    command = [
        sys.executable, "-P", "-m", "champion", "serve", "--no-tls", "--host", HOST, "--port", str(port),
        "--home", str(work / f"before-home-{workers}w"), "--workers", str(workers),
    ]  # fmt: skip
    log_path = work / f"champion-before-{workers}w.log"
    server = start(f"champion@{ref}", command, port, log_path, env, "/ml/wml_services/version")
    server.authorization, server.workers = f"Bearer {key}", workers
    try:
        server.path, server.settings_path = deploy_on_champion(server, model)
    except BaseException:
        stop(server)
        raise
    return server


def champion_command(home: Path, port: int, workers: int = 1) -> list[str]:
    champion = Path(sys.executable).with_name("champion")
    command = [str(champion)] if champion.exists() else [sys.executable, "-m", "champion"]
    return [
        *command, "serve", "--no-tls", "--host", HOST, "--port", str(port), "--home", str(home),
        "--workers", str(workers),
    ]  # fmt: skip


def start_champion(model: Path, work: Path, workers: int = 1) -> Server:
    """champion on a fresh home in the work folder (one per worker count: the run may serve 1, then 2)."""
    port = free_port()
    name = "champion" if workers == 1 else f"champion-{workers}w"
    home = work / f"{name}-home"
    key = f"bench.{secrets.token_hex(16)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    env["CHAMPION_ADMIN_API_KEY"] = key
    command = champion_command(home, port, workers)
    server = start("champion", command, port, work / f"{name}.log", env, "/ml/wml_services/version")
    server.authorization, server.workers = f"Bearer {key}", workers
    try:
        server.path, server.settings_path = deploy_on_champion(server, model)
    except BaseException:
        stop(server)  # not yet in the caller's hands, so it would outlive the bench
        raise
    return server


def deploy_on_champion(server: Server, model: Path) -> tuple[str, str]:
    """Space, model, content, online deployment, through the WML face; the scoring and settings paths."""
    headers = {"Authorization": server.authorization}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:

        def call(method: str, url: str, expect: int, **kwargs: Any) -> dict[str, Any]:
            response = client.request(method, url, **kwargs)
            if response.status_code != expect:
                raise BenchError(f"{method} {url} answered {response.status_code}: {response.text[:500]}")
            return response.json() if response.content else {}

        space = call("POST", "/v2/spaces", 202, json={"name": "bench"})["metadata"]["id"]
        specs = call("GET", "/v2/software_specifications", 200)["resources"]
        spec_id = specs[0]["metadata"]["asset_id"]
        new_model = {
            "name": "bench-gbc",
            "type": "scikit-learn_1.3",
            "software_spec": {"id": spec_id},
            "space_id": space,
        }
        model_id = call("POST", "/ml/v4/models", 201, params=WML_VERSION, json=new_model)["metadata"]["id"]
        call("PUT", f"/ml/v4/models/{model_id}/content", 201, params={"space_id": space}, content=model.read_bytes())
        new_deployment = {"name": "bench", "online": {}, "asset": {"id": model_id}, "space_id": space}
        deployment = call("POST", "/ml/v4/deployments", 202, params=WML_VERSION, json=new_deployment)
        deployment_id = deployment["metadata"]["id"]
        deadline = time.monotonic() + 60
        while True:
            details = call("GET", f"/ml/v4/deployments/{deployment_id}", 200, params={"space_id": space})
            state = details["entity"]["status"]["state"]
            if state == "ready":
                server.serving_form = details["entity"]["status"].get("serving_form")
                break
            if state not in ("initializing", "updating"):
                raise BenchError(f"the deployment ended {state}: {json.dumps(details['entity']['status'])}")
            if time.monotonic() > deadline:
                raise BenchError("the deployment was not ready within 60s")
            time.sleep(0.1)
    settings = f"/ml/v4/deployments/{deployment_id}/settings?space_id={space}&version={WML_VERSION['version']}"
    server.space, server.model_id, server.deployment_id = space, model_id, deployment_id
    return f"/ml/v4/deployments/{deployment_id}/predictions", settings


def set_capture(server: Server, enabled: bool) -> None:
    """Switch prediction capture on or off for the bench deployment, and give the follower time to see it."""
    headers = {"Authorization": server.authorization}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        response = client.patch(server.settings_path, json={"predictions_data_collection": {"enabled": enabled}})
        if response.status_code != 200:
            raise BenchError(f"switching capture {'on' if enabled else 'off'} answered {response.status_code}")
    time.sleep(1.0)  # the follower polls every 100 ms


def score_once(server: Server, body: Path) -> list[list[Any]]:
    """One request outside the load, to check the answer before measuring how fast it comes."""
    headers = {"Content-Type": "application/json"}
    if server.authorization:
        headers["Authorization"] = server.authorization
    response = httpx.post(server.base_url + server.path, content=body.read_bytes(), headers=headers, timeout=30)
    if response.status_code != 200:
        raise BenchError(f"{server.name} answered {response.status_code}: {response.text[:500]}")
    (block,) = response.json()["predictions"]
    if block["fields"] != ["prediction", "probability"]:
        raise BenchError(f"{server.name} answered fields {block['fields']}")
    values: list[list[Any]] = block["values"]
    return values


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) in KiB of `pid` and every process below it (uvicorn forks only with --workers > 1)."""
    peak = current = 0
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{p}/status").read_text()
            found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M), re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            if found[0] is None or found[1] is None:  # a child that has ended and not been reaped yet holds no memory
                continue
            peak += int(found[0].group(1))
            current += int(found[1].group(1))
    return peak, current


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and every process below it."""
    ticks = 0
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return ticks / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every core spent not idle since boot (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
QUIET_CORES = 0.15
"""CPU (in cores) that other processes may use while a scenario runs before it is flagged as disturbed."""


def wait_until_quiet(limit: float) -> float:
    """Wait (at most `limit` s) until the machine is idle; returns the busy cores last seen.

    Each server must be alone on the machine while measured; the bench cannot stop other
    work, but it can wait for it and say when it could not.
    """
    deadline = time.monotonic() + limit
    while True:
        before, started = machine_busy_seconds(), time.monotonic()
        time.sleep(2)
        busy = (machine_busy_seconds() - before) / (time.monotonic() - started)
        if busy < QUIET_CORES or time.monotonic() > deadline:
            return busy
        log(f"  the machine is busy ({busy:.2f} cores in use by other processes); waiting")


# -- load ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    """Non-2xx answers plus socket errors (connect, read, write, timeout)."""
    detail: str
    server_cores: float = math.nan
    """CPU the server used during the load, in cores (2.0 = both cores all the time)."""
    other_cores: float = math.nan
    """CPU everything but the server and the load generator used meanwhile: should be near 0."""
    worker_cores: tuple[float, ...] = ()
    """With several uvicorn workers: each worker's CPU during the load, in cores, busiest first."""
    worker_connections: tuple[int, ...] = ()
    """With several uvicorn workers: the load's connections each worker held, busiest worker first. A
    keep-alive connection stays with the worker that accepted it, and wrk opens all of them at once."""

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per answered request: less sensitive to a busy machine than req/s."""
        return self.server_cores * 1e3 / self.rps if self.rps else math.nan


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> Load:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.M)
        if match is None:
            raise BenchError(f"could not read {pattern!r} from wrk's output:\n{output}")
        return match

    rps = float(find(r"^Requests/sec:\s+([\d.]+)").group(1))
    p50 = _ms(find(r"^\s+50%\s+(\S+)").group(1))
    p99 = _ms(find(r"^\s+99%\s+(\S+)").group(1))
    requests = int(find(r"^\s+(\d+) requests in").group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return Load(rps, p50, p99, requests, errors, output)


def run_wrk(
    server: Server, body: Path, connections: int, seconds: float, *, path: str = "", content_type: str = ""
) -> Load:
    """wrk with score.lua against the server's scoring path (or `path`), the body sent as `content_type`."""
    url = server.base_url + (path or server.path)
    threads = min(2, connections)
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
        "-s", str(LUA), url, "--", str(body), server.authorization, content_type,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(command)}") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def run_python_load(
    server: Server, body: Path, connections: int, seconds: float, *, path: str = "", content_type: str = ""
) -> Load:
    """The fallback when wrk is missing: keep-alive HTTP/1.1 over raw asyncio streams.

    Lighter than an HTTP client library (so it steals less CPU from the server), but still
    Python sharing the two cores: its numbers are lower than wrk's and only comparable with
    each other.
    """
    payload = body.read_bytes()
    head = [
        f"POST {path or server.path} HTTP/1.1",
        f"Host: {HOST}",
        f"Content-Type: {content_type or 'application/json'}",
    ]
    if server.authorization:
        head.append(f"Authorization: {server.authorization}")
    head.append(f"Content-Length: {len(payload)}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    port = int(server.base_url.rsplit(":", 1)[1])
    latencies: list[float] = []
    errors = 0

    async def connection(deadline: float) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not status_line.split(b" ")[1].startswith(b"2"):
                    errors += 1
        finally:
            writer.close()

    async def main() -> float:
        started = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*(connection(started + seconds) for _ in range(connections)), return_exceptions=True),
            timeout=seconds + 30,
        )
        nonlocal errors
        errors += sum(1 for r in results if isinstance(r, BaseException))
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, math.ceil(q * len(latencies)) - 1)] * 1e3 if latencies else math.nan

    return Load(len(latencies) / elapsed, pct(0.50), pct(0.99), len(latencies), errors, "python load generator")


# -- one server's measurements --------------------------------------------------------------------


def accounted(load: Any, server: Server, body: Path, connections: int, seconds: float) -> Load:
    """Run `load` and note the CPU the server, the generator and everything else used meanwhile.

    With several workers, also each worker's CPU and the connections each held (read once, a second
    into the load, when wrk has opened all of them)."""
    workers = worker_pids(server) if server.workers > 1 else []
    workers_before = {pid: process_cpu_seconds(pid) for pid in workers}
    held: dict[int, int] = {}
    sampler = threading.Timer(min(1.0, seconds / 2), lambda: held.update(connections_by_process(workers, server)))
    if workers:
        sampler.start()
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before, busy_before, started = (
        process_cpu_seconds(server.process.pid),
        machine_busy_seconds(),
        time.monotonic(),
    )
    result: Load = load(server, body, connections, seconds)
    elapsed = time.monotonic() - started
    server_used = process_cpu_seconds(server.process.pid) - server_before
    busy = machine_busy_seconds() - busy_before
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The generator: wrk (a waited-for child) or, for the Python fallback, this process itself.
    generator = sum(
        (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        for before, after in ((own_before, own_after), (children_before, children_after))
    )
    result.server_cores = server_used / elapsed
    result.other_cores = max(0.0, busy - server_used - generator) / elapsed
    if workers:
        sampler.join()
        split = sorted(((process_cpu_seconds(p) - workers_before[p]) / elapsed, held.get(p, 0)) for p in workers)
        result.worker_cores = tuple(cores for cores, _ in reversed(split))
        result.worker_connections = tuple(count for _, count in reversed(split))
    return result


def worker_pids(server: Server) -> list[int]:
    """The uvicorn workers below the server's supervisor: its descendants holding a socket on its port
    (uvicorn's supervisor holds the listening socket too, but it is the server's own process)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    sockets = tcp_sockets(port)
    return [pid for pid in descendants(server.process.pid) if socket_inodes(pid) & sockets.keys()]


def connections_by_process(pids: list[int], server: Server) -> dict[int, int]:
    """How many established connections to the server's port each of `pids` holds."""
    port = int(server.base_url.rsplit(":", 1)[1])
    established = {inode for inode, state in tcp_sockets(port).items() if state == TCP_ESTABLISHED}
    return {pid: len(socket_inodes(pid) & established) for pid in pids}


TCP_ESTABLISHED = "01"
"""The `st` column of /proc/net/tcp for an established connection (0A is listening)."""


def tcp_sockets(port: int) -> dict[str, str]:
    """Socket inode -> state of every IPv4 and IPv6 TCP socket whose local port is `port` (/proc/net/tcp*):
    the server's side of each connection, and its listening socket; the clients' sides have other ports."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found[fields[9]] = fields[3]
    return found


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets `pid` has open (its /proc/<pid>/fd links read `socket:[inode]`)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


@dataclasses.dataclass
class Measured:
    loads: dict[tuple[int, int], Load]
    """(rows, connections) -> load."""
    peak_kib: int
    rss_kib: int


def measure(
    server: Server,
    bodies: dict[int, Path],
    concurrency: list[int],
    args: argparse.Namespace,
    *,
    path: str = "",
    content_type: str = "",
    label: str = "",
) -> Measured:
    """Each (rows, connections) point: warm-up, then the measured load; the peak memory after them all.

    `path` and `content_type` aim the same load at another route of the server (the other faces)."""
    generator = run_wrk if args.generator == "wrk" else run_python_load
    load = functools.partial(generator, path=path, content_type=content_type)
    name = label or server.name
    loads: dict[tuple[int, int], Load] = {}
    for rows, body in bodies.items():
        for connections in concurrency:
            if args.warmup > 0:
                load(server, body, connections, args.warmup)
            result = accounted(load, server, body, connections, args.duration)
            if server.process.poll() is not None:
                raise BenchError(f"{name} died during the load:\n{server.log_tail()}")
            log(
                f"  {name:8} rows={rows:<3} c={connections:<2}  {result.rps:9.1f} req/s  "
                f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  ({result.requests} requests; "
                f"server {result.server_cores:.2f} cores, others {result.other_cores:.2f}){split_text(result)}"
            )
            if result.errors:
                raise BenchError(
                    f"{name} gave {result.errors} errors at rows={rows} c={connections}:\n"
                    f"{result.detail}\n{server.log_tail()}"
                )
            loads[(rows, connections)] = result
    peak, rss = memory_kib(server.process.pid)
    log(f"  {name:8} peak memory {peak / 1024:.1f} MiB (now {rss / 1024:.1f} MiB)")
    return Measured(loads, peak, rss)


def split_text(load: Load) -> str:
    """How several workers shared a load, for the log: '; workers 0.95 + 0.10 cores, 30 + 2 connections'."""
    if not load.worker_cores:
        return ""
    cores = " + ".join(f"{c:.2f}" for c in load.worker_cores)
    return f"; workers {cores} cores, {' + '.join(map(str, load.worker_connections))} connections"


# -- report --------------------------------------------------------------------------------------


def report(base: Measured, champ: Measured, args: argparse.Namespace, machine: str) -> tuple[str, dict[str, Any]]:
    workers = f"{args.workers} uvicorn worker{'s' if args.workers > 1 else ''}"
    lines = [
        f"Measured {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} on {machine}.",
        f"Load: {args.generator}, {args.duration:g} s per scenario after a {args.warmup:g} s warm-up; "
        f"every server {workers} (uvloop, httptools), plain HTTP on 127.0.0.1.",
        "",
        "### Against a hand-written FastAPI app (the baseline)",
        "",
        "| rows | conc | baseline req/s | champion req/s | ratio | baseline p50 / p99 ms "
        "| champion p50 / p99 ms | p99 ratio | server CPU, cores (b / c) | CPU ms per request (b / c) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    disturbed = []
    data: dict[str, Any] = {"scenarios": []}
    for key, b in base.loads.items():
        c = champ.loads[key]
        rows, connections = key
        ratio, p99_ratio = c.rps / b.rps, c.p99_ms / b.p99_ms
        mark = ""
        if max(b.other_cores, c.other_cores) >= QUIET_CORES:
            mark = " ⚠"
            disturbed.append(f"{rows} rows at {connections} ({b.other_cores:.2f} / {c.other_cores:.2f} cores)")
        lines.append(
            f"| {rows} | {connections}{mark} | {b.rps:.0f} | {c.rps:.0f} | {ratio:.2f}x "
            f"| {b.p50_ms:.2f} / {b.p99_ms:.2f} | {c.p50_ms:.2f} / {c.p99_ms:.2f} | {p99_ratio:.2f} "
            f"| {b.server_cores:.2f} / {c.server_cores:.2f} | {b.cpu_ms_per_request:.2f} / {c.cpu_ms_per_request:.2f} |"
        )
        data["scenarios"].append(
            {
                "rows": rows,
                "concurrency": connections,
                "baseline": dataclasses.asdict(b) | {"detail": None, "cpu_ms_per_request": b.cpu_ms_per_request},
                "champion": dataclasses.asdict(c) | {"detail": None, "cpu_ms_per_request": c.cpu_ms_per_request},
                "rps_ratio": ratio,
                "p99_ratio": p99_ratio,
            }
        )
    if disturbed:
        lines += [
            "",
            f"⚠ other processes used ≥ {QUIET_CORES} cores during: {'; '.join(disturbed)} "
            "(baseline / champion). Those rows are not clean; run again on a quiet machine.",
        ]
    data["disturbed"] = disturbed
    memory_ratio = champ.peak_kib / base.peak_kib
    lines += [
        "",
        "| peak memory (VmHWM) | baseline | champion | ratio |",
        "|---|---:|---:|---:|",
        f"| MiB, one model loaded, after the loads | {base.peak_kib / 1024:.0f} | {champ.peak_kib / 1024:.0f} "
        f"| {memory_ratio:.2f}x |",
        f"| (resident now, VmRSS) | {base.rss_kib / 1024:.0f} | {champ.rss_kib / 1024:.0f} "
        f"| {champ.rss_kib / base.rss_kib:.2f}x |",
    ]
    data["memory"] = {"baseline_peak_kib": base.peak_kib, "champion_peak_kib": champ.peak_kib, "ratio": memory_ratio}

    goals: list[tuple[str, bool | None, str]] = []
    one = (1, max(args.concurrency))
    if one in base.loads:
        b, c = base.loads[one], champ.loads[one]
        goals.append(
            (
                f"1-row at concurrency {one[1]}: ≥ 3x req/s",
                c.rps / b.rps >= 3,
                f"{c.rps / b.rps:.2f}x",
            )
        )
        goals.append(
            (
                f"1-row at concurrency {one[1]}: p99 ≤ 1/3 of baseline",
                c.p99_ms / b.p99_ms <= 1 / 3,
                f"{c.p99_ms / b.p99_ms:.2f}",
            )
        )
    hundred = [k for k in base.loads if k[0] == 100]
    if hundred:
        worst = min(champ.loads[k].rps / base.loads[k].rps for k in hundred)
        goals.append(("100-row, every concurrency: ≥ 1x req/s", worst >= 1, f"lowest {worst:.2f}x"))
    goals.append(("peak memory ≤ 1.2x baseline", memory_ratio <= 1.2, f"{memory_ratio:.2f}x"))
    lines += ["", "| goal | measured | met |", "|---|---:|:---:|"]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, met, value in goals]
    data["goals"] = [{"goal": name, "met": met, "measured": value} for name, met, value in goals]
    return "\n".join(lines) + "\n", data


def measure_capture(server: Server, bodies: dict[int, Path], args: argparse.Namespace) -> tuple[Measured, Measured]:
    """The top concurrency with capture off and on, alternated (off, on, on, off) so that neither gains
    from running later on a warmer server; each the mean of its two runs."""
    top = [max(args.concurrency)]
    runs: dict[bool, list[Measured]] = {True: [], False: []}
    for enabled in (False, True, True, False):
        set_capture(server, enabled)
        runs[enabled].append(measure(server, bodies, top, args))
    set_capture(server, True)
    return _mean(runs[True]), _mean(runs[False])


def _mean(runs: list[Measured]) -> Measured:
    first, second = runs
    loads = {
        key: dataclasses.replace(load, rps=(load.rps + second.loads[key].rps) / 2) for key, load in first.loads.items()
    }
    return Measured(loads, max(first.peak_kib, second.peak_kib), second.rss_kib)


def with_capture_cost(
    table: str, data: dict[str, Any], captured: Measured, uncaptured: Measured
) -> tuple[str, dict[str, Any]]:
    """What prediction capture (on by default) costs: the same server with it off, at the top concurrency."""
    lines = [
        "",
        "| prediction capture | rows | conc | captured req/s | not captured req/s | cost |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    costs = []
    for key, off in uncaptured.loads.items():
        on = captured.loads[key]
        cost = 1 - on.rps / off.rps
        costs.append({"rows": key[0], "concurrency": key[1], "captured": on.rps, "uncaptured": off.rps, "cost": cost})
        lines.append(f"| | {key[0]} | {key[1]} | {on.rps:.0f} | {off.rps:.0f} | {cost:+.1%} |")
    one = next((c for c in costs if c["rows"] == 1), None)
    if one is not None:
        met = one["cost"] <= 0.05
        lines += [
            "",
            f"Capture goal (≤ 5% of 1-row throughput at concurrency {one['concurrency']}): "
            f"{one['cost']:+.1%}, {'met' if met else '**not met**'}.",
        ]
        data["goals"].append(
            {"goal": "capture costs ≤ 5% of 1-row req/s", "met": met, "measured": f"{one['cost']:+.1%}"}
        )
    data["capture"] = costs
    return table + "\n".join(lines) + "\n", data


def machine_description() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # noqa: T201


@contextlib.contextmanager
def stopped_on_signal(servers: list[Server]) -> Iterator[None]:
    """SIGTERM/SIGINT stop the servers before the bench exits."""

    def handler(signum: int, frame: Any) -> None:
        for server in servers:
            stop(server)
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per scenario (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load first (default 2)")
    parser.add_argument("--concurrency", default="1,8,32", help="open connections per scenario (default 1,8,32)")
    parser.add_argument("--rows", default="1,100", help="rows per request (default 1,100)")
    parser.add_argument(
        "--generator", choices=("wrk", "python"), default=None, help="load generator (default: wrk if installed)"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=30, help="seconds to wait for other load to stop first (default 30)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers of every server (default 1; the issue asks for 2 too)"
    )
    parser.add_argument(
        "--deployments", type=int, default=20, help="deployments of the model for the memory figure (default 20)"
    )
    parser.add_argument(
        "--compute-seconds", type=float, default=2.0, help="seconds of predict_proba per row count (default 2)"
    )
    parser.add_argument("--no-capture", action="store_true", help="skip the capture on/off runs")
    parser.add_argument(
        "--face-rounds",
        type=int,
        default=3,
        help="rounds of every prediction face, taking turns, each face's figure its median (default 3)",
    )
    parser.add_argument(
        "--also-workers",
        type=int,
        default=2,
        help="then the points that matter (1 row at the top concurrency, 100 rows at 8, every face) with the "
        "floor and champion on this many workers (default 2; 0, or the same as --workers, skips it)",
    )
    parser.add_argument(
        "--also-duration", type=float, default=8, help="seconds measured per point of --also-workers (default 8)"
    )
    parser.add_argument(
        "--before",
        metavar="REF",
        help="also serve champion as of this git commit at the same points (today's figures beside the new)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (model, logs, champion home)")
    args = parser.parse_args(argv)
    args.concurrency = sorted(int(c) for c in args.concurrency.split(","))
    args.rows = sorted(int(r) for r in args.rows.split(","))
    if args.generator is None:
        args.generator = "wrk" if shutil.which("wrk") else "python"
    if args.generator == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), or pass --generator python")
    if args.duration > 60 or args.warmup > 30:
        parser.error("keep the run bounded: --duration at most 60, --warmup at most 30")
    if not 1 <= args.workers <= 8 or not 2 <= args.deployments <= 100 or not 0.1 <= args.compute_seconds <= 30:
        parser.error("keep the run bounded: --workers 1..8, --deployments 2..100, --compute-seconds 0.1..30")
    if not 1 <= args.face_rounds <= 10:
        parser.error("keep the run bounded: --face-rounds 1..10")
    if not 0 <= args.also_workers <= 8 or not 1 <= args.also_duration <= 60:
        parser.error("keep the run bounded: --also-workers 0..8, --also-duration 1..60")
    if args.also_workers == args.workers:
        args.also_workers = 0  # make bench-2w: its main tables are that already
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.generator == "python":
        log("wrk not found: using the Python load generator (numbers are lower and noisier than wrk's)")
    work = Path(tempfile.mkdtemp(prefix="champion-bench-"))
    servers: list[Server] = []
    started = time.monotonic()
    try:
        with stopped_on_signal(servers):
            table, data = run_all(args, work, servers)
    except (BenchError, FaceError, StartUpError) as error:
        log(f"\nBENCH FAILED: {error}")
        return 1
    finally:
        for server in servers:
            stop(server)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    stem = "latest" if args.workers == 1 else f"latest-{args.workers}w"
    (RESULTS / f"{stem}.md").write_text(table)
    (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    print(table)  # noqa: T201
    log(f"total {time.monotonic() - started:.0f}s; written to {RESULTS / stem}.md")
    return 0


def run_all(args: argparse.Namespace, work: Path, servers: list[Server]) -> tuple[str, dict[str, Any]]:
    """Every server in turn (the HTTP floor, the baseline, champion), then start-up and the CLI."""
    # An installed champion has its bytecode (pip compiles it); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module at every start, timing the compiler too.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "champion")], check=False)
    model = fit_model(work)
    every = write_bodies(work, sorted({*args.rows, 1, 100}))
    bodies = {rows: every[rows] for rows in args.rows}
    top = max(args.concurrency)
    wait_until_quiet(args.quiet_wait / 2)
    log("in-process compute time of predict_proba (1 and 100 rows)")
    compute = limits.compute_times(model, {1: every[1], 100: every[100]}, seconds=args.compute_seconds)
    form, served = limits.served_compute_times(model, {1: every[1], 100: every[100]}, seconds=args.compute_seconds)
    for name, times in (("predict_proba", compute), (f"served form ({form}) predict", served)):
        for t in times.values():
            log(f"  {name}, {t.rows:>3} rows: median {t.median_ms:.3f} ms CPU, {t.wall_median_ms:.3f} ms wall")
    measured: dict[str, Measured] = {}
    answers: dict[str, list[list[Any]]] = {}
    face_loads: dict[str, Load] = {}
    starters = (("floor", start_floor), ("baseline", start_baseline), ("champion", start_champion))
    for name, starter in starters:
        busy = wait_until_quiet(args.quiet_wait)
        if busy >= QUIET_CORES:
            log(f"  WARNING: other processes still use {busy:.2f} cores; measuring anyway")
        log(f"starting {name} ({args.workers} worker{'s' if args.workers > 1 else ''})")
        server = starter(model, work, args.workers)
        servers.append(server)
        answers[name] = score_once(server, bodies[max(args.rows)])
        if name == "champion":
            check_same_answers(answers["baseline"], answers["champion"])
        measured[name] = measure(server, bodies, args.concurrency, args)
        if name == "champion":
            face_loads = measure_faces(server, every[1], work, top, args)
            if not args.no_capture:
                log("champion again at the top concurrency, capture off, on, on, off (its cost is the difference)")
                measured["captured"], measured["uncaptured"] = measure_capture(server, bodies, args)
        stop(server)
    champion = servers[-1]
    before: Measured | None = None
    if args.before:
        if (busy := wait_until_quiet(args.quiet_wait)) >= QUIET_CORES:
            log(f"  WARNING: other processes still use {busy:.2f} cores; measuring anyway")
        log(f"starting champion as of {args.before} (the same points, for today's figures beside the new)")
        server = start_champion_at(args.before, model, work, args.workers)
        servers.append(server)
        check_same_answers(answers["baseline"], score_once(server, bodies[max(args.rows)]))
        before = measure(server, bodies, args.concurrency, args, label=f"at {args.before}")
        stop(server)

    also = None
    if args.also_workers:
        also = measure_also_workers(args, model, every, work, servers, answers["baseline"], measured["champion"])

    log("start-up: champion a second time on the same home (one deployment), then the plain FastAPI app")
    wait_until_quiet(args.quiet_wait / 2)
    probe = every[max(args.rows)]
    restarted, champion_start = restart_champion(champion, probe, answers["champion"], work, args.workers, servers)
    log(f"  champion: {champion_start.seconds:.2f} s to the first correct prediction")
    time.sleep(1.0)  # the first requests' buffers settle
    one_kib, one_threads = memory_kib(restarted.process.pid)[1], tree_threads(restarted.process.pid)
    log(f"  adding {args.deployments - 1} deployments of the same model")
    limits.add_deployments(
        restarted.base_url,
        restarted.authorization,
        champion.space,
        champion.model_id,
        args.deployments - 1,
        WML_VERSION,
    )
    time.sleep(1.0)
    many_kib, many_threads = memory_kib(restarted.process.pid)[1], tree_threads(restarted.process.pid)
    log(f"  RSS {one_kib / 1024:.0f} MiB with one deployment, {many_kib / 1024:.0f} MiB with {args.deployments}")
    stop(restarted)
    baseline_start = start_baseline_timed(model, probe, answers["baseline"], work, args.workers, servers)
    log(f"  plain FastAPI app: {baseline_start.seconds:.2f} s")
    log("the CLI: champion --help, python -c 'import typer', python -c pass")
    cli = limits.cli_times(champion.command[: champion.command.index("serve")], champion.env)
    log(f"  {cli.help_s:.2f} s / {cli.typer_s:.2f} s / {cli.python_s:.2f} s")

    table, data = report(measured["baseline"], measured["champion"], args, machine_description())
    if "captured" in measured:
        table, data = with_capture_cost(table, data, measured["captured"], measured["uncaptured"])
    against = limits_report.Limits(
        workers=args.workers,
        floor=dict(measured["floor"].loads),
        champion=dict(measured["champion"].loads),
        faces=dict(face_loads),
        compute=compute,
        served_compute=served,
        served_form=form,
        champion_start=champion_start,
        baseline_start=baseline_start,
        cli=cli,
        champion_peak_kib=measured["champion"].peak_kib,
        baseline_peak_kib=measured["baseline"].peak_kib,
        floor_peak_kib=measured["floor"].peak_kib,
        one_deployment_kib=one_kib,
        many_deployments_kib=many_kib,
        many=args.deployments,
        threads_one=one_threads,
        threads_many=many_threads,
        serving_form=champion.serving_form,
        before=dict(before.loads) if before else {},
        before_ref=args.before or "",
        before_peak_kib=before.peak_kib if before else 0,
    )
    limits_table, limits_data = limits_report.report(against, top, QUIET_CORES)
    data["limits"] = limits_data
    if also is not None:
        also_table, data["also_workers"] = limits_report.also_report(also, QUIET_CORES)
        limits_table += f"\n{also_table}"
    header, _, rest = table.partition("\n\n")  # the when-and-where lines go first
    return f"{header}\n\n{limits_table}\n{rest}", data


def measure_also_workers(
    args: argparse.Namespace,
    model: Path,
    every: dict[int, Path],
    work: Path,
    servers: list[Server],
    expected: list[list[Any]],
    main: Measured,
) -> limits_report.AlsoWorkers:
    """The points that matter again with every server on `--also-workers` uvicorn workers: the floor, then
    champion (on a home of its own) with every face, then champion at `--before`; each point measured for
    `--also-duration` seconds, so that the second table adds about two minutes, not a second run."""
    workers, top = args.also_workers, max(args.concurrency)
    points = list(dict.fromkeys([(1, top), (100, 8)]))
    quick = argparse.Namespace(**(vars(args) | {"duration": args.also_duration}))
    starters = [("floor", start_floor), ("champion", start_champion)]
    measured: dict[str, Measured] = {}
    seen: list[tuple[str, Load]] = []
    for name, starter in starters:
        if (busy := wait_until_quiet(args.quiet_wait)) >= QUIET_CORES:
            log(f"  WARNING: other processes still use {busy:.2f} cores; measuring anyway")
        log(f"starting {name} ({workers} workers): the same points again, against the floor on {workers} workers")
        server = starter(model, work, workers)
        servers.append(server)
        if name == "champion":
            check_same_answers(expected, score_once(server, every[max(args.rows)]))
        measured[name] = measure_points(server, every, points, quick, label=f"{name} {workers}w")
        if name == "champion":
            wml = measured[name].loads[(1, top)]
            measure_faces(server, every[1], work, top, quick, wml=wml, seen=seen)
        stop(server)
    before: Measured | None = None
    if args.before:
        if (busy := wait_until_quiet(args.quiet_wait)) >= QUIET_CORES:
            log(f"  WARNING: other processes still use {busy:.2f} cores; measuring anyway")
        log(f"starting champion as of {args.before} ({workers} workers)")
        server = start_champion_at(args.before, model, work, workers)
        servers.append(server)
        check_same_answers(expected, score_once(server, every[max(args.rows)]))
        before = measure_points(server, every, points, quick, label=f"at {args.before} {workers}w")
        stop(server)
    return limits_report.AlsoWorkers(
        workers=workers,
        main_workers=args.workers,
        duration=args.also_duration,
        warmup=args.warmup,
        floor=dict(measured["floor"].loads),
        champion=dict(measured["champion"].loads),
        main=dict(main.loads),
        faces=list(seen),
        floor_peak_kib=measured["floor"].peak_kib,
        champion_peak_kib=measured["champion"].peak_kib,
        before=dict(before.loads) if before else {},
        before_ref=args.before or "",
    )


def measure_points(
    server: Server, every: dict[int, Path], points: list[tuple[int, int]], args: argparse.Namespace, label: str
) -> Measured:
    """`measure` at chosen (rows, connections) points rather than every row count at every concurrency."""
    loads: dict[tuple[int, int], Load] = {}
    for rows, connections in points:
        loads |= measure(server, {rows: every[rows]}, [connections], args, label=label).loads
    peak, rss = memory_kib(server.process.pid)
    return Measured(loads, peak, rss)


def measure_faces(
    server: Server,
    one_row: Path,
    work: Path,
    top: int,
    args: argparse.Namespace,
    *,
    wml: Load | None = None,
    seen: list[tuple[str, Load]] | None = None,
) -> dict[str, Load]:
    """Every prediction face at 1 row and the top concurrency, in `--face-rounds` rounds: each round loads
    every face (the WML route too) for its share of `--duration`, the order turning by one each round, and
    a face's figure is its median round. On a shared machine a neighbour's burst lands on one face's load;
    faces taking turns give every face its share of the good and the bad minutes (one pass per face put
    faces 5% apart in-process 25% apart live). `wml`, the WML route's load just measured at that point,
    counts as one more of its rounds. `seen` gets each face's median, the WML route's first."""
    all_faces = faces.faces(server.path, server.deployment_id, one_row, work)
    faces.check_same_answers(all_faces, server.base_url, server.authorization, PROBABILITY_TOLERANCE)
    rounds = args.face_rounds
    log(f"every prediction face at 1 row, c{top}: {rounds} rounds, the faces taking turns, each its median round")
    share = argparse.Namespace(**(vars(args) | {"duration": args.duration / rounds}))
    runs: dict[str, list[Load]] = {face.name: [] for face in all_faces}
    if wml is not None:
        runs[all_faces[0].name].append(wml)
    for turn in range(rounds):
        if turn == 1:
            share.warmup = 0  # warm already: every face was loaded in the first round
        for face in all_faces[turn % len(all_faces) :] + all_faces[: turn % len(all_faces)]:
            runs[face.name].append(
                measure(
                    server,
                    {1: face.body},
                    [top],
                    share,
                    path=face.path,
                    content_type=face.content_type,
                    label=face.name,
                ).loads[(1, top)]
            )
    loads = {name: limits_report.median_load(each) for name, each in runs.items()}
    if seen is not None:
        seen.extend(loads.items())
    return loads


def restart_champion(
    first: Server, probe: Path, expected: list[list[Any]], work: Path, workers: int, servers: list[Server]
) -> tuple[Server, limits.StartUp]:
    """champion started again on the first run's home: spawn to the first correct prediction."""
    port = free_port()
    home = Path(first.command[first.command.index("--home") + 1])
    command = champion_command(home, port, workers)
    server = spawned("champion-restart", command, port, first.env, work / "champion-restart.log", servers)
    server.authorization, server.path = first.authorization, first.path
    headers = {"Authorization": first.authorization, "Content-Type": "application/json"}
    timed = limits.time_to_first_prediction(
        server.process,
        server.started,
        server.base_url + first.path,
        probe.read_bytes(),
        headers,
        limits.same_prediction(expected, PROBABILITY_TOLERANCE),
        server.log_tail,
    )
    return server, timed


def start_baseline_timed(
    model: Path, probe: Path, expected: list[list[Any]], work: Path, workers: int, servers: list[Server]
) -> limits.StartUp:
    """The plain FastAPI app: spawn to the first correct prediction, then stopped."""
    port = free_port()
    command = baseline_command(model, port, workers)
    server = spawned("baseline-start", command, port, dict(os.environ), work / "baseline-start.log", servers)
    try:
        return limits.time_to_first_prediction(
            server.process,
            server.started,
            f"{server.base_url}/ml/v4/deployments/baseline/predictions",
            probe.read_bytes(),
            {"Content-Type": "application/json"},
            limits.same_prediction(expected),
            server.log_tail,
        )
    finally:
        stop(server)


def spawned(
    name: str, command: list[str], port: int, env: dict[str, str], log_path: Path, servers: list[Server]
) -> Server:
    """A server process just spawned (not waited for), already in `servers` so that it is stopped on the way out."""
    started = time.monotonic()
    with log_path.open("wb") as log_file:
        # A session of its own, so stopping it reaches anything it started (and nothing else).
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, process, f"http://{HOST}:{port}", log_path, command=command, env=env, started=started)
    servers.append(server)
    return server


def tree_threads(pid: int) -> int:
    """Threads of `pid` and every process below it."""
    total = 0
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, AttributeError):
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
    return total


PROBABILITY_TOLERANCE = 1e-4
"""How far champion's probabilities may be from scikit-learn's own: a compiled form of the trees (ONNX
Runtime) computes in float32 and is checked to 1e-5 on its warm-up rows only, so the bench's unseen rows
get ten times that; labels must be identical. The largest deviation seen is logged."""


def check_same_answers(baseline: list[list[Any]], champion: list[list[Any]]) -> None:
    """Both servers must give the same answers, or the comparison is of different work."""
    if len(baseline) != len(champion):
        raise BenchError(f"baseline answered {len(baseline)} rows, champion {len(champion)}")
    deviation = max(
        abs(x - y) for b, c in zip(baseline, champion, strict=True) for x, y in zip(b[1], c[1], strict=True)
    )
    log(f"  champion's probabilities are within {deviation:.2g} of the baseline's (scikit-learn's own)")
    for i, (b, c) in enumerate(zip(baseline, champion, strict=True)):
        same_label = b[0] == c[0]
        same_probability = all(
            math.isclose(x, y, rel_tol=0, abs_tol=PROBABILITY_TOLERANCE) for x, y in zip(b[1], c[1], strict=True)
        )
        if not (same_label and same_probability):
            raise BenchError(f"row {i}: baseline answered {b}, champion {c}")


if __name__ == "__main__":
    sys.exit(main())
