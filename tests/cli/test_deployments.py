"""`champion deployments ...` and `champion score` against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
import uvicorn
from typer.testing import CliRunner, Result

from champion.app import create_app
from champion.cli import app
from champion.config import Settings
from champion.context import open_context
from champion.users import service as users
from tests.model_files import ModelFiles, build_failing, training_data

runner = CliRunner(env={"COLUMNS": "250"})
READY = re.compile(r"deployment \S+ id (?P<id>[0-9a-f-]{36}) is ready")
UPLOADED = re.compile(r"model \S+ id (?P<id>[0-9a-f-]{36}) revision 1")


@dataclass(frozen=True)
class Live:
    url: str
    key: str
    space: str

    def run(self, *args: str, key: str | None = None) -> Result:
        """Run a CLI command against this server."""
        return runner.invoke(app, [*args, "--server", self.url, "--api-key", key or self.key])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    context = open_context(Settings(home=tmp_path_factory.mktemp("cli-home")))
    with context.sessions() as session:
        user = users.create_user(session, name="carol")
        key = users.issue_key(session, user_id=user.id).secret
    port = _free_port()
    config = uvicorn.Config(
        create_app(context=context), host="127.0.0.1", port=port, loop="asyncio", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="champion-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    created = httpx.post(f"{url}/v2/spaces", json={"name": "cli"}, headers={"Authorization": f"Bearer {key}"})
    try:
        yield Live(url, key, created.json()["metadata"]["id"])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        context.close()


def upload(live: Live, path: Path) -> str:
    result = live.run("models", "upload", str(path), "--space", live.space)
    assert result.exit_code == 0, result.output
    found = UPLOADED.search(result.output)
    assert found, result.output
    return found["id"]


@pytest.fixture(scope="module")
def model_id(live: Live, model_files: ModelFiles) -> str:
    return upload(live, model_files.classifier_named)


@pytest.fixture(scope="module")
def deployment(live: Live, model_id: str) -> str:
    result = live.run("deployments", "create", "--space", live.space, "--model", model_id, "--name", "churn")
    assert result.exit_code == 0, result.output
    found = READY.search(result.output)
    assert found, result.output
    return found["id"]


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    frame, _ = training_data(rows=2500, seed=7)
    path = tmp_path_factory.mktemp("csv") / "input.csv"
    frame.to_csv(path, index=False)
    return path, pd.read_csv(path)


def test_list_and_get_show_the_deployment(live: Live, deployment: str, model_id: str) -> None:
    listed = live.run("deployments", "list", "--space", live.space)
    assert listed.exit_code == 0, listed.output
    (line,) = [line for line in listed.output.splitlines() if deployment in line]
    assert "churn" in line and "online" in line and "ready" in line and f"{model_id}:1" in line

    table = live.run("deployments", "get", deployment, "--space", live.space)
    assert table.exit_code == 0, table.output
    assert "ready" in table.output and f"/ml/v4/deployments/{deployment}/predictions" in table.output

    as_json = live.run("deployments", "get", deployment, "--space", live.space, "--json")
    assert as_json.exit_code == 0, as_json.output
    details = json.loads(as_json.stdout)
    assert details["metadata"]["id"] == deployment and details["entity"]["asset"] == {"id": model_id, "rev": "1"}


def test_score_a_csv_in_chunks_like_the_model(
    live: Live,
    deployment: str,
    model_id: str,
    model_files: ModelFiles,
    csv_file: tuple[Path, pd.DataFrame],
    tmp_path: Path,
) -> None:
    path, frame = csv_file
    output = tmp_path / "scored.csv"
    result = live.run("score", deployment, str(path), "--output", str(output))
    assert result.exit_code == 0, result.output
    assert f"model version {model_id}:1" in result.output

    scored = pd.read_csv(output)
    estimator = joblib.load(model_files.classifier_named)
    assert list(scored.columns) == [*frame.columns, "prediction", "probability_0", "probability_1"]
    pd.testing.assert_frame_equal(scored[frame.columns], frame)
    assert scored["prediction"].tolist() == estimator.predict(frame).tolist()
    np.testing.assert_allclose(scored[["probability_0", "probability_1"]], estimator.predict_proba(frame))


def test_score_prints_csv_to_standard_output(live: Live, deployment: str, tmp_path: Path) -> None:
    frame, _ = training_data(rows=3, seed=2)
    path = tmp_path / "few.csv"
    frame.to_csv(path, index=False)
    result = live.run("score", deployment, str(path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "x1,x2,x3,prediction,probability_0,probability_1" and len(lines) == 4
    assert "model version" in result.stderr and "model version" not in result.stdout


def test_a_bad_csv_ends_with_the_servers_message(live: Live, deployment: str, tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    pd.DataFrame({"x1": [1.0], "x2": [2.0]}).to_csv(path, index=False)
    result = live.run("score", deployment, str(path))
    assert result.exit_code == 1
    assert "400 (rows 1-1)" in result.output and "input_data[0].fields" in result.output


def test_create_that_fails_exits_1_with_the_reason(live: Live, tmp_path: Path) -> None:
    failing = upload(live, build_failing(tmp_path))
    result = live.run("deployments", "create", "--space", live.space, "--model", failing, "--name", "doomed")
    assert result.exit_code == 1
    assert "failed" in result.output and "refuses all-zero rows" in result.output


def test_server_errors_exit_1_with_the_message(live: Live) -> None:
    unknown = live.run("deployments", "create", "--space", live.space, "--model", "nope", "--name", "x")
    assert unknown.exit_code == 1 and "asset.id" in unknown.output
    bad_key = live.run("deployments", "list", "--space", live.space, key="chp_nope.nope")
    assert bad_key.exit_code == 1 and "401" in bad_key.output and "API key" in bad_key.output
    nowhere = runner.invoke(
        app, ["deployments", "list", "--space", "s", "--server", "http://127.0.0.1:9", "--api-key", "chp_x.y"]
    )
    assert nowhere.exit_code == 1 and "cannot talk to http://127.0.0.1:9" in nowhere.output


def test_delete_by_id_after_scoring_by_serving_name(
    live: Live, model_id: str, csv_file: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    args = ("--space", live.space, "--model", model_id, "--rev", "1", "--name", "brief", "--serving-name", "brief_v1")
    created = live.run("deployments", "create", *args)
    assert created.exit_code == 0, created.output
    found = READY.search(created.output)
    assert found, created.output
    scored = live.run("score", "brief_v1", str(csv_file[0]), "--output", str(tmp_path / "out.csv"))
    assert scored.exit_code == 0, scored.output

    deleted = live.run("deployments", "delete", found["id"], "--space", live.space)
    assert deleted.exit_code == 0 and f"deleted deployment {found['id']}" in deleted.output
    gone = live.run("deployments", "get", found["id"], "--space", live.space)
    assert gone.exit_code == 1 and "404" in gone.output
