"""The server process: prepares the home folder and database, then uvicorn serves `champion.app`.

`champion serve` checks its address, then replaces itself with this module through `exec`. The
process keeps its PID, so signals and supervisors see no difference, but none of the command line's
imports (Typer, cryptography) stay resident beside the models. Here the home folder and the database
are prepared (migrations, first admin, start-up housekeeping: `context.bootstrap`) and the greeting
said, once, before any worker starts; then this same process serves, finding everything the
preparation imported already there. Only when the preparation left behind what serving has no use
for (Alembic, after migrating), or when uvicorn is to spawn workers from a supervisor that should
stay small, does it exec once more into a process that only serves.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# prometheus_client's name for the directory its multiprocess mode keeps meters in. Spelled out
# rather than imported from champion.meters: that import would bring in prometheus_client,
# which picks in-memory or file-backed values once, at import, from this very variable.
METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
ARROW_MEMORY_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def exec_server(options: dict[str, Any], *, greeting: dict[str, Any] | None = None) -> None:
    """Replace the current process with a fresh interpreter running `run(options)`; never returns.

    With `greeting` (`url`, `insecure`, `called`: how the command was called), that process prepares
    the home folder and the database first, and says so.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    given = {**options, "greeting": greeting} if greeting is not None else options
    # -P as given: `python -P -m champion` keeps the working folder off sys.path (the bench runs an
    # older champion that way), and `-m` would put it back first for the serving process.
    safe_path = ["-P"] if sys.flags.safe_path else []
    os.execv(sys.executable, [sys.executable, *safe_path, "-m", "champion.server", json.dumps(given)])


def run(options: dict[str, Any]) -> None:
    # Only several workers share their meters through files (champion/meters/workers.py):
    # a single process keeps in-memory values, cheaper on every prediction, and its process
    # meters. An inherited variable is dropped either way, before anything can import
    # prometheus_client: its directory may hold another run's files, which would add up with ours.
    os.environ.pop(METRICS_DIRECTORY_VARIABLE, None)
    # pyarrow (batch jobs run in the server) allocates from mimalloc by default, which reserves a 1 GiB
    # arena and keeps the tens of MiB a job touched resident for good; the system's malloc
    # gives them back. Arrow reads this once, when it first allocates; a user's own choice stands.
    os.environ.setdefault(ARROW_MEMORY_POOL_VARIABLE, "system")
    greeting = options.pop("greeting", None)
    if greeting is not None or options.get("workers", 1) == 1:
        # The cyclic collector is off until the models are loaded (the app's lifespan freezes what is
        # alive then and turns it back on), or until the exec below: start-up makes some hundred
        # thousand objects that live as long as the process (modules, classes, then the models), and
        # the collector would walk them over and over while they are made (a tenth of a start's CPU).
        # Not in a supervisor of several workers, which never loads the app.
        gc.disable()
    if greeting is not None:
        lean = prepare(greeting)
        if not lean or options.get("workers", 1) > 1:
            exec_server(options)
    metrics_directory = None
    if options.get("workers", 1) > 1:
        # Fresh and private to this run, so no stale counts and no other server's; the workers
        # inherit the variable when uvicorn spawns them, and nothing here has imported
        # prometheus_client yet (this module imports only uvicorn).
        metrics_directory = _fresh_metrics_directory()
        os.environ[METRICS_DIRECTORY_VARIABLE] = metrics_directory
    # Imported here: `champion serve` imports this module for `exec_server` alone.
    import uvicorn

    try:
        uvicorn.run(
            "champion.app:serving_app",
            factory=True,
            loop="uvloop",
            http="httptools",
            log_level="info",
            # An idle TLS keep-alive connection otherwise holds shutdown for 30 s.
            timeout_graceful_shutdown=10,
            log_config=log_config(),
            **options,
        )
    finally:
        if metrics_directory is not None:
            shutil.rmtree(metrics_directory, ignore_errors=True)


def prepare(greeting: dict[str, Any]) -> bool:
    """Migrate, do the start-up housekeeping and greet; False when that imported what serving never needs.

    A bucket that cannot be used ends the process in one line, before any migration.
    """
    from champion.artifacts.errors import StoreUnavailable
    from champion.config import Settings
    from champion.context import bootstrap, open_context
    from champion.greeting import error, greet

    settings = Settings()
    try:
        context = open_context(settings)
    except StoreUnavailable as exc:
        error(exc.message)
        raise SystemExit(1) from None
    try:
        first_key = bootstrap(context)
    finally:
        context.close()
    greet(
        greeting["url"],
        settings,
        first_key.secret if first_key else None,
        insecure=bool(greeting.get("insecure")),
        called=greeting.get("called"),
    )
    # Alembic is imported only to migrate (`db.migrate`): a process that did stays no server.
    return "alembic" not in sys.modules


def log_config() -> dict[str, Any]:
    """uvicorn's own logging, each of its handlers taking credentials out of the lines it writes.

    Given as configuration rather than added to the loggers here, because uvicorn applies it in
    every worker process it spawns (which would not inherit a filter added in this one). The filter
    is named by its path, so importing it is left to the logging configuration.
    """
    import uvicorn.config

    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"redact_secrets": {"()": "champion.logredact.RedactSecrets"}}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact_secrets"]
    return config


_METRICS_PREFIX = "champion-metrics-"


def _fresh_metrics_directory() -> str:
    """A new directory named after this process; those of servers that died unable to remove theirs
    (SIGKILL, a crash) are removed first, so the temporary folder does not fill up over the runs."""
    for stale in Path(tempfile.gettempdir()).glob(f"{_METRICS_PREFIX}*-*"):
        owner = stale.name.removeprefix(_METRICS_PREFIX).partition("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{_METRICS_PREFIX}{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, maybe their server: not ours to clean
        return True
    return True


if __name__ == "__main__":
    run(json.loads(sys.argv[1]))
