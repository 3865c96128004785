"""Software specifications through the WML face: the catalogue in WML's shape, the 400 for a spec that
does not fit a model's family, and a deployment following its model's spec through a replacement."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from champion.models.software_specs import CATALOGUE, SoftwareSpec
from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import ModelFiles

V = {"version": "2026-10-14"}
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def named(prefix: str) -> SoftwareSpec:
    (spec,) = [s for s in CATALOGUE if s.name == f"{prefix}_rt24.1-py{PYTHON}"]
    return spec


SKLEARN, XGBOOST, ONNX = named("scikit-learn"), named("xgboost"), named("onnxruntime")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("specs-home"), "alice") as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "specs"}).json()["metadata"]["id"]
    return space_id


def model_names(server: Server, space: str) -> list[str]:
    listed = server.call("GET", "/ml/v4/models", params={**V, "space_id": space}).json()["resources"]
    return [m["metadata"]["name"] for m in listed]


def test_the_listing_shows_every_spec_in_wmls_shape(server: Server) -> None:
    listed = server.call("GET", "/v2/software_specifications", params=V).json()
    assert listed["total_results"] == len(CATALOGUE) == 5
    assert [r["metadata"]["name"] for r in listed["resources"]] == [s.name for s in CATALOGUE]
    for resource, spec in zip(listed["resources"], CATALOGUE, strict=True):
        metadata, entity = resource["metadata"], resource["entity"]["software_specification"]
        assert metadata["asset_id"] == spec.id and metadata["asset_type"] == "software_specification"
        assert metadata["href"] == f"/v2/software_specifications/{spec.id}" and metadata["created_at"]
        assert entity["type"] == "base" and entity["model_types"] == list(spec.model_types)
        configuration = entity["software_configuration"]
        assert configuration["platform"] == {"name": "python", "version": PYTHON}
        assert configuration["included_packages"] == [{"name": n, "version": v} for n, v in spec.packages]
        assert server.call("GET", metadata["href"], params=V).json() == resource
        by_name = server.call("GET", "/v2/software_specifications", params={**V, "name": spec.name}).json()
        assert by_name["total_results"] == 1 and by_name["resources"] == [resource]


def test_a_model_whose_spec_does_not_fit_its_family_is_a_400_naming_software_spec(server: Server, space: str) -> None:
    for reference in ({"id": XGBOOST.id}, {"name": XGBOOST.name}):
        body = {"name": "misfit", "type": "scikit-learn_1.3", "software_spec": reference, "space_id": space}
        message = assert_wml_error(server.call("POST", "/ml/v4/models", params=V, json=body), 400, "software_spec.id")
        assert "runs xgboost models, not scikit-learn models" in message
        assert f"fit scikit-learn models are {CATALOGUE[0].name}, {SKLEARN.name}" in message
    assert "misfit" not in model_names(server, space)
    body = {"name": "onnx", "type": "onnxruntime_1.16", "software_spec": {"name": ONNX.name}, "space_id": space}
    created = server.call("POST", "/ml/v4/models", params=V, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["entity"]["software_spec"] == {"id": ONNX.id, "name": ONNX.name}


def test_a_spec_patch_that_does_not_fit_is_a_400_and_changes_nothing(server: Server, space: str) -> None:
    body = {"name": "patched", "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}, "space_id": space}
    model_id = server.call("POST", "/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
    url, params = f"/ml/v4/models/{model_id}", {**V, "space_id": space}
    refused = [
        {"op": "replace", "path": "/description", "value": "changed"},
        {"op": "replace", "path": "/software_spec/id", "value": ONNX.id},
    ]
    message = assert_wml_error(server.call("PATCH", url, params=params, json=refused), 400, "/software_spec/id")
    assert "not scikit-learn models" in message
    unchanged = server.call("GET", url, params=params).json()
    assert unchanged["entity"]["software_spec"]["id"] == CATALOGUE[0].id and unchanged["metadata"]["description"] == ""
    moved = server.call(
        "PATCH", url, params=params, json=[{"op": "replace", "path": "/software_spec/id", "value": SKLEARN.id}]
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["entity"]["software_spec"] == {"id": SKLEARN.id, "name": SKLEARN.name}


def test_a_deployment_moves_to_another_spec_through_a_revision_and_the_asset_patch(
    server: Server, space: str, model_files: ModelFiles
) -> None:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="moving")
    deployment = deploy(server, space, model_id)["metadata"]["id"]
    assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
    params = {**V, "space_id": space}
    patch = [{"op": "replace", "path": "/software_spec/id", "value": SKLEARN.id}]
    assert server.call("PATCH", f"/ml/v4/models/{model_id}", params=params, json=patch).status_code == 200
    revision = server.call("POST", f"/ml/v4/models/{model_id}/revisions", params=params, json={"space_id": space})
    assert revision.status_code == 201, revision.text
    rev = revision.json()["metadata"]["rev"]
    assert rev == "2" and revision.json()["entity"]["software_spec"]["id"] == SKLEARN.id
    # The deployed revision keeps the spec it was made with until the deployment moves.
    first: dict[str, Any] = server.call("GET", f"/ml/v4/models/{model_id}", params={**params, "rev": "1"}).json()
    assert first["entity"]["software_spec"]["id"] == CATALOGUE[0].id
    asset = [{"op": "replace", "path": "/asset", "value": {"id": model_id, "rev": rev}}]
    response = server.call("PATCH", f"/ml/v4/deployments/{deployment}", params=params, json=asset)
    assert response.status_code == 202, response.text
    (supported,) = [c for c in response.json()["entity"]["status"]["validation"]["checks"] if c["name"] == "supported"]
    assert supported["status"] == "passing"
    assert supported["message"].endswith(f"changes from {CATALOGUE[0].name} to {SKLEARN.name}.")
    details = wait_until_settled(server, space, deployment)
    assert details["entity"]["status"]["state"] == "ready" and details["entity"]["asset"] == {
        "id": model_id,
        "rev": rev,
    }
