"""The proof: a steady stream of predictions while the model is replaced back and forth.

On one worker and on two, against a real `champion serve`: no request fails, every answer
names one of the two versions, and once an operation reports ready no answer comes from the
old one. Loopback only; bounded in swaps, clients and seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.model_files import FEATURES, ModelFiles, build_variants
from tests.servers import RunningServer, running_server

SWAPS = 20
CLIENTS = 6
V = {"version": "2026-10-14"}
ROW = {"input_data": [{"fields": FEATURES, "values": [[0.3, -0.1, 0.8]]}]}


@dataclass
class Observed:
    answers: list[tuple[float, str]] = field(default_factory=list)
    """(time the request was sent, the version header of its answer)."""
    failures: list[str] = field(default_factory=list)
    switches: list[tuple[float, str]] = field(default_factory=list)
    """(time `ready` was seen, the version the deployment then serves)."""


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp(f"swap-{request.param}"), tls=False, workers=request.param) as running:
        yield running


def set_up(server: RunningServer, model_files: ModelFiles, retrained: Path) -> tuple[str, str, str]:
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        space = http.post("/v2/spaces", json={"name": "swaps"}).json()["metadata"]["id"]
        spec = http.get("/v2/software_specifications").json()["resources"][0]["metadata"]["asset_id"]
        body = {"name": "m", "type": "scikit-learn_1.3", "software_spec": {"id": spec}, "space_id": space}
        model = http.post("/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
        for path in (model_files.classifier_named, retrained):
            assert (
                http.put(
                    f"/ml/v4/models/{model}/content", params={"space_id": space}, content=path.read_bytes()
                ).status_code
                == 201
            )
        body = {"name": "d", "online": {}, "asset": {"id": model, "rev": "1"}, "space_id": space}
        deployment = http.post("/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
        deadline = time.monotonic() + 60
        while (
            http.get(f"/ml/v4/deployments/{deployment}", params={"space_id": space}).json()["entity"]["status"]["state"]
            != "ready"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    return space, model, deployment


async def predict_forever(http: httpx.AsyncClient, deployment: str, seen: Observed, stop: asyncio.Event) -> None:
    while not stop.is_set():
        sent = time.monotonic()
        try:
            response = await http.post(f"/ml/v4/deployments/{deployment}/predictions", params=V, json=ROW)
        except httpx.HTTPError as exc:
            seen.failures.append(f"{type(exc).__name__}: {exc}")
            continue
        if response.status_code != 200:
            seen.failures.append(f"{response.status_code}: {response.text[:200]}")
        else:
            seen.answers.append((sent, response.headers["Champion-Model-Version"]))


async def swap_back_and_forth(http: httpx.AsyncClient, ids: tuple[str, str, str], seen: Observed) -> None:
    space, model, deployment = ids
    for swap in range(SWAPS):
        rev = "2" if swap % 2 == 0 else "1"
        patch = [{"op": "replace", "path": "/asset", "value": {"id": model, "rev": rev}}]
        response = await http.patch(f"/ml/v4/deployments/{deployment}", params={**V, "space_id": space}, json=patch)
        assert response.status_code == 202, response.text
        deadline = time.monotonic() + 60
        while True:
            details = (await http.get(f"/ml/v4/deployments/{deployment}", params={"space_id": space})).json()
            status = details["entity"]["status"]
            if status["state"] == "ready":
                assert "failure" not in status, status
                assert details["entity"]["asset"]["rev"] == rev
                seen.switches.append((time.monotonic(), f"{model}:{rev}"))
                break
            assert time.monotonic() < deadline, "a replacement never ended"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # let traffic run on the new champion for a moment


async def run(server: RunningServer, ids: tuple[str, str, str]) -> Observed:
    seen, stop = Observed(), asyncio.Event()
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    limits = httpx.Limits(max_connections=CLIENTS + 2)
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30, limits=limits) as http:
        clients = [asyncio.create_task(predict_forever(http, ids[2], seen, stop)) for _ in range(CLIENTS)]
        try:
            await asyncio.wait_for(swap_back_and_forth(http, ids, seen), timeout=240)
        finally:
            stop.set()
            await asyncio.gather(*clients)
    return seen


def test_no_request_fails_or_sees_the_old_model_after_a_swap(
    server: RunningServer, model_files: ModelFiles, tmp_path_factory: pytest.TempPathFactory
) -> None:
    retrained = build_variants(tmp_path_factory.mktemp("candidates"))["retrained"]
    ids = set_up(server, model_files, retrained)
    seen = asyncio.run(run(server, ids))
    versions = {f"{ids[1]}:1", f"{ids[1]}:2"}
    assert seen.failures == [], seen.failures[:5]
    assert len(seen.switches) == SWAPS
    assert len(seen.answers) > 10 * SWAPS, "the load was too light to prove anything"
    assert {version for _, version in seen.answers} == versions
    for (ready_at, serving), following in zip(seen.switches, [*seen.switches[1:], (float("inf"), "")], strict=True):
        after = [version for sent, version in seen.answers if ready_at < sent < following[0] - 5]
        stale = [version for version in after if version != serving]
        assert stale == [], f"{len(stale)} answers from the old model after the swap to {serving} was ready"
