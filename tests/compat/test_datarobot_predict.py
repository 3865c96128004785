"""The official `datarobot-predict`, unchanged, against a real `champion serve --tls`.

`datarobot_predict.deployment.predict(deployment, df)` finds the URL in the deployment's
`defaultPredictionServer`, posts the frame as CSV with `Accept: text/csv` and reads the answer
with `pd.read_csv`: these tests check the frame it returns against the models' own answers.
Models are uploaded and deployed through the WML REST API (DataRobot has no upload route for
champion's formats); the deployment is then read with the `datarobot` client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datarobot as dr
import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from datarobot_predict import deployment as drp
from sklearn.linear_model import LogisticRegression

from champion.models.software_specs import CATALOGUE
from tests.compat.conftest import RunningServer
from tests.model_files import FEATURES, ModelFiles, training_data

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    # The client builds its urllib3 Retry with allowed_methods=[] or False, which urllib3 2 warns about.
    pytest.mark.filterwarnings("ignore:Using an empty collection for 'allowed_methods':FutureWarning"),
]

V = {"version": "2026-10-14"}
ROWS = training_data(rows=25, seed=5)[0]


@pytest.fixture(scope="module")
def rest(server: RunningServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    with httpx.Client(base_url=server.url, verify=False, headers=headers, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def space(rest: httpx.Client) -> str:
    space_id: str = rest.post("/v2/spaces", json={"name": "datarobot predict"}).json()["metadata"]["id"]
    return space_id


def deploy(rest: httpx.Client, space: str, path: Path, name: str, label: str) -> str:
    body = {
        "name": name,
        "type": "scikit-learn_1.3",
        "software_spec": {"id": CATALOGUE[0].id},
        "space_id": space,
        "label_column": label,
    }
    created = rest.post("/ml/v4/models", params=V, json=body)
    assert created.status_code == 201, created.text
    model_id = created.json()["metadata"]["id"]
    put = rest.put(f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=path.read_bytes())
    assert put.status_code == 201, put.text
    body = {"name": name, "online": {}, "asset": {"id": model_id}, "space_id": space}
    response = rest.post("/ml/v4/deployments", params=V, json=body)
    assert response.status_code == 202, response.text
    deployment_id: str = response.json()["metadata"]["id"]
    deadline = time.monotonic() + 60
    while True:
        details = rest.get(f"/ml/v4/deployments/{deployment_id}", params={"space_id": space}).json()
        state = details["entity"]["status"]["state"]
        if state not in ("initializing", "updating"):
            assert state == "ready", details
            return deployment_id
        assert time.monotonic() < deadline, "the deployment never became ready"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def deployments(
    rest: httpx.Client,
    space: str,
    model_files: ModelFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[str, Any]]:
    frame, _ = training_data()
    grade = np.where(frame["x1"] > 0.5, "high", np.where(frame["x1"] < -0.5, "low", "mid"))
    multiclass = tmp_path_factory.mktemp("dr-predict") / "grades.joblib"
    joblib.dump(LogisticRegression().fit(frame, grade), multiclass)
    models = {
        "binary": (model_files.classifier_named, "churn"),
        "multiclass": (multiclass, "grade"),
        "regression": (model_files.regressor, "y"),
    }
    return {kind: (deploy(rest, space, path, kind, label), joblib.load(path)) for kind, (path, label) in models.items()}


@pytest.fixture(scope="module", autouse=True)
def client(server: RunningServer) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify=False (both
        # clients set it on their sessions), so they must be unset to reach a self-signed server.
        patch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        dr.Client(token=server.admin_api_key, endpoint=f"{server.url}/api/v2", ssl_verify=False)
        drp.clear_context()  # datarobot-predict keeps its own session, built from dr.Client's settings
        yield
        drp.clear_context()


def predicted(deployment_id: str, frame: pd.DataFrame = ROWS, **options: Any) -> drp.PredictionResult:
    """What `datarobot_predict` answers for a deployment read with `dr.Deployment.get`."""
    return drp.predict(dr.Deployment.get(deployment_id), frame, **options)


def test_the_deployment_names_champion_as_its_prediction_server(
    server: RunningServer, deployments: dict[str, tuple[str, Any]]
) -> None:
    deployment = dr.Deployment.get(deployments["binary"][0])
    assert deployment.default_prediction_server is not None
    assert deployment.default_prediction_server["url"] == server.url


def test_a_binary_classifier(deployments: dict[str, tuple[str, Any]]) -> None:
    deployment_id, estimator = deployments["binary"]
    result = predicted(deployment_id)
    frame = result.dataframe
    proba = estimator.predict_proba(ROWS)
    assert len(frame) == len(ROWS)
    np.testing.assert_allclose(frame["churn_1_PREDICTION"], proba[:, 1])
    np.testing.assert_allclose(frame["churn_0_PREDICTION"], proba[:, 0])
    assert frame["churn_PREDICTION"].tolist() == estimator.predict(ROWS).tolist()
    assert set(frame["THRESHOLD"]) == {0.5} and set(frame["POSITIVE_CLASS"]) == {1}
    assert set(frame["DEPLOYMENT_APPROVAL_STATUS"]) == {"APPROVED"}
    assert result.response_headers["Champion-Model-Version"].endswith(":1")


def test_a_multiclass_classifier(deployments: dict[str, tuple[str, Any]]) -> None:
    deployment_id, estimator = deployments["multiclass"]
    frame = predicted(deployment_id).dataframe
    columns = [f"grade_{label}_PREDICTION" for label in estimator.classes_]
    np.testing.assert_allclose(frame[columns].to_numpy(), estimator.predict_proba(ROWS))
    assert frame["grade_PREDICTION"].tolist() == estimator.predict(ROWS).tolist()


def test_a_regressor(deployments: dict[str, tuple[str, Any]]) -> None:
    deployment_id, estimator = deployments["regression"]
    frame = predicted(deployment_id).dataframe
    np.testing.assert_allclose(frame["y_PREDICTION"], estimator.predict(ROWS))


def test_columns_in_any_order_with_passthrough(deployments: dict[str, tuple[str, Any]]) -> None:
    deployment_id, estimator = deployments["regression"]
    shuffled = ROWS[list(reversed(FEATURES))].assign(customer=[f"c{i}" for i in range(len(ROWS))])
    frame = predicted(deployment_id, shuffled, passthrough_columns={"customer"}).dataframe
    assert frame["customer"].tolist() == shuffled["customer"].tolist()
    np.testing.assert_allclose(frame["y_PREDICTION"], estimator.predict(ROWS))
    everything = predicted(deployment_id, shuffled, passthrough_columns="all").dataframe
    assert list(everything.columns[: len(shuffled.columns)]) == list(shuffled.columns)


def test_a_refused_input_is_a_client_error_with_the_message(deployments: dict[str, tuple[str, Any]]) -> None:
    deployment_id, _ = deployments["binary"]
    with pytest.raises(dr.errors.ClientError) as raised:
        predicted(deployment_id, ROWS.drop(columns=["x2"]))
    assert raised.value.status_code == 400
    assert "x2" in str(raised.value)
