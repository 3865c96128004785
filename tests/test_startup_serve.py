"""`champion serve` prepares the home folder and database in the process that then serves.

The command line checks its address and execs into `champion.server`, which migrates, does the
start-up housekeeping, greets and serves: one import of the database layer and the services instead
of one per process. A start that had to migrate execs once more, so that Alembic does not stay
resident in the server. Which process serves shows in its command line: `champion.server` with the
greeting still in its options is the one that prepared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import RunningServer, cli_env, free_port, running_server, stop, wait_until_ready


def _served_where_prepared(server: RunningServer) -> bool:
    arguments = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
    module = arguments.index(b"-m")
    assert arguments[module + 1] == b"champion.server", arguments
    return "greeting" in json.loads(arguments[module + 2])


def _answers(server: RunningServer) -> int:
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    return httpx.get(f"{server.url}/v2/spaces", headers=headers, timeout=30).status_code


def test_a_restart_serves_from_the_process_that_prepared_and_a_migrating_start_from_a_fresh_one(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path, tls=False) as first:
        assert _answers(first) == 200
        assert not _served_where_prepared(first)  # it migrated: Alembic stays behind
        key = first.admin_api_key
    with running_server(tmp_path, tls=False, admin_key=key) as again:
        assert _answers(again) == 200
        assert _served_where_prepared(again)
        assert "champion is serving at" in again.log.read_text()


def test_the_serving_process_keeps_the_working_folder_off_its_path_when_the_command_did(tmp_path: Path) -> None:
    """`python -P -m champion serve` (how the bench runs an older champion): the exec'd process too."""
    decoy = tmp_path / "champion"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the working folder was on sys.path')\n")
    command = [sys.executable, "-P", "-m", "champion", "serve", "--no-tls", "--port", str(free_port())]
    command += ["--host", "127.0.0.1", "--home", str(tmp_path / "home")]
    log = tmp_path / "output.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=cli_env(tmp_path / "home"), cwd=tmp_path
        )
    try:
        wait_until_ready(process, f"http://127.0.0.1:{command[command.index('--port') + 1]}", log)
    finally:
        stop(process)
