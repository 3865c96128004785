"""The DataRobot v2 face in-process: status codes, error shapes, pagination, replacement rules, status URLs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from champion.api.datarobot import operations as status_route
from champion.deployments import service as deployments
from champion.models import service as models
from champion.operations.tables import Operation
from champion.operations.types import OperationKind
from champion.users import service as users
from tests.api.test_wml_deployments import upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles, build_failing, build_variants

V = {"version": "2026-10-14"}
ROW = {"input_data": [{"fields": FEATURES, "values": [[0.5, -0.2, 1.0]]}]}
REASONS = ["ACCURACY", "DATA_DRIFT", "ERRORS", "SCHEDULED_REFRESH", "SCORING_SPEED", "DEPRECATION", "OTHER"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("datarobot-home"), "alice", "bob", "mallory") as server:
        yield server


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("variants")
    return {**build_variants(folder), "failing": build_failing(folder)}


def dr(server: Server, method: str, path: str, who: str | None = "alice", **kwargs: Any) -> httpx.Response:
    """A DataRobot call as the client makes it: `Authorization: Token <key>`, paths under /api/v2."""
    headers = {"Authorization": f"Token {server.keys[who]}"} if who else {}
    headers.update(kwargs.pop("headers", {}))
    url = path if path.startswith("http") else f"/api/v2/{path}"
    return server.client.request(method, url, headers=headers, follow_redirects=False, **kwargs)


def message_of(response: httpx.Response, status: int) -> str:
    """A DataRobot error: the status, `application/json`, and a `{"message": ...}` body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message: str = response.json()["message"]
    assert message
    return message


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "dr"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space_id}/members", json=members).status_code == 200
    return space_id


@pytest.fixture(scope="module")
def model(server: Server, space: str, model_files: ModelFiles, variants: dict[str, Path]) -> dict[str, Any]:
    """One model with revisions 1 original, 2 retrained, 3 regressor (other target type), 4 fails warm-up."""
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="churn")
    for name in ("retrained", "regressor", "failing"):
        put = server.call(
            "PUT", f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=variants[name].read_bytes()
        )
        assert put.status_code == 201, put.text
    packages = dr(server, "GET", "modelPackages/", params={"modelId": model_id}).json()["data"]
    return {"id": model_id, "rev": {p["registeredModelVersion"]: p["id"] for p in packages}}


def create(server: Server, package_id: str, label: str, **extra: Any) -> str:
    response = dr(server, "POST", "deployments/fromModelPackage/", json={"modelPackageId": package_id, "label": label})
    assert response.status_code == 202, response.text
    deployment_id: str = response.json()["id"]
    assert follow(server, response) == deployment_id
    return deployment_id


def follow(server: Server, accepted: httpx.Response, timeout: float = 30) -> str:
    """Poll the Location status URL like the client; return the deployment id of the 303."""
    location = accepted.headers["location"]
    assert location.startswith("http://testserver/api/v2/status/") and location.endswith("/")
    deadline = time.monotonic() + timeout
    while True:
        polled = dr(server, "GET", location)
        if polled.status_code == 303:
            target = polled.headers["location"]
            assert target.startswith("http://testserver/api/v2/deployments/") and target.endswith("/")
            return target.split("/")[-2]
        assert polled.status_code == 200, polled.text
        assert polled.json()["status"] not in ("ERROR", "ABORTED"), polled.json()
        assert time.monotonic() < deadline, "the operation never finished"


@pytest.fixture(scope="module")
def live(server: Server, model: dict[str, Any]) -> str:
    return create(server, model["rev"][1], "live")


def served_rev(server: Server, deployment_id: str) -> str:
    response = server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", params=V, json=ROW)
    assert response.status_code == 200, response.text
    return str(response.headers["Champion-Model-Version"].split(":")[1])


# --- authentication, version, errors ------------------------------------------------------------


