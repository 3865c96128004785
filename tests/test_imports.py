"""Import only what runs: the CLI's help and a serving process without models load no framework.

Each check runs a fresh interpreter and reads its `sys.modules`, so what this test process has
imported already does not count. Not a timing test: it fails when a module-level import drags a
framework (or the server, for the CLI) in again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from champion.cli import COMMANDS, built

ROOT = Path(__file__).resolve().parent.parent

FRAMEWORKS = frozenset(
    {
        "sklearn",
        "scipy",
        "pandas",
        "pyarrow",
        "arro3",
        "xgboost",
        "lightgbm",
        "onnx",
        "onnxruntime",
        "skl2onnx",
        "onnxmltools",
    }
)
"""Loaded when a model, a job, a capture file or a monitoring query needs them, never at start."""

SERVER = frozenset({"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "pydantic_settings", "httpx", "jinja2"})
"""What `champion --help` has no use for."""


def loaded(code: str, *, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages, and champion's own modules, a fresh interpreter holds after `code`."""
    report = textwrap.dedent(
        """
        import json, sys
        names = {m.split(".")[0] for m in sys.modules} | {m for m in sys.modules if m.startswith("champion.")}
        print("\\n" + json.dumps(sorted(names)))
        """
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")} | (env or {})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + report],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout.rstrip().splitlines()[-1])
    return set(names)


def test_the_help_imports_no_command() -> None:
    names = loaded(
        """
        import sys
        from champion.cli import main
        sys.argv = ["champion", "--help"]
        try:
            main()
        except SystemExit:
            pass
        """
    )
    assert names & (FRAMEWORKS | SERVER) == set()
    assert {n for n in names if n.startswith("champion.")} == {"champion.cli"}


def test_a_command_that_talks_to_a_server_imports_neither_the_server_nor_a_framework() -> None:
    names = loaded(
        """
        import sys
        from champion.cli import main
        sys.argv = ["champion", "deployments", "--help"]
        try:
            main()
        except SystemExit:
            pass
        """
    )
    assert names & (FRAMEWORKS | SERVER - {"httpx"}) == set()
    assert "champion.context" not in names


def test_serve_execs_without_importing_the_greeting_or_the_server() -> None:
    """`champion serve` only checks its address before it becomes the serving process, which greets."""
    names = loaded(
        """
        import socket, sys
        import champion.server

        # In place of the exec: what the command line holds when it would become the server.
        champion.server.exec_server = lambda options, greeting: None
        from champion.cli import main

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        sys.argv = ["champion", "serve", "--no-tls", "--port", str(port)]
        try:
            main()
        except SystemExit:
            pass
        """
    )
    assert names & (FRAMEWORKS | SERVER | {"rich"}) == set()
    assert {n for n in names if n.startswith("champion.")} == {"champion.cli", "champion.cli.server", "champion.server"}


def test_the_serving_process_loads_no_framework_before_a_model_needs_one(tmp_path: Path) -> None:
    home = {"CHAMPION_HOME": str(tmp_path)}
    # As `champion serve` does, migrations run before the serving process starts (which then finds the
    # schema at its head and leaves Alembic alone).
    loaded(
        """
        from champion.config import Settings
        from champion.context import open_context

        open_context(Settings()).close()
        """,
        env=home,
    )
    names = loaded(
        """
        import asyncio
        from champion.app import create_app

        async def serve_and_stop() -> None:
            app = create_app()
            async with app.router.lifespan_context(app):
                pass

        asyncio.run(serve_and_stop())
        """,
        env=home,
    )
    assert names & (FRAMEWORKS | {"alembic", "typer", "cryptography"}) == set()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_help_lists_each_command_with_its_own_summary(name: str) -> None:
    command = built(name)
    assert command.name == name
    assert command.help == COMMANDS[name].summary
