"""What replacing a deployment's model costs (`make bench-swap`).

Against a real `champion serve --no-tls` on 127.0.0.1 (1 worker, then 2 if the time budget
allows), with the benchmark model of bench/run.py uploaded as two revisions (two
GradientBoostingClassifiers fitted with different seeds on the same 20 features):

1. **PATCH → ready**: N swaps (alternating revisions), each the wall time from sending the
   PATCH of `/asset` to the first GET (polled every 10 ms) that shows `ready`, and to the
   first prediction answered by the new version (header `Champion-Model-Version`). Once with
   a single sequential probe client ("idle"), once under the load of part 2.
2. **Latency during swaps**: a closed-loop load of 1-row requests at concurrency 8, first
   for a few seconds with no swap (steady state), then while the N swaps run. Requests in
   flight at any moment of a swap window (PATCH sent .. ready seen + 100 ms) are compared
   with the steady state, and with a control: the same GET polling for as long, with no
   swap (the bench's own polling costs the server something too). Any failed request fails
   the run.
3. **Memory**: the RSS of the server's process tree (VmRSS summed over /proc), sampled every
   100 ms, before, during and 2 s after 50 back-to-back swaps with no load.

Prints a Markdown table and writes it to bench/results/swap.md. Bounded: every wait has a
timeout, the run skips the 2-worker server when the budget would be exceeded, and servers
and load processes are stopped on the way out whatever happened.

    .venv/bin/python bench/swap.py [--workers 1,2] [--swaps 10] [--memory-swaps 50] [--steady 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import multiprocessing
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (bench/run.py: the benchmark model, server start/stop, /proc helpers)
from run import HOST, WML_VERSION, BenchError, Server, log  # noqa: E402

RESULTS = BENCH / "results"
ROW = [
    0.25,
    -1.1,
    0.4,
    0.9,
    -0.3,
    1.7,
    -0.8,
    0.05,
    0.6,
    -1.4,
    0.33,
    0.2,
    -0.55,
    1.05,
    -0.2,
    0.75,
    -0.9,
    0.1,
    1.3,
    -0.65,
]
POLL_SECONDS = 0.010
WINDOW_TAIL = 0.100
"""A swap window runs from sending the PATCH to 100 ms after `ready` was seen."""
SWAP_TIMEOUT = 60.0


# -- the two revisions ------------------------------------------------------------------------


def fit_variant(folder: Path, seed: int) -> Path:
    """bench/run.py's model (100 trees, depth 6, 20 named float features) with another seed."""
    import joblib
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    x, y = make_classification(
        n_samples=run.TRAIN_ROWS, n_features=run.N_FEATURES, n_informative=10, n_redundant=4, random_state=seed
    )
    frame = pd.DataFrame(x, columns=run.FEATURES)
    model = GradientBoostingClassifier(n_estimators=100, max_depth=6, random_state=seed).fit(frame, y)
    path = folder / "model.joblib"
    joblib.dump(model, path)
    return path


def fit_both(work: Path) -> tuple[Path, Path]:
    """Revision 1 is exactly `make bench`'s model; revision 2 the same shape with another seed (in parallel)."""
    started = time.monotonic()
    one, two = work / "rev1", work / "rev2"
    one.mkdir()
    two.mkdir()
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        first = pool.submit(run.fit_model, one)
        second = pool.submit(fit_variant, two, run.SEED + 1)
        paths = first.result(timeout=300), second.result(timeout=300)
    log(f"fitted both revisions in {time.monotonic() - started:.1f}s")
    return paths


