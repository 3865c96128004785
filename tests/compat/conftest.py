"""A real `champion serve --tls` subprocess for the compatibility tests, one per test module."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.servers import CreatedUser, RunningServer, cli_env, running_server

__all__ = ["CreatedUser", "RunningServer"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """`champion serve --tls` for one test module."""
    with running_server(tmp_path_factory.mktemp("champion-server")) as running:
        yield running


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
