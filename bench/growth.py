"""How champion's cost grows with the work (`make bench-growth`): the issue's growth table, from one run.

Against one `champion serve --no-tls --workers 1` on 127.0.0.1, with bench/run.py's model
uploaded as two revisions (bench/swap.py's pair), four scenarios:

1. **Deployments**: the same 1-row load at concurrency 32 (wrk, bench/rotate.lua) sent to one
   deployment, then spread evenly over 10 deployments of the same model, then to one again (its
   figure the mean of the two): req/s, p99 and server CPU per request, 10 against 1 (goal at least 0.8x).
2. **Rows per request** at concurrency 4 (wrk, bench/status.lua counting answers by status):
   1,000 and 5,000 rows per request, against a single 5,000-row request at a time: rows/s and
   the 503s counted (goal: none while the server has capacity; large requests at the single
   request's rate). Any other non-2xx answer fails the run.
3. **Swap cost over time**: back-to-back swaps of `/asset` (PATCH, then GET every 10 ms until
   `ready`) on the first deployment, no load: PATCH → ready and the server's CPU per swap over a
   window of swaps at the start, after `--early` (50) and after `--late` (400) earlier swaps
   (goal: constant). The server's CPU includes answering the bench's own 10 ms polls.
4. **Memory over swaps**: the RSS of the server's process tree after each swap; the figure is
   the growth from the first swap to `--rss-swaps` (200) swaps later, in KiB per swap (goal: flat).
   Under the table, the same per process: the server alone, and each child over the swaps it was
   alive for (the trial process the swaps' trials run in, the upload's, which ends idle after a
   minute, and multiprocessing's resource tracker), with the children seen ended and not reaped yet
   (zombies) after any swap.

Prints a Markdown table and writes bench/results/growth.md and growth.json. Bounded: a fixed
duration per load, a timeout on every wait, and the server is stopped on the way out.

    .venv/bin/python bench/growth.py [--duration 10] [--warmup 2] [--early 50] [--late 400] [--rss-swaps 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import limits  # noqa: E402  (bench/limits.py: more deployments of a model)
import run  # noqa: E402  (bench/run.py: the model, bodies, wrk's output, /proc helpers)
import swap  # noqa: E402  (bench/swap.py: the two revisions, the server, one swap)
from run import WML_VERSION, BenchError, Load, Server, log  # noqa: E402

RESULTS = BENCH / "results"
ROTATE = BENCH / "rotate.lua"
STATUS = BENCH / "status.lua"
SPREAD = 10
CONCURRENCY = 32
LARGE_CONCURRENCY = 4
LARGE_ROWS = (1_000, 5_000)
SWAP_WINDOW = 10


# -- loads ------------------------------------------------------------------------------------------


def wrk(server: Server, script: Path, after: list[str], connections: int, seconds: float) -> tuple[Load, str]:
    """wrk with `script` at the server's base URL (the scripts name their paths); the parsed load and stdout."""
    command = [
        "wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
        "--timeout", "10s", "-s", str(script), server.base_url + server.path, "--", *after,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(command)}") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return run.parse_wrk(done.stdout), done.stdout


def measured(
    server: Server, script: Path, after: list[str], connections: int, args: argparse.Namespace
) -> tuple[Load, str]:
    """A warm-up, then the measured load with the server's CPU accounted (bench/run.py's `accounted`)."""
    if args.warmup > 0:
        wrk(server, script, after, connections, args.warmup)
    stdout: list[str] = []

    def load(server: Server, body: Path, connections: int, seconds: float) -> Load:
        result, out = wrk(server, script, after, connections, seconds)
        stdout.append(out)
        return result

    result = run.accounted(load, server, Path(after[0]), connections, args.duration)
    if server.process.poll() is not None:
        raise BenchError(f"the server died during the load:\n{server.log_tail()}")
    return result, stdout[0]


@dataclasses.dataclass
class Spread:
    one: Load
    many: Load
    deployments: int


