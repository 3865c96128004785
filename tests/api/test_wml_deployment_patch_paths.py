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


@pytest.fixture(scope="module")
def batch(server: Server, live: dict[str, str]) -> str:
    body = {"name": "nightly", "batch": {}, "asset": {"id": live["model"], "rev": "1"}, "space_id": live["space"]}
    created = server.call("POST", "/ml/v4/deployments", params=V, json=body)
    assert created.status_code == 202, created.text
    deployment: str = created.json()["metadata"]["id"]
    assert wait_until_settled(server, live["space"], deployment)["entity"]["status"]["state"] == "ready"
    return deployment


def patch_of(server: Server, live: dict[str, str], deployment: str, body: Any, who: str = "alice") -> Any:
    return patch(server, {**live, "deployment": deployment}, body, who=who)


def details(server: Server, live: dict[str, str], deployment: str) -> Any:
    return server.call("GET", f"/ml/v4/deployments/{deployment}", params={"space_id": live["space"]})


def test_a_hardware_request_is_kept_shown_and_warned_about_never_applied(server: Server, live: dict[str, str]) -> None:
    request = {"size": "gpu_m", "num_nodes": 2}
    answer = patch(server, live, [{"op": "add", "path": "/hardware_request", "value": request}])
    assert answer.status_code == 200, answer.text  # nothing to do asynchronously: no GPU is allocated
    for body in (answer.json(), details(server, live, live["deployment"]).json()):
        assert body["entity"]["hardware_request"] == request
        assert body["entity"]["status"]["state"] == "ready"
        assert {"id": "hardware_request_not_applied"}.items() <= body["system"]["warnings"][0].items()
        assert "not applied" in body["system"]["warnings"][0]["message"]
    smaller = patch(server, live, [{"op": "replace", "path": "/hardware_request", "value": {"size": "gpu_s"}}])
    assert smaller.json()["entity"]["hardware_request"] == {"size": "gpu_s", "num_nodes": 1}
    removed = patch(server, live, [{"op": "remove", "path": "/hardware_request"}])
    assert removed.status_code == 200, removed.text
    assert "hardware_request" not in removed.json()["entity"] and "system" not in removed.json()


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"size": "gpu_xl"}, "/hardware_request/size"),
        ({"size": "gpu_s", "num_nodes": 0}, "/hardware_request/num_nodes"),
        ({"size": "gpu_s", "num_nodes": "2"}, "/hardware_request/num_nodes"),
        ({"num_nodes": 1}, "/hardware_request/size"),
        ({"size": "gpu_s", "gpus": 4}, "/hardware_request/gpus"),
        ("gpu_s", "/hardware_request"),
    ],
)
def test_an_illegal_hardware_request_is_a_400_naming_it_and_changes_nothing(
    server: Server, live: dict[str, str], value: Any, field: str
) -> None:
    before = details(server, live, live["deployment"])
    answer = patch(server, live, [{"op": "add", "path": "/hardware_request", "value": value}])
    assert_wml_error(answer, 400, field)
    after = details(server, live, live["deployment"])
    assert (after.json(), after.headers["ETag"]) == (before.json(), before.headers["ETag"])


def test_batch_parameters_are_kept_and_shown(server: Server, live: dict[str, str], batch: str) -> None:
    answer = patch_of(server, live, batch, [{"op": "replace", "path": "/batch", "value": {"parameters": {"k": 1}}}])
    assert answer.status_code == 200, answer.text
    assert answer.json()["entity"]["batch"] == {"parameters": {"k": 1}}
    assert details(server, live, batch).json()["entity"]["batch"] == {"parameters": {"k": 1}}
    removed = patch_of(server, live, batch, [{"op": "remove", "path": "/batch/parameters/k"}])
    assert removed.json()["entity"]["batch"] == {}
    marker = patch_of(server, live, batch, [{"op": "replace", "path": "/batch", "value": {}}])  # the client's BATCH: {}
    assert marker.status_code == 200 and marker.json()["entity"]["batch"] == {}
    gpu = {"size": "gpu_l", "num_nodes": 3}
    assert patch_of(server, live, batch, [{"op": "add", "path": "/hardware_request", "value": gpu}]).status_code == 200
    assert details(server, live, batch).json()["entity"]["hardware_request"] == gpu


@pytest.mark.parametrize(
    ("which", "operation", "field"),
    [
        ("online", {"op": "add", "path": "/batch", "value": {}}, "/batch"),
        ("online", {"op": "remove", "path": "/online"}, "/online"),
        ("batch", {"op": "add", "path": "/online", "value": {}}, "/online"),
        ("batch", {"op": "remove", "path": "/batch"}, "/batch"),
        ("batch", {"op": "replace", "path": "/batch", "value": {"parameters": [1]}}, "/batch/parameters"),
    ],
)
def test_a_deployments_kind_never_changes(
    server: Server, live: dict[str, str], batch: str, which: str, operation: dict[str, Any], field: str
) -> None:
    deployment = live["deployment"] if which == "online" else batch
    assert_wml_error(patch_of(server, live, deployment, [operation]), 400, field)
    assert details(server, live, deployment).json()["entity"].get("online" if which == "online" else "batch") == {}


def test_the_online_object_patches_its_parameters(server: Server, live: dict[str, str]) -> None:
    value = {"parameters": {"serving_name": "patched_name"}}
    answer = patch(server, live, [{"op": "replace", "path": "/online", "value": value}])
    assert answer.status_code == 200, answer.text
    assert answer.json()["entity"]["online"] == value
    assert patch(server, live, [{"op": "replace", "path": "/online", "value": {}}]).json()["entity"]["online"] == {}


def test_viewers_cannot_change_the_hardware_request(server: Server, live: dict[str, str]) -> None:
    operation = {"op": "add", "path": "/hardware_request", "value": {"size": "gpu_s"}}
    assert_wml_error(patch(server, live, [operation], who="bob"), 403)


def test_a_new_deployment_keeps_its_hardware_request_and_batch_parameters(server: Server, live: dict[str, str]) -> None:
    asset = {"id": live["model"], "rev": "1"}
    body = {"name": "gpu", "batch": {"parameters": {"a": "b"}}, "asset": asset, "space_id": live["space"]}
    created = server.call(
        "POST", "/ml/v4/deployments", params=V, json={**body, "hardware_request": {"size": "gpu_s", "num_nodes": 2}}
    )
    assert created.status_code == 202, created.text
    entity = created.json()["entity"]
    assert entity["hardware_request"] == {"size": "gpu_s", "num_nodes": 2}
    assert entity["batch"] == {"parameters": {"a": "b"}}
    wait_until_settled(server, live["space"], created.json()["metadata"]["id"])
    refused = server.call("POST", "/ml/v4/deployments", params=V, json={**body, "hardware_request": {"size": "xl"}})
    assert_wml_error(refused, 400, "hardware_request.size")


def test_the_settings_extension_holds_the_same_rules(server: Server, live: dict[str, str], batch: str) -> None:
    def settings(deployment: str, body: Any) -> Any:
        return server.call("PATCH", f"/ml/v4/deployments/{deployment}/settings", params=V, json=body)

    assert_wml_error(settings(live["deployment"], {"batch": {"parameters": {"k": 1}}}), 400, "batch.parameters")
    assert_wml_error(
        settings(live["deployment"], {"hardware_request": {"size": "gpu_x"}}), 400, "hardware_request.size"
    )
    kept = settings(batch, {"batch": {"parameters": {"k": 2}}})
    assert kept.status_code == 200, kept.text
    assert details(server, live, batch).json()["entity"]["batch"] == {"parameters": {"k": 2}}
