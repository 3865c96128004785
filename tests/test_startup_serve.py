"""`champion serve` prepares the home folder and database beside the process that then serves.

The command line checks its address and execs into `champion.server`, which forks a child that
migrates, does the start-up housekeeping and greets, while the server imports what it serves; the
server waits for the child before it opens the database, and fails with it. Nothing the preparation
imports (Alembic, after migrating) is ever in the server, so no start execs again: the process that
serves is the one `champion serve` became, its options still holding the greeting.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from champion.db import HEAD
from tests.servers import RunningServer, cli_env, free_port, running_server, stop, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent


def _serves_as_champion_serve_became(server: RunningServer) -> bool:
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


def test_a_first_start_and_a_restart_both_serve_from_the_process_champion_serve_became(tmp_path: Path) -> None:
    with running_server(tmp_path, tls=False) as first:
        assert _answers(first) == 200
        assert _serves_as_champion_serve_became(first)  # it migrated, in the child
        key = first.admin_api_key
    with running_server(tmp_path, tls=False, admin_key=key) as again:
        assert _answers(again) == 200
        assert _serves_as_champion_serve_became(again)
        said = again.log.read_text()
        # Greeted once, by the preparation, before the server started.
        assert said.count("champion is serving at") == 1
        assert said.index("champion is serving at") < said.index("Started server process")


def test_the_preparation_migrates_and_greets_in_a_child_and_leaves_nothing_in_the_server(tmp_path: Path) -> None:
    done = _python(
        """
        import json, sys
        from champion.server import prepare_aside, wait_for_preparation

        greeting = {"url": "http://127.0.0.1:1", "insecure": False, "called": "champion"}
        wait_for_preparation(prepare_aside(greeting))
        names = {m.split(".")[0] for m in sys.modules} | {m for m in sys.modules if m.startswith("champion.")}
        print("\\n" + json.dumps(sorted(names)))
        """,
        tmp_path,
        CHAMPION_ADMIN_API_KEY="chp_0123456789ab.preparation-test-key-0123456789abcdef",
    )
    assert done.returncode == 0, done.stderr
    assert "champion is serving at http://127.0.0.1:1" in done.stdout
    names = set(json.loads(done.stdout.rstrip().splitlines()[-1]))
    assert names & {"alembic", "sqlalchemy", "rich", "champion.context", "champion.config"} == set()
    engine = create_engine(f"sqlite:///{tmp_path / 'champion.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        admins = connection.execute(text("SELECT name FROM users WHERE is_admin")).scalars().all()
    engine.dispose()
    assert admins == ["admin"]


def test_a_preparation_that_fails_ends_the_server_with_its_status_before_it_serves(tmp_path: Path) -> None:
    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "workers": 1, "ssl_certfile": None, "ssl_keyfile": None}
    options["greeting"] = {"url": f"http://127.0.0.1:{port}", "insecure": False, "called": "champion"}
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'champion.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "champion.server", json.dumps(options)],
        cwd=ROOT,
        env=cli_env(tmp_path / "home", CHAMPION_DATABASE_URL=unreachable),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "unable to open database file" in done.stderr  # the child's traceback says why
    assert "champion is serving at" not in done.stdout
    assert "Started server process" not in done.stderr


def test_the_server_imports_with_the_collector_off_and_the_app_turns_it_on_once_models_are_loaded(
    tmp_path: Path,
) -> None:
    done = _python(
        """
        import asyncio, gc
        import uvicorn
        from champion import server
        from champion.config import Settings
        from champion.context import open_context

        open_context(Settings()).close()  # migrated, as the preparation would have

        def serve(target, **options):
            print("collector while importing:", gc.isenabled())
            from champion.app import serving_app

            async def start_and_stop():
                app = serving_app()
                async with app.router.lifespan_context(app):
                    print("collector once started:", gc.isenabled(), gc.get_freeze_count() > 0)

            asyncio.run(start_and_stop())

        uvicorn.run = serve
        server.run({"host": "127.0.0.1", "port": 1, "workers": 1})
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
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
