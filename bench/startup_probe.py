"""Where champion's start-up goes: spawn of `champion serve` to its first correct prediction, by phase.

    .venv/bin/python bench/startup_probe.py [--runs 7] [--work DIR] [--compare REF|DIR] [--source DIR]
                                            [--no-trace] [--profile PATH_TO_PY_SPY]

As `make bench` times it (bench/run.py, "start-up"): champion started a second time on a home
that holds one deployment of the bench model (served in its kept compiled form), polled with the
100-row body every 10 ms until the answer is correct. The first run of the probe fits the model,
starts champion once and deploys it (in --work, kept, so later runs of the probe reuse it).

Each run starts champion untraced (the figure the bench would give), then, with --compare, the
champion package of a commit (or a folder) under the same load, then traced. A traced start runs
with a `sitecustomize` of the probe's own on PYTHONPATH (only in the spawned server's environment)
that appends a line per event to a trace file: each interpreter up (the command line, then the one
it execs into), the imports that weigh (start and end), the steps of a start-up (prepare,
open_context, bootstrap, greet, the app built, the follower's first catch-up, each model load,
uvicorn's start-up, a socket bound, the faces mounted) and the exec. champion's code is not changed
for it. Each event has its time since the spawn (the machine's monotonic clock, shared by the
processes) and the CPU time of its process so far: on a busy machine the CPU times still say where a
quiet one would spend its time. Prints the medians over the runs.

--source: time the champion package in that folder instead of the installed one (with --compare,
two folders compare exactly the files that differ between them). Both run as
`python -P -m champion serve`, as bench/run.py runs an older champion.

Bytecode: with PYTHONDONTWRITEBYTECODE set (as in the development environment) champion's own modules
have no .pyc files, and every start compiles them from source (some 0.15-0.2 s here); an installed
champion (pip compiles them) does not. `python -m compileall -q DIR` on a --source or --compare folder
times a start as an installed champion's; without it, as `make bench` times the working tree.

--profile: one more start of the serving process itself (`python -m champion.server`, as `champion
serve` execs into; py-spy loses a process that execs) under `py-spy record`, as raw collapsed stacks
of every thread in the work folder (startup-profile.raw).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import limits  # bench/limits.py, beside this file
import run  # bench/run.py, beside this file

TRACE_VARIABLE = "STARTUP_PROBE_TRACE"

SITECUSTOMIZE = textwrap.dedent(
    '''
    """The start-up probe's tracer (bench/startup_probe.py): nothing happens without its variable."""
    import os

    _TRACE = os.environ.get("STARTUP_PROBE_TRACE")
    if _TRACE:
        import functools
        import importlib.machinery
        import sys
        import time

        def _mark(event):
            with open(_TRACE, "a") as sink:
                sink.write(f"{time.monotonic():.6f}\\t{time.process_time():.6f}\\t{os.getpid()}\\t{event}\\n")

        _mark("interpreter up: " + " ".join(a for a in sys.orig_argv[:4] if not a.startswith("{")))

        WATCHED = {
            "typer", "rich", "rich.console", "pydantic", "pydantic_settings", "sqlalchemy", "sqlalchemy.orm",
            "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "numpy", "onnxruntime", "orjson",
            "prometheus_client", "jinja2", "alembic", "champion.cli", "champion.server", "champion.config",
            "champion.context", "champion.app", "champion.follower", "champion.serving.engine",
            "champion.runtimes.compiled", "champion.api.wml", "champion.api.inference", "champion.api.datarobot",
            "champion.ui", "champion.greeting",
        }
        PATCHES = {
            "champion.server": ["prepare", "exec_server"],
            "champion.context": ["open_context", "bootstrap"],
            "champion.greeting": ["greet"],
            "champion.app": ["serving_app", "_face_routes"],
            "champion.follower": ["Follower.start", "Follower.sync"],
            "champion.serving.engine": ["ServingEngine.load", "ServingEngine.install"],
            "champion.api.deferred": ["Deferred.mount"],
            "uvicorn.server": ["Server.startup"],
            "uvicorn.lifespan.on": ["LifespanOn.startup"],
        }

        def _traced(name, function):
            if function.__code__.co_flags & 0x80:  # a coroutine function (inspect costs an import)
                @functools.wraps(function)
                async def traced_async(*args, **kwargs):
                    _mark(name + " start")
                    try:
                        return await function(*args, **kwargs)
                    finally:
                        _mark(name + " end")
                return traced_async

            @functools.wraps(function)
            def traced(*args, **kwargs):
                _mark(name + " start")
                try:
                    return function(*args, **kwargs)
                finally:
                    _mark(name + " end")
            return traced

        def _patch(module):
            for dotted in PATCHES.get(module.__name__, []):
                owner = module
                *outer, last = dotted.split(".")
                for part in outer:
                    owner = getattr(owner, part)
                setattr(owner, last, _traced(dotted, getattr(owner, last)))

        class _Watch:
            def find_spec(self, name, path=None, target=None):
                if name not in WATCHED and name not in PATCHES:
                    return None
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                    return spec
                run = spec.loader.exec_module

                def exec_module(module):
                    _mark(f"import {name} start")
                    run(module)
                    _mark(f"import {name} end")
                    _patch(module)

                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, _Watch())

        def _audit(event, args):
            if event == "os.exec":
                _mark("exec")
            elif event == "socket.bind":
                _mark("socket.bind")

        sys.addaudithook(_audit)
    '''
)


def prepared_home(work: Path) -> dict[str, Any]:
    """The bench's home with one deployment, made once in `work` (state.json says how to reach it)."""
    state_path = work / "state.json"
    if state_path.exists():
        return dict(json.loads(state_path.read_text()))
    work.mkdir(parents=True, exist_ok=True)
    model = run.fit_model(work)
    body = run.write_bodies(work, [100])[100]
    server = run.start_champion(model, work)
    try:
        expected = run.score_once(server, body)
    finally:
        run.stop(server)
    state = {
        "home": str(work / "champion-home"),
        "authorization": server.authorization,
        "path": server.path,
        "body": str(body),
        "expected": expected,
        "serving_form": server.serving_form,
    }
    state_path.write_text(json.dumps(state))
    return state


@dataclasses.dataclass(frozen=True, order=True)
class Event:
    at: float
    """Seconds since the spawn."""
    cpu: float
    """CPU seconds of the process that marked it, so far (a forked child's count from its fork)."""
    pid: int
    name: str


def timed_start(
    state: dict[str, Any], work: Path, trace: Path | None, *, source: Path | None = None, wrap: list[str] | None = None
) -> tuple[float, list[Event]]:
    """One start on the prepared home: seconds to the first correct prediction, and the trace's events
    (none without `trace`: the start as the bench times it, without the tracer's own cost).

    `source`: a folder holding another `champion` package (`--compare`), put first on PYTHONPATH.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    env["CHAMPION_ADMIN_API_KEY"] = state["authorization"].removeprefix("Bearer ")
    paths = [str(source)] if source is not None else []
    if trace is not None:
        tracer = work / "tracer"
        tracer.mkdir(exist_ok=True)
        (tracer / "sitecustomize.py").write_text(SITECUSTOMIZE)
        trace.unlink(missing_ok=True)
        paths.append(str(tracer))
        env[TRACE_VARIABLE] = str(trace)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    port = run.free_port()
    command = run.champion_command(Path(state["home"]), port)
    if source is not None:
        # As bench/run.py runs an older champion: -P keeps the working folder (where the bench runs)
        # off sys.path, where `-m` would put it before PYTHONPATH's copy.
        command = [sys.executable, "-P", "-m", "champion", *command[command.index("serve") :]]
    if wrap:
        # The serving process itself, as `champion serve` would exec into it.
        env["CHAMPION_HOME"] = state["home"]
        url = f"http://{run.HOST}:{port}"
        options = {"host": run.HOST, "port": port, "workers": 1, "ssl_certfile": None, "ssl_keyfile": None}
        options["greeting"] = {"url": url, "insecure": False, "called": "champion"}
        command = [*wrap, sys.executable, "-P", "-m", "champion.server", json.dumps(options)]
    servers: list[run.Server] = []
    server = run.spawned("startup-probe", command, port, env, work / "startup-probe.log", servers)
    try:
        timed = limits.time_to_first_prediction(
            server.process,
            server.started,
            server.base_url + state["path"],
            Path(state["body"]).read_bytes(),
            {"Authorization": state["authorization"], "Content-Type": "application/json"},
            limits.same_prediction(state["expected"], run.PROBABILITY_TOLERANCE),
            server.log_tail,
        )
        answered = time.monotonic()
        if trace is not None:
            time.sleep(0.5)  # the faces' build, after the first answer, shows in the trace too
    finally:
        if wrap:
            # py-spy writes its profile when its target ends: SIGINT to py-spy alone, which stops the server.
            server.process.send_signal(signal.SIGINT)
            server.process.wait(timeout=60)
        run.stop(server)
    events = [Event(0.0, 0.0, 0, "spawn")]
    for line in trace.read_text().splitlines() if trace is not None else []:
        at, cpu, pid, name = line.split("\t", 3)
        events.append(Event(float(at) - server.started, float(cpu), int(pid), name))
    events.append(Event(answered - server.started, 0.0, 0, "first correct prediction"))
    return timed.seconds, events


def archived(ref: str, work: Path) -> Path:
    """champion's package as of the git commit `ref`, in a folder of `work` (the repository is only read)."""
    source = work / f"at-{ref}"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(run.ROOT), "archive", "--format=tar", ref, "champion"], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(source, filter="data")
    return source


def numbered(events: list[Event]) -> list[tuple[str, Event]]:
    """Events named so that the same one in another run has the same name (the nth occurrence)."""
    seen: collections.Counter[str] = collections.Counter()
    named = []
    for event in sorted(events):
        seen[event.name] += 1
        named.append((f"{event.name} #{seen[event.name]}" if seen[event.name] > 1 else event.name, event))
    return named


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def summary(label: str, totals: list[float]) -> str:
    return (
        f"{label}: median of {len(totals)} {statistics.median(totals):.3f} s "
        f"(min {min(totals):.3f}, max {max(totals):.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "champion-startup-probe")
    parser.add_argument(
        "--compare", metavar="REF", help="also time champion as of this commit (or in this folder), run for run"
    )
    parser.add_argument(
        "--source", type=Path, help="a folder holding the champion package to time (default: the installed one)"
    )
    parser.add_argument("--no-trace", action="store_true", help="only the untraced starts")
    parser.add_argument("--profile", help="py-spy's path: one more start, sampled")
    parser.add_argument("--quiet-wait", type=float, default=30.0, help="most seconds to wait for a quiet machine")
    args = parser.parse_args()
    state = prepared_home(args.work)
    say(f"home: {state['home']}  serving form: {json.dumps(state['serving_form'])}")
    before = None
    if args.compare:
        before = Path(args.compare) if Path(args.compare).is_dir() else archived(args.compare, args.work)
    run.wait_until_quiet(args.quiet_wait)
    totals: list[float] = []
    compared: list[float] = []
    traced: list[float] = []
    timelines: dict[str, list[Event]] = collections.defaultdict(list)
    for i in range(args.runs):
        # Untraced (as the bench times it), the compared commit's beside it under the same load, then
        # traced for the phases.
        seconds, _ = timed_start(state, args.work, None, source=args.source)
        totals.append(seconds)
        line = f"run {i + 1}: {seconds:.3f} s to the first correct prediction"
        if before is not None:
            compared.append(timed_start(state, args.work, None, source=before)[0])
            line += f", {compared[-1]:.3f} s at {args.compare}"
        if not args.no_trace:
            with_tracer, events = timed_start(state, args.work, args.work / f"trace-{i}.tsv", source=args.source)
            traced.append(with_tracer)
            for name, event in numbered(events):
                timelines[name].append(event)
            line += f", {with_tracer:.3f} s traced"
        say(line)
    say("\n" + summary("now", totals))
    if compared:
        say(summary(f"at {args.compare}", compared))
    if traced:
        say(summary("traced", traced))
        say("\nmedian of each event over the traced runs: seconds since the spawn, CPU seconds of its process")
        pids: dict[int, str] = {}
        for name in sorted(timelines, key=lambda n: statistics.median(e.at for e in timelines[n])):
            times = timelines[name]
            runs = "" if len(times) == len(traced) else f"  ({len(times)} runs)"
            at = statistics.median(e.at for e in times)
            cpu = statistics.median(e.cpu for e in times)
            process = pids.setdefault(times[0].pid, f"p{len(pids)}") if times[0].pid else "  "
            say(f"  {at:7.3f}  {process} cpu {cpu:6.3f}  {name}{runs}")
    if args.profile:
        raw = args.work / "startup-profile.raw"
        wrap = [args.profile, "record", "-f", "raw", "--threads", "--idle", "--rate", "500", "-o", str(raw), "--"]
        seconds, _ = timed_start(state, args.work, None, source=args.source, wrap=wrap)
        say(f"\nprofiled start: {seconds:.3f} s; collapsed stacks in {raw}")


if __name__ == "__main__":
    main()
