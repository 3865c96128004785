"""Humility rules acting on predictions, in-process: WML and DataRobot routes, Open Inference, batch jobs, metrics.

Rules are set through the WML settings extension (`PATCH /ml/v4/deployments/{id}/settings`) on a
running app and reach the serving engine through the follower, with no restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_wml_deployments import V, deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles

# Row 0 is ordinary; row 1 has x1 far outside what the model saw.
ROWS = [[0.1, -0.2, 0.3], [9.0, 0.0, 0.0]]
HEADER = "Champion-Humility"
SCRAPE_KEY = "scrape-0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("humility-home"), "alice", metrics_key=SCRAPE_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "humble"}).json()["metadata"]["id"]
    return space_id


def ready(server: Server, space: str, model_id: str, name: str, **extra: Any) -> str:
    deployment_id: str = deploy(server, space, model_id, name=name, **extra)["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
    return deployment_id


@pytest.fixture(scope="module")
def deployments(server: Server, space: str, model_files: ModelFiles) -> dict[str, str]:
    classifier = upload_model(server, space, model_files.classifier_named.read_bytes(), name="clf")
    regressor = upload_model(server, space, model_files.regressor.read_bytes(), name="reg")
    return {
        "humble": ready(server, space, classifier, "humble"),
        "plain": ready(server, space, classifier, "plain"),
        "regressor": ready(server, space, regressor, "reg"),
    }


def set_rules(server: Server, space: str, deployment_id: str, *rules: dict[str, Any], enabled: bool = True) -> None:
    body = {"humility": {"enabled": enabled, "rules": list(rules)}}
    url = f"/ml/v4/deployments/{deployment_id}/settings"
    response = server.call("PATCH", url, params={**V, "space_id": space}, json=body)
    assert response.status_code == 200, response.text


def wml(server: Server, deployment_id: str, rows: list[list[float]] = ROWS) -> httpx.Response:
    body = {"input_data": [{"fields": FEATURES, "values": rows}]}
    return server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", json=body)


def datarobot(server: Server, deployment_id: str, **kwargs: Any) -> httpx.Response:
    records = [dict(zip(FEATURES, row, strict=True)) for row in ROWS]
    return server.call("POST", f"/predApi/v1.0/deployments/{deployment_id}/predictions", json=records, **kwargs)


def until(check: Any, timeout: float = 10) -> None:
    """Poll until the follower has caught up (it reads the change counters every 100 ms)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the change never reached the serving engine"
        time.sleep(0.05)


def counted(server: Server, deployment_id: str, rule: str, action: str) -> float:
    response = server.call("GET", "/metrics", who=None, headers={"Authorization": f"Bearer {SCRAPE_KEY}"})
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = {"deployment": deployment_id, "rule": rule, "action": action}
            if sample.name == "champion_humility_triggered_total" and sample.labels == labels:
                return float(sample.value)
    return 0.0


OUTLYING = {"trigger": "outlying_input", "feature": "x1", "lower": -3, "upper": 3}


def test_rules_act_on_predictions_without_a_restart(
    server: Server, space: str, deployments: dict[str, str], model_files: ModelFiles
) -> None:
    humble, plain = deployments["humble"], deployments["plain"]
    estimator = joblib.load(model_files.classifier_named)
    model_labels = estimator.predict(np.array(ROWS)).tolist()
    before, plain_before = wml(server, humble), wml(server, plain)
    assert before.status_code == 200 and HEADER not in before.headers
    assert [row[0] for row in before.json()["predictions"][0]["values"]] == model_labels

    # override: the outlying row's label is replaced, its probabilities stay the model's
    set_rules(server, space, humble, {"name": "far", **OUTLYING, "action": "override_prediction", "override_value": 7})
    until(lambda: HEADER in wml(server, humble).headers)
    response = wml(server, humble)
    assert response.status_code == 200 and response.headers[HEADER] == "1"
    values = response.json()["predictions"][0]["values"]
    assert [row[0] for row in values] == [model_labels[0], 7]
    assert [row[1] for row in values] == [row[1] for row in before.json()["predictions"][0]["values"]]
    dr = datarobot(server, humble)
    assert dr.status_code == 200 and dr.headers[HEADER] == "1"
    assert [row["prediction"] for row in dr.json()["data"]] == [model_labels[0], 7]
    assert datarobot(server, humble, headers={"Accept": "text/csv"}).headers[HEADER] == "1"
    assert counted(server, humble, "far", "override_prediction") >= 3

    # a deployment without rules answers exactly as before, and says nothing of humility
    plain_after = wml(server, plain)
    assert plain_after.content == plain_before.content and HEADER not in plain_after.headers
    assert HEADER not in datarobot(server, plain).headers

    # a row no rule triggers on passes through, counted as 0
    ordinary = wml(server, humble, rows=[ROWS[0]])
    assert ordinary.headers[HEADER] == "0"
    assert [row[0] for row in ordinary.json()["predictions"][0]["values"]] == model_labels[:1]

    # throw_error refuses the whole request, in each face's shape
    set_rules(server, space, humble, {"name": "stop", **OUTLYING, "action": "throw_error", "error_message": "too far"})
    until(lambda: wml(server, humble).status_code == 400)
    message = assert_wml_error(wml(server, humble), 400)
    assert message == "too far"
    refused = datarobot(server, humble)
    assert refused.status_code == 400 and refused.json() == {"message": "too far"}
    assert wml(server, humble, rows=[ROWS[0]]).status_code == 200
    assert counted(server, humble, "stop", "throw_error") >= 2

    # no_operation only counts
    set_rules(server, space, humble, {"name": "watch", **OUTLYING})
    until(lambda: wml(server, humble).status_code == 200)
    response = wml(server, humble)
    assert response.headers[HEADER] == "1"
    assert response.content == before.content
    assert counted(server, humble, "watch", "no_operation") >= 1

    # switched off: the deployment answers as it did before any rule
    set_rules(server, space, humble, {"name": "watch", **OUTLYING}, enabled=False)
    until(lambda: HEADER not in wml(server, humble).headers)
    assert wml(server, humble).content == before.content


