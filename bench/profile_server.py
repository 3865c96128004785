"""Where champion's time goes on one scenario: py-spy samples the server while wrk loads it.

    .venv/bin/python bench/profile_server.py [--rows 1] [--concurrency 32] [--duration 10] [--py-spy PATH]

py-spy is a tool, not a dependency: install it outside the project (for example
`python3 -m venv /tmp/benchtools && /tmp/benchtools/bin/pip install py-spy`) and pass its
path, or have `py-spy` on PATH. Writes bench/results/profile-<rows>x<conc>.raw (collapsed
stacks: speedscope or flamegraph.pl read them) and .txt: CPU per request by thread and by
stage (inclusive, so stages nest and do not add up), and the top functions by self time.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, beside this file

# Where a sample's time goes: the first rule (in this order) with a frame on the sample's stack
# containing one of its substrings takes the whole sample, so the stages add up to 100%.
# Specific rules come first: a stack through the endpoint *and* pydantic is pydantic's.
# Sampled stacks may be cut short at the root (py-spy --nonblocking), so rules key on inner frames.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("model: sklearn input validation (validate_data, check_array, feature names)", ("(sklearn/utils/validation",)),
    ("model: the trees (_raw_predict / predict_stages)", ("._raw_predict (sklearn/ensemble/_gb",)),
    ("model: pandas DataFrame build", ("DataFrame.__init__ (pandas",)),
    ("model: the rest of predict / predict_proba", ("(sklearn/", "SklearnModel.predict (champion/runtimes")),
    ("logging (access log, error tracebacks)", ("(logging/", "(traceback.py")),
    ("endpoint: pydantic ScoringRequest.model_validate", ("model_validate (pydantic",)),
    ("endpoint: inputs.from_records / quick_records", ("from_records (champion/serving/inputs", "quick_records (")),
    ("endpoint: simdjson numeric body", ("(champion/api/wml/numeric_body",)),
    ("endpoint: read body + orjson.loads", ("(champion/api/body",)),
    ("endpoint: render predictions + orjson.dumps", ("predictions (champion/api/wml/predictions",)),
    ("endpoint: engine / batcher hand-off", ("(champion/serving/engine", "MicroBatcher.predict (")),
    ("endpoint: the rest of score()", ("score (champion/api/wml/scoring",)),
    ("auth: hot_actor", ("hot_actor (champion/api/deps",)),
    (
        "fastapi: dependency resolution + threadpool hops for sync deps",
        ("(fastapi/dependencies", "run_in_threadpool (starlette", "(anyio/", "(champion/api/deps"),
    ),
    ("uvicorn: response send", ("RequestResponseCycle.send (",)),
    ("fastapi/starlette: routing", ("(fastapi/routing", "(starlette/routing")),
    (
        "fastapi/starlette: middleware stack",
        (
            "(starlette/middleware",
            "(fastapi/middleware",
            "(starlette/_exception",
            "(fastapi/telemetry",
            "(fastapi/_body_limit",
            "(uvicorn/middleware",
            "(fastapi/applications",
            "(starlette/applications",
            "(contextlib.py",
        ),
    ),
    ("uvicorn: HTTP parsing + connection callbacks", ("HttpToolsProtocol.", "(uvicorn/protocols")),
    ("batcher: worker loop (event loop side)", ("MicroBatcher.", "(concurrent/futures")),
    ("asyncio: task steps, futures, callbacks", ("(asyncio/",)),
]

# Frames where a thread waits rather than works (py-spy counts them when it cannot tell).
IDLE_LEAVES = ("Condition.wait (threading", "Queue.get (queue", "_worker (concurrent/futures/thread.py:81)")


def parse_raw(path: Path) -> list[tuple[str, list[str], int]]:
    """py-spy's raw (collapsed) format: `thread;frame;frame;... count`, root first."""
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        thread, *frames = stack.split(";")
        if frames and frames[-1].startswith(IDLE_LEAVES):
            continue
        samples.append((thread, frames, int(count)))
    return samples


