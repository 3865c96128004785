"""A champion whose file is gone or damaged when the server starts: the deployment says it failed, the
readiness probe says so, and activating it once the file is back repairs it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from champion.app import create_app
from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.models.tables import ModelVersion
from champion.operations.tables import Operation
from champion.users import service as users
from tests.api.test_wml_deployments import V, deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error
from tests.model_files import FEATURES, ModelFiles

ROW = {"input_data": [{"fields": FEATURES, "values": [[0.1, 0.2, 0.3]]}]}


@contextmanager
def running(context: ServerContext, keys: dict[str, str], ids: dict[str, str]) -> Iterator[Server]:
    """The app started (and stopped again) over `context`: a server restart that keeps the home folder."""
    with TestClient(create_app(context=context)) as client:
        yield Server(client, context, keys, ids)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[ServerContext, dict[str, str], dict[str, str]]]:
    context = open_context(Settings(home=tmp_path / "home"))
    with context.sessions() as session:
        alice = users.create_user(session, name="alice")
        keys, ids = {"alice": users.issue_key(session, user_id=alice.id).secret}, {"alice": alice.id}
    yield context, keys, ids
    context.close()


def blob_of(context: ServerContext, model_id: str) -> Path:
    with context.sessions() as session:
        version = session.query(ModelVersion).filter_by(model_id=model_id).one()
        return context.store.open_path(version.sha256)


def eventually_status(server: Server, deployment_id: str, status: int, seconds: float = 5) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        response = server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", params=V, json=ROW)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_champion_that_cannot_be_loaded_at_start_fails_the_deployment_until_repaired(
    home: tuple[ServerContext, dict[str, str], dict[str, str]], model_files: ModelFiles, tmp_path: Path, damage: str
) -> None:
    context, keys, ids = home
    with running(context, keys, ids) as server:
        space = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
        model_id = upload_model(server, space, model_files.classifier_named.read_bytes())
        deployment_id = deploy(server, space, model_id)["metadata"]["id"]
        assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"

    blob = blob_of(context, model_id)
    kept = tmp_path / "kept"
    shutil.copy(blob, kept)
    if damage == "missing":
        blob.unlink()
    else:
        blob.write_bytes(b"not a model any more")

    with running(context, keys, ids) as server:
        details = wait_until_settled(server, space, deployment_id)
        status = details["entity"]["status"]
        assert status["state"] == "failed"
        (failure,) = status["failure"]["errors"]
        assert failure["code"] == "model_unavailable" and "cannot be loaded" in failure["message"]
        probe = server.call("GET", "/v2/health/ready", who=None)
        assert probe.status_code == 503 and probe.json()["ready"] is False
        assert "1 deployment" in probe.json()["reason"]
        # Once this process follows the failure (a tenth of a second), predictions are refused as not ready.
        assert_wml_error(eventually_status(server, deployment_id, 409), 409)

        # The file is back: activating the failed deployment deploys its champion again.
        shutil.copy(kept, blob)
        activated = server.call("PATCH", f"/api/v2/deployments/{deployment_id}/status/", json={"status": "active"})
        assert activated.status_code in (200, 202), activated.text
        assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
        assert server.call("GET", "/v2/health/ready", who=None).json() == {"ready": True}
        scored = server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", params=V, json=ROW)
        assert scored.status_code == 200 and scored.headers["Champion-Model-Version"] == f"{model_id}:1"


def test_a_deployment_failed_at_its_first_deploy_does_not_make_the_server_unready(
    home: tuple[ServerContext, dict[str, str], dict[str, str]], model_files: ModelFiles
) -> None:
    """Readiness is about models that served and were lost, not about a bad upload failing to deploy."""
    context, keys, ids = home
    with running(context, keys, ids) as server:
        space = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
        model_id = upload_model(server, space, model_files.classifier_named.read_bytes())
        blob_of(context, model_id).unlink()
        deployment_id = deploy(server, space, model_id)["metadata"]["id"]
        status = wait_until_settled(server, space, deployment_id)["entity"]["status"]
        assert status["state"] == "failed" and status["failure"]["errors"][0]["code"] == "deployment_failed"
        assert server.call("GET", "/v2/health/ready", who=None).json() == {"ready": True}


def test_deleting_a_deployment_mid_deploy_ends_its_operation_at_once(tmp_path: Path, model_files: ModelFiles) -> None:
    """The deploy waited for every process to load a deployment no follower would ever load again:
    the whole load timeout, and a server stop waited with it."""
    context = open_context(Settings(home=tmp_path / "home", load_timeout_seconds=30))
    with context.sessions() as session:
        alice = users.create_user(session, name="alice")
        keys, ids = {"alice": users.issue_key(session, user_id=alice.id).secret}, {"alice": alice.id}
    try:
        with running(context, keys, ids) as server:
            space = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
            model_id = upload_model(server, space, model_files.classifier_named.read_bytes())
            doomed = []
            for _ in range(8):  # some deletes land after the runner checked the deployment exists
                deployment_id = deploy(server, space, model_id)["metadata"]["id"]
                time.sleep(0.005)
                deleted = server.call("DELETE", f"/ml/v4/deployments/{deployment_id}", params={"space_id": space})
                assert deleted.status_code == 204
                doomed.append(deployment_id)
            deadline = time.monotonic() + 5
            while unfinished := operations_of(context, doomed):
                assert time.monotonic() < deadline, f"still waiting: {unfinished}"
                time.sleep(0.05)
    finally:
        context.close()


def operations_of(context: ServerContext, deployment_ids: list[str]) -> list[str]:
    """The operations of these deployments that have not ended."""
    with context.sessions() as session:
        rows = session.query(Operation).filter(Operation.target_id.in_(deployment_ids)).all()
        return [f"{row.kind} {row.state}" for row in rows if row.state not in ("succeeded", "failed")]