# -- the server ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Deployed:
    server: Server
    space: str
    model: str
    deployment: str
    rev: str = "1"
    """The revision the deployment serves now."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.server.authorization}

    @property
    def scoring_path(self) -> str:
        return f"/ml/v4/deployments/{self.deployment}/predictions?version={WML_VERSION['version']}"

    def version(self, rev: str) -> str:
        return f"{self.model}:{rev}"


def start_server(workers: int, work: Path) -> Server:
    port = run.free_port()
    home = work / f"home-{workers}"
    key = f"bench.{secrets.token_hex(16)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    env["CHAMPION_ADMIN_API_KEY"] = key
    champion = Path(sys.executable).with_name("champion")
    command = [str(champion)] if champion.exists() else [sys.executable, "-m", "champion"]
    command += ["serve", "--no-tls", "--host", HOST, "--port", str(port), "--home", str(home)]
    command += ["--workers", str(workers)]
    log(f"starting champion serve --workers {workers}")
    server = run.start(
        f"champion-{workers}w", command, port, work / f"champion-{workers}w.log", env, "/ml/wml_services/version"
    )
    server.authorization = f"Bearer {key}"
    return server


def deploy(server: Server, revisions: tuple[Path, Path]) -> Deployed:
    """Space, model with two revisions (two content uploads), online deployment of revision 1."""
    with httpx.Client(base_url=server.base_url, headers={"Authorization": server.authorization}, timeout=60) as http:

        def call(method: str, url: str, expect: int, **kwargs: Any) -> dict[str, Any]:
            response = http.request(method, url, **kwargs)
            if response.status_code != expect:
                raise BenchError(f"{method} {url} answered {response.status_code}: {response.text[:500]}")
            return response.json() if response.content else {}

        space = call("POST", "/v2/spaces", 202, json={"name": "bench-swap"})["metadata"]["id"]
        spec = call("GET", "/v2/software_specifications", 200)["resources"][0]["metadata"]["asset_id"]
        body = {"name": "bench-gbc", "type": "scikit-learn_1.3", "software_spec": {"id": spec}, "space_id": space}
        model = call("POST", "/ml/v4/models", 201, params=WML_VERSION, json=body)["metadata"]["id"]
        for path in revisions:
            call("PUT", f"/ml/v4/models/{model}/content", 201, params={"space_id": space}, content=path.read_bytes())
        body = {"name": "bench-swap", "online": {}, "asset": {"id": model, "rev": "1"}, "space_id": space}
        deployment = call("POST", "/ml/v4/deployments", 202, params=WML_VERSION, json=body)["metadata"]["id"]
        deadline = time.monotonic() + SWAP_TIMEOUT
        while (
            state := call("GET", f"/ml/v4/deployments/{deployment}", 200, params={"space_id": space})["entity"][
                "status"
            ]["state"]
        ) != "ready":
            if state not in ("initializing", "updating") or time.monotonic() > deadline:
                raise BenchError(f"the deployment is {state}, not ready")
            time.sleep(0.1)
    deployed = Deployed(server, space, model, deployment)
    answer = httpx.post(
        server.base_url + deployed.scoring_path,
        json={"input_data": [{"fields": run.FEATURES, "values": [ROW]}]},
        headers=deployed.headers,
        timeout=30,
    )
    if answer.status_code != 200 or answer.headers.get("Champion-Model-Version") != deployed.version("1"):
        raise BenchError(f"the first prediction answered {answer.status_code} {answer.headers}: {answer.text[:300]}")
    return deployed


# -- memory of the server's process tree ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Footprint:
    rss_kib: int
    hwm_kib: int
    each_kib: tuple[int, ...]
    """VmRSS of each process: the one started first, then its descendants."""
    processes: int
    threads: int
    fds: int


def footprint(pid: int) -> Footprint:
    rss = hwm = threads = fds = count = 0
    each = []
    for p in [pid, *run.descendants(pid)]:
        with contextlib.suppress(OSError, AttributeError):
            status = Path(f"/proc/{p}/status").read_text()
            each.append(int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)))  # type: ignore[union-attr]
            rss += each[-1]
            hwm += int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
            threads += int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
            fds += len(os.listdir(f"/proc/{p}/fd"))
            count += 1
    return Footprint(rss, hwm, tuple(each), count, threads, fds)


class Sampler:
    """RSS of the process tree every 100 ms, in a thread: (monotonic time, KiB)."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        tick = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), footprint(self.pid).rss_kib))
            tick += self.every
            self._stop.wait(max(0.0, tick - time.monotonic()))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def between(self, start: float, end: float) -> list[int]:
        return [kib for t, kib in self.samples if start <= t <= end]