def spread(server: Server, body: Path, paths: list[str], args: argparse.Namespace) -> Spread:
    """1-row c32 on one deployment, on all of `paths` in turn, and on one again (one's figure: the mean)."""
    loads = []
    for targets in (paths[:1], paths, paths[:1]):
        log(f"  1 row, c{CONCURRENCY}, over {len(targets)} deployment(s)")
        load, _ = measured(server, ROTATE, [str(body), server.authorization, *targets], CONCURRENCY, args)
        if load.errors:
            raise BenchError(f"{load.errors} errors over {len(targets)} deployment(s):\n{load.detail}")
        log(f"    {load.rps:.0f} req/s, p99 {load.p99_ms:.1f} ms, {load.cpu_ms_per_request:.2f} CPU ms per request")
        loads.append(load)
    first, many, last = loads
    one = dataclasses.replace(
        first,
        rps=(first.rps + last.rps) / 2,
        p99_ms=(first.p99_ms + last.p99_ms) / 2,
        server_cores=(first.server_cores + last.server_cores) / 2,
        other_cores=max(first.other_cores, last.other_cores),
    )
    return Spread(one, many, len(paths))


@dataclasses.dataclass
class Large:
    rows: int
    connections: int
    load: Load
    refused: int
    """Answers 503 (a full queue)."""

    @property
    def rows_per_second(self) -> float:
        """Rows scored per second: wrk's req/s counts the refused answers too, so only the others count."""
        answered = self.load.requests - self.refused
        return self.load.rps * answered / self.load.requests * self.rows if self.load.requests else 0.0


def large(server: Server, bodies: dict[int, Path], args: argparse.Namespace) -> list[Large]:
    """1,000 and 5,000 rows at c4, then 5,000 rows one request at a time; 503s counted, other errors fail."""
    found = []
    for rows, connections in [(r, LARGE_CONCURRENCY) for r in LARGE_ROWS] + [(LARGE_ROWS[-1], 1)]:
        log(f"  {rows} rows per request, c{connections}")
        load, stdout = measured(server, STATUS, [str(bodies[rows]), server.authorization], connections, args)
        match = re.search(r"statuses: ok=(\d+) refused=(\d+) other=(\d+)", stdout)
        if match is None:
            raise BenchError(f"status.lua printed no counts:\n{stdout}")
        refused, other = int(match.group(2)), int(match.group(3))
        if other or load.errors > refused:
            raise BenchError(f"{other} non-2xx answers other than 503 at {rows} rows c{connections}:\n{stdout}")
        found.append(Large(rows, connections, load, refused))
        log(f"    {found[-1].rows_per_second:,.0f} rows/s, {refused} refused (503) of {load.requests} answers")
    return found


# -- swaps ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SwapCost:
    after: int
    """Swaps made before this window."""
    ready_ms: list[float]
    cpu_ms: list[float]


@dataclasses.dataclass
class ProcessMemory:
    """One process of the server's tree: its RSS after each swap it was seen alive after."""

    pid: int
    role: str
    first_swap: int
    """The swap (0: the first) after which it was first seen."""
    rss_kib: list[int] = dataclasses.field(default_factory=list)

    def growth(self, swaps: int) -> tuple[int, int, float] | None:
        """(first, last, KiB per swap) over at most `swaps` swaps from the first seen; None if seen once."""
        n = min(swaps, len(self.rss_kib) - 1)
        if n < 1:
            return None
        return self.rss_kib[0], self.rss_kib[n], (self.rss_kib[n] - self.rss_kib[0]) / n


@dataclasses.dataclass
class SwapRun:
    windows: list[SwapCost]
    rss_kib: list[int]
    """The server tree's RSS after each swap (index 0: after the first)."""
    rss_swaps: int
    processes: list[ProcessMemory] = dataclasses.field(default_factory=list)
    """The same per process: the server, then its children in the order they were first seen."""
    zombies: int = 0
    """The most children seen ended and not yet reaped after a swap."""


