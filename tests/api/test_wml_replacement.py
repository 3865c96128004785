"""Replacing the deployed model through the WML face: PATCH /asset, history, rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_wml_deployments import upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles, build_failing, build_variants

V = {"version": "2026-10-14"}
ROW = {"input_data": [{"fields": FEATURES, "values": [[0.5, -0.2, 1.0]]}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("replace-home"), "alice", "bob") as server:
        yield server


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("variants")
    return {**build_variants(folder), "failing": build_failing(folder)}


@pytest.fixture(scope="module")
def live(server: Server, model_files: ModelFiles, variants: dict[str, Path]) -> dict[str, str]:
    space: str = server.call("POST", "/v2/spaces", json={"name": "s"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    server.call("POST", f"/v2/spaces/{space}/members", json=members)
    model = upload_model(server, space, model_files.classifier_named.read_bytes())
    for name in ("retrained", "fewer_features", "regressor", "failing"):
        put = server.call(
            "PUT", f"/ml/v4/models/{model}/content", params={"space_id": space}, content=variants[name].read_bytes()
        )
        assert put.status_code == 201, put.text
    body = {"name": "dep", "online": {}, "asset": {"id": model, "rev": "1"}, "space_id": space}
    deployment = server.call("POST", "/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
    assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
    # revisions: 1 original, 2 retrained, 3 fewer features, 4 regressor, 5 fails warm-up
    return {"space": space, "model": model, "deployment": deployment}


def patch_asset(server: Server, live: dict[str, str], rev: str, who: str = "alice", reason: str | None = None) -> Any:
    body = [{"op": "replace", "path": "/asset", "value": {"id": live["model"], "rev": rev}}]
    params = {**V, "space_id": live["space"], **({"reason": reason} if reason else {})}
    return server.call("PATCH", f"/ml/v4/deployments/{live['deployment']}", who=who, params=params, json=body)


def served_rev(server: Server, live: dict[str, str]) -> str:
    response = server.call("POST", f"/ml/v4/deployments/{live['deployment']}/predictions", params=V, json=ROW)
    assert response.status_code == 200, response.text
    return str(response.headers["Champion-Model-Version"].split(":")[1])


def test_replace_answers_202_updating_then_serves_the_new_revision(server: Server, live: dict[str, str]) -> None:
    response = patch_asset(server, live, "2", reason="ACCURACY")
    assert response.status_code == 202, response.text
    assert response.json()["entity"]["status"]["state"] == "updating"
    assert response.json()["entity"]["status"]["validation"]["status"] == "passing"
    details = wait_until_settled(server, live["space"], live["deployment"])
    assert details["entity"]["status"]["state"] == "ready" and "failure" not in details["entity"]["status"]
    assert details["entity"]["asset"] == {"id": live["model"], "rev": "2"}
    assert served_rev(server, live) == "2"


def test_a_candidate_that_fails_warm_up_leaves_the_old_model_serving(server: Server, live: dict[str, str]) -> None:
    assert patch_asset(server, live, "5").status_code == 202
    details = wait_until_settled(server, live["space"], live["deployment"])
    status = details["entity"]["status"]
    assert status["state"] == "ready"
    assert "previous model still serves" in status["failure"]["errors"][0]["message"]
    assert details["entity"]["asset"]["rev"] == "2"
    assert served_rev(server, live) == "2"


def test_a_schema_mismatch_warns_with_the_seed_text_and_proceeds(server: Server, live: dict[str, str]) -> None:
    response = patch_asset(server, live, "3")
    assert response.status_code == 202
    message = response.json()["entity"]["status"]["message"]["text"]
    assert message.startswith("The input schema of the asset being patched does not match")
    wait_until_settled(server, live["space"], live["deployment"])
    assert served_rev(server, live) == "3"


def test_a_failing_check_is_refused_with_the_checks(server: Server, live: dict[str, str]) -> None:
    response = patch_asset(server, live, "4")
    message = assert_wml_error(response, 400)
    assert "targetType" in message
    checks = {c["name"]: c["status"] for c in response.json()["validation"]["checks"]}
    assert checks["targetType"] == "failing" and checks["permission"] == "passing"
    assert served_rev(server, live) == "3"


def test_viewers_cannot_replace(server: Server, live: dict[str, str]) -> None:
    assert_wml_error(patch_asset(server, live, "2", who="bob"), 403)


def test_asset_must_be_alone(server: Server, live: dict[str, str]) -> None:
    body = [
        {"op": "replace", "path": "/asset", "value": {"id": live["model"], "rev": "2"}},
        {"op": "replace", "path": "/name", "value": "x"},
    ]
    response = server.call(
        "PATCH", f"/ml/v4/deployments/{live['deployment']}", params={"space_id": live["space"]}, json=body
    )
    assert "only path" in assert_wml_error(response, 400)


@pytest.mark.parametrize("after_a_passing_test", [False, True])
def test_removing_the_asset_is_a_400_naming_it_and_changes_nothing(
    server: Server, live: dict[str, str], after_a_passing_test: bool
) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}"
    before = server.call("GET", url, params={"space_id": live["space"]}).json()
    body = [{"op": "remove", "path": "/asset"}]
    if after_a_passing_test:
        body.insert(0, {"op": "test", "path": "/asset/rev", "value": before["entity"]["asset"]["rev"]})
    response = server.call("PATCH", url, params={"space_id": live["space"]}, json=body)
    assert "/asset" in assert_wml_error(response, 400)
    after = server.call("GET", url, params={"space_id": live["space"]})
    assert after.status_code == 200 and after.json()["entity"] == before["entity"]


def test_a_weak_or_any_if_match_is_accepted(server: Server, live: dict[str, str]) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}"
    rename = [{"op": "replace", "path": "/description", "value": "matched"}]
    any_tag = server.call("PATCH", url, params={"space_id": live["space"]}, json=rename, headers={"If-Match": "*"})
    assert any_tag.status_code == 200, any_tag.text
    weak = f"W/{any_tag.headers['ETag']}"
    ok = server.call("PATCH", url, params={"space_id": live["space"]}, json=rename, headers={"If-Match": weak})
    assert ok.status_code == 200, ok.text


def test_history_lists_every_replacement_with_its_outcome(server: Server, live: dict[str, str]) -> None:
    history = server.call("GET", f"/ml/v4/deployments/{live['deployment']}/replacements").json()["resources"]
    outcomes = [(h["entity"]["from"]["rev"], h["entity"]["to"]["rev"], h["entity"]["outcome"]) for h in history]
    assert outcomes == [("2", "3", "succeeded"), ("2", "5", "failed"), ("1", "2", "succeeded")]
    assert [h["entity"]["reason"] for h in history] == ["OTHER", "OTHER", "ACCURACY"]
    assert all(h["entity"]["actor"] == server.ids["alice"] for h in history)
    assert history[0]["entity"]["validation"]["status"] == "warning"


def test_rollback_returns_to_the_previous_champion(server: Server, live: dict[str, str]) -> None:
    response = server.call("POST", f"/ml/v4/deployments/{live['deployment']}/rollback", json={"reason": "ERRORS"})
    assert response.status_code == 202, response.text
    wait_until_settled(server, live["space"], live["deployment"])
    assert served_rev(server, live) == "2"
    latest = server.call("GET", f"/ml/v4/deployments/{live['deployment']}/replacements").json()["resources"][0]
    assert latest["entity"]["kind"] == "rollback" and latest["entity"]["reason"] == "ERRORS"
    assert_wml_error(
        server.call("POST", f"/ml/v4/deployments/{live['deployment']}/rollback", json={"reason": "NOPE"}), 400
    )


def test_get_carries_an_etag_and_a_stale_if_match_gets_412(server: Server, live: dict[str, str]) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}"
    etag = server.call("GET", url, params={"space_id": live["space"]}).headers["ETag"]
    rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
    ok = server.call("PATCH", url, params={"space_id": live["space"]}, json=rename, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json()["metadata"]["name"] == "renamed"
    stale = server.call("PATCH", url, params={"space_id": live["space"]}, json=rename, headers={"If-Match": etag})
    assert_wml_error(stale, 412)


def test_a_version_of_another_model_becomes_the_asset(
    server: Server, live: dict[str, str], model_files: ModelFiles
) -> None:
    other = upload_model(server, live["space"], model_files.classifier_named.read_bytes(), name="other")
    body = [{"op": "replace", "path": "/asset", "value": {"id": other}}]
    url = f"/ml/v4/deployments/{live['deployment']}"
    assert server.call("PATCH", url, params={"space_id": live["space"]}, json=body).status_code == 202
    details = wait_until_settled(server, live["space"], live["deployment"])
    assert details["entity"]["asset"] == {"id": other, "rev": "1"}
    response = server.call("POST", f"{url}/predictions", params=V, json=ROW)
    assert response.headers["Champion-Model-Version"] == f"{other}:1"
    # The model that is no longer deployed can be deleted; the one deployed now cannot.
    assert server.call("DELETE", f"/ml/v4/models/{other}", params={"space_id": live["space"]}).status_code == 409