# -- load: a separate process, so the client's CPU never delays the swap's clock ---------------


@dataclasses.dataclass(frozen=True)
class Answer:
    sent: float
    done: float
    status: int
    version: str
    """The Champion-Model-Version header, or the error for a failed request."""

    @property
    def ms(self) -> float:
        return (self.done - self.sent) * 1e3


def _load_main(port: int, target: str, authorization: str, connections: int, stop: Any, out: Connection) -> None:
    """Child process: `connections` keep-alive HTTP/1.1 connections, each one request at a time."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    import json

    payload = json.dumps({"input_data": [{"fields": run.FEATURES, "values": [ROW]}]}).encode()
    request = (
        f"POST {target} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: {authorization}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    answers: list[tuple[float, float, int, str]] = []

    async def connection(stopped: asyncio.Event) -> None:
        writer = None
        while not stopped.is_set():
            sent = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(request)
                status_line = await asyncio.wait_for(reader.readline(), 30)
                status = int(status_line.split(b" ", 2)[1])
                length, version = 0, ""
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "champion-model-version":
                        version = value.strip()
                body = await reader.readexactly(length)
                answers.append((sent, time.monotonic(), status, version if status == 200 else body[:200].decode()))
            except Exception as exc:  # every failure counts; reconnect and go on
                answers.append((sent, time.monotonic(), 0, f"{type(exc).__name__}: {exc}"))
                if writer is not None:
                    writer.close()
                writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    async def main() -> None:
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(stopped.set)), daemon=True).start()
        await asyncio.gather(*(connection(stopped) for _ in range(connections)))

    asyncio.run(main())
    out.send(answers)
    out.close()


class LoadProcess:
    def __init__(self, deployed: Deployed, connections: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._receive, send = context.Pipe(duplex=False)
        port = int(deployed.server.base_url.rsplit(":", 1)[1])
        args = (port, deployed.scoring_path, deployed.server.authorization, connections, self._stop, send)
        self._process = context.Process(target=_load_main, args=args, name="swap-load", daemon=True)
        self.answers: list[Answer] = []

    def __enter__(self) -> LoadProcess:
        self._process.start()
        return self

    @property
    def pid(self) -> int:
        return self._process.pid or 0

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            if self._receive.poll(60):
                self.answers = [Answer(*a) for a in self._receive.recv()]
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=5)
        if exc[0] is None and not self.answers:
            raise BenchError("the load process sent no answers")


# -- swaps -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Swap:
    rev: str
    patched: float
    """When the PATCH was sent."""
    accepted: float
    """When its 202 came back."""
    ready: float
    """When the first GET showing `ready` came back."""
    polls: int

    @property
    def ready_ms(self) -> float:
        return (self.ready - self.patched) * 1e3


def swap(http: httpx.Client, deployed: Deployed) -> Swap:
    rev = "2" if deployed.rev == "1" else "1"
    body = [{"op": "replace", "path": "/asset", "value": {"id": deployed.model, "rev": rev}}]
    url = f"/ml/v4/deployments/{deployed.deployment}"
    patched = time.monotonic()
    response = http.patch(url, params={**WML_VERSION, "space_id": deployed.space}, json=body)
    accepted = time.monotonic()
    if response.status_code != 202:
        raise BenchError(f"PATCH answered {response.status_code}: {response.text[:500]}")
    polls, tick = 0, accepted
    while True:
        tick += POLL_SECONDS
        time.sleep(max(0.0, tick - time.monotonic()))
        response = http.get(url, params={"space_id": deployed.space})
        seen, polls = time.monotonic(), polls + 1
        if response.status_code != 200:
            raise BenchError(f"GET answered {response.status_code}: {response.text[:500]}")
        entity = response.json()["entity"]
        status = entity["status"]
        if status["state"] == "ready":
            if status.get("failure") or entity["asset"].get("rev") != rev:
                raise BenchError(f"the swap to rev {rev} ended ready but failed: {status}")
            deployed.rev = rev
            return Swap(rev, patched, accepted, seen, polls)
        if status["state"] != "updating":
            raise BenchError(f"the swap to rev {rev} ended {status['state']}: {status}")
        if seen - patched > SWAP_TIMEOUT:
            raise BenchError(f"the swap to rev {rev} was not ready within {SWAP_TIMEOUT:.0f}s")
        tick = max(tick, seen - POLL_SECONDS)  # a slow GET does not make the next polls bunch up


def swaps(deployed: Deployed, count: int, pause: float) -> list[Swap]:
    done = []
    with httpx.Client(base_url=deployed.server.base_url, headers=deployed.headers, timeout=30) as http:
        for _ in range(count):
            done.append(swap(http, deployed))
            if deployed.server.process.poll() is not None:
                raise BenchError(f"the server died:\n{deployed.server.log_tail()}")
            time.sleep(pause)
    return done


def poll_only(deployed: Deployed, durations: list[float], pause: float) -> list[tuple[float, float]]:
    """The control: the same GET polling as during the swaps, for as long, with no swap.

    Tells the cost of the bench's own 10 ms polling apart from the swap's.
    """
    windows = []
    url = f"/ml/v4/deployments/{deployed.deployment}"
    with httpx.Client(base_url=deployed.server.base_url, headers=deployed.headers, timeout=30) as http:
        for duration in durations:
            started = tick = time.monotonic()
            while True:
                tick += POLL_SECONDS
                time.sleep(max(0.0, tick - time.monotonic()))
                response = http.get(url, params={"space_id": deployed.space})
                seen = time.monotonic()
                if response.status_code != 200 or response.json()["entity"]["status"]["state"] != "ready":
                    raise BenchError(f"GET answered {response.status_code}: {response.text[:300]}")
                if seen - started >= duration:
                    break
                tick = max(tick, seen - POLL_SECONDS)
            windows.append((started, seen))
            time.sleep(pause)
    return windows


def overlapping(answers: list[Answer], windows: list[tuple[float, float]]) -> list[Answer]:
    """Answers in flight at any moment of a window (extended by WINDOW_TAIL)."""
    return [a for a in answers if any(a.sent <= end + WINDOW_TAIL and a.done >= start for start, end in windows)]


def first_new_answers(deployed: Deployed, done: list[Swap], answers: list[Answer]) -> list[float]:
    """Per swap, ms from sending the PATCH to the first answer carrying the new version."""
    found = []
    ends = [s.patched for s in done[1:]] + [float("inf")]
    for s, end in zip(done, ends, strict=True):
        new = deployed.version(s.rev)
        times = [a.done for a in answers if a.status == 200 and a.version == new and s.patched <= a.done < end]
        if not times:
            raise BenchError(f"no answer from {new} after the swap to it (was the load running?)")
        found.append((min(times) - s.patched) * 1e3)
    return found


def stale_answers(deployed: Deployed, done: list[Swap], answers: list[Answer]) -> int:
    """Answers from the old version to requests sent after `ready` was seen (there must be none)."""
    ends = [s.patched for s in done[1:]] + [float("inf")]
    return sum(
        1
        for s, end in zip(done, ends, strict=True)
        for a in answers
        if s.ready < a.sent < end and a.status == 200 and a.version != deployed.version(s.rev)
    )


def failures(answers: list[Answer]) -> list[Answer]:
    return [a for a in answers if a.status != 200]


# -- the three measurements -----------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))] if ordered else float("nan")


@dataclasses.dataclass
class Result:
    workers: int
    idle_ready_ms: list[float] = dataclasses.field(default_factory=list)
    idle_first_ms: list[float] = dataclasses.field(default_factory=list)
    patch_ms: list[float] = dataclasses.field(default_factory=list)
    """How long the PATCH itself took to answer 202 (validation checks, commit), over every swap."""
    load_ready_ms: list[float] = dataclasses.field(default_factory=list)
    load_first_ms: list[float] = dataclasses.field(default_factory=list)
    steady_ms: list[float] = dataclasses.field(default_factory=list)
    steady_rps: float = 0.0
    overlap_ms: list[float] = dataclasses.field(default_factory=list)
    outside_ms: list[float] = dataclasses.field(default_factory=list)
    control_ms: list[float] = dataclasses.field(default_factory=list)
    """Requests overlapping a poll-only window: as long as a swap, the same polling, no swap."""
    answered: int = 0
    """Requests answered over parts 1 and 2 (any failure stops the run before the report)."""
    stale: int = 0
    deployed_fp: Footprint | None = None
    before_kib: float = 0.0
    peak_kib: int = 0
    after_kib: int = 0
    before_fp: Footprint | None = None
    after_fp: Footprint | None = None
    memory_swaps: int = 0
    memory_seconds: float = 0.0
    memory_ready_ms: list[float] = dataclasses.field(default_factory=list)
    steady_cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Cores used by the server, the load generator and everything else, during the steady load."""
    swap_cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """The same during the swaps under load."""
    quiet: float = 0.0
    """Cores other processes used just before the server started."""


