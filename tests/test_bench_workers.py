"""The bench's second table, every server on 2 uvicorn workers: what it says each worker did, and its ratios.

`make bench` adds the points that matter with 2 workers in the same run. With several workers a
load's figure may be one worker's (a keep-alive connection stays with the worker that accepted it),
so every such load notes the connections each worker held and the CPU each used; these check that
those notes are read from the real processes, and that the table takes each ratio against the floor
on as many workers.
"""

from __future__ import annotations

import http.client
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import limits_report  # noqa: E402
import run  # noqa: E402

sys.path.remove(str(BENCH))  # the bench's module names (run, limits) are not the suite's to shadow

BODY = b'{"input_data": [{"fields": ["f0"], "values": [[1.0]]}]}'


@pytest.fixture(scope="module")
def floor_on_two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[run.Server]:
    server = run.start_floor(Path("unused"), tmp_path_factory.mktemp("floor"), workers=2)
    try:
        yield server
    finally:
        run.stop(server)


def _connections(server: run.Server, count: int) -> list[http.client.HTTPConnection]:
    """`count` keep-alive connections, each answered once (so a worker has accepted it)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    opened = []
    for _ in range(count):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", server.path, body=BODY, headers={"Content-Type": "application/json"})
        assert connection.getresponse().read()
        opened.append(connection)
    return opened


def test_the_connections_each_worker_holds_are_read_from_its_sockets(floor_on_two: run.Server) -> None:
    workers = run.worker_pids(floor_on_two)
    assert len(workers) == 2 and floor_on_two.process.pid not in workers  # the supervisor is no worker
    opened = _connections(floor_on_two, 6)
    try:
        held = run.connections_by_process(workers, floor_on_two)
        assert set(held) == set(workers) and sum(held.values()) == 6
    finally:
        for connection in opened:
            connection.close()


def test_a_load_on_several_workers_notes_each_ones_connections_and_cpu(floor_on_two: run.Server) -> None:
    def load(server: run.Server, body: Path, connections: int, seconds: float) -> run.Load:
        opened = _connections(server, connections)
        deadline, answered = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            for connection in opened:
                connection.request("POST", server.path, body=BODY, headers={"Content-Type": "application/json"})
                connection.getresponse().read()
                answered += 1
        for connection in opened:
            connection.close()
        return run.Load(answered / seconds, 1.0, 2.0, answered, 0, "")

    result = run.accounted(load, floor_on_two, Path("unused"), 4, 1.5)
    assert len(result.worker_connections) == 2 and sum(result.worker_connections) == 4
    assert len(result.worker_cores) == 2 and sum(result.worker_cores) > 0
    assert result.worker_cores[0] >= result.worker_cores[1]  # busiest first, its connections beside it
    assert "workers" in run.split_text(result)


def test_one_worker_notes_no_split(tmp_path: Path) -> None:
    server = run.start_floor(Path("unused"), tmp_path, workers=1)
    try:
        result = run.accounted(lambda *_: run.Load(1.0, 1.0, 1.0, 1, 0, ""), server, Path("unused"), 1, 0.1)
    finally:
        run.stop(server)
    assert result.worker_cores == () and result.worker_connections == () and run.split_text(result) == ""


def _load(rps: float, connections: tuple[int, ...] = (16, 16), other: float = 0.0) -> run.Load:
    cores = tuple(0.5 * c / 16 for c in connections)
    return run.Load(
        rps, 5.0, 20.0, int(rps * 8), 0, "", server_cores=sum(cores), other_cores=other,
        worker_cores=cores, worker_connections=connections,
    )  # fmt: skip


def test_the_workers_table_takes_each_point_against_the_floor_on_as_many_workers() -> None:
    also = limits_report.AlsoWorkers(
        workers=2,
        main_workers=1,
        duration=8,
        warmup=2,
        floor={(1, 32): _load(8000), (100, 8): _load(6000, (4, 4))},
        champion={(1, 32): _load(2000, (30, 2)), (100, 8): _load(1500, (4, 4), other=0.4)},
        main={(1, 32): _load(2500, ()), (100, 8): _load(1000, ())},
        faces=[
            ("WML scoring", _load(2000, (30, 2))),
            ("OIP, one 2-D tensor", _load(1900)),
            ("DataRobot predApi, CSV", _load(1500)),
            ("WML scoring", _load(2200)),
        ],
        champion_peak_kib=700 * 1024,
        floor_peak_kib=70 * 1024,
        before={(1, 32): _load(3000)},
        before_ref="abc123",
    )
    table, data = limits_report.also_report(also, quiet_cores=0.15)
    points = {p["point"]: p for p in data["points"]}
    one = points["1 row, c32"]
    assert one["ratio"] == 0.25 and one["met"] is False  # against the 2-worker floor's 8000, goal ≥ 0.35x
    assert one["main_workers_rps"] == 2500  # beside champion on 1 worker: 0.80x
    assert "| 1 row, c32 | 2000 | 8000 | 0.25x | ≥ 0.35x | **no** | 0.80x |" in table
    assert "| 16 + 16 / 30 + 2 |" in table  # connections per worker, floor / champion
    then = points["1 row, c32, champion at abc123"]
    assert then["ratio"] == 3000 / 8000  # the same 2-worker floor
    assert then["met"] is True  # the first table's goal beside an older champion: the new p99 no worse
    assert points["100 rows, c8 ⚠"]["ratio"] == 0.25  # other processes were busy
    faces = {f["face"]: f for f in data["faces"] if f["face"] != "WML scoring"}
    # Each face against the mean of the WML route's two loads (2100 req/s).
    assert faces["OIP, one 2-D tensor"]["met"] is True
    assert faces["DataRobot predApi, CSV"]["met"] is False
    # Two champion loads had one worker holding more than 3/4 of the connections: the 1-row point and the
    # first WML load of the faces.
    assert data["lopsided_loads"] == 2 and data["loads"] == 2 + 1 + 4
    assert "In 2 of these 7 champion loads one worker held more than 75%" in table
    assert "champion 700 MiB, the floor 70 MiB" in table
    also.champion[(1, 32)], also.faces[0] = _load(2000), ("WML scoring", _load(2000))
    spread, _ = limits_report.also_report(also, quiet_cores=0.15)
    assert "In none of these 7 champion loads did one worker hold more than 75%" in spread


def test_make_bench_adds_the_two_worker_table_and_bench_2w_does_not_repeat_itself() -> None:
    assert run.parse_args(["--generator", "python"]).also_workers == 2
    assert run.parse_args(["--generator", "python", "--workers", "2"]).also_workers == 0
    assert run.parse_args(["--generator", "python", "--also-workers", "0"]).also_workers == 0
    with pytest.raises(SystemExit):
        run.parse_args(["--generator", "python", "--also-duration", "600"])
