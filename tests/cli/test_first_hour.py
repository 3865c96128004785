"""What a newcomer meets in the first hour: the CLI against a self-signed server, without a key, its listings,
the model type it sends, and `champion serve` / `make run` on a port already taken."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner, Result

from champion.app import create_app
from champion.cli import app
from champion.config import Settings
from champion.context import open_context
from champion.greeting import greet
from champion.models.software_specs import versioned_type
from champion.tls import self_signed
from champion.users import service as users
from tests.model_files import ModelFiles
from tests.servers import cli_env, free_port

ROOT = Path(__file__).resolve().parents[2]
UPLOADED = re.compile(r"model \S+ id (?P<id>[0-9a-f-]{36}) revision 1")
# No CHAMPION_ variable of the developer's, and no CA bundle: only what each test gives.
runner = CliRunner(env={"COLUMNS": "250", "CHAMPION_SERVER": None, "CHAMPION_URL": None, "CHAMPION_API_KEY": None})


@dataclass(frozen=True)
class Live:
    url: str
    key: str
    space: str
    cert: Path

    def run(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return runner.invoke(app, list(args), env={"CHAMPION_CA_CERT": None, **(env or {})})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """champion over TLS with a self-signed certificate, as `make run` serves, in a thread of this process."""
    home = tmp_path_factory.mktemp("first-hour")
    context = open_context(Settings(home=home))
    with context.sessions() as session:
        user = users.create_user(session, name="newcomer")
        key = users.issue_key(session, user_id=user.id).secret
    cert, cert_key = self_signed(home / "tls")
    port = free_port()
    config = uvicorn.Config(
        create_app(context=context),
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        ws="none",
        log_level="warning",
        ssl_certfile=str(cert),
        ssl_keyfile=str(cert_key),
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="champion-first-hour", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    url = f"https://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    created = httpx.post(f"{url}/v2/spaces", json={"name": "first hour"}, headers=headers, verify=False)
    try:
        yield Live(url, key, created.json()["metadata"]["id"], cert)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        context.close()


def test_a_self_signed_certificate_is_named_and_the_way_out_given(live: Live, model_files: ModelFiles) -> None:
    path = str(model_files.classifier_named)
    result = live.run("models", "upload", path, "--space", live.space, "--server", live.url, "--api-key", live.key)
    assert result.exit_code == 1
    assert "certificate of" in result.output and "is not trusted (self-signed certificate)" in result.output
    assert "--insecure" in result.output and "CHAMPION_CA_CERT=.champion/tls/cert.pem" in result.output
    assert "CERTIFICATE_VERIFY_FAILED" not in result.output


def test_the_certificate_file_can_be_trusted_instead(live: Live, model_files: ModelFiles) -> None:
    path = str(model_files.classifier_named)
    env = {"CHAMPION_CA_CERT": str(live.cert), "CHAMPION_SERVER": live.url, "CHAMPION_API_KEY": live.key}
    result = live.run("models", "upload", path, "--space", live.space, env=env)
    assert result.exit_code == 0, result.output
    assert UPLOADED.search(result.output)


def test_a_missing_ca_file_is_named(live: Live) -> None:
    env = {"CHAMPION_CA_CERT": "/nonexistent/cert.pem", "CHAMPION_API_KEY": live.key}
    result = live.run("deployments", "list", "--space", live.space, "--server", live.url, env=env)
    assert result.exit_code == 1
    assert "CHAMPION_CA_CERT=/nonexistent/cert.pem: not a readable PEM certificate file" in result.output


def test_without_a_key_the_cli_says_the_key_is_missing(live: Live) -> None:
    result = live.run("deployments", "list", "--space", live.space, "--server", live.url, "--insecure")
    assert result.exit_code == 1
    assert "no API key: give --api-key KEY or set CHAMPION_API_KEY" in result.output
    assert "champion keys create admin" in result.output
    assert "Illegal header" not in result.output


def test_the_server_and_key_come_from_the_environment(live: Live) -> None:
    env = {"CHAMPION_SERVER": live.url, "CHAMPION_API_KEY": live.key}
    result = live.run("deployments", "list", "--space", live.space, "--insecure", env=env)
    assert result.exit_code == 0, result.output
    # The older name of the server variable still works.
    env = {"CHAMPION_URL": live.url, "CHAMPION_API_KEY": live.key}
    assert live.run("deployments", "list", "--space", live.space, "--insecure", env=env).exit_code == 0


def test_upload_without_a_type_sends_the_installed_library_version(live: Live, model_files: ModelFiles) -> None:
    path = str(model_files.classifier_named)
    env = {"CHAMPION_SERVER": live.url, "CHAMPION_API_KEY": live.key}
    result = live.run("models", "upload", path, "--space", live.space, "--insecure", env=env)
    assert result.exit_code == 0, result.output
    found = UPLOADED.search(result.output)
    assert found is not None
    details = httpx.get(
        f"{live.url}/ml/v4/models/{found['id']}",
        params={"space_id": live.space, "version": "2026-01-01"},
        headers={"Authorization": f"Bearer {live.key}"},
        verify=False,
    ).json()
    assert details["entity"]["type"] == versioned_type("scikit-learn")
    assert re.fullmatch(r"scikit-learn_\d+\.\d+", details["entity"]["type"])


def test_the_type_help_reads_whole() -> None:
    result = runner.invoke(app, ["models", "upload", "--help"])
    assert f"e.g. {versioned_type('scikit-learn')}" in result.output


def test_user_and_key_ids_are_never_cut_in_a_narrow_terminal(tmp_path: Path) -> None:
    env = {"CHAMPION_HOME": str(tmp_path), "COLUMNS": "60"}
    made = runner.invoke(app, ["users", "create", "a-rather-long-user-name"], env=env)
    assert made.exit_code == 0, made.output
    user_id = re.search(r"id ([0-9a-f-]{36})", made.output)
    key_id = runner.invoke(app, ["keys", "create", "a-rather-long-user-name"], env=env).output.split("key id ")[1]
    assert user_id is not None
    assert user_id.group(1) in runner.invoke(app, ["users", "list"], env=env).output
    assert key_id.split()[0] in runner.invoke(app, ["keys", "list", "a-rather-long-user-name"], env=env).output


def test_serve_on_a_taken_port_says_so_before_anything_else(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "champion", "serve", "--tls", "--port", str(port)]
        result = subprocess.run(
            command, env=cli_env(tmp_path / "home"), capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: port {port} is already in use" in result.stderr
    assert "make run PORT=9443" in result.stderr
    assert "serving at" not in result.stdout + result.stderr
    assert not (tmp_path / "home").exists()  # no database, no admin whose key nobody saw


def test_make_run_takes_the_port() -> None:
    # -o: do not rebuild the environment; -n: print the command only.
    result = subprocess.run(
        # --no-print-directory: under `make test` this make is nested, and would say which folder it enters.
        ["make", "--no-print-directory", "-n", "-o", ".venv/.runtime", "run", "PORT=9443"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("champion serve --tls --port 9443")


def test_a_second_start_says_where_the_admin_key_went(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(admin_api_key=None, admin_user="admin")
    greet("https://127.0.0.1:8443", settings, None, insecure=True)
    said = capsys.readouterr().out
    assert "The API key of admin was shown at the first start" in said
    assert "champion keys create admin" in said
    assert "sign in as admin with your API key" in said
    assert "with that key" not in said


def test_the_suggested_command_is_the_one_that_was_called(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make run` calls `.venv/bin/champion`, which is not on a newcomer's PATH: the greeting says that."""
    monkeypatch.setattr(sys, "argv", [".venv/bin/champion", "serve"])
    settings = Settings(admin_api_key=None, admin_user="admin")
    greet("https://127.0.0.1:8443", settings, None, insecure=True)
    assert ".venv/bin/champion keys create admin" in capsys.readouterr().out