def measure(deployed: Deployed, workers: int, args: argparse.Namespace) -> Result:
    result = Result(workers)
    pid = deployed.server.process.pid
    result.deployed_fp = footprint(pid)

    log(f"  1. {args.swaps} swaps with one sequential probe client")
    with LoadProcess(deployed, 1) as probe:
        time.sleep(0.5)
        done = swaps(deployed, args.swaps, pause=0.2)
    check_failures(deployed, probe.answers, "the probe")
    result.answered += len(probe.answers)
    result.idle_ready_ms = [s.ready_ms for s in done]
    result.patch_ms += [(s.accepted - s.patched) * 1e3 for s in done]
    result.idle_first_ms = first_new_answers(deployed, done, probe.answers)
    result.stale += stale_answers(deployed, done, probe.answers)
    log(f"     PATCH -> ready median {statistics.median(result.idle_ready_ms):.0f} ms")

    log(f"  2. load at concurrency {args.concurrency}: {args.steady:g}s steady, then {args.swaps} swaps")
    with LoadProcess(deployed, args.concurrency) as load:
        time.sleep(1.0)  # connections open, the loop warm
        cpu = CpuClock(pid, load.pid)
        steady_from = time.monotonic()
        time.sleep(args.steady)
        steady_to = time.monotonic()
        result.steady_cpu = cpu.lap()
        done = swaps(deployed, args.swaps, pause=0.3)
        result.swap_cpu = cpu.lap()
        controls = poll_only(deployed, [s.ready - s.patched for s in done], pause=0.3)
    answers = load.answers
    check_failures(deployed, answers, "the load")
    result.answered += len(answers)
    steady = [a for a in answers if steady_from <= a.sent <= steady_to]
    result.steady_ms = [a.ms for a in steady]
    result.steady_rps = len(steady) / (steady_to - steady_from)
    windows = [(s.patched, s.ready) for s in done]
    swapping = [a for a in answers if done[0].patched <= a.sent <= done[-1].ready + WINDOW_TAIL]
    during = overlapping(swapping, windows)
    result.overlap_ms = [a.ms for a in during]
    inside = {id(a) for a in during}
    result.outside_ms = [a.ms for a in swapping if id(a) not in inside]
    result.control_ms = [a.ms for a in overlapping(answers, controls)]
    result.load_ready_ms = [s.ready_ms for s in done]
    result.patch_ms += [(s.accepted - s.patched) * 1e3 for s in done]
    result.load_first_ms = first_new_answers(deployed, done, answers)
    result.stale += stale_answers(deployed, done, answers)
    log(
        f"     steady p99 {pct(result.steady_ms, 0.99):.1f} ms; "
        f"during swaps p99 {pct(result.overlap_ms, 0.99):.1f} ms, "
        f"max {max(result.overlap_ms):.1f} ms"
    )

    log(f"  3. memory over {args.memory_swaps} back-to-back swaps, no load")
    time.sleep(1.0)  # let the last load's connections and the last released model settle
    with Sampler(pid) as sampler:
        time.sleep(1.0)
        result.before_fp = footprint(pid)
        result.before_kib = statistics.median(kib for _, kib in sampler.samples) if sampler.samples else 0
        started = time.monotonic()
        done = swaps(deployed, args.memory_swaps, pause=0.0)
        finished = time.monotonic()
        time.sleep(2.0)
        result.after_fp = footprint(pid)
    result.after_kib = result.after_fp.rss_kib
    result.peak_kib = max(sampler.between(started, finished) or [0])
    result.memory_swaps, result.memory_seconds = len(done), finished - started
    result.memory_ready_ms = [s.ready_ms for s in done]
    result.patch_ms += [(s.accepted - s.patched) * 1e3 for s in done]
    return result


