"""The official `datarobot` client's monitoring calls, unchanged, against a real `champion serve --tls`.

Predictions go in through the prediction API with `datarobot-predict` (an association id column
among the features), actuals with `submit_actuals`; accuracy, service figures, drift and
predictions over time come back through the client's own parsers, and each figure is checked
against one computed here from what was sent (scikit-learn on the matched pairs, the model's own
answers). The server stores what it captured every 0.2 s (`CHAMPION_CAPTURE_FLUSH_SECONDS`), so
the tests poll until what they sent has landed. One server for the module; the tests run in file
order and build on each other (SENT).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import datarobot as dr
import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from datarobot.enums import ACCURACY_METRIC, BUCKET_SIZE
from datarobot.errors import ClientError
from datarobot_predict import deployment as drp
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error, r2_score, roc_auc_score

from champion.models.software_specs import CATALOGUE
from tests.compat.conftest import CreatedUser, RunningServer
from tests.model_files import FEATURES, ModelFiles
from tests.servers import running_server

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    # The client builds its urllib3 Retry with allowed_methods=[] or False, which urllib3 2 warns about.
    pytest.mark.filterwarnings("ignore:Using an empty collection for 'allowed_methods':FutureWarning"),
]

V = {"version": "2026-10-14"}
RID = "rid"
SENT: dict[str, Counter[str]] = {"requests": Counter(), "rows": Counter()}
T = TypeVar("T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("champion-server")
    with running_server(home, CHAMPION_CAPTURE_FLUSH_SECONDS="0.2") as running:
        yield running


@pytest.fixture(scope="module")
def rest(server: RunningServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    with httpx.Client(base_url=server.url, verify=False, headers=headers, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def bob(server: RunningServer, make_user: Callable[[str], CreatedUser]) -> CreatedUser:
    return make_user("bob")


@pytest.fixture(scope="module")
def space(rest: httpx.Client, bob: CreatedUser) -> str:
    space_id: str = rest.post("/v2/spaces", json={"name": "monitored"}).json()["metadata"]["id"]
    members = {"members": [{"id": bob.id, "type": "user", "role": "viewer"}]}
    assert rest.post(f"/v2/spaces/{space_id}/members", json=members).status_code == 200
    return space_id


def deploy(rest: httpx.Client, space: str, path: Path, name: str, label: str) -> str:
    body = {
        "name": name,
        "type": "scikit-learn_1.3",
        "software_spec": {"id": CATALOGUE[0].id},
        "space_id": space,
        "label_column": label,
    }
    model_id = rest.post("/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
    put = rest.put(f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=path.read_bytes())
    assert put.status_code == 201, put.text
    body = {"name": name, "online": {}, "asset": {"id": model_id}, "space_id": space}
    deployment_id: str = rest.post("/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
    state = until(
        lambda: rest.get(f"/ml/v4/deployments/{deployment_id}", params={"space_id": space}).json()["entity"]["status"][
            "state"
        ],
        lambda state: state not in ("initializing", "updating"),
        "the deployment to settle",
    )
    assert state == "ready"
    return deployment_id


@pytest.fixture(scope="module")
def deployments(rest: httpx.Client, space: str, model_files: ModelFiles) -> dict[str, str]:
    return {
        "churn": deploy(rest, space, model_files.classifier_named, "churn", "churn"),
        "price": deploy(rest, space, model_files.regressor, "price", "y"),
        "drifty": deploy(rest, space, model_files.classifier_named, "drifty", "churn"),
    }


def connect(server: RunningServer, key: str) -> None:
    dr.Client(token=key, endpoint=f"{server.url}/api/v2", ssl_verify=False)
    drp.clear_context()  # datarobot-predict keeps its own session, built from dr.Client's settings


@pytest.fixture(scope="module", autouse=True)
def client(server: RunningServer) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify=False.
        patch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        connect(server, server.admin_api_key)
        yield
        drp.clear_context()


def until(read: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 15) -> T:
    """Poll `read` until `done` holds: the server stores captured rows every 0.2 s, a follower applies settings."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"waited too long for {what}: {value!r}"
        time.sleep(0.1)


