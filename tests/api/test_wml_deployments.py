"""Deployments through the WML face, in-process: lifecycle, scoring and its errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import joblib
import numpy as np
import pytest

from champion.models.software_specs import CATALOGUE
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles, build_failing, training_data

V = {"version": "2026-10-14"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(
        tmp_path_factory.mktemp("deploy-home"), "alice", "bob", "mallory", max_request_bytes=64 * 1024
    ) as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    server.call("POST", f"/v2/spaces/{space_id}/members", json=members)
    return space_id


def upload_model(server: Server, space: str, content: bytes, name: str = "m") -> str:
    body = {"name": name, "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}, "space_id": space}
    model_id: str = server.call("POST", "/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
    put = server.call("PUT", f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=content)
    assert put.status_code == 201, put.text
    return model_id


def deploy(server: Server, space: str, model_id: str, **extra: Any) -> dict[str, Any]:
    body = {"name": "dep", "online": {}, "asset": {"id": model_id}, "space_id": space, **extra}
    response = server.call("POST", "/ml/v4/deployments", params=V, json=body)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


def wait_until_settled(server: Server, space: str, deployment_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        details: dict[str, Any] = server.call(
            "GET", f"/ml/v4/deployments/{deployment_id}", params={"space_id": space}
        ).json()
        if details["entity"]["status"]["state"] not in ("initializing", "updating"):
            return details
        assert time.monotonic() < deadline, "the deployment never settled"
        time.sleep(0.05)


def score(server: Server, deployment_id: str, body: Any, who: str = "alice") -> httpx.Response:
    return server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", who=who, params=V, json=body)


@pytest.fixture(scope="module")
def online(server: Server, space: str, model_files: ModelFiles) -> tuple[str, str]:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes())
    created = deploy(server, space, model_id, serving_name="churn_v1")
    assert created["entity"]["status"]["state"] == "initializing"
    details = wait_until_settled(server, space, created["metadata"]["id"])
    assert details["entity"]["status"]["state"] == "ready"
    return created["metadata"]["id"], model_id


def test_an_online_deployment_answers_like_the_model(
    server: Server, online: tuple[str, str], model_files: ModelFiles
) -> None:
    deployment_id, model_id = online
    frame, _ = training_data(rows=5, seed=3)
    response = score(server, deployment_id, {"input_data": [{"fields": FEATURES, "values": frame.to_numpy().tolist()}]})
    assert response.status_code == 200, response.text
    assert response.headers["Champion-Model-Version"] == f"{model_id}:1"
    (block,) = response.json()["predictions"]
    assert block["fields"] == ["prediction", "probability"]
    estimator = joblib.load(model_files.classifier_named)
    expected_labels = estimator.predict(frame).tolist()
    assert [row[0] for row in block["values"]] == expected_labels
    np.testing.assert_allclose([row[1] for row in block["values"]], estimator.predict_proba(frame))


def test_fields_in_any_order_and_by_serving_name(server: Server, online: tuple[str, str]) -> None:
    deployment_id, _ = online
    in_order = score(
        server, deployment_id, {"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1.0, 2.0, 3.0]]}]}
    )
    shuffled = score(server, "churn_v1", {"input_data": [{"fields": ["x3", "x1", "x2"], "values": [[3.0, 1.0, 2.0]]}]})
    assert in_order.status_code == shuffled.status_code == 200
    assert in_order.json() == shuffled.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input_data": [{"fields": ["x1", "x2"], "values": [[1.0, 2.0]]}]}, "input_data[0].fields"),
        ({"input_data": [{"fields": ["x1", "x2", "x3", "x9"], "values": [[1, 2, 3, 4]]}]}, "input_data[0].fields"),
        ({"input_data": [{"fields": FEATURES, "values": [[1.0, "abc", 3.0]]}]}, "input_data[0].values[0][1]"),
        ({"input_data": [{"fields": FEATURES, "values": [[1.0, None, 3.0]]}]}, "input_data[0].values[0][1]"),
        ({"input_data": [{"fields": FEATURES, "values": []}]}, "input_data[0].values"),
        ({"input_data": []}, "input_data"),
        ({"nothing": 1}, "input_data"),
    ],
)
def test_bad_scoring_input_names_the_field(server: Server, online: tuple[str, str], body: Any, field: str) -> None:
    message = assert_wml_error(score(server, online[0], body), 400)
    assert field in message


def test_a_body_over_the_limit_gets_413(server: Server, online: tuple[str, str]) -> None:
    values = [[0.0, 0.0, 0.0]] * 5000
    assert_wml_error(score(server, online[0], {"input_data": [{"fields": FEATURES, "values": values}]}), 413)


def test_invalid_json_is_a_400(server: Server, online: tuple[str, str]) -> None:
    response = server.call("POST", f"/ml/v4/deployments/{online[0]}/predictions", content=b"{not json")
    assert_wml_error(response, 400, "body")


def test_scoring_needs_membership_and_credentials(server: Server, online: tuple[str, str]) -> None:
    body = {"input_data": [{"fields": FEATURES, "values": [[0.0, 0.0, 0.0]]}]}
    assert score(server, online[0], body, who="bob").status_code == 200  # viewers may score
    assert_wml_error(score(server, online[0], body, who="mallory"), 404)
    assert_wml_error(server.call("POST", f"/ml/v4/deployments/{online[0]}/predictions", who=None, json=body), 401)


def test_list_shows_deployed_asset_type_and_filters_by_asset(
    server: Server, space: str, online: tuple[str, str]
) -> None:
    deployment_id, model_id = online
    listed = server.call("GET", "/ml/v4/deployments", params={**V, "space_id": space, "asset_id": model_id}).json()
    rows = [r for r in listed["resources"] if r["metadata"]["id"] == deployment_id]
    assert rows and rows[0]["entity"]["deployed_asset_type"] == "model"
    assert rows[0]["entity"]["asset"] == {"id": model_id, "rev": "1"}


def test_a_deployed_model_cannot_be_deleted(server: Server, space: str, online: tuple[str, str]) -> None:
    response = server.call("DELETE", f"/ml/v4/models/{online[1]}", params={"space_id": space})
    assert "dep" in assert_wml_error(response, 409)


def test_serving_name_conflict_probe(server: Server, online: tuple[str, str]) -> None:
    taken = server.call("GET", "/ml/v4/deployments", params={"serving_name": "churn_v1", "conflict": "true"})
    assert taken.status_code == 409
    free = server.call("GET", "/ml/v4/deployments", params={"serving_name": "other_name", "conflict": "true"})
    assert free.status_code == 200


def test_a_model_that_fails_warm_up_ends_failed_with_the_reason(
    server: Server, space: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = build_failing(tmp_path_factory.mktemp("failing"))
    model_id = upload_model(server, space, path.read_bytes(), name="failing")
    created = deploy(server, space, model_id, name="doomed")
    details = wait_until_settled(server, space, created["metadata"]["id"])
    assert details["entity"]["status"]["state"] == "failed"
    (error,) = details["entity"]["status"]["failure"]["errors"]
    assert "refuses all-zero rows" in error["message"]
    body = {"input_data": [{"fields": FEATURES, "values": [[1.0, 1.0, 1.0]]}]}
    assert "failed" in assert_wml_error(score(server, created["metadata"]["id"], body), 409)


def test_batch_deployments_do_not_score_online(server: Server, space: str, model_files: ModelFiles) -> None:
    model_id = upload_model(server, space, model_files.regressor.read_bytes(), name="reg")
    body = {
        "name": "nightly",
        "batch": {},
        "hardware_spec": {"name": "S"},
        "asset": {"id": model_id},
        "space_id": space,
    }
    created = server.call("POST", "/ml/v4/deployments", params=V, json=body).json()
    details = wait_until_settled(server, space, created["metadata"]["id"])
    assert details["entity"]["status"]["state"] == "ready" and "batch" in details["entity"]
    scored = score(server, created["metadata"]["id"], {"input_data": [{"fields": FEATURES, "values": [[1, 2, 3]]}]})
    assert "batch" in assert_wml_error(scored, 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "asset": {"id": "nope"}}, "asset.id"),
        ({"name": "x", "asset": {"id": "MODEL", "rev": "7"}}, "asset.rev"),
        ({"name": "x", "asset": {"id": "MODEL"}, "batch": {}}, "online"),
        ({"name": "x", "asset": {"id": "MODEL"}, "serving_name": "Bad Name!"}, "serving_name"),
        ({"name": "", "asset": {"id": "MODEL"}}, "name"),
    ],
)
def test_bad_deployment_bodies_name_the_field(
    server: Server, space: str, online: tuple[str, str], body: dict[str, Any], field: str
) -> None:
    body = {
        **body,
        "asset": {**body["asset"], "id": body["asset"]["id"].replace("MODEL", online[1])},
        "space_id": space,
    }
    body.setdefault("online", {})
    if "batch" in body:
        body["online"] = {}
    assert_wml_error(server.call("POST", "/ml/v4/deployments", params=V, json=body), 400, field)


def test_viewers_cannot_deploy_or_delete(server: Server, space: str, online: tuple[str, str]) -> None:
    body = {"name": "x", "online": {}, "asset": {"id": online[1]}, "space_id": space}
    assert_wml_error(server.call("POST", "/ml/v4/deployments", who="bob", params=V, json=body), 403)
    assert_wml_error(
        server.call("DELETE", f"/ml/v4/deployments/{online[0]}", who="bob", params={"space_id": space}), 403
    )


def test_delete_stops_serving(server: Server, space: str, model_files: ModelFiles) -> None:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="short-lived")
    deployment_id = deploy(server, space, model_id, name="short")["metadata"]["id"]
    wait_until_settled(server, space, deployment_id)
    assert server.call("DELETE", f"/ml/v4/deployments/{deployment_id}", params={"space_id": space}).status_code == 204
    assert_wml_error(server.call("GET", f"/ml/v4/deployments/{deployment_id}", params={"space_id": space}), 404)
    deadline = time.monotonic() + 5
    body = {"input_data": [{"fields": FEATURES, "values": [[0.0, 0.0, 0.0]]}]}
    while score(server, deployment_id, body).status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_prompt_probe_answers_404(server: Server) -> None:
    assert server.call("GET", "/wx/v1/prompts/abc", params={"space_id": "s", "prompt_id": "abc"}).status_code == 404