def test_version_with_token_or_bearer(server: Server) -> None:
    for scheme in ("Token", "Bearer"):
        headers = {"Authorization": f"{scheme} {server.keys['alice']}"}
        response = server.client.get("/api/v2/version/", headers=headers)
        assert response.status_code == 200
        assert response.json()["versionString"] == "2.49.0" and response.json()["major"] == 2


def test_no_credentials_is_a_json_401(server: Server) -> None:
    for path in ("version/", "deployments/", "status/x/"):
        message_of(dr(server, "GET", path, who=None), 401)
    response = dr(server, "GET", "deployments/", who=None, headers={"Authorization": "Token chp_wrong.key"})
    assert "not valid" in message_of(response, 401)


def test_unknown_paths_and_deployments_are_json_404s(server: Server) -> None:
    message_of(dr(server, "GET", "nothing/here/"), 404)
    assert "no deployment" in message_of(dr(server, "GET", "deployments/does-not-exist/"), 404)


def test_a_non_member_sees_no_deployment(server: Server, live: str) -> None:
    for method, path, body in [
        ("GET", f"deployments/{live}/", None),
        ("PATCH", f"deployments/{live}/", {"label": "x"}),
        ("DELETE", f"deployments/{live}/", None),
        ("POST", f"deployments/{live}/model/validation/", {"modelId": live}),
        ("PATCH", f"deployments/{live}/model/", {"modelId": live, "reason": "OTHER"}),
        ("GET", f"deployments/{live}/championModelPackage/", None),
        ("GET", f"deployments/{live}/modelHistory/", None),
        ("PATCH", f"deployments/{live}/status/", {"status": "inactive"}),
    ]:
        message_of(dr(server, method, path, who="mallory", json=body), 404)
    assert live not in [d["id"] for d in dr(server, "GET", "deployments/", who="mallory").json()["data"]]


# --- reading ------------------------------------------------------------------------------------


def test_a_deployment_in_datarobot_shape(server: Server, live: str, model: dict[str, Any]) -> None:
    body = dr(server, "GET", f"deployments/{live}/").json()
    assert body["id"] == live and body["label"] == "live" and body["status"] == "active"
    assert body["model"]["id"] == model["rev"][1] and body["model"]["targetType"] == "Binary"
    assert body["modelPackage"] == {
        "id": model["rev"][1],
        "name": "churn v1",
        "registeredModelId": model["id"],
        "registeredModelVersion": 1,
    }
    assert body["defaultPredictionServer"] == {"id": "champion", "url": "http://testserver", "datarobot-key": ""}
    assert body["permissions"][:2] == ["CAN_VIEW", "CAN_EDIT"]
    assert body["createdAt"].endswith("Z") and body["importance"] is None
    viewer = dr(server, "GET", f"deployments/{live}/", who="bob").json()
    assert viewer["permissions"] == ["CAN_VIEW"]


def test_champion_model_package_and_model_packages(server: Server, live: str, model: dict[str, Any]) -> None:
    package = dr(server, "GET", f"deployments/{live}/championModelPackage/").json()
    assert package["id"] == model["rev"][1] and package["registeredModelVersion"] == 1
    assert package["target"]["type"] == "Binary" and package["timeseries"] == {} and package["datasets"] == {}
    assert "permissions" not in package
    one = dr(server, "GET", f"modelPackages/{model['rev'][1]}/").json()
    assert one["activeDeploymentCount"] >= 1 and one["permissions"]
    message_of(dr(server, "GET", "modelPackages/nope/"), 404)
    message_of(dr(server, "GET", f"modelPackages/{model['rev'][1]}/", who="mallory"), 404)


def test_registering_a_model_returns_its_version(server: Server, model: dict[str, Any]) -> None:
    newest = dr(server, "POST", "modelPackages/fromLeaderboard/", json={"modelId": model["id"], "name": "x"})
    assert newest.status_code == 201 and newest.json()["id"] == model["rev"][4]
    exact = dr(server, "POST", "modelPackages/fromLeaderboard/", json={"modelId": model["rev"][2]})
    assert exact.json()["id"] == model["rev"][2] and exact.json()["registeredModelId"] == model["id"]
    message_of(dr(server, "POST", "modelPackages/fromLeaderboard/", who="bob", json={"modelId": model["id"]}), 403)
    wrong = dr(
        server, "POST", "modelPackages/fromLeaderboard/", json={"modelId": model["id"], "registeredModelId": "other"}
    )
    assert "registeredModelId" in message_of(wrong, 400)
    assert "modelId" in message_of(dr(server, "POST", "modelPackages/fromLeaderboard/", json={"modelId": "x"}), 400)


