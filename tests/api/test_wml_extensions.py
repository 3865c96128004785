"""champion's WML extensions: validating a candidate (`/validation`) and a deployment's `/settings`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.test_wml_deployments import upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import ModelFiles, build_variants

V = {"version": "2026-10-14"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("extensions-home"), "alice", "bob", "mallory") as server:
        yield server


@pytest.fixture(scope="module")
def live(server: Server, model_files: ModelFiles, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    variants = build_variants(tmp_path_factory.mktemp("variants"))
    space: str = server.call("POST", "/v2/spaces", json={"name": "s"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space}/members", json=members).status_code == 200
    model = upload_model(server, space, model_files.classifier_named.read_bytes())
    for name in ("retrained", "fewer_features", "regressor"):
        put = server.call(
            "PUT", f"/ml/v4/models/{model}/content", params={"space_id": space}, content=variants[name].read_bytes()
        )
        assert put.status_code == 201, put.text
    body = {"name": "dep", "online": {}, "asset": {"id": model, "rev": "1"}, "space_id": space}
    deployment = server.call("POST", "/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
    assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
    # revisions: 1 deployed, 2 retrained, 3 fewer features, 4 regressor
    return {"space": space, "model": model, "deployment": deployment}


def validate(server: Server, live: dict[str, str], asset: dict[str, Any], who: str = "alice") -> httpx.Response:
    url = f"/ml/v4/deployments/{live['deployment']}/validation"
    return server.call("POST", url, who=who, params={**V, "space_id": live["space"]}, json={"asset": asset})


def settings(server: Server, live: dict[str, str], body: Any = None, who: str = "alice") -> httpx.Response:
    url = f"/ml/v4/deployments/{live['deployment']}/settings"
    params = {**V, "space_id": live["space"]}
    if body is None:
        return server.call("GET", url, who=who, params=params)
    return server.call("PATCH", url, who=who, params=params, json=body)


def statuses(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {c["name"]: c["status"] for c in response.json()["checks"]}


def test_a_compatible_candidate_passes_every_check(server: Server, live: dict[str, str]) -> None:
    response = validate(server, live, {"id": live["model"], "rev": "2"})
    report = response.json()
    assert set(statuses(response).values()) == {"passing"}
    assert report["status"] == "passing" and report["message"] == "All checks passed."
    assert report["schema_mismatch"] is False
    assert all(set(c) == {"name", "status", "message"} and c["message"] for c in report["checks"])
    assert len(report["checks"]) == 20  # DataRobot's nineteen and champion's replay


def test_fewer_features_warns_and_flags_the_schema_mismatch(server: Server, live: dict[str, str]) -> None:
    response = validate(server, live, {"id": live["model"], "rev": "3"})
    report = response.json()
    assert statuses(response)["features"] == "warning"
    assert report["status"] == "warning" and report["schema_mismatch"] is True
    assert "features" in report["message"]


def test_a_regressor_replacing_a_classifier_fails_and_answers_200(server: Server, live: dict[str, str]) -> None:
    response = validate(server, live, {"id": live["model"], "rev": "4"})
    assert statuses(response)["targetType"] == "failing"
    assert response.json()["status"] == "failing" and "targetType" in response.json()["message"]


def test_without_a_rev_the_newest_revision_is_validated(server: Server, live: dict[str, str]) -> None:
    assert statuses(validate(server, live, {"id": live["model"]}))["targetType"] == "failing"


def test_the_deployed_model_itself_fails_not_current_model(server: Server, live: dict[str, str]) -> None:
    assert statuses(validate(server, live, {"id": live["model"], "rev": "1"}))["notCurrentModel"] == "failing"


def test_validation_writes_nothing(server: Server, live: dict[str, str]) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}"
    before = server.call("GET", url, params={"space_id": live["space"]})
    for rev in ("2", "3", "4"):
        assert validate(server, live, {"id": live["model"], "rev": rev}).status_code == 200
    after = server.call("GET", url, params={"space_id": live["space"]})
    assert after.headers["ETag"] == before.headers["ETag"]
    assert after.json()["entity"]["asset"] == {"id": live["model"], "rev": "1"}
    assert after.json()["entity"]["status"]["state"] == "ready"
    assert server.call("GET", f"{url}/replacements").json()["resources"] == []


def test_a_viewer_may_validate_and_is_told_they_may_not_replace(server: Server, live: dict[str, str]) -> None:
    # `replacement.check` asks only that the caller sees the deployment; the permission check says the rest.
    response = validate(server, live, {"id": live["model"], "rev": "2"}, who="bob")
    assert statuses(response)["permission"] == "failing"
    assert response.json()["status"] == "failing"


def test_a_non_member_gets_404(server: Server, live: dict[str, str]) -> None:
    assert_wml_error(validate(server, live, {"id": live["model"], "rev": "2"}, who="mallory"), 404)
    assert_wml_error(settings(server, live, who="mallory"), 404)
    assert_wml_error(settings(server, live, {"challengers": {"enabled": True}}, who="mallory"), 404)


def test_another_space_id_gets_404(server: Server, live: dict[str, str]) -> None:
    other: str = server.call("POST", "/v2/spaces", json={"name": "other"}).json()["metadata"]["id"]
    url = f"/ml/v4/deployments/{live['deployment']}/validation"
    body = {"asset": {"id": live["model"], "rev": "2"}}
    assert_wml_error(server.call("POST", url, params={"space_id": other}, json=body), 404)
    url = f"/ml/v4/deployments/{live['deployment']}/settings"
    assert_wml_error(server.call("GET", url, params={"space_id": other}), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"asset": {"id": "nope"}}, "asset.id"),
        ({"asset": {"id": "MODEL", "rev": "two"}}, "asset.rev"),
        ({"asset": {"id": "MODEL", "rev": "9"}}, "asset.rev"),
        ({"asset": {"id": "MODEL"}, "extra": 1}, "extra"),
        ({}, "asset"),
    ],
)
def test_a_bad_candidate_is_named_in_the_wml_shape(
    server: Server, live: dict[str, str], body: dict[str, Any], field: str
) -> None:
    if "asset" in body:
        body = {**body, "asset": {k: live["model"] if v == "MODEL" else v for k, v in body["asset"].items()}}
    url = f"/ml/v4/deployments/{live['deployment']}/validation"
    assert_wml_error(server.call("POST", url, params={"space_id": live["space"]}, json=body), 400, field)


def test_an_unknown_deployment_gets_404(server: Server, live: dict[str, str]) -> None:
    body = {"asset": {"id": live["model"]}}
    assert_wml_error(server.call("POST", "/ml/v4/deployments/nope/validation", json=body), 404)
    assert_wml_error(server.call("GET", "/ml/v4/deployments/nope/settings"), 404)


def test_settings_start_switched_off_but_capture(server: Server, live: dict[str, str]) -> None:
    response = settings(server, live)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "prediction_intervals",
        "drift_tracking",
        "segment_analysis",
        "challengers",
        "humility",
        "predictions_data_collection",
        "association_id",
        "replay",
        "challenger_replay",
    }
    assert body["segment_analysis"] == {"enabled": False, "attributes": []}
    assert body["predictions_data_collection"]["enabled"] is True
    assert body["association_id"] == {"column_names": [], "required_in_prediction_requests": False}


def test_a_patch_merges_deeply_and_is_kept(server: Server, live: dict[str, str]) -> None:
    first = settings(server, live, {"segment_analysis": {"enabled": True, "attributes": ["x1", "x2"]}})
    assert first.status_code == 200, first.text
    second = settings(server, live, {"segment_analysis": {"attributes": ["x3"]}, "challengers": {"enabled": True}})
    assert second.status_code == 200, second.text
    kept = settings(server, live).json()
    assert kept == second.json()
    assert kept["segment_analysis"] == {"enabled": True, "attributes": ["x3"]}
    assert kept["challengers"] == {"enabled": True}
    assert kept["drift_tracking"] == {"target_drift_enabled": False, "feature_drift_enabled": False}
    # Now held to the settings: a candidate without x3 fails the tracked-segment check.
    checks = statuses(validate(server, live, {"id": live["model"], "rev": "3"}))
    assert checks["containsTrackedSegmentAttributes"] == "failing"
    assert settings(server, live, {"segment_analysis": {"enabled": False}}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"frobnicate": {}}, "frobnicate"),
        ({"segment_analysis": {"enabled": "yes"}}, "segment_analysis.enabled"),
        ({"prediction_intervals": {"percentiles": [0]}}, "prediction_intervals.percentiles"),
        ({"segment_analysis": {"enabled": True, "attributes": ["x9"]}}, "segment_analysis.attributes"),
        ({"prediction_intervals": {"enabled": True}}, "prediction_intervals.enabled"),
        ([], "body"),
        ({}, "body"),
    ],
)
def test_a_bad_setting_is_named_and_nothing_changes(
    server: Server, live: dict[str, str], body: Any, field: str
) -> None:
    before = settings(server, live).json()
    assert_wml_error(settings(server, live, body), 400, field)
    assert settings(server, live).json() == before


def test_a_viewer_reads_settings_but_cannot_change_them(server: Server, live: dict[str, str]) -> None:
    before = settings(server, live).json()
    assert settings(server, live, who="bob").json() == before
    assert "editor" in assert_wml_error(settings(server, live, {"challengers": {"enabled": True}}, who="bob"), 403)
    assert settings(server, live).json() == before


def test_the_routes_need_credentials(server: Server, live: dict[str, str]) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}"
    assert_wml_error(server.call("POST", f"{url}/validation", who=None, json={"asset": {"id": live["model"]}}), 401)
    assert_wml_error(server.call("GET", f"{url}/settings", who=None), 401)
    assert_wml_error(server.call("PATCH", f"{url}/settings", who=None, json={}), 401)


def test_the_report_shape_is_the_one_replacements_record(server: Server, live: dict[str, str]) -> None:
    report = validate(server, live, {"id": live["model"], "rev": "2"}).json()
    patched = server.call(
        "PATCH",
        f"/ml/v4/deployments/{live['deployment']}",
        params={"space_id": live["space"]},
        json=[{"op": "replace", "path": "/asset", "value": {"id": live["model"], "rev": "2"}}],
    )
    assert patched.status_code == 202, patched.text
    recorded = patched.json()["entity"]["status"]["validation"]
    assert {k: v for k, v in report.items() if k != "schema_mismatch"} == recorded
    wait_until_settled(server, live["space"], live["deployment"])


def test_a_settings_patch_is_answered_once_the_serving_engine_acts_on_it(server: Server, live: dict[str, str]) -> None:
    # A client sets the association id column, then predicts at once: the id must be captured.
    response = settings(server, live, {"association_id": {"column_names": ["order_id"]}})
    assert response.status_code == 200, response.text
    view = server.client.app.state.engine.resolve(live["deployment"])
    assert view is not None and view.capture is not None and view.capture.association_column == "order_id"
    response = settings(server, live, {"association_id": {"column_names": []}})
    assert response.status_code == 200, response.text
    view = server.client.app.state.engine.resolve(live["deployment"])
    assert view is not None and view.capture is not None and view.capture.association_column is None
