"""Prediction capture on a real `champion serve --workers 2`, across a restart.

Both workers answer (their own meters say so), and every row either answered is captured: the rows
in capture files, the association ids indexed and the requests in the service windows all equal
what was sent, including what was still in a worker's buffer when the server stopped (the writer
flushes at shutdown). A second server on the same home finds all of it, and the actuals.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from champion.config import Settings
from champion.context import open_context
from champion.monitoring import service as monitoring
from champion.monitoring.tables import AssociatedPrediction, CaptureFile, ServiceWindow
from champion.monitoring.types import ActualIn
from champion.users import service as users
from tests.meters.test_metrics_workers import answered_by, auth, meters_directory, workers
from tests.model_files import FEATURES, ModelFiles
from tests.servers import RunningServer, running_server

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the workers through /proc")

V = {"version": "2026-10-14"}
ROUND = 20
ROWS_PER_REQUEST = 3
FLUSH = {"CHAMPION_CAPTURE_FLUSH_SECONDS": "0.3"}


def deploy(server: RunningServer, model_files: ModelFiles) -> tuple[str, str]:
    with httpx.Client(base_url=server.url, headers=auth(server), timeout=30) as http:
        space = http.post("/v2/spaces", json={"name": "captured"}).json()["metadata"]["id"]
        spec = http.get("/v2/software_specifications").json()["resources"][0]["metadata"]["asset_id"]
        body = {"name": "m", "type": "scikit-learn_1.3", "software_spec": {"id": spec}, "space_id": space}
        model = http.post("/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
        content = model_files.classifier_named.read_bytes()
        assert http.put(f"/ml/v4/models/{model}/content", params={"space_id": space}, content=content).is_success
        body = {"name": "d", "online": {}, "asset": {"id": model}, "space_id": space}
        deployment: str = http.post("/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
        deadline = time.monotonic() + 30
        while (
            http.get(f"/ml/v4/deployments/{deployment}", params={"space_id": space}).json()["entity"]["status"]["state"]
            != "ready"
        ):
            assert time.monotonic() < deadline, "the deployment never became ready"
            time.sleep(0.1)
        settings = {"association_id": {"column_names": ["ticket"], "required_in_prediction_requests": True}}
        url = f"/ml/v4/deployments/{deployment}/settings"
        assert http.patch(url, params={**V, "space_id": space}, json=settings).status_code == 200
    return space, deployment


async def predict(server: RunningServer, deployment: str, tickets: Any, count: int) -> None:
    async def one() -> None:
        # A client per request: a new connection each, free to land on either worker.
        rows = [[next(tickets), 0.1 * i, -0.2, 0.3] for i in range(ROWS_PER_REQUEST)]
        body = {"input_data": [{"fields": ["ticket", *FEATURES], "values": rows}]}
        async with httpx.AsyncClient(base_url=server.url, headers=auth(server), timeout=30) as http:
            response = await http.post(f"/ml/v4/deployments/{deployment}/predictions", params=V, json=body)
            assert response.status_code == 200, response.text

    await asyncio.gather(*(one() for _ in range(count)))


def stored(home: Path) -> tuple[int, int, int]:
    """Captured rows, indexed association ids and requests in the service windows, read from the home."""
    context = open_context(Settings(home=home))
    try:
        with context.sessions() as session:
            rows = session.scalar(select(func.coalesce(func.sum(CaptureFile.rows), 0)))
            ids = session.scalar(select(func.count()).select_from(AssociatedPrediction))
            requests = session.scalar(select(func.coalesce(func.sum(ServiceWindow.requests), 0)))
            return int(rows or 0), int(ids or 0), int(requests or 0)
    finally:
        context.close()


def test_every_workers_capture_lands_and_survives_a_restart(
    tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles
) -> None:
    root = tmp_path_factory.mktemp("capture-workers")
    tickets = (f"t-{n}" for n in itertools.count())
    sent = 0
    with running_server(root, tls=False, workers=2, **FLUSH) as server:
        _, deployment = deploy(server, model_files)
        time.sleep(1.0)  # both workers' followers pick the association id setting up
        pids = workers(server)
        assert len(pids) == 2, pids
        directory = meters_directory(pids[0])
        while sent < 400 and not all(answered_by(directory, pid) for pid in pids):
            asyncio.run(predict(server, deployment, tickets, ROUND))
            sent += ROUND
        assert all(answered_by(directory, pid) for pid in pids), "one worker answered everything"
        admin_key = server.admin_api_key
    # Stopped: whatever a worker still held was flushed on the way out.
    assert stored(root / "home") == (sent * ROWS_PER_REQUEST, sent * ROWS_PER_REQUEST, sent)

    with running_server(root, tls=False, workers=2, admin_key=admin_key, **FLUSH) as again:
        context = open_context(Settings(home=again.home))
        try:
            with context.sessions() as session:
                admin = users.actor_of(users.find_user(session, name="admin"))
                actuals = [ActualIn(association_id=f"t-{n}", value=1) for n in range(sent * ROWS_PER_REQUEST)]
                receipt = monitoring.submit_actuals(session, admin, deployment_id=deployment, actuals=actuals)
                assert receipt.matched == sent * ROWS_PER_REQUEST and receipt.unmatched_ids == []
                figures = monitoring.accuracy(
                    session, admin, deployment_id=deployment, span=monitoring.period(None, None)
                )
                assert figures.rows == sent * ROWS_PER_REQUEST
        finally:
            context.close()
        assert stored(again.home) == (sent * ROWS_PER_REQUEST, sent * ROWS_PER_REQUEST, sent)
