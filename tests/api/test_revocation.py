"""Revoke means revoke: a token from /icp4d-api/v1/authorize dies with the API key it was issued for.

On the database path (every route behind `ActorDep`) at once, and on the prediction path, which
authenticates from memory, as soon as the follower has reloaded the access cache (it polls the
change counters every 100 ms).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from champion.auth import issue_token
from champion.users import service as users
from tests.api.test_wml_deployments import V, deploy, upload_model, wait_until_settled
from tests.api.test_wml_jobs import upload_asset
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles

ROWS = {"input_data": [{"fields": FEATURES, "values": [[0.1, -0.2, 0.3]]}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("revocation-home"), "alice") as server:
        yield server


@pytest.fixture(scope="module")
def online(server: Server, model_files: ModelFiles) -> tuple[str, str]:
    """(space id, deployment id) of a ready online deployment in alice's space."""
    space: str = server.call("POST", "/v2/spaces", json={"name": "revocation"}).json()["metadata"]["id"]
    model = upload_model(server, space, model_files.classifier_named.read_bytes())
    deployment: str = deploy(server, space, model)["metadata"]["id"]
    assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
    return space, deployment


def new_key(server: Server, name: str) -> users.IssuedKey:
    with server.context.sessions() as session:
        return users.issue_key(session, user_id=server.ids["alice"], name=name)


def revoke(server: Server, key_id: str) -> None:
    """As `champion keys revoke` does: through the users service, on the server's database."""
    with server.context.sessions() as session:
        users.revoke_key(session, key_id=key_id)


def authorize(server: Server, secret: str) -> str:
    response = server.call("POST", "/icp4d-api/v1/authorize", who=None, json={"username": "alice", "api_key": secret})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def listing(server: Server, space: str, token: str) -> httpx.Response:
    return server.call("GET", "/ml/v4/deployments", who=None, params={**V, "space_id": space}, headers=bearer(token))


def scoring(server: Server, deployment: str, token: str) -> httpx.Response:
    url = f"/ml/v4/deployments/{deployment}/predictions"
    return server.call("POST", url, who=None, params=V, json=ROWS, headers=bearer(token))


def eventually(answer: Callable[[], httpx.Response], status: int, timeout: float = 5) -> httpx.Response:
    """The answer once it has the status; the follower reloads the access cache within a tick or two."""
    deadline = time.monotonic() + timeout
    while True:
        response = answer()
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_a_revoked_keys_token_is_refused_on_both_paths(server: Server, online: tuple[str, str]) -> None:
    space, deployment = online
    key = new_key(server, "laptop")
    token = authorize(server, key.secret)
    assert listing(server, space, token).status_code == 200
    assert scoring(server, deployment, token).status_code == 200  # now the prediction path knows the key

    revoke(server, key.id)

    assert "authorize again" in assert_wml_error(listing(server, space, token), 401)
    assert_wml_error(eventually(lambda: scoring(server, deployment, token), 401), 401)
    # ... and it stays refused: nothing puts the key back in the prediction path's memory.
    time.sleep(0.3)
    assert_wml_error(scoring(server, deployment, token), 401)
    assert_wml_error(listing(server, space, token), 401)


def test_a_token_first_seen_after_its_key_was_revoked_is_refused(server: Server, online: tuple[str, str]) -> None:
    space, deployment = online
    key = new_key(server, "never used for scoring")
    token = authorize(server, key.secret)
    revoke(server, key.id)
    assert_wml_error(scoring(server, deployment, token), 401)
    assert_wml_error(listing(server, space, token), 401)


def test_revoking_one_key_leaves_the_tokens_of_another_working(server: Server, online: tuple[str, str]) -> None:
    space, deployment = online
    kept, revoked = new_key(server, "kept"), new_key(server, "revoked")
    kept_token, revoked_token = authorize(server, kept.secret), authorize(server, revoked.secret)
    assert scoring(server, deployment, revoked_token).status_code == 200
    revoke(server, revoked.id)
    assert_wml_error(eventually(lambda: scoring(server, deployment, revoked_token), 401), 401)
    assert scoring(server, deployment, kept_token).status_code == 200
    assert listing(server, space, kept_token).status_code == 200


def test_a_token_naming_no_key_is_refused_so_the_client_authorizes_again(
    server: Server, online: tuple[str, str]
) -> None:
    """A token issued before tokens named their key: signed by this server, still in its lifetime."""
    space, deployment = online
    old = issue_token(user_id=server.ids["alice"], user_name="alice", key=server.context.signing_key, ttl_seconds=600)
    assert "authorize again" in assert_wml_error(listing(server, space, old), 401)
    assert "authorize again" in assert_wml_error(scoring(server, deployment, old), 401)


def test_a_revoked_api_key_itself_is_refused_on_both_paths(server: Server, online: tuple[str, str]) -> None:
    space, deployment = online
    key = new_key(server, "direct")
    assert scoring(server, deployment, key.secret).status_code == 200
    revoke(server, key.id)
    assert_wml_error(listing(server, space, key.secret), 401)
    assert_wml_error(eventually(lambda: scoring(server, deployment, key.secret), 401), 401)


def test_a_download_url_dies_with_the_key_it_was_issued_through(server: Server, online: tuple[str, str]) -> None:
    space, _ = online
    asset = upload_asset(server, space, "rows.csv", b"x1,x2,x3\n1,2,3\n")
    key = new_key(server, "download")
    params = {**V, "space_id": space}
    details = server.call("GET", f"/v2/assets/{asset}", who=None, params=params, headers=bearer(key.secret)).json()
    attachment = details["attachments"][0]["id"]
    url = f"/v2/assets/{asset}/attachments/{attachment}"
    link = server.call("GET", url, who=None, params=params, headers=bearer(key.secret)).json()["url"]
    assert server.call("GET", link, who=None).status_code == 200
    revoke(server, key.id)
    assert_wml_error(server.call("GET", link, who=None), 401)