# --- listing ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many(server: Server, model: dict[str, Any], live: str) -> list[str]:
    return [create(server, model["rev"][2], label) for label in ("pg-b", "pg-a", "pg-d", "pg-c")]


def test_pages_link_absolute_next_and_previous(server: Server, many: list[str]) -> None:
    first = dr(server, "GET", "deployments/", params={"search": "pg-", "limit": 3}).json()
    assert first["count"] == 3 and first["totalCount"] == 4 and first["previous"] is None
    assert first["next"].startswith("http://testserver/api/v2/deployments/?")
    second = dr(server, "GET", first["next"]).json()
    assert second["count"] == 1 and second["next"] is None and second["previous"].startswith("http://testserver/")
    assert [d["id"] for d in first["data"] + second["data"]] == many
    beyond = dr(server, "GET", "deployments/", params={"offset": 10}).json()
    assert beyond["data"] == [] and beyond["next"] is None and beyond["previous"]


def test_the_default_page_and_its_next(server: Server, many: list[str]) -> None:
    everything = dr(server, "GET", "deployments/").json()
    assert everything["next"] is None and everything["totalCount"] == len(everything["data"]) == 5


def test_search_and_order_by(server: Server, many: list[str]) -> None:
    labels = [
        d["label"]
        for d in dr(server, "GET", "deployments/", params={"orderBy": "-label", "search": "PG"}).json()["data"]
    ]
    assert labels == ["pg-d", "pg-c", "pg-b", "pg-a"]
    labels = [d["label"] for d in dr(server, "GET", "deployments/", params={"orderBy": "label"}).json()["data"]]
    assert labels == ["live", "pg-a", "pg-b", "pg-c", "pg-d"]


@pytest.mark.parametrize(
    ("params", "field"), [({"limit": 0}, "limit"), ({"offset": -1}, "offset"), ({"orderBy": "colour"}, "orderBy")]
)
def test_bad_list_parameters_name_the_field(server: Server, params: dict[str, Any], field: str) -> None:
    response = dr(server, "GET", "deployments/", params=params)
    assert response.status_code in (400, 422)
    assert field in message_of(response, response.status_code)


# --- editing and deleting -----------------------------------------------------------------------


def test_update_label_description_importance_shows_in_both_faces(server: Server, many: list[str], space: str) -> None:
    target = many[0]
    body = {"label": "renamed", "description": "new words", "importance": "HIGH"}
    response = dr(server, "PATCH", f"deployments/{target}/", json=body)
    assert response.status_code == 204
    got = dr(server, "GET", f"deployments/{target}/").json()
    assert (got["label"], got["description"], got["importance"]) == ("renamed", "new words", "HIGH")
    wml = server.call("GET", f"/ml/v4/deployments/{target}", params={"space_id": space}).json()
    assert wml["metadata"]["name"] == "renamed" and wml["entity"]["custom"]["importance"] == "HIGH"
    by_importance = dr(server, "GET", "deployments/", params={"importance": "HIGH,CRITICAL"}).json()["data"]
    assert [d["id"] for d in by_importance] == [target]


def test_update_refuses_viewers_and_bad_bodies(server: Server, live: str) -> None:
    message_of(dr(server, "PATCH", f"deployments/{live}/", who="bob", json={"label": "mine"}), 403)
    assert "body" in message_of(dr(server, "PATCH", f"deployments/{live}/", json={}), 400)
    assert "importance" in message_of(dr(server, "PATCH", f"deployments/{live}/", json={"importance": "URGENT"}), 422)
    assert "label" in message_of(dr(server, "PATCH", f"deployments/{live}/", json={"label": "x" * 300}), 422)


