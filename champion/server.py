"""The server process: uvicorn serving `champion.app`, and nothing else.

`champion serve` prepares the home folder (migrations, first admin, TLS certificate), then
replaces itself with this module through `exec`. The process keeps its PID, so signals and
supervisors see no difference, but none of the command line's imports (Typer, Alembic,
cryptography) nor the memory the migrations touched stays resident beside the models.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import uvicorn


def exec_server(options: dict[str, Any]) -> None:
    """Replace the current process with a fresh interpreter running `run(options)`; never returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "champion.server", json.dumps(options)])


def run(options: dict[str, Any]) -> None:
    uvicorn.run(
        "champion.app:create_app",
        factory=True,
        loop="uvloop",
        http="httptools",
        log_level="info",
        # An idle TLS keep-alive connection otherwise holds shutdown for 30 s.
        timeout_graceful_shutdown=10,
        **options,
    )


if __name__ == "__main__":
    run(json.loads(sys.argv[1]))
