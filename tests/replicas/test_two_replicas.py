"""The proof for replicas: two `champion serve` processes, separate homes, one PostgreSQL, one bucket.

Replica A and replica B share nothing but the database and the S3 bucket (moto's server on
127.0.0.1). A model uploaded through A is deployed through B and serves on both; replacing it
through A under prediction load on both fails no request, and once the operation reports
`ready` neither replica answers from the old version; a settings change or a deactivation made
through one replica is acted on by the other within a fraction of a second (the figures are
printed in the terminal summary); and when the replica running a replacement is killed outright, the
other one takes the operation over and finishes it. Loopback only, bounded in clients and time.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from tests import s3_server
from tests.conftest import throwaway_postgres
from tests.model_files import FEATURES, ModelFiles, build_variants
from tests.replicas.conftest import SUMMARY
from tests.s3_server import S3Server
from tests.servers import RunningServer, running_server

s3 = s3_server.s3
pytestmark = pytest.mark.postgres

V = {"version": "2026-10-14"}
ROW = {"input_data": [{"fields": FEATURES, "values": [[0.3, -0.1, 0.8]]}]}
SWAPS = 4
CLIENTS_PER_REPLICA = 3
REPEATS = 5
BOUND = 5.0
"""Every convergence must be shorter than this: far above the goal (well under a second), so that a
loaded machine does not fail the test; the measured figures are printed."""
REFUSE_ALL = {
    "name": "refuse all",
    "trigger": "outlying_input",
    "feature": "x1",
    "lower": 100,
    "upper": 200,
    "action": "throw_error",
}
REFUSING = {"humility": {"enabled": True, "rules": [REFUSE_ALL]}}
ANSWERING = {"humility": {"enabled": False}}


@dataclass(frozen=True)
class Replicas:
    a: RunningServer
    b: RunningServer
    database: Engine
    """The shared database, for what only it can tell: which replica runs an operation."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.a.admin_api_key}"}


@dataclass(frozen=True)
class Deployed:
    space: str
    model: str
    deployment: str


@pytest.fixture(scope="module")
def database(postgres_available: None) -> Iterator[str]:
    with throwaway_postgres("champion_replicas") as url:
        yield url