def test_delete(server: Server, many: list[str]) -> None:
    message_of(dr(server, "DELETE", f"deployments/{many[-1]}/", who="bob"), 403)
    assert dr(server, "DELETE", f"deployments/{many[-1]}/").status_code == 204
    message_of(dr(server, "GET", f"deployments/{many[-1]}/"), 404)


# --- creating -----------------------------------------------------------------------------------


def test_create_from_a_learning_model(server: Server, model: dict[str, Any]) -> None:
    response = dr(server, "POST", "deployments/fromLearningModel/", json={"modelId": model["rev"][2], "label": "lm"})
    assert response.status_code == 202
    deployment_id = follow(server, response)
    assert deployment_id == response.json()["id"]
    assert dr(server, "GET", f"deployments/{deployment_id}/").json()["modelPackage"]["id"] == model["rev"][2]
    assert dr(server, "DELETE", f"deployments/{deployment_id}/").status_code == 204


def test_create_refuses_unknown_packages_viewers_and_bad_bodies(server: Server, model: dict[str, Any]) -> None:
    body = {"modelPackageId": "nope", "label": "x"}
    assert "modelPackageId" in message_of(dr(server, "POST", "deployments/fromModelPackage/", json=body), 400)
    body = {"modelPackageId": model["rev"][1], "label": "x"}
    message_of(dr(server, "POST", "deployments/fromModelPackage/", who="bob", json=body), 403)
    assert "modelPackageId" in message_of(dr(server, "POST", "deployments/fromModelPackage/", json={"label": "x"}), 422)
    body = {"modelId": "nope", "label": "x"}
    assert "modelId" in message_of(dr(server, "POST", "deployments/fromLearningModel/", json=body), 400)


# --- validating and replacing -------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"modelId": "a", "modelPackageId": "b"}], ids=["neither", "both"])
def test_exactly_one_of_model_id_and_model_package_id(server: Server, live: str, body: dict[str, Any]) -> None:
    assert "exactly one" in message_of(dr(server, "POST", f"deployments/{live}/model/validation/", json=body), 400)
    body = {**body, "reason": "OTHER"}
    assert "exactly one" in message_of(dr(server, "PATCH", f"deployments/{live}/model/", json=body), 400)


def test_a_bad_or_missing_reason_is_named(server: Server, live: str, model: dict[str, Any]) -> None:
    response = dr(
        server, "PATCH", f"deployments/{live}/model/", json={"modelPackageId": model["rev"][2], "reason": "BORED"}
    )
    message = message_of(response, 422)
    assert message.startswith("reason") and "DEPRECATION" in message
    response = dr(server, "PATCH", f"deployments/{live}/model/", json={"modelPackageId": model["rev"][2]})
    assert message_of(response, 422).startswith("reason")


def test_validation_answers_200_with_named_checks_even_when_failing(
    server: Server, live: str, model: dict[str, Any]
) -> None:
    passing = dr(server, "POST", f"deployments/{live}/model/validation/", json={"modelPackageId": model["rev"][2]})
    assert passing.status_code == 200 and passing.json()["status"] == "passing"
    failing = dr(server, "POST", f"deployments/{live}/model/validation/", json={"modelId": model["rev"][3]})
    assert failing.status_code == 200
    body = failing.json()
    assert body["status"] == "failing" and "targetType" in body["message"]
    assert body["checks"]["targetType"]["status"] == "failing"
    assert body["checks"]["permission"] == {"status": "passing", "message": body["checks"]["permission"]["message"]}
    viewer = dr(server, "POST", f"deployments/{live}/model/validation/", who="bob", json={"modelId": model["id"]})
    assert viewer.status_code == 200 and viewer.json()["checks"]["permission"]["status"] == "failing"
    unknown = dr(server, "POST", f"deployments/{live}/model/validation/", json={"modelPackageId": "nope"})
    assert "modelPackageId" in message_of(unknown, 400)


