"""PATCH /ml/v4/deployments/{id} as WML means it: the asset patch's answer, `/batch`, `/hardware_request`;
and champion's rollback with a target, over raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_wml_deployments import upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import ModelFiles, build_failing, build_variants

V = {"version": "2026-10-14"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("patch-paths-home"), "alice", "bob") as server:
        yield server


@pytest.fixture(scope="module")
def live(server: Server, model_files: ModelFiles, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An online deployment of m rev 1; m has rev 2 (retrained) and rev 3 (fails its warm-up); bob is a viewer."""
    folder = tmp_path_factory.mktemp("variants")
    space: str = server.call("POST", "/v2/spaces", json={"name": "s"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    server.call("POST", f"/v2/spaces/{space}/members", json=members)
    model = upload_model(server, space, model_files.classifier_named.read_bytes())
    for path in (build_variants(folder)["retrained"], build_failing(folder)):
        put = server.call(
            "PUT", f"/ml/v4/models/{model}/content", params={"space_id": space}, content=path.read_bytes()
        )
        assert put.status_code == 201, put.text
    body = {"name": "dep", "online": {}, "asset": {"id": model, "rev": "1"}, "space_id": space}
    deployment = server.call("POST", "/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
    assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
    return {"space": space, "model": model, "deployment": deployment}


def patch(server: Server, live: dict[str, str], body: Any, who: str = "alice") -> Any:
    url = f"/ml/v4/deployments/{live['deployment']}"
    return server.call("PATCH", url, who=who, params={**V, "space_id": live["space"]}, json=body)


def asset_patch(live: dict[str, str], rev: str) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": "/asset", "value": {"id": live["model"], "rev": rev}}]


def test_the_asset_patch_answers_with_the_asset_being_deployed(server: Server, live: dict[str, str]) -> None:
    response = patch(server, live, asset_patch(live, "2"))
    assert response.status_code == 202, response.text
    entity = response.json()["entity"]
    assert entity["status"]["state"] == "updating"
    assert entity["asset"] == {"id": live["model"], "rev": "2"}  # the seed: the asset being deployed
    assert entity["status"]["serving_asset"] == {"id": live["model"], "rev": "1"}  # what answers meanwhile
    settled = wait_until_settled(server, live["space"], live["deployment"])["entity"]
    assert settled["asset"] == settled["status"]["serving_asset"] == {"id": live["model"], "rev": "2"}


def test_a_failed_replacement_shows_the_serving_asset_again(server: Server, live: dict[str, str]) -> None:
    response = patch(server, live, asset_patch(live, "3"))
    assert response.status_code == 202, response.text
    assert response.json()["entity"]["asset"]["rev"] == "3"
    settled = wait_until_settled(server, live["space"], live["deployment"])["entity"]
    assert settled["status"]["state"] == "ready" and settled["status"]["failure"]["errors"]
    assert settled["asset"] == settled["status"]["serving_asset"] == {"id": live["model"], "rev": "2"}


def rollback(server: Server, live: dict[str, str], body: Any) -> Any:
    return server.call("POST", f"/ml/v4/deployments/{live['deployment']}/rollback", params=V, json=body)


def test_rollback_to_a_history_record_or_a_revision(server: Server, live: dict[str, str]) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}/replacements"
    history = server.call("GET", url, params=V).json()["resources"]
    first = next(h for h in history if h["entity"]["to"]["rev"] == "2" and h["entity"]["outcome"] == "succeeded")
    back = rollback(server, live, {"reason": "ERRORS", "replacement_id": first["metadata"]["id"]})
    assert back.status_code == 202, back.text
    assert back.json()["entity"]["asset"] == {"id": live["model"], "rev": "1"}
    assert wait_until_settled(server, live["space"], live["deployment"])["entity"]["asset"]["rev"] == "1"
    forward = rollback(server, live, {"asset": {"rev": "2"}})  # the model it serves now, by default
    assert forward.status_code == 202, forward.text
    assert wait_until_settled(server, live["space"], live["deployment"])["entity"]["asset"]["rev"] == "2"
    latest = server.call("GET", url, params=V).json()["resources"][:2]
    assert [(h["entity"]["kind"], h["entity"]["reason"]) for h in latest] == [
        ("rollback", "OTHER"),
        ("rollback", "ERRORS"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"asset": {"rev": "3"}}, 400, "asset.rev"),  # never served (it failed its warm-up)
        ({"asset": {"rev": "2"}}, 400, None),  # the champion itself: the checks refuse it
        ({"replacement_id": "nope"}, 400, "replacement_id"),
        ({"replacement_id": "x", "asset": {"rev": "1"}}, 400, "asset"),
        ({"asset": {"rev": "two"}}, 400, None),
        ({"asset": {"id": "m"}}, 400, None),  # a rollback names a revision
    ],
)
def test_a_bad_rollback_target_is_a_400_naming_it_and_changes_nothing(
    server: Server, live: dict[str, str], body: Any, status: int, field: str | None
) -> None:
    before = server.call("GET", f"/ml/v4/deployments/{live['deployment']}", params={"space_id": live["space"]})
    message = assert_wml_error(rollback(server, live, body), status, field)
    assert message
    after = server.call("GET", f"/ml/v4/deployments/{live['deployment']}", params={"space_id": live["space"]})
    assert after.json()["entity"] == before.json()["entity"]
    assert after.headers["ETag"] == before.headers["ETag"]


def test_viewers_cannot_roll_back_to_a_target(server: Server, live: dict[str, str]) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}/rollback"
    assert_wml_error(server.call("POST", url, who="bob", params=V, json={"asset": {"rev": "1"}}), 403)