class CpuClock:
    """Cores used since the last lap by the server's tree, the load generator, and all other processes."""

    def __init__(self, server: int, load: int) -> None:
        self.server, self.load = server, load
        self._last = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        return (
            time.monotonic(),
            run.process_cpu_seconds(self.server),
            run.process_cpu_seconds(self.load),
            run.machine_busy_seconds(),
        )

    def lap(self) -> tuple[float, float, float]:
        now = self._read()
        wall, server, load, busy = (b - a for a, b in zip(self._last, now, strict=True))
        self._last = now
        # This process (the swap driver) is counted with the others: it mostly sleeps.
        return server / wall, load / wall, max(0.0, busy - server - load) / wall


def load_and_warm_ms(path: Path, repeat: int = 5) -> list[float]:
    """What a server's follower does off the event loop for a candidate, timed here on an idle core."""
    from champion.runtimes import Framework, load
    from champion.serving.warmup import warm_up

    times = []
    load(path, Framework.SKLEARN)  # the first load pays for importing scikit-learn: not what a swap pays
    for _ in range(repeat):
        started = time.perf_counter()
        model = load(path, Framework.SKLEARN)
        warm_up(model, model.signature())
        times.append((time.perf_counter() - started) * 1e3)
    return times


def check_failures(deployed: Deployed, answers: list[Answer], who: str) -> None:
    failed = failures(answers)
    if failed:
        examples = "\n".join(f"  {a.status}: {a.version}" for a in failed[:5])
        raise BenchError(
            f"{len(failed)} of {len(answers)} requests of {who} failed:\n{examples}\n{deployed.server.log_tail()}"
        )
    unknown = {a.version for a in answers} - {deployed.version("1"), deployed.version("2")}
    if unknown:
        raise BenchError(f"answers named unknown versions: {sorted(unknown)}")