def test_a_refused_replacement_carries_the_checks_and_changes_nothing(
    server: Server, live: str, model: dict[str, Any]
) -> None:
    before = dr(server, "GET", f"deployments/{live}/modelHistory/").json()["totalCount"]
    body = {"modelPackageId": model["rev"][3], "reason": "ACCURACY"}
    response = dr(server, "PATCH", f"deployments/{live}/model/", json=body)
    assert "targetType" in message_of(response, 400)
    assert response.json()["status"] == "failing" and response.json()["checks"]["targetType"]["status"] == "failing"
    assert dr(server, "GET", f"deployments/{live}/modelHistory/").json()["totalCount"] == before
    assert served_rev(server, live) == "1"
    message_of(
        dr(server, "PATCH", f"deployments/{live}/model/", who="bob", json={**body, "modelPackageId": model["rev"][2]}),
        403,
    )


def test_replace_answers_202_and_its_status_ends_in_303(server: Server, live: str, model: dict[str, Any]) -> None:
    response = dr(
        server, "PATCH", f"deployments/{live}/model/", json={"modelId": model["rev"][2], "reason": "DATA_DRIFT"}
    )
    assert response.status_code == 202 and response.json()["status"] == "passing"
    assert follow(server, response) == live
    assert served_rev(server, live) == "2"
    assert dr(server, "GET", f"deployments/{live}/").json()["modelPackage"]["id"] == model["rev"][2]


def test_a_candidate_that_fails_to_load_ends_in_error_and_the_old_model_serves(
    server: Server, live: str, model: dict[str, Any]
) -> None:
    response = dr(
        server, "PATCH", f"deployments/{live}/model/", json={"modelPackageId": model["rev"][4], "reason": "ERRORS"}
    )
    assert response.status_code == 202
    deadline = time.monotonic() + 30
    while (polled := dr(server, "GET", response.headers["location"])).json()["status"] != "ERROR":
        assert polled.status_code == 200 and time.monotonic() < deadline
    assert polled.status_code == 200 and "previous model still serves" in polled.json()["message"]
    assert served_rev(server, live) == "2"


def test_the_status_route_answers_running_while_an_operation_runs(
    server: Server, live: str, space: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server.context.sessions() as session:
        # A running operation no runner holds: the status stays RUNNING.
        operation = Operation(
            kind=OperationKind.DEPLOY.value,
            state="running",
            space_id=space,
            target_id=live,
            created_by=server.ids["alice"],
        )
        session.add(operation)
        session.commit()
        operation_id = operation.id
    monkeypatch.setattr(status_route, "WAIT_SECONDS", 0.1)
    running = dr(server, "GET", f"status/{operation_id}/")
    assert running.status_code == 200 and running.json()["status"] == "RUNNING"
    message_of(dr(server, "GET", f"status/{operation_id}/", who="mallory"), 404)
    message_of(dr(server, "GET", "status/unknown/"), 404)


# --- settings -----------------------------------------------------------------------------------


def test_settings_render_every_section_with_empty_percentiles(server: Server, live: str) -> None:
    body = dr(server, "GET", f"deployments/{live}/settings/").json()
    assert body["predictionIntervals"] == {"enabled": False, "percentiles": []}
    assert body["targetDrift"] == {"enabled": False} and body["featureDrift"] == {"enabled": False}
    assert body["segmentAnalysis"] == {"enabled": False, "attributes": []}
    assert body["challengerModels"] == {"enabled": False}
    assert body["humility"] == {"enabled": False, "rules": []}
    message_of(dr(server, "GET", f"deployments/{live}/settings/", who="mallory"), 404)


def test_settings_change_through_a_status_url(server: Server, live: str) -> None:
    body = {"targetDrift": {"enabled": True}, "segmentAnalysis": {"enabled": True, "attributes": ["x1"]}}
    response = dr(server, "PATCH", f"deployments/{live}/settings/", json=body)
    assert response.status_code == 202 and follow(server, response) == live
    got = dr(server, "GET", f"deployments/{live}/settings/").json()
    assert got["targetDrift"] == {"enabled": True} and got["featureDrift"] == {"enabled": False}
    assert got["segmentAnalysis"] == {"enabled": True, "attributes": ["x1"]}
    undo = {"targetDrift": {"enabled": False}, "segmentAnalysis": {"enabled": False, "attributes": []}}
    follow(server, dr(server, "PATCH", f"deployments/{live}/settings/", json=undo))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"predictionWarning": {"enabled": True}}, "predictionWarning"),
        ({"associationId": {"columnNames": ["a", "b"]}}, "associationId.columnNames"),
        ({"predictionIntervals": {"enabled": True, "percentiles": [80]}}, "predictionIntervals.enabled"),
        ({"predictionIntervals": {"percentiles": [120]}}, "predictionIntervals.percentiles"),
        ({"segmentAnalysis": {"enabled": True, "attributes": ["nope"]}}, "segmentAnalysis.attributes"),
        ({"featureDrift": {"on": True}}, "featureDrift"),
        ({}, "body"),
    ],
)
def test_bad_settings_name_the_field(server: Server, live: str, body: dict[str, Any], field: str) -> None:
    response = dr(server, "PATCH", f"deployments/{live}/settings/", json=body)
    assert response.json()["errors"] == {field: response.json()["errors"][field]}
    message_of(response, 400)


