"""A tree ensemble deployed through WML serves compiled, says so in its details, and can be turned native.

The form is set through the WML settings extension (`PATCH /ml/v4/deployments/{id}/settings`,
`compiled.enabled`) and reaches every process's serving engine through the follower, which loads
the champion again in the form asked for.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from champion.runtimes.compiled import TOLERANCE
from tests.api.test_wml_deployments import V, deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, training_data

ROWS = np.random.default_rng(5).normal(size=(20, len(FEATURES)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("compiled-home"), "alice") as server:
        yield server


@pytest.fixture(scope="module")
def model() -> GradientBoostingClassifier:
    frame, target = training_data()
    return GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(frame, target)


@pytest.fixture(scope="module")
def deployed(
    server: Server, model: GradientBoostingClassifier, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    space: str = server.call("POST", "/v2/spaces", json={"name": "trees"}).json()["metadata"]["id"]
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    model_id = upload_model(server, space, buffer.getvalue(), name="gbm")
    deployment_id: str = deploy(server, space, model_id, name="gbm")["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
    return space, deployment_id


def details(server: Server, space: str, deployment_id: str) -> dict[str, Any]:
    response = server.call("GET", f"/ml/v4/deployments/{deployment_id}", params={**V, "space_id": space})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def probabilities(server: Server, deployment_id: str) -> np.ndarray:
    body = {"input_data": [{"fields": FEATURES, "values": ROWS.tolist()}]}
    response = server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", params=V, json=body)
    assert response.status_code == 200, response.text
    return np.array([row[1] for row in response.json()["predictions"][0]["values"]])


def until(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the change never reached the serving engine"
        time.sleep(0.05)


def test_a_tree_ensemble_serves_compiled_and_says_so(
    server: Server, deployed: tuple[str, str], model: GradientBoostingClassifier
) -> None:
    space, deployment_id = deployed
    form = details(server, space, deployment_id)["entity"]["status"]["serving_form"]
    assert form["form"] == "onnxruntime"
    assert 0 <= form["deviation"] <= TOLERANCE and form["rows"] > 0
    native = model.predict_proba(ROWS)
    assert np.abs(probabilities(server, deployment_id) - native).max() <= TOLERANCE


def test_turning_compilation_off_serves_the_native_model(
    server: Server, deployed: tuple[str, str], model: GradientBoostingClassifier
) -> None:
    space, deployment_id = deployed
    url = f"/ml/v4/deployments/{deployment_id}/settings"
    response = server.call("PATCH", url, params={**V, "space_id": space}, json={"compiled": {"enabled": False}})
    assert response.status_code == 200, response.text
    assert response.json()["compiled"] == {"enabled": False}
    form = details(server, space, deployment_id)["entity"]["status"]["serving_form"]
    assert form["form"] == "native" and "turned off" in form["reason"]
    native = model.predict_proba(ROWS)
    # The engine loads the champion again, natively: its answers become the model's own, bit for bit.
    until(lambda: np.array_equal(probabilities(server, deployment_id), native))
    on = server.call("PATCH", url, params={**V, "space_id": space}, json={"compiled": {"enabled": True}})
    assert on.status_code == 200 and "compiled" not in on.json()  # back to the default: left out
    until(lambda: details(server, space, deployment_id)["entity"]["status"]["serving_form"]["form"] == "onnxruntime")


def test_a_bad_compiled_setting_names_the_field(server: Server, deployed: tuple[str, str]) -> None:
    space, deployment_id = deployed
    url = f"/ml/v4/deployments/{deployment_id}/settings"
    response = server.call("PATCH", url, params={**V, "space_id": space}, json={"compiled": {"enabled": "no"}})
    assert_wml_error(response, 400, "compiled.enabled")
