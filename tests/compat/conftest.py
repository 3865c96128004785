"""A real `champion serve --tls` subprocess for the compatibility tests, one per test module."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no server output: {exc}>"
    return text[-limit:]


def _stop(process: subprocess.Popen[bytes]) -> None:
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


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last_problem = "no attempt yet"
    with httpx.Client(verify=False, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"champion serve exited with code {process.returncode} before answering.\n"
                    f"--- server output ---\n{_tail(log)}",
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
    _stop(process)
    pytest.fail(
        f"champion serve did not answer {VERSION_PATH} within {STARTUP_SECONDS:.0f} s ({last_problem}).\n"
        f"--- server output ---\n{_tail(log)}",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """`champion serve --tls` on a free port of 127.0.0.1, with a fresh home and a known admin key."""
    root = tmp_path_factory.mktemp("champion-server")
    home = root / "home"
    log = root / "server.log"
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    admin_key = f"chp_{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"
    env = cli_env(home, CHAMPION_ADMIN_USER="admin", CHAMPION_ADMIN_API_KEY=admin_key)
    command = [sys.executable, "-m", "champion", "serve", "--tls", "--port", str(port), "--host", "127.0.0.1"]
    command += ["--home", str(home)]
    # Output goes to a file: a PIPE nobody reads would fill up and block the server.
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        _wait_until_ready(process, url, log)
        yield RunningServer(url=url, admin_user="admin", admin_api_key=admin_key, home=home, log=log)
    finally:
        _stop(process)


_USER_LINE = re.compile(r"user\s+(?P<name>\S+)\s+id\s+(?P<id>[0-9a-fA-F-]{36})")
_KEY_LINE = re.compile(r"API key \(shown once\):\s*(?P<key>chp_\S+)")


def create_user(server: RunningServer, name: str) -> CreatedUser:
    """`champion users create NAME` on the server's home; returns the new user's id and API key."""
    result = subprocess.run(
        [sys.executable, "-m", "champion", "users", "create", name],
        env=cli_env(server.home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    user, key = _USER_LINE.search(output), _KEY_LINE.search(output)
    if result.returncode != 0 or user is None or key is None:
        pytest.fail(f"`champion users create {name}` failed (exit {result.returncode}):\n{output}", pytrace=False)
    return CreatedUser(id=user["id"], name=name, api_key=key["key"])


@pytest.fixture(scope="module")
def make_user(server: RunningServer) -> Callable[[str], CreatedUser]:
    """A function creating extra users on the module's server: `make_user("bob") -> CreatedUser`."""

    def make(name: str) -> CreatedUser:
        return create_user(server, name)

    return make