def test_viewers_cannot_change_settings(server: Server, live: str) -> None:
    response = dr(server, "PATCH", f"deployments/{live}/settings/", who="bob", json={"targetDrift": {"enabled": True}})
    message_of(response, 403)


# --- activation ---------------------------------------------------------------------------------


def test_deactivate_refuses_predictions_and_replacements_until_activated(
    server: Server, live: str, model: dict[str, Any]
) -> None:
    message_of(dr(server, "PATCH", f"deployments/{live}/status/", who="bob", json={"status": "inactive"}), 403)
    response = dr(server, "PATCH", f"deployments/{live}/status/", json={"status": "inactive"})
    assert response.status_code == 202 and follow(server, response) == live
    assert dr(server, "GET", f"deployments/{live}/").json()["status"] == "inactive"
    refused = server.call("POST", f"/ml/v4/deployments/{live}/predictions", params=V, json=ROW)
    assert refused.status_code == 409 and "inactive" in refused.text
    check = dr(server, "POST", f"deployments/{live}/model/validation/", json={"modelPackageId": model["rev"][1]})
    assert check.json()["checks"]["predictionReady"]["status"] == "failing"
    again = dr(server, "PATCH", f"deployments/{live}/status/", json={"status": "inactive"})
    assert again.status_code == 202 and follow(server, again) == live
    response = dr(server, "PATCH", f"deployments/{live}/status/", json={"status": "active"})
    assert response.status_code == 202 and follow(server, response) == live
    assert dr(server, "GET", f"deployments/{live}/").json()["status"] == "active"
    assert served_rev(server, live) == "2"
    assert "status" in message_of(dr(server, "PATCH", f"deployments/{live}/status/", json={"status": "off"}), 422)


# --- one history across faces -------------------------------------------------------------------


def test_one_history_whichever_face_replaced_the_model(
    server: Server, live: str, model: dict[str, Any], space: str
) -> None:
    patch = [{"op": "replace", "path": "/asset", "value": {"id": model["id"], "rev": "1"}}]
    wml = server.call(
        "PATCH", f"/ml/v4/deployments/{live}", params={**V, "space_id": space, "reason": "SCORING_SPEED"}, json=patch
    )
    assert wml.status_code == 202, wml.text
    wait_until_settled(server, space, live)
    assert dr(server, "GET", f"deployments/{live}/").json()["modelPackage"]["id"] == model["rev"][1]
    response = dr(
        server, "PATCH", f"deployments/{live}/model/", json={"modelPackageId": model["rev"][2], "reason": "DEPRECATION"}
    )
    follow(server, response)
    assert wait_until_settled(server, space, live)["entity"]["asset"] == {"id": model["id"], "rev": "2"}
    history = dr(server, "GET", f"deployments/{live}/modelHistory/").json()
    seen = [(h["reason"], h["outcome"], h["modelPackage"]["registeredModelVersion"]) for h in history["data"]]
    assert seen == [
        ("DEPRECATION", "succeeded", 2),
        ("SCORING_SPEED", "succeeded", 1),
        ("ERRORS", "failed", 4),
        ("DATA_DRIFT", "succeeded", 2),
    ]
    assert history["data"][0]["previousModelPackage"]["name"] == "churn v1"
    assert history["data"][0]["validation"]["checks"]["target"]["status"] == "passing"
    wml_history = server.call("GET", f"/ml/v4/deployments/{live}/replacements").json()["resources"]
    assert [h["entity"]["reason"] for h in wml_history] == [s[0] for s in seen]


