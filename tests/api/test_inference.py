"""The Open Inference Protocol face in-process: probes, metadata, inference in both layouts, and errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import champion
from champion.api.inference import render
from tests.api.test_wml_deployments import V, deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles, training_data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(
        tmp_path_factory.mktemp("inference-home"), "alice", "bob", "mallory", max_request_bytes=64 * 1024
    ) as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    server.call("POST", f"/v2/spaces/{space_id}/members", json=members)
    return space_id


def deployed(server: Server, space: str, content: bytes, name: str, **extra: Any) -> tuple[str, str]:
    model_id = upload_model(server, space, content, name=name)
    deployment_id: str = deploy(server, space, model_id, name=name, **extra)["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
    return deployment_id, model_id


@pytest.fixture(scope="module")
def classifier(server: Server, space: str, model_files: ModelFiles) -> tuple[str, str]:
    return deployed(server, space, model_files.classifier_named.read_bytes(), "clf", serving_name="churn_oip")


@pytest.fixture(scope="module")
def regressor(server: Server, space: str, model_files: ModelFiles) -> tuple[str, str]:
    return deployed(server, space, model_files.regressor.read_bytes(), "reg")


def infer(server: Server, model: str, body: Any, who: str | None = "alice") -> httpx.Response:
    return server.call("POST", f"/v2/models/{model}/infer", who=who, json=body)


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    message: str = body["error"]
    return message


def outputs(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {output["name"]: output for output in response.json()["outputs"]}


ROWS = training_data(rows=6, seed=7)[0]


def columns_body(rows: Any = ROWS) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": rows[name].tolist()} for name in FEATURES
        ]
    }


def test_server_probes_need_no_credentials(server: Server) -> None:
    assert server.call("GET", "/v2", who=None).json() == {
        "name": "champion",
        "version": champion.__version__,
        "extensions": [],
    }
    assert server.call("GET", "/v2/health/live", who=None).json() == {"live": True}
    assert server.call("GET", "/v2/health/ready", who=None).json() == {"ready": True}


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("GET", "/ready"), ("POST", "/infer")])
def test_model_routes_need_credentials(server: Server, classifier: tuple[str, str], method: str, suffix: str) -> None:
    response = server.call(method, f"/v2/models/{classifier[0]}{suffix}", who=None, json=columns_body())
    assert_error(response, 401)


def test_metadata_lists_features_and_classes(server: Server, classifier: tuple[str, str]) -> None:
    deployment_id, model_id = classifier
    metadata = server.call("GET", "/v2/models/churn_oip").json()
    assert metadata["name"] == deployment_id
    assert metadata["versions"] == [f"{model_id}:1"]
    assert metadata["platform"] == "scikit-learn"
    assert metadata["inputs"] == [{"name": name, "datatype": "FP64", "shape": [-1]} for name in FEATURES]
    assert metadata["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert metadata["parameters"] == {"target_type": "binary", "class_labels": [0, 1], "deployment_name": "clf"}


def test_ready_reports_a_ready_deployment(server: Server, classifier: tuple[str, str]) -> None:
    response = server.call("GET", f"/v2/models/{classifier[0]}/ready")
    assert response.json() == {"name": classifier[0], "ready": True}


def test_infer_by_columns_answers_like_the_model(
    server: Server, classifier: tuple[str, str], model_files: ModelFiles
) -> None:
    deployment_id, model_id = classifier
    response = infer(server, deployment_id, {"id": "req-1", **columns_body()})
    estimator = joblib.load(model_files.classifier_named)
    assert response.headers["Champion-Model-Version"] == f"{model_id}:1"
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == (deployment_id, f"{model_id}:1", "req-1")
    answers = outputs(response)
    assert answers["predict"] == {
        "name": "predict",
        "shape": [6],
        "datatype": "INT64",
        "data": estimator.predict(ROWS).tolist(),
    }
    proba = answers["predict_proba"]
    assert (proba["shape"], proba["datatype"]) == ([6, 2], "FP64")
    np.testing.assert_allclose(np.reshape(proba["data"], (6, 2)), estimator.predict_proba(ROWS))


@pytest.mark.parametrize("nested", [False, True])
def test_one_2d_tensor_answers_like_columns(server: Server, classifier: tuple[str, str], nested: bool) -> None:
    matrix = ROWS.to_numpy()
    data = matrix.tolist() if nested else matrix.ravel().tolist()
    tensor = {"name": "input-0", "shape": list(matrix.shape), "datatype": "FP64", "data": data}
    by_rows = outputs(infer(server, classifier[0], {"inputs": [tensor]}))
    assert by_rows == outputs(infer(server, classifier[0], columns_body()))


def test_data_nested_as_deep_as_json_allows_is_read_without_recursion(
    server: Server, classifier: tuple[str, str]
) -> None:
    """orjson reads 1,024 levels; flattening them recursively exceeded Python's limit (a 500)."""
    row = ROWS.to_numpy()[:1]
    deep = "[" * 1000 + ", ".join(map(str, row.ravel().tolist())) + "]" * 1000
    body = f'{{"inputs": [{{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": {deep}}}]}}'
    response = server.call(
        "POST", f"/v2/models/{classifier[0]}/infer", content=body, headers={"Content-Type": "application/json"}
    )
    flat = {"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": row.ravel().tolist()}]}
    assert outputs(response) == outputs(infer(server, classifier[0], flat))