def tree_memory(pid: int) -> tuple[dict[int, int], int]:
    """VmRSS in KiB of `pid` and of each process below it, and how many of those are zombies (ended, not
    reaped: they hold no memory, and have no VmRSS)."""
    found: dict[int, int] = {}
    zombies = 0
    for p in [pid, *run.descendants(pid)]:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if re.search(r"^State:\s+Z", status, re.M):
            zombies += 1
        elif rss is not None:
            found[p] = int(rss.group(1))
    return found, zombies


def role(pid: int, server: int, before_swaps: set[int]) -> str:
    if pid == server:
        return "the server"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        command = ""
    if "resource_tracker" in command:
        return "multiprocessing's resource tracker"
    if "spawn_main" in command:
        return "a trial process started " + ("before the swaps (the uploads')" if pid in before_swaps else "by a swap")
    return command[:60] or "a child"


def swap_costs(deployed: swap.Deployed, args: argparse.Namespace) -> SwapRun:
    """Back-to-back swaps, no load; per-swap time and server CPU in the windows, RSS after each."""
    total = max(args.late, args.rss_swaps) + SWAP_WINDOW
    starts = sorted({0, args.early, args.late})
    windows = {start: SwapCost(start, [], []) for start in starts}
    pid = deployed.server.process.pid
    rss: list[int] = []
    before_swaps = set(tree_memory(pid)[0])
    processes: dict[int, ProcessMemory] = {}
    zombies = 0
    deadline = time.monotonic() + args.swap_budget
    with httpx.Client(base_url=deployed.server.base_url, headers=deployed.headers, timeout=30) as http:
        for made in range(total):
            cpu_before = run.process_cpu_seconds(pid)
            done = swap.swap(http, deployed)
            cpu_ms = (run.process_cpu_seconds(pid) - cpu_before) * 1e3
            rss.append(run.memory_kib(pid)[1])
            each, ended = tree_memory(pid)
            zombies = max(zombies, ended)
            for p, kib in each.items():
                processes.setdefault(p, ProcessMemory(p, role(p, pid, before_swaps), made)).rss_kib.append(kib)
            if deployed.server.process.poll() is not None:
                raise BenchError(f"the server died:\n{deployed.server.log_tail()}")
            for start, window in windows.items():
                if start <= made < start + SWAP_WINDOW:
                    window.ready_ms.append(done.ready_ms)
                    window.cpu_ms.append(cpu_ms)
            if made % 50 == 49:
                log(f"    {made + 1} swaps; the last ready in {done.ready_ms:.0f} ms, {cpu_ms:.0f} CPU ms")
            if time.monotonic() > deadline:
                raise BenchError(f"{made + 1} of {total} swaps took more than --swap-budget {args.swap_budget:.0f}s")
    return SwapRun(list(windows.values()), rss, args.rss_swaps, list(processes.values()), zombies)


# -- report -------------------------------------------------------------------------------------------


def late_slope(rss_kib: list[int], swaps: int) -> float:
    """KiB per swap over the last `swaps` swaps: the least-squares slope of the RSS after each.

    The first swaps after the loads settle the server's heap (a swap's replay reads captured rows: the
    memory glibc keeps free for the next one shows as RSS, going up and down by a few MiB); the slope of the
    swaps after those is what grows with every swap. A slope rather than two points, which that noise moves.
    """
    points = rss_kib[-swaps - 1 :]
    if len(points) < 2:
        return 0.0
    return statistics.linear_regression(range(len(points)), points).slope


