"""/metrics on a real `champion serve --workers 2`: every scrape sums what both workers answered.

The workers' share of the meters is read from their files (prometheus_client's multiprocess
mode), found through /proc: Linux only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.model_files import FEATURES, ModelFiles
from tests.servers import RunningServer, running_server

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the workers through /proc")

V = {"version": "2026-10-14"}
ROW = {"input_data": [{"fields": FEATURES, "values": [[0.3, -0.1, 0.8], [0.1, 0.2, -0.4]]}]}
ROUND = 20
"""Predictions sent at once, each over a connection of its own, until both workers answered some."""
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("metrics-workers"), tls=False, workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def deployment(server: RunningServer, model_files: ModelFiles) -> str:
    with httpx.Client(base_url=server.url, headers=auth(server), timeout=30) as http:
        space = http.post("/v2/spaces", json={"name": "meters"}).json()["metadata"]["id"]
        spec = http.get("/v2/software_specifications").json()["resources"][0]["metadata"]["asset_id"]
        body = {"name": "m", "type": "scikit-learn_1.3", "software_spec": {"id": spec}, "space_id": space}
        model = http.post("/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
        content = model_files.classifier_named.read_bytes()
        uploaded = http.put(f"/ml/v4/models/{model}/content", params={"space_id": space}, content=content)
        assert uploaded.status_code == 201, uploaded.text
        body = {"name": "d", "online": {}, "asset": {"id": model}, "space_id": space}
        deployment_id: str = http.post("/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
        deadline = time.monotonic() + 30
        while (
            http.get(f"/ml/v4/deployments/{deployment_id}", params={"space_id": space}).json()["entity"]["status"][
                "state"
            ]
            != "ready"
        ):
            assert time.monotonic() < deadline, "the deployment never became ready"
            time.sleep(0.1)
    return deployment_id


def auth(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.admin_api_key}"}


def workers(server: RunningServer) -> list[int]:
    """The pids of uvicorn's worker processes (spawned children; the resource tracker is not one)."""
    found = []
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return sorted(found)


def meters_directory(worker: int) -> Path:
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    found = [item.partition(b"=")[2] for item in environ if item.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    assert found, "the workers run without PROMETHEUS_MULTIPROC_DIR: each would count on its own"
    return Path(os.fsdecode(found[0]))


def answered_by(directory: Path, worker: int) -> float:
    """What one worker counted itself, read from its own file alone."""
    path = directory / f"counter_{worker}.db"
    if not path.exists():  # created when the worker counts its first prediction
        return 0.0
    families = MultiProcessCollector.merge([str(path)])
    return sum(s.value for f in families if f.name == "champion_predictions" for s in f.samples)


async def predict_on_fresh_connections(server: RunningServer, deployment: str, count: int) -> None:
    async def one() -> None:
        # A client per request: a new connection each, free to land on either worker.
        async with httpx.AsyncClient(base_url=server.url, headers=auth(server), timeout=30) as http:
            response = await http.post(f"/ml/v4/deployments/{deployment}/predictions", params=V, json=ROW)
            assert response.status_code == 200, response.text

    await asyncio.gather(*(one() for _ in range(count)))


def scrape(server: RunningServer) -> Samples:
    with httpx.Client(base_url=server.url, headers=auth(server), timeout=30) as http:  # a fresh connection
        response = http.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_every_scrape_counts_the_predictions_of_every_worker(server: RunningServer, deployment: str) -> None:
    pids = workers(server)
    assert len(pids) == 2, pids
    directory = meters_directory(pids[0])
    sent = 0
    while sent < 400 and not all(answered_by(directory, pid) for pid in pids):
        asyncio.run(predict_on_fresh_connections(server, deployment, ROUND))
        sent += ROUND
    shares = [answered_by(directory, pid) for pid in pids]
    assert all(shares) and sum(shares) == sent, f"{sent} sent, answered per worker: {shares}"

    for _ in range(6):
        samples = scrape(server)
        [labels] = [dict(labels) for name, labels in samples if name == "champion_predictions_total"]
        assert labels["deployment"] == deployment
        assert value(samples, "champion_predictions_total", **labels) == sent
        assert value(samples, "champion_prediction_rows_total", **labels) == 2 * sent
        assert value(samples, "champion_prediction_latency_seconds_count", **labels) == sent
        assert value(samples, "champion_prediction_latency_seconds_bucket", **labels, le="+Inf") == sent
        assert value(samples, "champion_models_loaded") == 2  # one copy in each worker
        assert not any(name.startswith("process_") for name, _ in samples), "one worker's process meters"


def test_a_killed_worker_keeps_its_counts_and_leaves_the_models_loaded(server: RunningServer, deployment: str) -> None:
    asyncio.run(predict_on_fresh_connections(server, deployment, ROUND))
    before = scrape(server)
    predicted = sum(value for (name, _), value in before.items() if name == "champion_predictions_total")
    victim = workers(server)[0]

    os.kill(victim, signal.SIGKILL)
    # uvicorn starts a replacement, which loads the model in turn: the sum goes 2 → 1 → 2, never 3.
    loaded = []
    deadline = time.monotonic() + 20
    while not (victim not in workers(server) and len(workers(server)) == 2 and loaded[-1:] == [2]):
        assert time.monotonic() < deadline, f"no replacement worker serving the model: {loaded}"
        samples = scrape(server)
        loaded.append(value(samples, "champion_models_loaded"))
        assert sum(v for (name, _), v in samples.items() if name == "champion_predictions_total") == predicted
        time.sleep(0.1)
    assert max(loaded) == 2, loaded