# -- report ---------------------------------------------------------------------------------------


def med_max(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} / {max(values):.0f}" if values else "-"


def spread(values: list[float]) -> str:
    return f"{pct(values, 0.5):.1f} / {pct(values, 0.99):.1f} / {max(values):.1f}" if values else "-"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def cores(used: tuple[float, float, float]) -> str:
    mark = " ⚠" if used[2] >= run.QUIET_CORES else ""
    return f"{used[0]:.2f} / {used[1]:.2f} / {used[2]:.2f}{mark}"


def table(results: list[Result], args: argparse.Namespace, warm_ms: list[float], skipped: list[str]) -> str:
    def row(label: str, cell: Any) -> str:
        return f"| {label} | " + " | ".join(cell(r) for r in results) + " |"

    lines = [
        f"Measured {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} on {run.machine_description()}.",
        "`champion serve --no-tls` on 127.0.0.1; the model of `make bench` (GradientBoostingClassifier, 100 trees, "
        "depth 6, 20 features) as rev 1, the same with another seed as rev 2; swaps alternate between them. "
        f"GET polled every {POLL_SECONDS * 1e3:.0f} ms; load: closed loop, 1-row requests, keep-alive HTTP/1.1 "
        "from a separate process (which shares the 2 cores with the server).",
        f"Loading and warming one revision as a server does (`runtimes.load` + `warm_up`), timed in the bench "
        f"process: median {statistics.median(warm_ms):.0f} ms, max {max(warm_ms):.0f} ms ({len(warm_ms)} loads).",
        "",
        "| | " + " | ".join(f"{r.workers} worker{'s' if r.workers > 1 else ''}" for r in results) + " |",
        "|---|" + "---:|" * len(results),
        row(
            f"PATCH → `ready`, ms, median / max ({args.swaps} swaps, 1 probe client)",
            lambda r: med_max(r.idle_ready_ms),
        ),
        row(
            "PATCH → first answer from the new version, ms, median / max (same swaps)",
            lambda r: med_max(r.idle_first_ms),
        ),
        row(
            f"PATCH → `ready`, ms, median / max ({args.swaps} swaps under load c={args.concurrency})",
            lambda r: med_max(r.load_ready_ms),
        ),
        row(
            "PATCH → first answer from the new version, ms, median / max (under load)",
            lambda r: med_max(r.load_first_ms),
        ),
        row(
            f"PATCH → `ready`, ms, median / max ({args.memory_swaps} back-to-back swaps, no load)",
            lambda r: med_max(r.memory_ready_ms),
        ),
        row("of which the PATCH's own 202, ms, median / max (all swaps)", lambda r: med_max(r.patch_ms)),
        row(
            f"steady state (no swap, {args.steady:g} s): req/s, p50 / p99 / max ms",
            lambda r: f"{r.steady_rps:.0f}, {spread(r.steady_ms)}",
        ),
        row(
            "requests overlapping a swap window: count, p50 / p99 / max ms",
            lambda r: f"{len(r.overlap_ms)}, {spread(r.overlap_ms)}",
        ),
        row(
            "requests between windows (same phase): p99 / max ms",
            lambda r: f"{pct(r.outside_ms, 0.99):.1f} / {max(r.outside_ms):.1f}" if r.outside_ms else "-",
        ),
        row(
            "control: requests overlapping a poll-only window (no swap): count, p50 / p99 / max ms",
            lambda r: f"{len(r.control_ms)}, {spread(r.control_ms)}",
        ),
        row("overlapping p99 / steady p99", lambda r: f"{pct(r.overlap_ms, 0.99) / pct(r.steady_ms, 0.99):.2f}x"),
        row("**worst overlapping / steady p99**", lambda r: f"**{max(r.overlap_ms) / pct(r.steady_ms, 0.99):.2f}x**"),
        row("requests answered (probe + load) / failed", lambda r: f"{r.answered} / 0"),
        row("CPU, cores: server / load generator / others, steady load", lambda r: cores(r.steady_cpu)),
        row("CPU, cores: server / load generator / others, swaps under load", lambda r: cores(r.swap_cpu)),
        row("CPU, cores: others, just before the server started", lambda r: f"{r.quiet:.2f}"),
        row("old-version answers to requests sent after `ready`", lambda r: str(r.stale)),
        row(
            "RSS of the process tree, MiB: deployed, before any swap",
            lambda r: mib(r.deployed_fp.rss_kib) if r.deployed_fp else "-",
        ),
        row(f"RSS, MiB: before the {args.memory_swaps} swaps (median of 1 s)", lambda r: mib(r.before_kib)),
        row("RSS, MiB: peak during them (100 ms samples)", lambda r: mib(r.peak_kib)),
        row("RSS, MiB: 2 s after the last `ready`", lambda r: mib(r.after_kib)),
        row("**RSS after / before**", lambda r: f"**{r.after_kib / r.before_kib:.3f}**" if r.before_kib else "-"),
        row(
            "growth per swap, KiB",
            lambda r: f"{(r.after_kib - r.before_kib) / r.memory_swaps:+.0f}" if r.memory_swaps else "-",
        ),
        row(
            "RSS per process, MiB (started process, then its children), before → after",
            lambda r: (
                " + ".join(f"{kib / 1024:.0f}" for kib in r.before_fp.each_kib)
                + " → "
                + " + ".join(f"{kib / 1024:.0f}" for kib in r.after_fp.each_kib)
                if r.before_fp and r.after_fp
                else "-"
            ),
        ),
        row("peak RSS ever (VmHWM, summed), MiB", lambda r: mib(r.after_fp.hwm_kib) if r.after_fp else "-"),
        row(
            "processes / threads / open fds, before → after",
            lambda r: (
                f"{r.before_fp.processes}/{r.before_fp.threads}/{r.before_fp.fds} → "
                f"{r.after_fp.processes}/{r.after_fp.threads}/{r.after_fp.fds}"
                if r.before_fp and r.after_fp
                else "-"
            ),
        ),
    ]
    lines += [
        "",
        "A swap window runs from sending the PATCH to 100 ms after the GET that showed `ready`; a request "
        "overlaps it when it was in flight at any moment of it. Ratios compare with the steady-state p99 of "
        "the same server. ⚠: other processes used ≥ 0.15 cores meanwhile; those figures are not clean.",
    ]
    if skipped:
        lines += ["", *skipped]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="worker counts, in order (default 1,2)")
    parser.add_argument("--swaps", type=int, default=10, help="swaps timed, idle and under load (default 10)")
    parser.add_argument("--memory-swaps", type=int, default=50, help="back-to-back swaps for memory (default 50)")
    parser.add_argument("--steady", type=float, default=5.0, help="seconds of load with no swap (default 5)")
    parser.add_argument("--concurrency", type=int, default=8, help="load connections (default 8)")
    parser.add_argument("--budget", type=float, default=280, help="seconds the whole run may take (default 280)")
    parser.add_argument(
        "--quiet-wait", type=float, default=15, help="seconds to wait for other load to stop first (default 15)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (models, logs, homes)")
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in args.workers.split(",")]
    if args.swaps > 100 or args.memory_swaps > 200 or args.steady > 30:
        parser.error("keep the run bounded: --swaps ≤ 100, --memory-swaps ≤ 200, --steady ≤ 30")
    return args