@pytest.fixture(scope="module")
def replicas(database: str, s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    key = f"chp_{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"
    env = {
        **s3.env,
        "CHAMPION_DATABASE_URL": database,
        "CHAMPION_REPLICAS": "2",
        "CHAMPION_SECRET_KEY": secrets.token_urlsafe(48),
    }
    # One after the other: the first creates the schema and the admin, the second finds them.
    with (
        running_server(tmp_path_factory.mktemp("replica-a"), tls=False, admin_key=key, **env) as a,
        running_server(tmp_path_factory.mktemp("replica-b"), tls=False, admin_key=key, **env) as b,
    ):
        assert a.home != b.home
        engine = create_engine(database)
        try:
            yield Replicas(a, b, engine)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def deployed(replicas: Replicas, model_files: ModelFiles, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """Two revisions uploaded through A, the deployment created through B and ready."""
    retrained = build_variants(tmp_path_factory.mktemp("candidates"))["retrained"]
    with httpx.Client(base_url=replicas.a.url, headers=replicas.headers(), timeout=60) as a:
        space = a.post("/v2/spaces", json={"name": "replicas"}).json()["metadata"]["id"]
        spec = a.get("/v2/software_specifications").json()["resources"][0]["metadata"]["asset_id"]
        body = {"name": "m", "type": "scikit-learn_1.3", "software_spec": {"id": spec}, "space_id": space}
        model = a.post("/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
        for path in (model_files.classifier_named, retrained):
            uploaded = a.put(f"/ml/v4/models/{model}/content", params={"space_id": space}, content=path.read_bytes())
            assert uploaded.status_code == 201, uploaded.text
    with httpx.Client(base_url=replicas.b.url, headers=replicas.headers(), timeout=60) as b:
        body = {"name": "d", "online": {}, "asset": {"id": model, "rev": "1"}, "space_id": space}
        created = b.post("/ml/v4/deployments", params=V, json=body)
        assert created.status_code == 202, created.text
        deployment = created.json()["metadata"]["id"]
        wait_for_state(b, space, deployment, "ready")
    # Each replica tries a candidate in a process of its own, started by its first check: started here,
    # on both at once, rather than inside the timed, loaded tests.
    with ThreadPoolExecutor(2) as pool:
        checks = [
            pool.submit(validate, server, replicas, space, model, deployment) for server in (replicas.a, replicas.b)
        ]
        assert all(check.result() == 200 for check in checks)
    return Deployed(space, model, deployment)


def validate(server: RunningServer, replicas: Replicas, space: str, model: str, deployment: str) -> int:
    with httpx.Client(base_url=server.url, headers=replicas.headers(), timeout=120) as http:
        body = {"asset": {"id": model, "rev": "2"}}
        return http.post(
            f"/ml/v4/deployments/{deployment}/validation", params={"space_id": space}, json=body
        ).status_code


def wait_for_state(http: httpx.Client, space: str, deployment: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        details = http.get(f"/ml/v4/deployments/{deployment}", params={"space_id": space}).json()
        status = details["entity"]["status"]
        if status["state"] == state:
            return dict(details["entity"])
        assert time.monotonic() < deadline, status
        time.sleep(0.02)


def asset_rev(entity: dict[str, Any]) -> str:
    return str(entity["asset"]["rev"])


def predict(http: httpx.Client, deployment: str) -> httpx.Response:
    return http.post(f"/ml/v4/deployments/{deployment}/predictions", params=V, json=ROW)


def test_deployed_through_one_replica_it_serves_on_both_once_ready(replicas: Replicas, deployed: Deployed) -> None:
    for server in (replicas.a, replicas.b):
        with httpx.Client(base_url=server.url, headers=replicas.headers(), timeout=30) as http:
            answer = predict(http, deployed.deployment)
            assert answer.status_code == 200, answer.text
            assert answer.headers["Champion-Model-Version"] == f"{deployed.model}:1"


@dataclass
class Observed:
    answers: list[tuple[str, float, str]] = field(default_factory=list)
    """(replica, time the request was sent, the version header of its answer)."""
    failures: list[str] = field(default_factory=list)
    switches: list[tuple[float, str]] = field(default_factory=list)
    """(time `ready` was seen, the version the deployment then serves)."""
    durations: list[tuple[float, float]] = field(default_factory=list)
    """Per replacement: (seconds the PATCH took, its checks included; seconds from its answer to `ready`)."""


async def predict_until(
    http: httpx.AsyncClient, replica: str, deployment: str, seen: Observed, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        sent = time.monotonic()
        try:
            response = await http.post(f"/ml/v4/deployments/{deployment}/predictions", params=V, json=ROW)
        except httpx.HTTPError as exc:
            seen.failures.append(f"{replica}: {type(exc).__name__}: {exc}")
            continue
        if response.status_code != 200:
            seen.failures.append(f"{replica}: {response.status_code}: {response.text[:200]}")
        else:
            seen.answers.append((replica, sent, response.headers["Champion-Model-Version"]))


async def replace(http: httpx.AsyncClient, ids: Deployed, rev: str, seen: Observed) -> None:
    patch = [{"op": "replace", "path": "/asset", "value": {"id": ids.model, "rev": rev}}]
    params = {**V, "space_id": ids.space}
    sent = time.monotonic()
    response = await http.patch(f"/ml/v4/deployments/{ids.deployment}", params=params, json=patch)
    assert response.status_code == 202, response.text
    accepted = time.monotonic()
    deadline = accepted + 60
    while True:
        details = (await http.get(f"/ml/v4/deployments/{ids.deployment}", params={"space_id": ids.space})).json()
        status = details["entity"]["status"]
        if status["state"] == "ready":
            assert "failure" not in status, status
            assert details["entity"]["asset"]["rev"] == rev
            seen.switches.append((time.monotonic(), f"{ids.model}:{rev}"))
            seen.durations.append((accepted - sent, time.monotonic() - accepted))
            return
        assert time.monotonic() < deadline, "a replacement never ended"
        await asyncio.sleep(0.02)


async def under_load(
    servers: dict[str, RunningServer], headers: dict[str, str], deployment: str, work: Callable[[Observed], object]
) -> Observed:
    """Run `work` while every server in `servers` answers predictions to a few clients each."""
    seen, stop = Observed(), asyncio.Event()
    clients = [httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) for server in servers.values()]
    tasks = [
        asyncio.create_task(predict_until(client, name, deployment, seen, stop))
        for (name, _), client in zip(servers.items(), clients, strict=True)
        for _ in range(CLIENTS_PER_REPLICA)
    ]
    try:
        outcome = work(seen)
        if asyncio.iscoroutine(outcome):
            await asyncio.wait_for(outcome, timeout=180)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for client in clients:
            await client.aclose()
    return seen


def stale_answers(seen: Observed) -> list[str]:
    """Answers from another version than the one the deployment had switched to when they were sent."""
    stale = []
    for (ready_at, serving), following in zip(seen.switches, [*seen.switches[1:], (float("inf"), "")], strict=True):
        for replica, sent, version in seen.answers:
            if ready_at < sent < following[0] - 5 and version != serving:
                stale.append(f"{replica} answered {version} after {serving} was ready")
    return stale


def test_replaced_through_one_replica_under_load_on_both_no_request_fails(
    replicas: Replicas, deployed: Deployed
) -> None:
    async def swaps(seen: Observed) -> None:
        async with httpx.AsyncClient(base_url=replicas.a.url, headers=replicas.headers(), timeout=60) as a:
            for swap in range(SWAPS):
                await replace(a, deployed, "2" if swap % 2 == 0 else "1", seen)
                await asyncio.sleep(0.2)  # traffic on the new champion for a moment

    servers = {"A": replicas.a, "B": replicas.b}
    seen = asyncio.run(under_load(servers, replicas.headers(), deployed.deployment, swaps))
    assert seen.failures == [], seen.failures[:5]
    assert len(seen.switches) == SWAPS
    for replica in servers:
        versions = [version for name, _, version in seen.answers if name == replica]
        assert len(versions) > 10 * SWAPS, f"the load on replica {replica} was too light to prove anything"
        assert set(versions) == {f"{deployed.model}:1", f"{deployed.model}:2"}, f"replica {replica}: {set(versions)}"
    assert stale_answers(seen) == []
    timings = ", ".join(f"PATCH {patched:.1f} s + ready {ready:.2f} s" for patched, ready in seen.durations)
    SUMMARY.append(
        f"{SWAPS} swaps through A ({timings}): {len(seen.answers)} answers from A and B, none failed or stale"
    )


Acted = Callable[[httpx.Response], bool]


def until_b(http: httpx.Client, deployment: str, acted: Acted) -> float:
    """Send predictions to B until its answer shows it acted; return when that answer was sent."""
    deadline = time.monotonic() + 30
    while True:
        sent = time.monotonic()
        if acted(predict(http, deployment)):
            return sent
        assert time.monotonic() < deadline, "replica B never acted on the change"


def refused(answer: httpx.Response) -> bool:
    """The humility rule's refusal."""
    return answer.status_code == 400


def answered(answer: httpx.Response) -> bool:
    return answer.status_code == 200


def inactive(answer: httpx.Response) -> bool:
    return answer.status_code != 200


def summary(name: str, samples: list[tuple[float, float]]) -> str:
    def figures(values: list[float]) -> str:
        each = ", ".join(f"{v * 1000:.0f}" for v in values)
        return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms ({each})"

    since_sent, since_answered = [s for s, _ in samples], [a for _, a in samples]
    return f"{name}: {figures(since_sent)} | {figures(since_answered)}"


def test_a_change_through_one_replica_is_acted_on_by_the_other_at_once(replicas: Replicas, deployed: Deployed) -> None:
    """Each change is made through replica A while replica B is sent predictions one after the other.
    Its figure runs from the moment the request was sent to A (before its commit) to the sending of
    the first prediction B answered according to the change; a second one starts from A's answer
    (after its commit), so the two bracket the time from the commit to B acting on it."""
    settings_path = f"/ml/v4/deployments/{deployed.deployment}/settings"
    status_path = f"/api/v2/deployments/{deployed.deployment}/status/"
    figures: dict[str, list[tuple[float, float]]] = {"settings": [], "deactivate": [], "activate": []}
    with (
        httpx.Client(base_url=replicas.a.url, headers=replicas.headers(), timeout=60) as a,
        httpx.Client(base_url=replicas.b.url, headers=replicas.headers(), timeout=30) as b,
    ):

        def timed(name: str, request: Callable[[], httpx.Response], status: int, acted: Acted) -> None:
            sent = time.monotonic()
            response = request()
            answered_at = time.monotonic()
            assert response.status_code == status, response.text
            acted_at = until_b(b, deployed.deployment, acted)
            figures[name].append((acted_at - sent, acted_at - answered_at))

        assert answered(predict(b, deployed.deployment))
        for _ in range(REPEATS):
            for change, acted in ((REFUSING, refused), (ANSWERING, answered)):
                timed(
                    "settings",
                    partial(a.patch, settings_path, params={"space_id": deployed.space}, json=change),
                    200,
                    acted,
                )
            timed("deactivate", partial(a.patch, status_path, json={"status": "inactive"}), 202, inactive)
            timed("activate", partial(a.patch, status_path, json={"status": "active"}), 202, answered)
        wait_for_state(a, deployed.space, deployed.deployment, "ready")
    SUMMARY.append("convergence through A -> B acting on it (from the request sent to A | from A's answer):")
    SUMMARY.extend(f"  {summary(name, samples)}" for name, samples in figures.items())
    for name, samples in figures.items():
        assert max(since_sent for since_sent, _ in samples) < BOUND, summary(name, samples)


def replace_operation(database: Engine, deployment: str) -> tuple[str, str, str | None]:
    """The newest replace operation of the deployment: (id, state, runner)."""
    with database.connect() as connection:
        row = connection.execute(
            text(
                "SELECT id, state, runner FROM operations WHERE target_id = :d AND kind = 'replace'"
                " ORDER BY created_at DESC LIMIT 1"
            ),
            {"d": deployment},
        ).one()
        return str(row[0]), str(row[1]), row[2]


def operation_state(database: Engine, operation: str) -> tuple[str, str | None]:
    with database.connect() as connection:
        row = connection.execute(text("SELECT state, runner FROM operations WHERE id = :o"), {"o": operation}).one()
        return str(row[0]), row[1]


def pid_of(runner: str) -> int:
    """A runner is named `<host>:<pid>:<random>` (`cluster.process_name`)."""
    return int(runner.split(":")[-2])


def test_the_replica_running_a_replacement_is_killed_and_the_other_takes_it_over(
    replicas: Replicas, deployed: Deployed
) -> None:
    """Last in the module: it kills a replica. The replacement starts through B; whichever replica
    claimed it is killed with SIGKILL (no shutdown, no restart of anything), so the takeover is what
    is exercised; the survivor serves predictions throughout and ends ready with the new champion."""
    servers = {"A": replicas.a, "B": replicas.b}
    with httpx.Client(base_url=replicas.a.url, headers=replicas.headers(), timeout=60) as a:
        current = wait_for_state(a, deployed.space, deployed.deployment, "ready")
    rev = "2" if asset_rev(current) == "1" else "1"
    patch = [{"op": "replace", "path": "/asset", "value": {"id": deployed.model, "rev": rev}}]
    with httpx.Client(base_url=replicas.b.url, headers=replicas.headers(), timeout=60) as b:
        response = b.patch(
            f"/ml/v4/deployments/{deployed.deployment}", params={**V, "space_id": deployed.space}, json=patch
        )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 30
    while True:
        operation, _, runner = replace_operation(replicas.database, deployed.deployment)
        if runner is not None:
            break
        assert time.monotonic() < deadline, "nobody claimed the replacement"
        time.sleep(0.002)
    victim = next(name for name, server in servers.items() if server.process.pid == pid_of(runner))
    (survivor,) = set(servers) - {victim}
    servers[victim].process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    servers[victim].process.wait(timeout=10)
    state_at_kill, _ = operation_state(replicas.database, operation)
    assert state_at_kill == "running", f"the replacement ended ({state_at_kill}) before {victim} was killed"

    taken: dict[str, float] = {}

    async def takeover(seen: Observed) -> None:
        while True:
            state, holder = await asyncio.to_thread(operation_state, replicas.database, operation)
            if holder is not None and holder != runner and "taken" not in taken:
                taken["taken"] = time.monotonic() - killed_at
            if state != "running" and state != "pending":
                taken["ended"] = time.monotonic() - killed_at
                assert state == "succeeded", state
                seen.switches.append((time.monotonic(), f"{deployed.model}:{rev}"))
                return
            assert time.monotonic() - killed_at < 60, f"the operation stayed {state} with {holder}"
            await asyncio.sleep(0.02)

    seen = asyncio.run(under_load({survivor: servers[survivor]}, replicas.headers(), deployed.deployment, takeover))
    assert "taken" in taken, "the operation ended without the survivor taking it over"
    _, final_runner = operation_state(replicas.database, operation)
    assert final_runner is not None and pid_of(final_runner) == servers[survivor].process.pid
    assert seen.failures == [], seen.failures[:5]
    assert stale_answers(seen) == []
    with httpx.Client(base_url=servers[survivor].url, headers=replicas.headers(), timeout=30) as http:
        assert asset_rev(wait_for_state(http, deployed.space, deployed.deployment, "ready")) == rev
        answer = predict(http, deployed.deployment)
        assert answer.status_code == 200 and answer.headers["Champion-Model-Version"] == f"{deployed.model}:{rev}"
    SUMMARY.append(
        f"{victim} ran the replacement and was killed; {survivor} took the operation over after"
        f" {taken['taken']:.1f} s and finished it {taken['ended']:.1f} s after the kill;"
        f" {len(seen.answers)} answers from {survivor} meanwhile, none failed"
    )