def report(spread_: Spread, large_: list[Large], swaps_: SwapRun, args: argparse.Namespace) -> tuple[str, Any]:
    def disturbed(*loads: Load) -> str:
        return " ⚠" if max(load.other_cores for load in loads) >= run.QUIET_CORES else ""

    one, many = spread_.one, spread_.many
    lines = [
        f"Measured {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} on {run.machine_description()}.",
        f"`champion serve --no-tls --workers 1` on 127.0.0.1, bench/run.py's model; wrk, {args.duration:g} s per "
        f"load after a {args.warmup:g} s warm-up.",
        "",
        "| work grows | measured | against | ratio | goal |",
        "|---|---|---|---:|---|",
        f"| 1 row, c{CONCURRENCY}, spread over {spread_.deployments} deployments{disturbed(one, many)} "
        f"| {many.rps:.0f} req/s, p99 {many.p99_ms:.1f} ms, {many.cpu_ms_per_request:.2f} CPU ms/request "
        f"| one deployment: {one.rps:.0f} req/s, p99 {one.p99_ms:.1f} ms, {one.cpu_ms_per_request:.2f} CPU ms/request "
        f"| {many.rps / one.rps:.2f}x req/s, {many.p99_ms / one.p99_ms:.2f}x p99, "
        f"{many.cpu_ms_per_request / one.cpu_ms_per_request:.2f}x CPU | ≥ 0.8x req/s |",
    ]
    single = large_[-1]
    for item in large_[:-1]:
        lines.append(
            f"| {item.rows:,} rows per request, c{item.connections}{disturbed(item.load, single.load)} "
            f"| {item.rows_per_second:,.0f} rows/s, {item.refused} of {item.load.requests} refused (503) "
            f"| one {single.rows:,}-row request at a time: {single.rows_per_second:,.0f} rows/s "
            f"({single.refused} refused) "
            f"| {item.rows_per_second / single.rows_per_second:.2f}x | no 503 while capacity remains |"
        )
    first = swaps_.windows[0]
    for window in swaps_.windows[1:]:
        lines.append(
            f"| swaps already made: {window.after} | PATCH → ready {statistics.median(window.ready_ms):.0f} ms, "
            f"{statistics.median(window.cpu_ms):.0f} CPU ms per swap (medians of {len(window.ready_ms)}) "
            f"| the first {len(first.ready_ms)} swaps: {statistics.median(first.ready_ms):.0f} ms, "
            f"{statistics.median(first.cpu_ms):.0f} CPU ms "
            f"| {statistics.median(window.ready_ms) / statistics.median(first.ready_ms):.2f}x time, "
            f"{statistics.median(window.cpu_ms) / statistics.median(first.cpu_ms):.2f}x CPU | constant |"
        )
    rss = swaps_.rss_kib
    n = min(swaps_.rss_swaps, len(rss) - 1)
    per_swap = (rss[n] - rss[0]) / n
    lines.append(
        f"| swaps over time: RSS after swap 1 → after swap {n + 1} | {rss[0] / 1024:.1f} → {rss[n] / 1024:.1f} MiB "
        f"(after all {len(rss)}: {rss[-1] / 1024:.1f} MiB) | - | {per_swap:+.1f} KiB per swap | flat |"
    )
    late = late_slope(rss, n)
    lines.append(
        f"| swaps over time: the last {n} swaps, RSS after swap {len(rss) - n} → after swap {len(rss)} "
        f"| {rss[-n - 1] / 1024:.1f} → {rss[-1] / 1024:.1f} MiB | - | {late:+.1f} KiB per swap (slope) | flat |"
    )
    lines += [
        "",
        f"RSS per process after swap 1 (or the first swap it was seen after) and {n} swaps later, and the slope "
        f"over its last {n} swaps:",
        "",
    ]
    for process in swaps_.processes:
        grown = process.growth(n)
        if grown is None:
            lines.append(f"- {process.role} (pid {process.pid}): seen after swap {process.first_swap + 1} only")
            continue
        first_kib, last_kib, per_process = grown
        lines.append(
            f"- {process.role} (pid {process.pid}, seen after {len(process.rss_kib)} swaps from swap "
            f"{process.first_swap + 1}): {first_kib / 1024:.1f} → {last_kib / 1024:.1f} MiB, "
            f"{per_process:+.1f} KiB per swap; the last {min(n, len(process.rss_kib) - 1)}: "
            f"{late_slope(process.rss_kib, n):+.1f} KiB per swap"
        )
    lines.append(f"- ended children not yet reaped (zombies) after a swap: at most {swaps_.zombies}")
    lines += [
        "",
        "CPU per swap is the server's CPU from sending the PATCH to seeing `ready`, so it includes answering the "
        "bench's GET every 10 ms. ⚠: other processes used ≥ 0.15 cores during a load; those figures are not clean.",
        "",
    ]
    data = {
        "spread": {
            "one": dataclasses.asdict(one) | {"detail": None},
            "many": dataclasses.asdict(many) | {"detail": None},
        },
        "large": [
            {"rows": i.rows, "connections": i.connections, "rows_per_second": i.rows_per_second, "refused": i.refused}
            for i in large_
        ],
        "swaps": [dataclasses.asdict(w) for w in swaps_.windows],
        "rss_kib_after_each_swap": rss,
        "rss_kib_per_swap": per_swap,
        "rss_kib_per_swap_late_slope": late,
        "rss_kib_by_process": [dataclasses.asdict(p) for p in swaps_.processes],
        "zombies_after_a_swap": swaps_.zombies,
    }
    return "\n".join(lines), data