@contextlib.contextmanager
def all_stopped(servers: list[Server]) -> Iterator[None]:
    with run.stopped_on_signal(servers):
        try:
            yield
        finally:
            for server in servers:
                run.stop(server)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="champion-bench-swap-"))
    servers: list[Server] = []
    results: list[Result] = []
    skipped: list[str] = []
    try:
        with all_stopped(servers):
            revisions = fit_both(work)
            warm_ms = load_and_warm_ms(revisions[0]) + load_and_warm_ms(revisions[1])
            log(f"load + warm-up of one revision: median {statistics.median(warm_ms):.0f} ms")
            one_server = 0.0
            for workers in args.workers:
                elapsed = time.monotonic() - started
                if one_server and elapsed + one_server * 1.3 > args.budget:
                    note = (
                        f"{workers} workers: skipped, it would not fit the {args.budget:.0f} s budget "
                        f"({elapsed:.0f} s used)."
                    )
                    log(note)
                    skipped.append(note)
                    continue
                begun = time.monotonic()
                quiet = run.wait_until_quiet(args.quiet_wait)
                if quiet >= run.QUIET_CORES:
                    log(f"  WARNING: other processes still use {quiet:.2f} cores; measuring anyway")
                server = start_server(workers, work)
                servers.append(server)
                try:
                    deployed = deploy(server, revisions)
                    results.append(measure(deployed, workers, args))
                    results[-1].quiet = quiet
                finally:
                    run.stop(server)
                one_server = time.monotonic() - begun
                log(f"  {workers} worker(s) done in {one_server:.0f}s")
    except BenchError as error:
        log(f"\nBENCH FAILED: {error}")
        return 1
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report = table(results, args, warm_ms, skipped)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "swap.md").write_text(report)
    print(report)  # noqa: T201
    log(f"total {time.monotonic() - started:.0f}s; written to {RESULTS / 'swap.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
