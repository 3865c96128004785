"""`champion serve` prepares the home folder and database in the process that then serves.

The command line checks its address and execs into `champion.server`, which migrates, does the
start-up housekeeping, greets and serves: one import of the database layer and the services instead
of one per process. A start that had to migrate execs once more, so that Alembic does not stay
resident in the server. Which process serves shows in its command line: `champion.server` with the
greeting still in its options is the one that prepared.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.servers import RunningServer, running_server


def _served_where_prepared(server: RunningServer) -> bool:
    arguments = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
    assert arguments[1:3] == [b"-m", b"champion.server"], arguments
    return "greeting" in json.loads(arguments[3])


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