# -- main ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per load (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load first (default 2)")
    parser.add_argument("--early", type=int, default=50, help="swaps before the second window (default 50)")
    parser.add_argument("--late", type=int, default=400, help="swaps before the third window (default 400)")
    parser.add_argument("--rss-swaps", type=int, default=200, help="swaps the RSS growth spans (default 200)")
    parser.add_argument("--swap-budget", type=float, default=900, help="seconds all swaps may take (default 900)")
    parser.add_argument(
        "--quiet-wait", type=float, default=30, help="seconds to wait for other load to stop first (default 30)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (models, logs, home)")
    args = parser.parse_args(argv)
    if args.duration > 60 or args.warmup > 30:
        parser.error("keep the run bounded: --duration at most 60, --warmup at most 30")
    if not 0 < args.early < args.late <= 1000 or not 1 <= args.rss_swaps <= 1000:
        parser.error("swaps: 0 < --early < --late ≤ 1000, 1 ≤ --rss-swaps ≤ 1000")
    if not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="champion-bench-growth-"))
    servers: list[Server] = []
    try:
        with swap.all_stopped(servers):
            revisions = swap.fit_both(work)
            bodies = run.write_bodies(work, [1, *LARGE_ROWS])
            busy = run.wait_until_quiet(args.quiet_wait)
            if busy >= run.QUIET_CORES:
                log(f"  WARNING: other processes still use {busy:.2f} cores; measuring anyway")
            server = swap.start_server(1, work)
            servers.append(server)
            deployed = swap.deploy(server, revisions)
            server.path = f"/ml/v4/deployments/{deployed.deployment}/predictions"
            log(f"adding {SPREAD - 1} deployments of the model")
            others = limits.add_deployments(
                server.base_url, server.authorization, deployed.space, deployed.model, SPREAD - 1, WML_VERSION
            )
            paths = [server.path] + [f"/ml/v4/deployments/{d}/predictions" for d in others]
            log("1. the same load over 1 and over 10 deployments")
            spread_ = spread(server, bodies[1], paths, args)
            log("2. rows per request")
            large_ = large(server, bodies, args)
            log(f"3-4. {max(args.late, args.rss_swaps) + SWAP_WINDOW} back-to-back swaps, no load")
            swaps_ = swap_costs(deployed, args)
        table, data = report(spread_, large_, swaps_, args)
    except (BenchError, limits.StartUpError) as error:
        log(f"\nBENCH FAILED: {error}")
        return 1
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "growth.md").write_text(table)
    (RESULTS / "growth.json").write_text(json.dumps(data, indent=2) + "\n")
    print(table)  # noqa: T201
    log(f"total {time.monotonic() - started:.0f}s; written to {RESULTS / 'growth.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