def test_the_first_rule_wins_and_the_default_message_names_rule_and_row(
    server: Server, space: str, deployments: dict[str, str]
) -> None:
    regressor = deployments["regressor"]
    # The regressor predicts 2 * x1: row 1 predicts 18.
    set_rules(
        server,
        space,
        regressor,
        {"name": "low", "trigger": "uncertain_prediction", "upper": 10, "lower": -10, "action": "throw_error"},
        {
            "name": "any",
            "trigger": "uncertain_prediction",
            "upper": 0,
            "action": "override_prediction",
            "override_value": 0,
        },
    )
    until(lambda: wml(server, regressor).status_code == 400)
    message = assert_wml_error(wml(server, regressor), 400)
    assert "'low'" in message and "row 1" in message
    inference = server.call(
        "POST",
        f"/v2/models/{regressor}/infer",
        json={
            "inputs": [
                {"name": n, "shape": [1], "datatype": "FP64", "data": [ROWS[0][k]]} for k, n in enumerate(FEATURES)
            ]
        },
    )
    # row 0 predicts 0.2: outside "any"'s [-inf, 0], inside "low"'s bounds → overridden to 0
    assert inference.status_code == 200, inference.text
    assert inference.headers[HEADER] == "1"
    assert inference.json()["outputs"][0]["data"] == [0]
    set_rules(server, space, regressor, enabled=False)


def test_batch_jobs_apply_the_rules(server: Server, space: str, model_files: ModelFiles) -> None:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="batch")
    body = {"batch": {}, "hardware_spec": {"name": "S"}, "online": None}
    deployment_id = ready(server, space, model_id, "nightly", **body)
    set_rules(
        server, space, deployment_id, {"name": "far", **OUTLYING, "action": "override_prediction", "override_value": 7}
    )
    job = {
        "scoring": {"input_data": [{"fields": FEATURES, "values": ROWS}]},
        "deployment": {"id": deployment_id},
        "space_id": space,
        "name": "job",
    }
    params = {**V, "space_id": space}

    def run() -> dict[str, Any]:
        created = server.call("POST", "/ml/v4/deployment_jobs", params=params, json=job)
        assert created.status_code == 202, created.text
        job_id = created.json()["metadata"]["id"]
        deadline = time.monotonic() + 20
        while True:
            details: dict[str, Any] = server.call("GET", f"/ml/v4/deployment_jobs/{job_id}", params=params).json()
            if details["entity"]["scoring"]["status"]["state"] in ("completed", "failed", "canceled"):
                return details
            assert time.monotonic() < deadline
            time.sleep(0.05)

    until(lambda: run()["entity"]["scoring"]["predictions"][0]["values"][1][0] == 7)
    set_rules(server, space, deployment_id, {"name": "stop", **OUTLYING, "action": "throw_error"})
    until(lambda: run()["entity"]["scoring"]["status"]["state"] == "failed")
    failure = run()["entity"]["scoring"]["status"]["failure"]["errors"]
    assert "'stop'" in str(failure) and "row 1" in str(failure)