def summarise(samples: list[tuple[str, list[str], int]], rate: int, requests: int, seconds: float) -> str:
    total = sum(count for _, _, count in samples)
    lines = [
        f"{total} samples at {rate} Hz over {seconds:.1f}s = {total / rate:.2f} CPU-s "
        f"({total / rate / seconds:.2f} cores); {requests} requests "
        f"= {total / rate / max(requests, 1) * 1e6:.0f} us CPU per request",
        "",
        "By thread:",
    ]
    threads: collections.Counter[str] = collections.Counter()
    for thread, _, count in samples:
        threads[_thread_name(thread)] += count
    for name, count in threads.most_common():
        lines.append(f"  {name:40} {count / total:6.1%}  {count / rate / max(requests, 1) * 1e6:7.0f} us/request")
    lines += ["", "By stage (each sample counted once, in the first stage its stack matches):"]
    stages: collections.Counter[str] = collections.Counter()
    for _, frames, count in samples:
        stages[_stage(frames)] += count
    for stage, count in sorted(stages.items(), key=lambda item: -item[1]):
        lines.append(f"  {stage:78} {count / total:6.1%}  {count / rate / max(requests, 1) * 1e6:6.0f} us/request")
    self_time: collections.Counter[str] = collections.Counter()
    for _, frames, count in samples:
        if frames:
            self_time[frames[-1]] += count
    lines += ["", "Top 25 functions by self time:"]
    for name, count in self_time.most_common(25):
        lines.append(f"  {count / total:6.1%}  {count / rate / max(requests, 1) * 1e6:7.0f} us/req  {name}")
    return "\n".join(lines) + "\n"


def _stage(frames: list[str]) -> str:
    for stage, needles in STAGES:
        if any(needle in frame for frame in frames for needle in needles):
            return stage
    return f"other: {frames[-1] if frames else '?'}"


def _thread_name(thread: str) -> str:
    """`thread (1234): AnyIO worker thread` -> `AnyIO worker thread` (all workers together)."""
    return thread.partition(": ")[2] or thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every running thread (pausing the server per sample: slower, and idle time in uvloop's C "
        "code is indistinguishable); default: only the thread holding the GIL, without pausing the server",
    )
    parser.add_argument("--native", action="store_true", help="py-spy --native (C frames; slower sampling)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/benchtools/bin/py-spy")
    args = parser.parse_args()
    if not Path(args.py_spy).exists():
        parser.error(f"py-spy not found at {args.py_spy}: install it outside the project and pass --py-spy")
    if args.duration > 60:
        parser.error("keep it bounded: --duration at most 60")
    work = Path(tempfile.mkdtemp(prefix="champion-profile-"))
    run.RESULTS.mkdir(exist_ok=True)
    stem = run.RESULTS / f"profile-{args.rows}x{args.concurrency}"
    server = None
    try:
        model = run.fit_model(work)
        body = run.write_bodies(work, [args.rows])[args.rows]
        busy = run.wait_until_quiet(60)
        if busy >= run.QUIET_CORES:
            run.log(f"WARNING: other processes use {busy:.2f} cores; profiling anyway")
        server = run.start_champion(model, work)
        run.score_once(server, body)
        run.run_wrk(server, body, args.concurrency, 2)  # warm-up
        spy = [
            args.py_spy, "record", "--pid", str(server.process.pid), "--rate", str(args.rate),
            "--duration", str(round(args.duration) + 1), "--threads",
            "--format", "raw", "--output", str(stem.with_suffix(".raw")),
        ]  # fmt: skip
        if not args.all_threads:
            # The server is bound by the GIL (it never uses more than ~1 core): what holds the GIL is what limits it.
            spy += ["--gil", "--nonblocking"]
        if args.native:
            spy.append("--native")
        recorder = subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        load = run.run_wrk(server, body, args.concurrency, args.duration)
        _, errors = recorder.communicate(timeout=args.duration + 30)
        if recorder.returncode != 0:
            raise run.BenchError(f"py-spy failed: {errors}")
        if load.errors:
            raise run.BenchError(f"{load.errors} errors under load:\n{load.detail}")
        what = "every running thread" if args.all_threads else "the GIL holder only (microseconds of GIL per request)"
        summary = (
            f"champion, {args.rows}-row requests at concurrency {args.concurrency}: {load.rps:.0f} req/s, "
            f"p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms (under py-spy; sampling {what})\n"
            + summarise(parse_raw(stem.with_suffix(".raw")), args.rate, load.requests, args.duration)
        )
        stem.with_suffix(".txt").write_text(summary)
        print(summary)  # noqa: T201
    except run.BenchError as error:
        run.log(f"PROFILE FAILED: {error}")
        return 1
    finally:
        if server is not None:
            run.stop(server)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