def rows_of(seed: int, count: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame(np.random.default_rng(seed).normal(size=(count, len(FEATURES))).round(4), columns=FEATURES)
    frame["x1"] += shift
    return frame


def predict(deployment_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Score through datarobot-predict, counting what was sent (the service figures must say the same)."""
    result = drp.predict(dr.Deployment.get(deployment_id), frame)
    SENT["requests"][deployment_id] += 1
    SENT["rows"][deployment_id] += len(frame)
    return result.dataframe


def stats_of(deployment_id: str) -> dr.models.deployment.ServiceStats:
    return dr.Deployment.get(deployment_id).get_service_stats()


def all_landed(deployment_id: str) -> dr.models.deployment.ServiceStats:
    return until(
        lambda: stats_of(deployment_id),
        lambda stats: stats["totalRequests"] == SENT["requests"][deployment_id],
        "the captured requests to be stored",
    )


# ------------------------------------------------------------------------------ association ids and actuals


def test_association_id_settings_through_the_client(server: RunningServer, deployments: dict[str, str]) -> None:
    for name in ("churn", "price"):
        deployment = dr.Deployment.get(deployments[name])
        deployment.update_association_id_settings(column_names=[RID], required_in_prediction_requests=True)
        assert deployment.get_association_id_settings() == {
            "column_names": [RID],
            "required_in_prediction_requests": True,
        }
        deployment.update_predictions_data_collection_settings(enabled=True)
        assert deployment.get_predictions_data_collection_settings()["enabled"] is True
        # The serving engine applies it within a follower tick: from then on a row without an id is refused.
        probe = rows_of(0, 1)

        def refused(deployment: dr.Deployment = deployment, probe: pd.DataFrame = probe) -> bool:
            try:
                predict(deployment.id, probe)
            except ClientError as error:
                assert error.status_code == 400 and RID in str(error)
                return True
            return False

        until(lambda: refused(), bool, "the association id setting to reach the engine")


@pytest.fixture(scope="module")
def scored(deployments: dict[str, str], model_files: ModelFiles) -> dict[str, Any]:
    """60 churn rows in 3 requests and 40 price rows in 2, each row with its association id."""
    churn, price = rows_of(1, 60), rows_of(2, 40)
    churn[RID], price[RID] = [f"c{i}" for i in range(60)], [f"p{i}" for i in range(40)]
    for part in range(3):
        predict(deployments["churn"], churn.iloc[part * 20 : (part + 1) * 20])
    predict(deployments["price"], price.iloc[:25])
    predict(deployments["price"], price.iloc[25:])
    classifier, regressor = joblib.load(model_files.classifier_named), joblib.load(model_files.regressor)
    truth = (churn["x1"] + 0.5 * churn["x2"] > 0).astype(int).to_numpy()
    truth[::7] = 1 - truth[::7]  # some wrong predictions, so the figures are not trivial
    return {
        "churn": churn,
        "churn_truth": truth[:50],
        "churn_proba": classifier.predict_proba(churn[FEATURES])[:50],
        "price": price,
        "price_truth": (2 * price["x1"] + np.random.default_rng(3).normal(scale=0.3, size=40)).round(4).to_numpy(),
        "price_predicted": regressor.predict(price[FEATURES]),
    }


def test_submit_actuals_as_a_list_and_as_a_frame(deployments: dict[str, str], scored: dict[str, Any]) -> None:
    churn = dr.Deployment.get(deployments["churn"])
    churn.submit_actuals(
        [
            {"association_id": f"c{i}", "actual_value": str(v), "was_acted_on": bool(i % 2)}
            for i, v in enumerate(scored["churn_truth"])
        ]
    )
    price = dr.Deployment.get(deployments["price"])
    frame = pd.DataFrame({"association_id": scored["price"][RID], "actual_value": scored["price_truth"]})
    price.submit_actuals(frame, batch_size=15)  # three posts, each waited on


def test_a_viewer_cannot_submit_actuals(server: RunningServer, deployments: dict[str, str], bob: CreatedUser) -> None:
    connect(server, bob.api_key)
    try:
        with pytest.raises(ClientError) as raised:
            dr.Deployment.get(deployments["churn"]).submit_actuals([{"association_id": "c0", "actual_value": "1"}])
        assert raised.value.status_code == 403
    finally:
        connect(server, server.admin_api_key)


# ------------------------------------------------------------------------------ accuracy


def figures(accuracy: dr.models.deployment.Accuracy) -> dict[str, dict[str, Any]]:
    """The figures by metric name, from `data` (`metrics` and `accuracy[name]` are deprecated in the client)."""
    return {entry["metric_name"]: entry for entry in accuracy.data}


def test_accuracy_matches_scikit_learn(deployments: dict[str, str], scored: dict[str, Any]) -> None:
    deployment = dr.Deployment.get(deployments["churn"])
    accuracy = until(
        deployment.get_accuracy, lambda a: figures(a)["AUC"]["sample_size"] == 50, "the predictions to be stored"
    )
    truth, proba = scored["churn_truth"], scored["churn_proba"]
    assert figures(accuracy)["AUC"]["value"] == pytest.approx(roc_auc_score(truth, proba[:, 1]))
    assert figures(accuracy)["LogLoss"]["value"] == pytest.approx(log_loss(truth, proba))
    assert accuracy.period["end"] > accuracy.period["start"]
    over_time = deployment.get_accuracy_over_time(metric=ACCURACY_METRIC.AUC, bucket_size="P1D")
    assert over_time.metric == "AUC" and sum(b["sample_size"] for b in over_time.buckets) == 50
    (full,) = [b for b in over_time.buckets if b["sample_size"]]
    assert full["value"] == pytest.approx(roc_auc_score(truth, proba[:, 1]))


def test_regression_accuracy_and_predictions_vs_actuals(deployments: dict[str, str], scored: dict[str, Any]) -> None:
    deployment = dr.Deployment.get(deployments["price"])
    accuracy = until(
        deployment.get_accuracy, lambda a: figures(a)["RMSE"]["sample_size"] == 40, "the predictions to be stored"
    )
    truth, predicted = scored["price_truth"], scored["price_predicted"]
    found = figures(accuracy)
    assert found["RMSE"]["value"] == pytest.approx(np.sqrt(mean_squared_error(truth, predicted)))
    assert found["MAE"]["value"] == pytest.approx(mean_absolute_error(truth, predicted))
    assert found["R Squared"]["value"] == pytest.approx(r2_score(truth, predicted))
    versus = deployment.get_predictions_vs_actuals_over_time()
    assert versus.summary == {"row_count_total": 40, "row_count_with_actual": 40}
    full = [b for b in versus.buckets if b["row_count_with_actual"]]
    mean_actual = sum(b["mean_actual_value"] * b["row_count_with_actual"] for b in full) / 40
    assert mean_actual == pytest.approx(float(np.mean(truth)))


# ------------------------------------------------------------------------------ service figures


def test_service_stats_count_what_was_sent(deployments: dict[str, str]) -> None:
    for name in ("churn", "price"):
        deployment_id = deployments[name]
        stats = all_landed(deployment_id)
        assert stats["totalRequests"] == SENT["requests"][deployment_id]
        assert stats["totalPredictions"] == SENT["rows"][deployment_id]
        over_time = dr.Deployment.get(deployment_id).get_service_stats_over_time(metric="totalPredictions")
        assert sum(b["value"] or 0 for b in over_time.buckets) == SENT["rows"][deployment_id]


# ------------------------------------------------------------------------------ drift


def test_drift_rises_on_the_one_shifted_feature(
    server: RunningServer, rest: httpx.Client, deployments: dict[str, str], model_files: ModelFiles
) -> None:
    deployment = dr.Deployment.get(deployments["drifty"])
    baseline, shifted = rows_of(4, 600), rows_of(5, 600, shift=2.0)
    for part in range(3):
        predict(deployment.id, baseline.iloc[part * 200 : (part + 1) * 200])
    # The baseline is fixed from the first 500 or more rows stored; only then does the shift come.
    until(deployment.get_feature_drift, lambda found: len(found) == len(FEATURES), "the drift baseline")
    for part in range(3):
        predict(deployment.id, shifted.iloc[part * 200 : (part + 1) * 200])
    all_landed(deployment.id)
    drift = {f.name: f for f in deployment.get_feature_drift()}
    assert {f.sample_size for f in drift.values()} == {1200}
    assert {f.baseline_sample_size for f in drift.values()} == {600}
    assert drift["x1"].metric == "psi" and drift["x1"].model_id
    assert drift["x1"].drift_score > 10 * max(drift["x2"].drift_score, drift["x3"].drift_score)
    # champion's levels ride along in the JSON (the client keeps only DataRobot's keys).
    levels = {
        item["name"]: item["level"]
        for item in rest.get(f"/api/v2/deployments/{deployment.id}/featureDrift/").json()["data"]
    }
    assert levels == {"x1": "failing", "x2": "passing", "x3": "passing"}
    target = deployment.get_target_drift(metric="hellinger")
    assert target.metric == "hellinger" and target.target_name == "churn"
    assert target.sample_size == 1200 and target.drift_score > 0
    with pytest.raises(ClientError) as raised:
        deployment.get_feature_drift(metric="ks")  # not one of DataRobot's metrics: the client could not read it
    assert raised.value.status_code == 400
    with pytest.raises(ClientError) as raised:
        deployment.get_service_stats(segment_attribute="DataRobot-Consumer", segment_value="u")
    assert raised.value.status_code == 400


# ------------------------------------------------------------------------------ predictions over time


def test_predictions_over_time(deployments: dict[str, str], scored: dict[str, Any], model_files: ModelFiles) -> None:
    price = dr.Deployment.get(deployments["price"]).get_predictions_over_time(bucket_size=BUCKET_SIZE.P1D)
    full = [b for b in price.buckets if b["row_count"]]
    rows = SENT["rows"][deployments["price"]]
    assert sum(b["row_count"] for b in full) == rows
    # Every row the price deployment answered: the 40 scored and the one-row probes before the setting took.
    assert rows - 40 == SENT["requests"][deployments["price"]] - 2
    mean = sum(b["mean_predicted_value"] * b["row_count"] for b in full) / rows
    probes = rows - 40
    expected = (float(np.sum(scored["price_predicted"])) + probes * float(_probe_prediction(model_files))) / rows
    assert mean == pytest.approx(expected)
    drifty = dr.Deployment.get(deployments["drifty"]).get_predictions_over_time(bucket_size=BUCKET_SIZE.P1D)
    counted: Counter[str] = Counter()
    for bucket in drifty.buckets:
        for entry in bucket["class_distribution"] or []:
            counted[entry["class_name"]] += entry["count"]
    estimator = joblib.load(model_files.classifier_named)
    answered = np.concatenate([estimator.predict(rows_of(4, 600)), estimator.predict(rows_of(5, 600, shift=2.0))])
    assert counted == Counter(answered.astype(str).tolist())
    (baseline,) = drifty.baselines
    assert baseline["row_count"] == 600


def _probe_prediction(model_files: ModelFiles) -> float:
    prediction: float = joblib.load(model_files.regressor).predict(rows_of(0, 1))[0]
    return prediction
