"""Deployment input the domain refuses through the WML face: revision numbers no revision can have, and
values JSON cannot give back as sent. Each once answered 500, and some were stored first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from champion.deployments.tables import Deployment
from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import ModelFiles

V = {"version": "2026-10-14"}
TOO_BIG = "99999999999999999999999"

# JSON texts of values champion refuses to store: integers past ±(2^53 - 1) (past 64 bits they broke
# every later GET), NaN and Infinity (which Python's JSON reader accepts), a lone surrogate and NUL.
UNPORTABLE = [
    "1000000000000000000000000000000",
    "18446744073709551616",
    "9007199254740992",
    "NaN",
    "-1e400",
    '"\\ud800"',
    '"a\\u0000b"',
    '{"nested": [1, {"deep": 1e400}]}',
    '{"\\udfff": 1}',
    # Nested past what the faces' JSON writer renders (255 levels), or Python's recursion limit copies.
    "[" * 300 + "]" * 300,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("deployment-input-home"), "alice") as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    return space_id


@pytest.fixture(scope="module")
def model_id(server: Server, space: str, model_files: ModelFiles) -> str:
    return upload_model(server, space, model_files.classifier_named.read_bytes())


@pytest.fixture(scope="module")
def deployment(server: Server, space: str, model_id: str) -> str:
    created = deploy(server, space, model_id, custom={"kept": 1}, hardware_spec={"name": "S"})
    deployment_id: str = created["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
    return deployment_id


def raw(server: Server, method: str, url: str, body: str, **params: str) -> httpx.Response:
    """Send `body` as it is written: the values under test are ones a JSON encoder would not produce."""
    headers = {"Content-Type": "application/json"}
    return server.call(method, url, params=params, content=body.encode("utf-8"), headers=headers)


def details(server: Server, space: str, deployment_id: str) -> dict[str, Any]:
    response = server.call("GET", f"/ml/v4/deployments/{deployment_id}", params={"space_id": space})
    assert response.status_code == 200, response.text
    entity: dict[str, Any] = response.json()["entity"]
    return entity


def deployment_count(server: Server, space: str) -> int:
    listed = server.call("GET", "/ml/v4/deployments", params={**V, "space_id": space})
    return len(listed.json()["resources"])


@pytest.mark.parametrize("rev", [TOO_BIG, "2147483648", "0", "²"])
def test_an_asset_patch_to_no_possible_revision_is_refused(
    server: Server, space: str, deployment: str, rev: str
) -> None:
    before = details(server, space, deployment)
    patch = [{"op": "replace", "path": "/asset/rev", "value": rev}]
    response = server.call("PATCH", f"/ml/v4/deployments/{deployment}", params={"space_id": space}, json=patch)
    assert "revision number" in assert_wml_error(response, 400, "/asset/rev")
    after = details(server, space, deployment)
    assert after["asset"] == before["asset"] and after["status"]["state"] == "ready"


@pytest.mark.parametrize("rev", [TOO_BIG, "0", "²"])
def test_a_deployment_of_no_possible_revision_is_refused(server: Server, space: str, model_id: str, rev: str) -> None:
    count = deployment_count(server, space)
    body = {"name": "never", "online": {}, "asset": {"id": model_id, "rev": rev}, "space_id": space}
    response = server.call("POST", "/ml/v4/deployments", params=V, json=body)
    assert_wml_error(response, 400, "asset.rev")
    assert deployment_count(server, space) == count


def test_validating_no_possible_revision_is_refused(server: Server, space: str, deployment: str, model_id: str) -> None:
    body = {"asset": {"id": model_id, "rev": TOO_BIG}}
    response = server.call("POST", f"/ml/v4/deployments/{deployment}/validation", params={"space_id": space}, json=body)
    assert_wml_error(response, 400, "asset.rev")


@pytest.mark.parametrize("path", ["/custom/a", "/hardware_spec/a", "/online/parameters/a"])
@pytest.mark.parametrize("value", UNPORTABLE)
def test_a_details_patch_refuses_values_json_cannot_give_back(
    server: Server, space: str, deployment: str, path: str, value: str
) -> None:
    before = details(server, space, deployment)
    response = raw(
        server,
        "PATCH",
        f"/ml/v4/deployments/{deployment}",
        f'[{{"op": "add", "path": "{path}", "value": {value}}}]',
        space_id=space,
    )
    field = assert_wml_error(response, 400).split(":", 1)[0]
    assert field.startswith(path), field
    after = details(server, space, deployment)
    assert after["custom"] == before["custom"] == {"kept": 1}
    assert after["hardware_spec"] == before["hardware_spec"]


def test_a_value_stored_before_these_rules_can_be_read_and_removed(server: Server, space: str, model_id: str) -> None:
    """Integers up to 64 bits were stored, and rendered, before: the deployment still reads, and a patch
    touching anything else names the value, and one removing it goes through."""
    created = deploy(server, space, model_id, name="legacy")
    deployment_id: str = created["metadata"]["id"]
    with server.context.sessions() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.custom = {"old": 2**60}
        session.commit()
    assert details(server, space, deployment_id)["custom"] == {"old": 2**60}
    url = f"/ml/v4/deployments/{deployment_id}"
    other = server.call("PATCH", url, params={"space_id": space}, json=[{"op": "add", "path": "/custom/b", "value": 1}])
    assert_wml_error(other, 400, "/custom/old")
    removed = server.call("PATCH", url, params={"space_id": space}, json=[{"op": "remove", "path": "/custom/old"}])
    assert removed.status_code == 200, removed.text
    assert details(server, space, deployment_id)["custom"] == {}


@pytest.mark.parametrize(("path", "value"), [("/name", '"a\\u0000b"'), ("/tags/0", '"\\ud800"')])
def test_text_a_database_cannot_store_is_refused(
    server: Server, space: str, deployment: str, path: str, value: str
) -> None:
    before = details(server, space, deployment)
    body = f'[{{"op": "add", "path": "{path}", "value": {value}}}]'
    response = raw(server, "PATCH", f"/ml/v4/deployments/{deployment}", body, space_id=space)
    assert_wml_error(response, 400, path)
    after = server.call("GET", f"/ml/v4/deployments/{deployment}", params={"space_id": space}).json()
    assert after["metadata"]["name"] == "dep" and after["metadata"]["tags"] == []
    assert after["entity"]["custom"] == before["custom"]


@pytest.mark.parametrize(("member", "value"), [("custom", UNPORTABLE[0]), ("hardware_spec", "NaN")])
def test_a_new_deployment_with_unportable_values_is_refused(
    server: Server, space: str, model_id: str, member: str, value: str
) -> None:
    count = deployment_count(server, space)
    body = f'{{"name": "never", "online": {{}}, "asset": {{"id": "{model_id}"}}, "{member}": {{"a": {value}}}}}'
    response = raw(server, "POST", "/ml/v4/deployments", body, space_id=space, **V)
    assert_wml_error(response, 400, f"{member}.a")
    assert deployment_count(server, space) == count
