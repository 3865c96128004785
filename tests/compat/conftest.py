"""A real `champion serve --tls` subprocess for the compatibility tests, one per test module."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.model_files import ModelFiles
from tests.servers import CreatedUser, RunningServer, cli_env, running_server

__all__ = ["CreatedUser", "RunningServer"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles) -> Iterator[RunningServer]:
    """`champion serve --tls` for one test module, its upload path warmed up."""
    with running_server(tmp_path_factory.mktemp("champion-server")) as running:
        warm_up_uploads(running, model_files)
        yield running


def warm_up_uploads(server: RunningServer, model_files: ModelFiles) -> None:
    """Upload one scikit-learn model in a scratch space, then delete the space.

    The WML client sends a model's content with `httpx.put` and httpx's default 5 s timeout. A server's
    first upload imports scikit-learn to check the file (about 2 s here when idle), which a 2-core
    machine running the rest of the suite can stretch past 5 s; later uploads take milliseconds.
    """
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    with httpx.Client(base_url=server.url, verify=False, headers=headers, timeout=60.0) as http:
        space = http.post("/v2/spaces", json={"name": "warm-up"}).json()["metadata"]["id"]
        spec = http.get("/v2/software_specifications").json()["resources"][0]["metadata"]["asset_id"]
        body = {"name": "warm-up", "type": "scikit-learn_1.3", "software_spec": {"id": spec}, "space_id": space}
        model = http.post("/ml/v4/models", params={"version": "2026-10-14"}, json=body).json()["metadata"]["id"]
        content = model_files.classifier_named.read_bytes()
        uploaded = http.put(f"/ml/v4/models/{model}/content", params={"space_id": space}, content=content)
        assert uploaded.status_code == 201, uploaded.text
        assert http.delete(f"/v2/spaces/{space}").status_code in (200, 202, 204)


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
