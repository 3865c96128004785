"""The issue's table: each champion figure beside the limit it is measured against, from one run.

bench/run.py gathers the figures (`Limits`); this module only turns them into Markdown and
JSON. The goals come from issue 15 and are reported, never enforced: a run fails only when a
server answers errors or does not start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from limits import CliTimes, ComputeTime, StartUp

FLOOR_GOAL = 0.35
FACES_WITHIN = 0.10
START_GOAL_S = 1.5
PEAK_GOAL_MIB = 180
HELP_GOAL_S = 0.3


class LoadLike(Protocol):
    rps: float
    p50_ms: float
    p99_ms: float
    server_cores: float
    other_cores: float

    @property
    def cpu_ms_per_request(self) -> float: ...


AnyLoad = TypeVar("AnyLoad", bound=LoadLike)


@dataclasses.dataclass
class Limits:
    workers: int
    floor: dict[tuple[int, int], LoadLike]
    champion: dict[tuple[int, int], LoadLike]
    faces: dict[str, LoadLike]
    """Face name -> its load at 1 row, the top concurrency (the WML route first)."""
    compute: dict[int, ComputeTime]
    served_compute: dict[int, ComputeTime] = dataclasses.field(default_factory=dict)
    """The same timing of the form champion serves (`served_form`): not a limit, what serving can reach now."""
    served_form: str = ""
    champion_start: StartUp | None = None
    baseline_start: StartUp | None = None
    cli: CliTimes | None = None
    champion_peak_kib: int = 0
    baseline_peak_kib: int = 0
    floor_peak_kib: int = 0
    one_deployment_kib: int = 0
    """VmRSS of the restarted champion with its one deployment, just before more were added."""
    many_deployments_kib: int = 0
    many: int = 0
    threads_one: int = 0
    threads_many: int = 0
    serving_form: dict[str, Any] | None = None
    """The deployment's `status.serving_form` (absent on a champion that predates compiled forms)."""
    before: dict[tuple[int, int], LoadLike] = dataclasses.field(default_factory=dict)
    """champion as of `before_ref` (`--before REF`), at the same points: today's figures beside the new."""
    before_ref: str = ""
    before_peak_kib: int = 0


def _goal(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "**no**")