# --- runtime parameter values -------------------------------------------------------------------


def test_runtime_parameter_values_go_with_the_replacement(
    server: Server, space: str, model_files: ModelFiles, variants: dict[str, Path], tmp_path: Path
) -> None:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="with-params")
    upload = tmp_path / "retrained.joblib"
    upload.write_bytes(variants["retrained"].read_bytes())
    declared = [{"fieldName": "THRESHOLD", "type": "numeric", "defaultValue": 0.5, "minValue": 0, "maxValue": 1}]
    with server.context.sessions() as session:
        alice = users.actor_of(users.get_user(session, user_id=server.ids["alice"]))
        version = models.add_version(
            session,
            alice,
            server.context.store,
            model_id=model_id,
            upload=upload,
            limit=10**8,
            runtime_parameters=declared,
        )
        candidate = version.id
    packages = dr(server, "GET", "modelPackages/", params={"modelId": model_id}).json()["data"]
    deployment_id = create(server, next(p["id"] for p in packages if p["registeredModelVersion"] == 1), "params")
    path = f"deployments/{deployment_id}/model/"
    for given, field in [
        ('[{"fieldName": "THRESHOLD", "type": "numeric", "value": 2}]', "runtimeParameterValues.THRESHOLD"),
        ('[{"fieldName": "NOPE", "value": 1}]', "runtimeParameterValues.NOPE"),
        ("{not json", "runtimeParameterValues"),
        ('{"fieldName": "THRESHOLD"}', "runtimeParameterValues"),
        ('[{"value": 0.7}]', "runtimeParameterValues.0"),
        ('[{"fieldName": "THRESHOLD"}]', "runtimeParameterValues.THRESHOLD"),
    ]:
        body = {"modelPackageId": candidate, "reason": "OTHER", "runtimeParameterValues": given}
        response = dr(server, "PATCH", path, json=body)
        assert field in response.json()["errors"], response.text
        message_of(response, 400)
    value = [{"fieldName": "THRESHOLD", "type": "numeric", "value": 0.7}]
    response = dr(
        server, "PATCH", path, json={"modelPackageId": candidate, "reason": "OTHER", "runtimeParameterValues": value}
    )
    assert response.status_code == 202 and follow(server, response) == deployment_id
    with server.context.sessions() as session:
        assert deployments.runtime_values_of(session, alice, deployment_id=deployment_id) == {"THRESHOLD": 0.7}


def test_a_package_keeps_the_name_its_model_had_when_it_was_made(
    server: Server, space: str, model_files: ModelFiles, variants: dict[str, Path]
) -> None:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="scorer")
    rename = [{"op": "replace", "path": "/name", "value": "scorer renamed"}]
    renamed = server.call("PATCH", f"/ml/v4/models/{model_id}", params={**V, "space_id": space}, json=rename)
    assert renamed.status_code == 200, renamed.text
    put = server.call(
        "PUT",
        f"/ml/v4/models/{model_id}/content",
        params={"space_id": space},
        content=variants["retrained"].read_bytes(),
    )
    assert put.status_code == 201, put.text

    packages = dr(server, "GET", "modelPackages/", params={"modelId": model_id}).json()["data"]
    assert sorted(p["name"] for p in packages) == ["scorer renamed v2", "scorer v1"]
