"""The server process: prepares the home folder and database, then uvicorn serves `champion.app`.

`champion serve` checks its address, then replaces itself with this module through `exec`. The
process keeps its PID, so signals and supervisors see no difference, but none of the command line's
imports (Typer, cryptography) stay resident beside the models. The home folder and the database are
prepared (migrations, first admin, start-up housekeeping: `context.bootstrap`) and the greeting said
by a child forked at once, while this process imports what it serves: the two take the machine's
two cores side by side, and nothing the preparation imported (Alembic, after migrating) stays in the
server. The server waits for the child before it opens the database itself, so it never reads a
schema being migrated; a preparation that fails ends the server with the child's status.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

# prometheus_client's name for the directory its multiprocess mode keeps meters in. Spelled out
# rather than imported from champion.meters: that import would bring in prometheus_client,
# which picks in-memory or file-backed values once, at import, from this very variable.
METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


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
    workers = options.get("workers", 1)
    greeting = options.pop("greeting", None)
    preparing = prepare_aside(greeting) if greeting is not None else None
    metrics_directory = None
    try:
        if workers > 1:
            # Fresh and private to this run, so no stale counts and no other server's; the workers
            # inherit the variable when uvicorn spawns them, and nothing here has imported
            # prometheus_client yet (this module imports only uvicorn).
            metrics_directory = _fresh_metrics_directory()
            os.environ[METRICS_DIRECTORY_VARIABLE] = metrics_directory
        else:
            # This process serves: while the child prepares, import what uvicorn would import next.
            # The cyclic collector is off until the models are loaded (the app's lifespan freezes
            # what is alive then and turns it back on): start-up makes some hundred thousand objects
            # that live as long as the process (modules, classes, then the models), and it would
            # walk them over and over while they are made, a sixth of the time to the first answer.
            gc.disable()
            import champion.app  # noqa: F401
        # Imported here: `champion serve` imports this module for `exec_server` alone.
        import uvicorn
    finally:
        # Even when an import failed: the child's outcome comes first, and it is not left running.
        if preparing is not None:
            wait_for_preparation(preparing)
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


def prepare_aside(greeting: dict[str, Any]) -> int:
    """Fork a child that runs `prepare(greeting)` and exits with its outcome; returns the child's PID.

    Called before this process has started a thread (a forked child gets only the calling one).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        prepare(greeting)
        status = 0
    except SystemExit as exc:  # the preparation's own one-line error, already said
        status = exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:  # Ctrl-C reaches the server too, which says so
        status = 130
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Never back into the caller: the child must not go on to serve.
        os._exit(status)


def wait_for_preparation(pid: int) -> None:
    """Wait for the child of `prepare_aside`; one that failed ends this process with its status."""
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        # A child killed by a signal gets the shell's status for it (128 + the signal).
        raise SystemExit(code if code > 0 else 128 - code)


def prepare(greeting: dict[str, Any]) -> None:
    """Migrate, do the start-up housekeeping and greet (in the child of `prepare_aside`).

    A bucket that cannot be used ends the process in one line, before any migration.
    """
    # Nothing made here outlives the child, which exits as soon as it is done.
    gc.disable()
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
