"""`champion serve` prepares the home folder and database in the process that then serves.

The command line checks its address and execs into `champion.server`, which migrates, does the
start-up housekeeping, greets and serves: one import of the database layer and the services instead
of one per process. A start that had to migrate execs once more, so that Alembic does not stay
resident in the server. Which process serves shows in its command line: `champion.server` with the
greeting still in its options is the one that prepared. The serving process imports with the
cyclic collector off, and its app turns it back on once the models are loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from tests.servers import RunningServer, cli_env, free_port, running_server, stop, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent


def _served_where_prepared(server: RunningServer) -> bool:
    arguments = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
    module = arguments.index(b"-m")
    assert arguments[module + 1] == b"champion.server", arguments
    return "greeting" in json.loads(arguments[module + 2])


def _answers(server: RunningServer) -> int:
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    return httpx.get(f"{server.url}/v2/spaces", headers=headers, timeout=30).status_code


def _python(code: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter, with `home` as the data folder."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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


def test_the_server_imports_with_the_collector_off_and_the_app_turns_it_on_once_models_are_loaded(
    tmp_path: Path,
) -> None:
    # Migrated first: a start that migrates execs once more, into a process this test does not see.
    migrated = _python(
        """
        from champion.config import Settings
        from champion.context import open_context

        open_context(Settings()).close()
        """,
        tmp_path,
    )
    assert migrated.returncode == 0, migrated.stderr
    done = _python(
        """
        import asyncio, gc
        import uvicorn
        from champion import server

        def serve(target, **options):
            print("collector while importing:", gc.isenabled())
            from champion.app import serving_app

            async def start_and_stop():
                app = serving_app()
                async with app.router.lifespan_context(app):
                    print("collector once started:", gc.isenabled(), gc.get_freeze_count() > 0)

            asyncio.run(start_and_stop())

        uvicorn.run = serve
        greeting = {"url": "http://127.0.0.1:1", "insecure": False, "called": "champion"}
        server.run({"host": "127.0.0.1", "port": 1, "workers": 1, "greeting": greeting})
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "champion is serving at" in done.stdout  # prepared here, in the process that then serves
    assert "collector while importing: False" in done.stdout
    assert "collector once started: True True" in done.stdout


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