def test_columns_of_shape_n_by_1_are_accepted(server: Server, classifier: tuple[str, str]) -> None:
    body = columns_body()
    for tensor in body["inputs"]:
        tensor["shape"], tensor["data"] = [6, 1], [[value] for value in tensor["data"]]
    assert outputs(infer(server, classifier[0], body)) == outputs(infer(server, classifier[0], columns_body()))


def test_serving_name_and_chosen_outputs(server: Server, classifier: tuple[str, str]) -> None:
    response = infer(server, "churn_oip", {**columns_body(), "outputs": [{"name": "predict_proba"}]})
    assert response.json()["model_name"] == "churn_oip"
    assert list(outputs(response)) == ["predict_proba"]
    assert response.json()["id"]  # a fresh one when the request has none


def test_a_request_without_an_id_gets_a_fresh_uuid4(server: Server, classifier: tuple[str, str]) -> None:
    matrix = ROWS.to_numpy()
    rows = {"inputs": [{"name": "input-0", "shape": list(matrix.shape), "datatype": "FP64", "data": matrix.tolist()}]}
    ids = [infer(server, classifier[0], body).json()["id"] for body in (columns_body(), columns_body(), rows)]
    assert len(set(ids)) == 3
    assert all(str(uuid.UUID(text)) == text and uuid.UUID(text).version == 4 for text in ids)


@given(random=st.binary(min_size=16, max_size=16))
def test_the_response_id_is_the_uuid4_of_its_random_bytes(random: bytes) -> None:
    """`render.response_id` writes out what `str(uuid.uuid4())` gives for the same 16 random bytes."""
    assert render.response_id(random) == str(uuid.UUID(bytes=random, version=4))


def test_a_regressor_gives_numbers_only(server: Server, regressor: tuple[str, str], model_files: ModelFiles) -> None:
    answers = outputs(infer(server, regressor[0], columns_body()))
    assert list(answers) == ["predict"] and answers["predict"]["datatype"] == "FP64"
    np.testing.assert_allclose(answers["predict"]["data"], joblib.load(model_files.regressor).predict(ROWS))
    metadata = server.call("GET", f"/v2/models/{regressor[0]}").json()
    assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    assert metadata["parameters"]["class_labels"] == []


def _column(name: str, data: list[Any], shape: list[int] | None = None, datatype: str = "FP64") -> dict[str, Any]:
    return {"name": name, "shape": shape or [len(data)], "datatype": datatype, "data": data}


X1, X2, X3 = (_column(name, [1.0, 2.0]) for name in FEATURES)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"inputs": [X1, X2, X3, _column("x9", [0.0, 0.0])]}, "unknown input 'x9'"),
        ({"inputs": [X1, X2]}, "missing input 'x3'"),
        ({"inputs": [X1, X2, _column("x3", [1.0, 2.0], shape=[3])]}, "inputs[2].shape"),
        ({"inputs": [X1, X2, _column("x3", [1.0, "two"])]}, "inputs[2].data"),
        ({"inputs": [X1, X2, _column("x3", [1.0, 2.0], datatype="INT64")]}, "inputs[2].data"),
        ({"inputs": [X1, X2, _column("x3", [1.0, 2.0], datatype="FP99")]}, "inputs[2].datatype"),
        ({"inputs": [X1, X2, X3, X1]}, "inputs[3].name"),
        ({"inputs": [_column("input-0", [1.0, 2.0, 3.0, 4.0], shape=[2, 2])]}, "inputs[0].shape"),
        ({"inputs": [_column("input-0", [[1.0, 2.0, 3.0]], shape=[2, 3])]}, "inputs[0].shape"),
        ({"inputs": []}, "inputs"),
        ({"inputs": [{"name": "x1", "data": [1.0]}]}, "inputs[0].shape"),
        ({"inputs": [X1, X2, X3], "outputs": [{"name": "explain"}]}, "outputs[0].name"),
    ],
)
def test_bad_requests_name_the_problem(
    server: Server, classifier: tuple[str, str], body: dict[str, Any], expected: str
) -> None:
    assert expected in assert_error(infer(server, classifier[0], body), 400)


def test_bad_json_and_large_bodies(server: Server, classifier: tuple[str, str]) -> None:
    bad = server.call("POST", f"/v2/models/{classifier[0]}/infer", content=b"{not json")
    assert "not valid JSON" in assert_error(bad, 400)
    huge = {"inputs": [_column(name, [0.0] * 10_000) for name in FEATURES]}
    assert_error(infer(server, classifier[0], huge), 413)


def test_membership_decides_who_sees_a_model(server: Server, classifier: tuple[str, str]) -> None:
    assert infer(server, classifier[0], columns_body(), who="bob").status_code == 200  # viewers may score
    assert_error(infer(server, classifier[0], columns_body(), who="mallory"), 404)
    assert_error(server.call("GET", f"/v2/models/{classifier[0]}", who="mallory"), 404)
    assert_error(server.call("GET", "/v2/models/no-such-model"), 404)


def test_batch_deployments_do_not_infer(server: Server, space: str, model_files: ModelFiles) -> None:
    model_id = upload_model(server, space, model_files.regressor.read_bytes(), name="nightly")
    body = {"name": "nightly", "batch": {}, "hardware_spec": {"name": "S"}, "asset": {"id": model_id}}
    created = server.call("POST", "/ml/v4/deployments", params=V, json={**body, "space_id": space}).json()
    wait_until_settled(server, space, created["metadata"]["id"])
    assert "batch" in assert_error(infer(server, created["metadata"]["id"], columns_body()), 400)
