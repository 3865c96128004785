"""Space export and import through the WML face in-process, and `champion spaces` against a live server."""

from __future__ import annotations

import io
import re
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from champion.app import create_app
from champion.cli import app as cli
from champion.config import Settings
from champion.context import open_context
from champion.users import service as users
from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import ModelFiles
from tests.servers import free_port

LIMIT = 200_000
FILE_NAME = re.compile(r'^attachment; filename="team-\d{8}-\d{6}\.tar\.gz"$')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("transfer-home"), "alice", "bob", "mallory", max_upload_bytes=LIMIT) as server:
        yield server


def new_space(server: Server, name: str, viewer: str | None = None) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": name}).json()["metadata"]["id"]
    if viewer:
        members = {"members": [{"id": server.ids[viewer], "type": "user", "role": "viewer"}]}
        server.call("POST", f"/v2/spaces/{space_id}/members", json=members)
    return space_id


@pytest.fixture(scope="module")
def team(server: Server, model_files: ModelFiles) -> str:
    """A space with a model and a ready deployment serving it; bob is a viewer."""
    space_id = new_space(server, "team", viewer="bob")
    model_id = upload_model(server, space_id, model_files.classifier_named.read_bytes(), name="churn")
    created = deploy(server, space_id, model_id, name="churn-online")
    assert wait_until_settled(server, space_id, created["metadata"]["id"])["entity"]["status"]["state"] == "ready"
    return space_id


@pytest.fixture(scope="module")
def archive(server: Server, team: str) -> bytes:
    response = server.call("GET", f"/v2/spaces/{team}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/gzip"
    assert FILE_NAME.match(response.headers["content-disposition"]), response.headers["content-disposition"]
    return response.content


def import_(server: Server, space_id: str, who: str = "alice", **kwargs: Any) -> httpx.Response:
    return server.call("POST", f"/v2/spaces/{space_id}/import", who=who, **kwargs)


def test_export_downloads_the_space_as_a_tar_gz(archive: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = tar.getnames()
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
    assert names[0] == "manifest.json" and len(names) == 2 and names[1].startswith("blobs/")
    assert b'"churn-online"' in manifest


def test_import_an_uploaded_archive_and_the_deployment_becomes_ready(server: Server, archive: bytes) -> None:
    target = new_space(server, "copy")
    response = import_(server, target, content=archive, headers={"Content-Type": "application/gzip"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["space_id"] == target and report["source"]["space_name"] == "team"
    assert report["summary"] == {"created": 2, "new_revisions": 0, "replaced": 0, "unchanged": 0, "skipped": 0}
    model, deployment = report["items"]
    assert set(model) == {"type", "name", "outcome", "id", "revisions", "reason"}
    assert (model["type"], model["name"], model["outcome"], model["revisions"]) == ("model", "churn", "created", [1])
    assert (deployment["type"], deployment["outcome"]) == ("deployment", "created")
    settled = wait_until_settled(server, target, deployment["id"])
    assert settled["entity"]["status"]["state"] == "ready"
    assert settled["entity"]["asset"] == {"id": model["id"], "rev": "1"}

    again = import_(server, target, content=archive)
    assert again.status_code == 200 and again.json()["summary"]["unchanged"] == 2


def test_space_to_space_import(server: Server, team: str) -> None:
    target = new_space(server, "from-team")
    response = import_(server, target, params={"from_space": team})
    assert response.status_code == 200, response.text
    assert [item["outcome"] for item in response.json()["items"]] == ["created", "created"]
    assert_wml_error(import_(server, target, params={"from_space": "no-such-space"}), 404)


def test_garbage_is_a_400_naming_the_archive_and_writes_nothing(server: Server) -> None:
    target = new_space(server, "garbage")
    assert_wml_error(import_(server, target, content=b"this is no archive" * 100), 400, "archive")
    assert_wml_error(import_(server, target, content=b""), 400, "content")
    listed = server.call("GET", "/ml/v4/models", params={"space_id": target}).json()
    assert listed["resources"] == []


def test_an_archive_over_the_upload_limit_gets_413(server: Server) -> None:
    target = new_space(server, "big")
    assert_wml_error(import_(server, target, content=b"\0" * (LIMIT + 1)), 413)


def test_roles(server: Server, team: str, archive: bytes) -> None:
    assert server.call("GET", f"/v2/spaces/{team}/export", who="bob").status_code == 200  # a viewer may export
    assert_wml_error(import_(server, team, who="bob", content=archive), 403)
    assert_wml_error(import_(server, team, who="mallory", content=archive), 404)
    assert_wml_error(server.call("GET", f"/v2/spaces/{team}/export", who="mallory"), 404)


runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real server on a loopback port, in a thread; yields its URL and an API key."""
    context = open_context(Settings(home=tmp_path_factory.mktemp("transfer-cli-home")))
    with context.sessions() as session:
        key = users.issue_key(session, user_id=users.create_user(session, name="carol").id).secret
    port = free_port()
    config = uvicorn.Config(
        create_app(context=context), host="127.0.0.1", port=port, loop="asyncio", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="champion-transfer-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        context.close()


def test_cli_round_trip(live: tuple[str, str], model_files: ModelFiles, tmp_path: Path) -> None:
    url, key = live
    options = ["--server", url, "--api-key", key]

    def space(name: str) -> str:
        created = httpx.post(f"{url}/v2/spaces", json={"name": name}, headers={"Authorization": f"Bearer {key}"})
        space_id: str = created.json()["metadata"]["id"]
        return space_id

    source, target = space("source"), space("target")
    uploaded = runner.invoke(cli, ["models", "upload", str(model_files.classifier_named), "--space", source, *options])
    assert uploaded.exit_code == 0, uploaded.output

    output = tmp_path / "source.tar.gz"
    exported = runner.invoke(cli, ["spaces", "export", source, "--output", str(output), *options])
    assert exported.exit_code == 0, exported.output
    assert f"exported space {source} to {output}" in exported.output and tarfile.is_tarfile(output)
    assert not output.with_name("source.tar.gz.part").exists()

    imported = runner.invoke(cli, ["spaces", "import", target, str(output), *options])
    assert imported.exit_code == 0, imported.output
    (row,) = [line for line in imported.output.splitlines() if "classifier" in line]
    assert "model" in row and "created" in row
    assert f"imported 'source' into space {target}: 1 created" in imported.output

    direct = runner.invoke(cli, ["spaces", "import", target, "--from-space", source, *options])
    assert direct.exit_code == 0, direct.output
    assert "1 unchanged" in direct.output

    neither = runner.invoke(cli, ["spaces", "import", target, *options])
    assert neither.exit_code == 1 and "either an archive FILE or --from-space" in neither.output
    missing = runner.invoke(cli, ["spaces", "export", "no-such-space", "--output", str(tmp_path / "x"), *options])
    assert missing.exit_code == 1 and "404" in missing.output and not (tmp_path / "x").exists()
