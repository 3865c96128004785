"""Real `champion serve` subprocesses for tests: started on a free loopback port, stopped for sure."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 30.0
VERSION_PATH = "/ml/wml_services/v2/version"


@dataclass(frozen=True)
class RunningServer:
    url: str
    admin_user: str
    admin_api_key: str
    home: Path
    log: Path
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class CreatedUser:
    id: str
    name: str
    api_key: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without its CHAMPION_ settings (a developer's database URL must not
    leak in), with plain, wide console output (rich would wrap or colour it)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHAMPION_")}
    env.update(COLUMNS="200", TERM="dumb", NO_COLOR="1", CHAMPION_HOME=str(home))
    env.pop("FORCE_COLOR", None)
    env.update(extra)
    return env


def tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no server output: {exc}>"
    return text[-limit:]


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill after 10 s.

    uvicorn waits for open connections on SIGTERM, and an idle TLS keep-alive connection
    of a client still alive in this process only goes away after the 30 s TLS shutdown
    timeout. So after a short grace a SIGINT follows: uvicorn's "CTRL+C to force quit".
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=3)
        return
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=7)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last_problem = "no attempt yet"
    with httpx.Client(verify=False, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"champion serve exited with code {process.returncode} before answering.\n"
                    f"--- server output ---\n{tail(log)}",
                    pytrace=False,
                )
            try:
                response = http.get(url + VERSION_PATH)
                if response.status_code == 200:
                    return
                last_problem = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
    stop(process)
    pytest.fail(
        f"champion serve did not answer {VERSION_PATH} within {STARTUP_SECONDS:.0f} s ({last_problem}).\n"
        f"--- server output ---\n{tail(log)}",
        pytrace=False,
    )


@contextmanager
def running_server(
    root: Path, *, tls: bool = True, workers: int = 1, admin_key: str | None = None, **env_extra: str
) -> Iterator[RunningServer]:
    """`champion serve` on a free port of 127.0.0.1, with its home under `root` and a known admin key.

    Started again on the same `root` (and key), it finds the data the first one left.
    """
    home = root / "home"
    log = root / f"server-{time.monotonic_ns()}.log"
    port = free_port()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    admin_key = admin_key or f"chp_{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"
    env = cli_env(home, CHAMPION_ADMIN_USER="admin", CHAMPION_ADMIN_API_KEY=admin_key, **env_extra)
    command = [sys.executable, "-m", "champion", "serve", "--tls" if tls else "--no-tls", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--home", str(home), "--workers", str(workers)]
    # Output goes to a file: a PIPE nobody reads would fill up and block the server.
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        wait_until_ready(process, url, log)
        yield RunningServer(url, "admin", admin_key, home, log, process)
    finally:
        stop(process)