def report(limits: Limits, top: int, quiet_cores: float) -> tuple[str, dict[str, Any]]:
    """The table; a point whose loads ran while other processes used ≥ `quiet_cores` is marked ⚠."""
    rows: list[tuple[str, str, str, str, str, bool | None]] = []

    def mark(*loads: LoadLike) -> str:
        return " ⚠" if max(load.other_cores for load in loads) >= quiet_cores else ""

    data: dict[str, Any] = {"workers": limits.workers, "serving_form": limits.serving_form, "rows": []}

    one = (1, top)
    if one in limits.champion and one in limits.floor:
        c, f = limits.champion[one], limits.floor[one]
        ratio = c.rps / f.rps
        rows.append(
            (
                f"1 row, c{top}, WML scoring route{mark(c, f)}",
                f"{c.rps:.0f} req/s (p99 {c.p99_ms:.1f} ms)",
                f"HTTP floor {f.rps:.0f} req/s (p99 {f.p99_ms:.1f} ms)",
                f"{ratio:.2f}x",
                f"≥ {FLOOR_GOAL}x",
                ratio >= FLOOR_GOAL,
            )
        )
        if one in limits.before:
            b = limits.before[one]
            rows.append(
                (
                    f"the same, champion at {limits.before_ref}{mark(b)}",
                    f"{b.rps:.0f} req/s (p99 {b.p99_ms:.1f} ms)",
                    "the same HTTP floor",
                    f"{b.rps / f.rps:.2f}x",
                    f"new p99 ≤ {b.p99_ms:.1f} ms",
                    c.p99_ms <= b.p99_ms,
                )
            )
    if limits.faces:
        names = list(limits.faces)
        wml = limits.faces[names[0]]
        for name in names[1:]:
            face = limits.faces[name]
            ratio = face.rps / wml.rps
            rows.append(
                (
                    f"1 row, c{top}, {name}{mark(face, wml)}",
                    f"{face.rps:.0f} req/s (p99 {face.p99_ms:.1f} ms)",
                    f"the WML route {wml.rps:.0f} req/s (same block)",
                    f"{ratio:.2f}x",
                    f"within {FACES_WITHIN:.0%}",
                    abs(ratio - 1) <= FACES_WITHIN,
                )
            )
    for rows_n, conc in ((100, 8), (1, top)):
        if (rows_n, conc) in limits.champion and rows_n in limits.compute:
            c, t = limits.champion[(rows_n, conc)], limits.compute[rows_n]
            rows.append(
                (
                    f"{rows_n} row{'s' if rows_n > 1 else ''}, c{conc}{mark(c)}",
                    f"{c.rps:.0f} req/s ({c.server_cores:.2f} cores)",
                    f"1 / predict_proba({rows_n}) = {t.max_rps:.0f} req/s (median {t.median_ms:.3f} ms CPU)",
                    f"{c.rps / t.max_rps:.2f}x",
                    "2x today's req/s" if rows_n == 100 else "-",
                    None,
                )
            )
            if (rows_n, conc) in limits.before:
                b = limits.before[(rows_n, conc)]
                rows.append(
                    (
                        f"{rows_n} row{'s' if rows_n > 1 else ''}, c{conc}, champion at {limits.before_ref}{mark(b)}",
                        f"{b.rps:.0f} req/s ({b.server_cores:.2f} cores)",
                        "the same compute limit",
                        f"{b.rps / t.max_rps:.2f}x; new / then {c.rps / b.rps:.2f}x",
                        "new ≥ 2x" if rows_n == 100 else "-",
                        c.rps >= 2 * b.rps if rows_n == 100 else None,
                    )
                )
            if rows_n in limits.served_compute:
                s_t = limits.served_compute[rows_n]
                rows.append(
                    (
                        f"{rows_n} row{'s' if rows_n > 1 else ''}, c{conc}, against the served form{mark(c)}",
                        f"{c.rps:.0f} req/s",
                        f"1 / {limits.served_form} predict({rows_n}) = {s_t.max_rps:.0f} req/s "
                        f"(median {s_t.median_ms:.3f} ms CPU)",
                        f"{c.rps / s_t.max_rps:.2f}x",
                        "-",
                        None,
                    )
                )
    if limits.champion_start and limits.baseline_start:
        c_s, b_s = limits.champion_start.seconds, limits.baseline_start.seconds
        rows.append(
            (
                "start-up: spawn to first correct prediction, one deployment",
                f"{c_s:.2f} s",
                f"plain FastAPI app loading the model {b_s:.2f} s",
                f"{c_s / b_s:.2f}x",
                f"≤ {START_GOAL_S} s",
                c_s <= START_GOAL_S,
            )
        )
    if limits.champion_peak_kib and limits.baseline_peak_kib:
        c_m, b_m = limits.champion_peak_kib / 1024, limits.baseline_peak_kib / 1024
        rows.append(
            (
                "peak RSS (VmHWM), one deployment, after the loads",
                f"{c_m:.0f} MiB",
                f"plain FastAPI app {b_m:.0f} MiB; HTTP floor {limits.floor_peak_kib / 1024:.0f} MiB",
                f"{c_m / b_m:.2f}x",
                f"≤ {PEAK_GOAL_MIB} MB",
                c_m * 1024**2 / 1e6 <= PEAK_GOAL_MIB,
            )
        )
        if limits.before_peak_kib:
            rows.append(
                (
                    f"peak RSS, champion at {limits.before_ref}",
                    f"{limits.before_peak_kib / 1024:.0f} MiB",
                    "the same plain FastAPI app",
                    f"{limits.before_peak_kib / limits.baseline_peak_kib:.2f}x",
                    "-",
                    None,
                )
            )
    if limits.many and limits.one_deployment_kib:
        one_m, many_m = limits.one_deployment_kib / 1024, limits.many_deployments_kib / 1024
        per = (many_m - one_m) / (limits.many - 1)
        rows.append(
            (
                f"RSS with {limits.many} deployments of the model",
                f"{many_m:.0f} MiB, {limits.threads_many} threads",
                f"one deployment {one_m:.0f} MiB, {limits.threads_one} threads",
                f"{per:+.2f} MiB per deployment",
                "reported",
                None,
            )
        )
    if limits.cli:
        cli = limits.cli
        rows.append(
            (
                "`champion --help`",
                f"{cli.help_s:.2f} s",
                f'`python -c "import typer"` {cli.typer_s:.2f} s (`python -c pass` {cli.python_s:.2f} s)',
                f"{cli.help_s / cli.typer_s:.2f}x",
                f"≤ {HELP_GOAL_S} s",
                cli.help_s <= HELP_GOAL_S,
            )
        )

    workers = f"{limits.workers} worker{'s' if limits.workers > 1 else ''}"
    form = limits.serving_form
    lines = [
        f"### Against the limits ({workers})",
        "",
        "champion serves the model as: "
        + (", ".join(f"{key} {value}" for key, value in form.items()) if form else "(no serving_form reported)"),
        "",
        "| point | champion | the limit, measured in this run | ratio | goal | met |",
        "|---|---:|---|---:|---|:---:|",
    ]
    for point, figure, limit, shown, goal, met in rows:
        lines.append(f"| {point} | {figure} | {limit} | {shown} | {goal} | {_goal(met)} |")
        data["rows"].append(
            {"point": point, "champion": figure, "limit": limit, "ratio": shown, "goal": goal, "met": met}
        )

    lines += [
        "",
        "| rows | conc | HTTP floor req/s | champion req/s | champion / floor | floor p50 / p99 ms "
        "| champion p50 / p99 ms | CPU ms per request (floor / champion) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    data["floor"] = []
    for key, floor in limits.floor.items():
        champ = limits.champion.get(key)
        if champ is None:
            continue
        lines.append(
            f"| {key[0]} | {key[1]}{mark(floor, champ)} | {floor.rps:.0f} | {champ.rps:.0f} "
            f"| {champ.rps / floor.rps:.2f}x "
            f"| {floor.p50_ms:.2f} / {floor.p99_ms:.2f} | {champ.p50_ms:.2f} / {champ.p99_ms:.2f} "
            f"| {floor.cpu_ms_per_request:.2f} / {champ.cpu_ms_per_request:.2f} |"
        )
        data["floor"].append({"rows": key[0], "concurrency": key[1], "floor_rps": floor.rps, "champion_rps": champ.rps})
        if key in limits.before:
            then = limits.before[key]
            lines.append(
                f"| {key[0]} | {key[1]}{mark(floor, then)} | (same) | {then.rps:.0f} at {limits.before_ref} "
                f"| {then.rps / floor.rps:.2f}x | | {then.p50_ms:.2f} / {then.p99_ms:.2f} "
                f"| / {then.cpu_ms_per_request:.2f} |"
            )
            data["floor"][-1]["before_rps"] = then.rps
    if limits.compute:
        lines += [
            "",
            "In-process compute time (`predict_proba` on a float64 array, this process, after a warm-up; "
            "the limit is the median on the CPU clock): "
            + "; ".join(
                f"{t.rows} row{'s' if t.rows > 1 else ''}: median {t.median_ms:.3f} ms CPU, wall median "
                f"{t.wall_median_ms:.3f} / p90 {t.wall_p90_ms:.3f} ms ({t.calls} calls)"
                for t in limits.compute.values()
            )
            + ".",
        ]
        data["compute_ms"] = {t.rows: t.median_ms for t in limits.compute.values()}
    if limits.served_compute:
        lines += [
            "",
            f"The same timing of the form champion serves ({limits.served_form}, `predict`: labels and probabilities): "
            + "; ".join(
                f"{t.rows} row{'s' if t.rows > 1 else ''}: median {t.median_ms:.3f} ms CPU, wall median "
                f"{t.wall_median_ms:.3f} / p90 {t.wall_p90_ms:.3f} ms ({t.calls} calls)"
                for t in limits.served_compute.values()
            )
            + ".",
        ]
        data["served_form"] = limits.served_form
        data["served_compute_ms"] = {t.rows: t.median_ms for t in limits.served_compute.values()}
    if limits.faces:
        lines += [
            "",
            "| face, 1 row, c" + str(top) + " | req/s | p50 / p99 ms | CPU ms per request |",
            "|---|---:|---:|---:|",
        ]
        data["faces"] = {}
        for name, load in limits.faces.items():
            lines.append(
                f"| {name} | {load.rps:.0f} | {load.p50_ms:.2f} / {load.p99_ms:.2f} | {load.cpu_ms_per_request:.2f} |"
            )
            data["faces"][name] = {"rps": load.rps, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms}
    lines += [
        "",
        f"⚠: other processes used ≥ {quiet_cores} cores during one of the loads of that point; it is not clean. "
        "Start-up, memory and the CLI are single measurements: on a busy machine they grow.",
        "",
    ]
    return "\n".join(lines), data


class SplitLoad(LoadLike, Protocol):
    worker_cores: tuple[float, ...]
    """Each worker's CPU during the load, in cores, busiest first (empty with one worker)."""
    worker_connections: tuple[int, ...]
    """The load's connections each worker held, in the same order."""


LOPSIDED = 0.75
"""A load with one worker holding more than this share of its connections is mostly that worker's."""


@dataclasses.dataclass
class AlsoWorkers:
    """The points that matter again, every server on `workers` uvicorn workers, in the same run."""

    workers: int
    main_workers: int
    """The workers of the run's main tables (`main`)."""
    duration: float
    warmup: float
    floor: dict[tuple[int, int], SplitLoad]
    champion: dict[tuple[int, int], SplitLoad]
    main: dict[tuple[int, int], LoadLike]
    """champion at the same points with `main_workers`: what the extra workers add."""
    faces: list[tuple[str, SplitLoad]]
    """Every face's load in the order measured: the WML route first and last."""
    floor_peak_kib: int = 0
    champion_peak_kib: int = 0
    before: dict[tuple[int, int], SplitLoad] = dataclasses.field(default_factory=dict)
    before_ref: str = ""


def _split(values: tuple[float, ...] | tuple[int, ...], form: str) -> str:
    return " + ".join(format(v, form) for v in values) if values else "-"


def _lopsided(load: SplitLoad) -> bool:
    held = load.worker_connections
    return bool(held) and sum(held) > 0 and held[0] > LOPSIDED * sum(held)


def _also_goal(rows: int, load: LoadLike, new: LoadLike | None, ratio: float) -> tuple[str, bool | None]:
    """The first table's goals: ≥ FLOOR_GOAL of the floor at 1 row; beside champion at `--before`, the new
    code's p99 no worse at 1 row and its req/s twice the old at 100 rows (`new` is then the new code's load)."""
    if new is None:
        return (f"≥ {FLOOR_GOAL}x", ratio >= FLOOR_GOAL) if rows == 1 else ("-", None)
    if rows == 1:
        return f"new p99 ≤ {load.p99_ms:.1f} ms", new.p99_ms <= load.p99_ms
    return ("new ≥ 2x", new.rps >= 2 * load.rps) if rows == 100 else ("-", None)


def also_report(also: AlsoWorkers, quiet_cores: float) -> tuple[str, dict[str, Any]]:
    """The second table: each champion point against the floor on as many workers, and every face against
    the WML route, with how the workers shared each load (connections held, cores used)."""
    n = also.workers

    def mark(*loads: LoadLike) -> str:
        return " ⚠" if max(load.other_cores for load in loads) >= quiet_cores else ""

    lines = [
        f"### The same points with {n} uvicorn workers (this run)",
        "",
        f"The HTTP floor and champion each served by {n} uvicorn workers, {also.duration:g} s per point after a "
        f"{also.warmup:g} s warm-up. A keep-alive connection stays with the worker that accepted it, and wrk "
        "opens all its connections at once: *connections* is how many each worker held a second into the load "
        "and *cores* the CPU each used, busiest worker first. A split like 32 + 0 is one loaded worker beside "
        f"an idle one, not {n}.",
        "",
        f"| point | champion req/s | HTTP floor, {n} workers, req/s | champion / floor | goal | met "
        f"| champion, {n} / {also.main_workers} worker{'s' if also.main_workers > 1 else ''} "
        "| champion p50 / p99 ms | CPU ms per request (floor / champion) "
        "| connections per worker (floor / champion) | cores per worker (floor / champion) |",
        "|---|---:|---:|---:|---|:---:|---:|---:|---:|---|---|",
    ]
    data: dict[str, Any] = {"workers": n, "points": [], "faces": []}
    lopsided = total = 0
    for key, floor in also.floor.items():
        rows_n, conc = key
        for label, champ in (("", also.champion.get(key)), (f", champion at {also.before_ref}", also.before.get(key))):
            if champ is None:
                continue
            total += 1
            lopsided += _lopsided(champ)
            ratio = champ.rps / floor.rps
            one = also.main.get(key)
            goal, met = _also_goal(rows_n, champ, also.champion.get(key) if label else None, ratio)
            point = f"{rows_n} row{'s' if rows_n > 1 else ''}, c{conc}{label}{mark(floor, champ)}"
            versus = f"{champ.rps / one.rps:.2f}x" if one is not None and not label else "-"
            lines.append(
                f"| {point} | {champ.rps:.0f} | {floor.rps:.0f} | {ratio:.2f}x | {goal} | {_goal(met)} | {versus} "
                f"| {champ.p50_ms:.2f} / {champ.p99_ms:.2f} "
                f"| {floor.cpu_ms_per_request:.2f} / {champ.cpu_ms_per_request:.2f} "
                f"| {_split(floor.worker_connections, 'd')} / {_split(champ.worker_connections, 'd')} "
                f"| {_split(floor.worker_cores, '.2f')} / {_split(champ.worker_cores, '.2f')} |"
            )
            data["points"].append(
                {
                    "point": point,
                    "champion_rps": champ.rps,
                    "floor_rps": floor.rps,
                    "ratio": ratio,
                    "goal": goal,
                    "met": met,
                    "main_workers_rps": one.rps if one is not None and not label else None,
                    "cpu_ms_per_request": {"floor": floor.cpu_ms_per_request, "champion": champ.cpu_ms_per_request},
                    "worker_connections": {"floor": floor.worker_connections, "champion": champ.worker_connections},
                    "worker_cores": {"floor": floor.worker_cores, "champion": champ.worker_cores},
                }
            )
    if also.faces:
        wml_name = also.faces[0][0]
        wml_loads = [load for name, load in also.faces if name == wml_name]
        wml_rps = sum(load.rps for load in wml_loads) / len(wml_loads)
        top = next(key for key in also.champion if key[0] == 1)[1] if any(k[0] == 1 for k in also.champion) else 0
        lines += [
            "",
            f"| face, 1 row, c{top}, {n} workers, its median round | req/s | / the WML route "
            "| goal | met | p50 / p99 ms | CPU ms per request | connections per worker | cores per worker |",
            "|---|---:|---:|---|:---:|---:|---:|---|---|",
        ]
        for name, load in also.faces:
            total += 1
            lopsided += _lopsided(load)
            ratio = load.rps / wml_rps
            goal, met = (
                ("-", None) if name == wml_name else (f"within {FACES_WITHIN:.0%}", abs(ratio - 1) <= FACES_WITHIN)
            )
            lines.append(
                f"| {name}{mark(load)} | {load.rps:.0f} | {ratio:.2f}x | {goal} | {_goal(met)} "
                f"| {load.p50_ms:.2f} / {load.p99_ms:.2f} | {load.cpu_ms_per_request:.2f} "
                f"| {_split(load.worker_connections, 'd')} | {_split(load.worker_cores, '.2f')} |"
            )
            data["faces"].append(
                {
                    "face": name,
                    "rps": load.rps,
                    "ratio": ratio,
                    "met": met,
                    "worker_connections": load.worker_connections,
                    "worker_cores": load.worker_cores,
                }
            )
    spread = (
        f"In {lopsided} of these {total} champion loads one worker held more than {LOPSIDED:.0%} of the "
        "connections: those figures are mostly one worker's."
        if lopsided
        else f"In none of these {total} champion loads did one worker hold more than {LOPSIDED:.0%} of the connections."
    )
    lines += [
        "",
        spread
        + (
            f" Peak RSS of the process tree (uvicorn's supervisor and its {n} workers): champion "
            f"{also.champion_peak_kib / 1024:.0f} MiB, the floor {also.floor_peak_kib / 1024:.0f} MiB."
            if also.champion_peak_kib
            else ""
        ),
        "",
    ]
    data |= {"lopsided_loads": lopsided, "loads": total, "champion_peak_kib": also.champion_peak_kib}
    return "\n".join(lines), data


def median_load(loads: Sequence[AnyLoad]) -> AnyLoad:
    """The load of the middle req/s (the upper of two middles): one real run, so its latency, CPU and
    worker split belong together."""
    return sorted(loads, key=lambda load: load.rps)[len(loads) // 2]
