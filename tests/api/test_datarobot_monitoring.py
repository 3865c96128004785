"""DataRobot's monitoring routes in-process: actuals in; accuracy, service figures, drift and predictions out.

Predictions go through the DataRobot prediction route with an association id column; the test then
stores them at once with the app's capture writer (`flush_now`, what the writer's loop calls; the
loop itself waits an hour here, so nothing is stored behind the test's back). Every figure is
checked against one computed here from the rows sent: accuracy with scikit-learn on the matched
pairs, counts from what was sent, class distributions from the model's own answers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from champion.api.datarobot import monitoring_query
from champion.monitoring import divergence, drift
from tests.api.test_datarobot_routes import dr, follow, message_of
from tests.api.test_humility import ready
from tests.api.test_wml_deployments import upload_model
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles

RID = "rid"
GETS = (
    "accuracy",
    "accuracyOverTime",
    "predictionsVsActualsOverTime",
    "serviceStats",
    "serviceStatsOverTime",
    "featureDrift",
    "targetDrift",
    "predictionsOverTime",
)
OVER_TIME = ("accuracyOverTime", "predictionsVsActualsOverTime", "serviceStatsOverTime", "predictionsOverTime")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The writer's own loop waits an hour: the tests store captured rows themselves, when they mean to.
    home = tmp_path_factory.mktemp("dr-monitoring-home")
    with serving(home, "alice", "bob", "mallory", capture_flush_seconds=3600) as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "watched"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space_id}/members", json=members).status_code == 200
    return space_id


def flush(server: Server) -> None:
    server.client.app.state.capture_writer.flush_now()


def with_association_ids(server: Server, deployment_id: str) -> None:
    """Name the association id column through DataRobot's settings, as the client does: PATCH, then follow
    the status URL. Once it resolves, the serving engine acts on the setting: the next prediction's id is
    captured (the client sends predictions right after `update_association_id_settings` returns)."""
    body = {"associationId": {"columnNames": [RID], "requiredInPredictionRequests": True}}
    follow(server, dr(server, "PATCH", f"deployments/{deployment_id}/settings/", json=body))
    view = server.client.app.state.engine.resolve(deployment_id)
    assert view is not None and view.capture is not None and view.capture.association_column == RID


def predict(server: Server, deployment_id: str, rows: np.ndarray, ids: list[str] | None = None) -> None:
    records: list[dict[str, Any]] = [dict(zip(FEATURES, row, strict=True)) for row in rows.tolist()]
    if ids is not None:
        for record, rid in zip(records, ids, strict=True):
            record[RID] = rid
    response = server.call("POST", f"/predApi/v1.0/deployments/{deployment_id}/predictions", json=records)
    assert response.status_code == 200, response.text


def rows_of(seed: int, count: int, shift: float = 0.0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, len(FEATURES))).round(4)
    rows[:, 0] += shift
    return rows


def model_id_of(server: Server, deployment_id: str) -> str:
    model_id: str = dr(server, "GET", f"deployments/{deployment_id}/").json()["model"]["id"]
    return model_id


@pytest.fixture(scope="module")
def classifier(server: Server, space: str, model_files: ModelFiles) -> dict[str, Any]:
    """60 rows in 3 requests, 50 of them given an actual (true labels, every 7th flipped), and 5 stray actuals."""
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="clf")
    deployment_id = ready(server, space, model, "clf")
    with_association_ids(server, deployment_id)
    rows = rows_of(1, 60)
    ids = [f"c{i}" for i in range(60)]
    for part in range(3):
        predict(server, deployment_id, rows[part * 20 : (part + 1) * 20], ids[part * 20 : (part + 1) * 20])
    flush(server)
    truth = (rows[:, 0] + 0.5 * rows[:, 1] > 0).astype(int)
    truth[::7] = 1 - truth[::7]
    # Labels as the client sends them: JSON numbers and strings alike meet the class "1".
    actuals = [{"associationId": ids[i], "actualValue": int(truth[i]) if i % 2 else str(truth[i])} for i in range(50)]
    actuals += [{"associationId": f"stray{i}", "actualValue": "1", "wasActedOn": True} for i in range(5)]
    submitted = dr(server, "POST", f"deployments/{deployment_id}/actuals/fromJSON/", json={"data": actuals})
    assert submitted.status_code == 202, submitted.text
    estimator = joblib.load(model_files.classifier_named)
    return {
        "id": deployment_id,
        "submitted": submitted,
        "truth": truth[:50].astype(str),
        "predicted": estimator.predict(rows[:50]).astype(str),
        "proba": estimator.predict_proba(rows[:50]),
    }


@pytest.fixture(scope="module")
def regressor(server: Server, space: str, model_files: ModelFiles) -> dict[str, Any]:
    """40 rows in 2 requests, every one given an actual (twice x1 plus noise)."""
    model = upload_model(server, space, model_files.regressor.read_bytes(), name="reg")
    deployment_id = ready(server, space, model, "reg")
    with_association_ids(server, deployment_id)
    rows = rows_of(2, 40)
    ids = [f"r{i}" for i in range(40)]
    predict(server, deployment_id, rows[:25], ids[:25])
    predict(server, deployment_id, rows[25:], ids[25:])
    flush(server)
    truth = (2 * rows[:, 0] + np.random.default_rng(3).normal(scale=0.3, size=40)).round(4)
    actuals = [{"associationId": rid, "actualValue": float(v)} for rid, v in zip(ids, truth, strict=True)]
    submitted = dr(server, "POST", f"deployments/{deployment_id}/actuals/fromJSON/", json={"data": actuals})
    assert submitted.status_code == 202, submitted.text
    return {"id": deployment_id, "truth": truth, "predicted": joblib.load(model_files.regressor).predict(rows)}


@pytest.fixture(scope="module")
def drifting(server: Server, space: str, model_files: ModelFiles) -> dict[str, Any]:
    """600 rows that fix the drift baseline, then 600 more whose x1 moved by 2 standard deviations."""
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="drifty")
    deployment_id = ready(server, space, model, "drifty")
    baseline, shifted = rows_of(4, 600), rows_of(5, 600, shift=2.0)
    assert len(baseline) > drift.BASELINE_ROWS
    for part in range(3):
        predict(server, deployment_id, baseline[part * 200 : (part + 1) * 200])
    flush(server)  # the baseline is fixed from these rows alone
    for part in range(3):
        predict(server, deployment_id, shifted[part * 200 : (part + 1) * 200])
    flush(server)
    estimator = joblib.load(model_files.classifier_named)
    return {
        "id": deployment_id,
        "baseline": Counter(estimator.predict(baseline).astype(str).tolist()),
        "all": Counter(estimator.predict(np.vstack([baseline, shifted])).astype(str).tolist()),
    }


def get(server: Server, deployment_id: str, route: str, who: str = "alice", **params: Any) -> Any:
    response = dr(server, "GET", f"deployments/{deployment_id}/{route}/", who=who, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# --- actuals ----------------------------------------------------------------------------------------------------


def test_actuals_answer_202_with_a_status_url_that_resolves_at_once(server: Server, classifier: dict[str, Any]) -> None:
    submitted = classifier["submitted"]
    assert submitted.json() == {"received": 55, "matched": 50, "unmatched": 5}
    assert follow(server, submitted) == classifier["id"]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"associationId": "c1"}, "data[1].actualValue"),
        ({"actualValue": "1"}, "data[1].associationId"),
        ({"associationId": "x" * 129, "actualValue": "1"}, "data[1].associationId"),
        ({"associationId": "c1", "actualValue": "1", "wasActedOn": "yes"}, "data[1].wasActedOn"),
        ({"associationId": "c1", "actualValue": "1", "timestamp": "yesterday"}, "data[1].timestamp"),
        ({"associationId": "c1", "actualValue": "1", "timestamp": 17}, "data[1].timestamp"),
        ({"association_id": "c1", "actualValue": "1"}, "data[1]"),
        ("c1", "data[1]"),
    ],
)
def test_a_bad_actual_is_named_as_the_client_spelled_it(
    server: Server, classifier: dict[str, Any], item: Any, field: str
) -> None:
    good = {"associationId": "c0", "actualValue": "0", "timestamp": "2024-01-02T03:04:05.123456789+02:00"}
    response = dr(server, "POST", f"deployments/{classifier['id']}/actuals/fromJSON/", json={"data": [good, item]})
    assert message_of(response, 400).startswith(f"{field}: ")
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("body", [{"data": []}, {"actuals": []}, [], {"data": "c1"}])
def test_an_actuals_body_without_actuals_is_refused(server: Server, classifier: dict[str, Any], body: Any) -> None:
    response = dr(server, "POST", f"deployments/{classifier['id']}/actuals/fromJSON/", json=body)
    assert message_of(response, 400).startswith("data: ")


def test_a_regressors_actual_is_a_number(server: Server, regressor: dict[str, Any]) -> None:
    body = {"data": [{"associationId": "r0", "actualValue": "tall"}]}
    response = dr(server, "POST", f"deployments/{regressor['id']}/actuals/fromJSON/", json=body)
    assert message_of(response, 400).startswith("data[0].actualValue: ")


def test_more_than_ten_thousand_actuals_are_too_large(server: Server, classifier: dict[str, Any]) -> None:
    body = {"data": [{"associationId": f"a{i}", "actualValue": "1"} for i in range(10_001)]}
    response = dr(server, "POST", f"deployments/{classifier['id']}/actuals/fromJSON/", json=body)
    assert message_of(response, 413).startswith("data: ")


def test_viewers_cannot_submit_actuals_and_strangers_cannot_see_the_deployment(
    server: Server, classifier: dict[str, Any]
) -> None:
    body = {"data": [{"associationId": "c0", "actualValue": "0"}]}
    url = f"deployments/{classifier['id']}/actuals/fromJSON/"
    message_of(dr(server, "POST", url, who="bob", json=body), 403)
    message_of(dr(server, "POST", url, who="mallory", json=body), 404)
    message_of(dr(server, "POST", "deployments/nope/actuals/fromJSON/", json=body), 404)


# --- accuracy -----------------------------------------------------------------------------------------------


def test_accuracy_matches_scikit_learn_on_the_matched_pairs(server: Server, classifier: dict[str, Any]) -> None:
    body = get(server, classifier["id"], "accuracy")
    truth, predicted, proba = classifier["truth"], classifier["predicted"], classifier["proba"]
    expected = {
        "Accuracy": accuracy_score(truth, predicted),
        "AUC": roc_auc_score(truth == "1", proba[:, 1]),
        "LogLoss": log_loss(truth, proba, labels=["0", "1"]),
        "F1": f1_score(truth, predicted, pos_label="1"),
    }
    for name, value in expected.items():
        assert body["metrics"][name]["value"] == pytest.approx(value), name
        assert body["metrics"][name]["sampleSize"] == 50
    assert body["modelId"] is None and set(body["period"]) == {"start", "end"}
    assert body["period"]["end"].endswith(":00:00Z")
    entry = next(d for d in body["data"] if d["metricName"] == "AUC")
    assert entry == {"metricName": "AUC", "modelId": None, **body["metrics"]["AUC"]}
    assert entry["baselineValue"] is None and entry["percentChange"] is None
    assert get(server, classifier["id"], "accuracy", who="bob") == body  # viewers read


def test_accuracy_of_a_model_against_a_baseline_model(server: Server, classifier: dict[str, Any]) -> None:
    model_id = model_id_of(server, classifier["id"])
    body = get(server, classifier["id"], "accuracy", modelId=model_id, baselineModelId=model_id, metric="LogLoss")
    assert list(body["metrics"]) == ["LogLoss"] and body["modelId"] == model_id
    figure = body["metrics"]["LogLoss"]
    assert figure["value"] == pytest.approx(log_loss(classifier["truth"], classifier["proba"], labels=["0", "1"]))
    assert figure["baselineValue"] == figure["value"] and figure["percentChange"] == 0
    assert figure["baselineSampleSize"] == 50


def test_several_models_at_once(server: Server, classifier: dict[str, Any]) -> None:
    model_id = model_id_of(server, classifier["id"])
    both = {"modelId": [model_id, model_id]}
    body = get(server, classifier["id"], "accuracy", metric="AUC", **both)
    assert "metrics" not in body and body["modelId"] is None
    assert [(d["modelId"], d["metricName"]) for d in body["data"]] == [(model_id, "AUC")] * 2
    over_time = get(server, classifier["id"], "accuracyOverTime", metric="AUC", bucketSize="P1D", **both)
    assert len(over_time["buckets"]) == 14 and "summary" not in over_time
    served = get(server, classifier["id"], "serviceStatsOverTime", metric="totalRequests", bucketSize="P1D", **both)
    assert sum(b["value"] for b in served["buckets"]) == 6  # the same three requests, once per model asked


def test_regression_accuracy_matches_scikit_learn(server: Server, regressor: dict[str, Any]) -> None:
    metrics = get(server, regressor["id"], "accuracy")["metrics"]
    truth, predicted = regressor["truth"], regressor["predicted"]
    assert metrics["RMSE"]["value"] == pytest.approx(np.sqrt(mean_squared_error(truth, predicted)))
    assert metrics["MAE"]["value"] == pytest.approx(mean_absolute_error(truth, predicted))
    assert metrics["R Squared"]["value"] == pytest.approx(r2_score(truth, predicted))
    assert "AUC" not in metrics


def test_accuracy_over_time_puts_each_pair_in_its_bucket(server: Server, classifier: dict[str, Any]) -> None:
    body = get(server, classifier["id"], "accuracyOverTime", metric="AUC", bucketSize="P1D")
    expected = roc_auc_score(classifier["truth"] == "1", classifier["proba"][:, 1])
    assert body["metric"] == "AUC" and body["baselines"] == [] and len(body["buckets"]) == 7
    assert sum(b["sampleSize"] for b in body["buckets"]) == 50
    (full,) = [b for b in body["buckets"] if b["sampleSize"]]
    assert full["value"] == pytest.approx(expected) and full["modelId"] is None
    assert all(b["value"] is None for b in body["buckets"] if not b["sampleSize"])
    assert body["summary"]["value"] == pytest.approx(expected)
    starts = [b["period"]["start"] for b in body["buckets"]]
    assert starts == sorted(starts) and body["buckets"][-1]["period"]["end"] == body["summary"]["period"]["end"]
    # Without a metric: the first of DataRobot's default tiles for the model's kind.
    assert get(server, classifier["id"], "accuracyOverTime")["metric"] == "LogLoss"


def test_predictions_vs_actuals_over_time(server: Server, regressor: dict[str, Any]) -> None:
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()
    body = get(server, regressor["id"], "predictionsVsActualsOverTime", start=start, bucketSize="PT1H")
    assert set(body) == {"summary", "baselines", "buckets"}  # the client refuses any other key
    assert body["summary"] == {"rowCountTotal": 40, "rowCountWithActual": 40}
    full = [b for b in body["buckets"] if b["rowCountWithActual"]]
    weighted = sum(b["meanActualValue"] * b["rowCountWithActual"] for b in full) / 40
    assert weighted == pytest.approx(float(np.mean(regressor["truth"])))
    predicted = sum(b["meanPredictedValue"] * b["rowCountWithActual"] for b in full) / 40
    assert predicted == pytest.approx(float(np.mean(regressor["predicted"])))


# --- service figures ----------------------------------------------------------------------------------------


def test_service_stats_count_the_requests_and_rows_sent(server: Server, classifier: dict[str, Any]) -> None:
    body = get(server, classifier["id"], "serviceStats")
    metrics = body["metrics"]
    assert metrics["totalRequests"] == 3 and metrics["totalPredictions"] == 60
    assert metrics["slowRequests"] == 0 and metrics["droppedPredictions"] == 0
    assert metrics["executionTime"] is None and metrics["responseTime"] is None  # no median is kept
    assert 0 < metrics["meanExecutionTime"] <= metrics["maxExecutionTime"]
    assert not {"userErrorRate", "serverErrorRate", "numConsumers", "medianLoad", "peakLoad"} & set(metrics)
    assert body["modelId"] is None and "segmentAttribute" not in body
    highest = get(server, classifier["id"], "serviceStats", executionTimeQuantile="1.0", slowRequestsThreshold=500.0)
    assert highest["metrics"]["executionTime"] == metrics["maxExecutionTime"]
    assert "slowRequests" not in highest["metrics"]  # counted at 1000 ms only
    model_id = model_id_of(server, classifier["id"])
    assert get(server, classifier["id"], "serviceStats", modelId=model_id)["modelId"] == model_id


def test_service_stats_over_time(server: Server, classifier: dict[str, Any]) -> None:
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)).isoformat()
    body = get(server, classifier["id"], "serviceStatsOverTime", metric="totalRequests", start=start)
    assert body["metric"] == "totalRequests" and len(body["buckets"]) in (5, 6)  # hourly below two days
    assert sum(b["value"] for b in body["buckets"]) == 3 and body["summary"]["value"] == 3
    assert all(set(b) == {"period", "modelId", "value"} for b in body["buckets"])
    assert get(server, classifier["id"], "serviceStatsOverTime")["metric"] == "totalPredictions"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"metric": "userErrorRate"}, "metric"),
        ({"metric": "bogus"}, "metric"),
        ({"metric": "executionTime"}, "quantile"),
        ({"metric": "slowRequests", "threshold": 500}, "threshold"),
    ],
)
def test_service_metrics_champion_cannot_give_over_time_are_refused(
    server: Server, classifier: dict[str, Any], params: dict[str, Any], field: str
) -> None:
    response = dr(server, "GET", f"deployments/{classifier['id']}/serviceStatsOverTime/", params=params)
    assert message_of(response, 400).startswith(f"{field}: ")


def test_the_maximum_execution_time_over_time(server: Server, classifier: dict[str, Any]) -> None:
    body = get(server, classifier["id"], "serviceStatsOverTime", metric="executionTime", quantile=1)
    highest = get(server, classifier["id"], "serviceStats")["metrics"]["maxExecutionTime"]
    assert max(b["value"] or 0 for b in body["buckets"]) == pytest.approx(highest)


# --- drift --------------------------------------------------------------------------------------------------


def test_feature_drift_rises_on_the_shifted_feature_only(server: Server, drifting: dict[str, Any]) -> None:
    body = get(server, drifting["id"], "featureDrift")
    assert body["metric"] == "psi" and body["baselineReady"] is True and body["next"] is None
    assert body["modelId"] == model_id_of(server, drifting["id"])
    scores = {item["name"]: item for item in body["data"]}
    assert set(scores) == set(FEATURES)
    for item in scores.values():
        assert item["sampleSize"] == 1200 and item["baselineSampleSize"] == 600 and item["featureImpact"] is None
        assert "segmentAttribute" not in item
    assert scores["x1"]["level"] == "failing"
    assert scores["x2"]["level"] == scores["x3"]["level"] == "passing"
    assert scores["x1"]["driftScore"] > 10 * max(scores["x2"]["driftScore"], scores["x3"]["driftScore"])
    for metric in [m for m in monitoring_query.DRIFT_METRICS if m in divergence.METRICS]:
        other = {i["name"]: i["driftScore"] for i in get(server, drifting["id"], "featureDrift", metric=metric)["data"]}
        assert other["x1"] > max(other["x2"], other["x3"]), metric


def test_feature_drift_pages_follow_next(server: Server, drifting: dict[str, Any]) -> None:
    first = get(server, drifting["id"], "featureDrift", limit=2)
    assert [i["name"] for i in first["data"]] == ["x1", "x2"] and first["totalCount"] == 3
    second = dr(server, "GET", first["next"]).json()
    assert [i["name"] for i in second["data"]] == ["x3"] and second["next"] is None


def test_target_drift(server: Server, drifting: dict[str, Any]) -> None:
    body = get(server, drifting["id"], "targetDrift", metric="hellinger")
    named = dr(server, "GET", f"deployments/{drifting['id']}/").json()["model"]["targetName"]
    assert body["targetName"] == (named or None)  # this model was uploaded without a label column
    assert body["metric"] == "hellinger" and body["segmentValue"] is None
    assert body["sampleSize"] == 1200 and body["baselineSampleSize"] == 600
    assert body["driftScore"] > 0 and "segmentAttribute" not in body


def test_drift_before_the_baseline_exists_is_empty_not_an_error(server: Server, classifier: dict[str, Any]) -> None:
    features = get(server, classifier["id"], "featureDrift")
    assert features["data"] == [] and features["baselineReady"] is False
    target = get(server, classifier["id"], "targetDrift")
    assert target["driftScore"] is None and target["sampleSize"] is None and target["baselineReady"] is False


# --- predictions over time ----------------------------------------------------------------------------------


def test_a_regressors_predictions_over_time(server: Server, regressor: dict[str, Any]) -> None:
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()
    body = get(server, regressor["id"], "predictionsOverTime", start=start, bucketSize="PT1H", includePercentiles=True)
    assert set(body) == {"baselines", "buckets"}  # the client refuses any other key
    model_id = model_id_of(server, regressor["id"])
    assert {b["modelId"] for b in body["buckets"]} == {model_id}
    full = [b for b in body["buckets"] if b["rowCount"]]
    assert sum(b["rowCount"] for b in full) == 40
    mean = sum(b["meanPredictedValue"] * b["rowCount"] for b in full) / 40
    assert mean == pytest.approx(float(np.mean(regressor["predicted"])))
    assert all(b["percentiles"] is None and b["classDistribution"] is None for b in body["buckets"])


def test_a_classifiers_class_distribution_over_time(server: Server, drifting: dict[str, Any]) -> None:
    body = get(server, drifting["id"], "predictionsOverTime", bucketSize="P1D")
    counted: Counter[str] = Counter()
    for bucket in body["buckets"]:
        for entry in bucket["classDistribution"] or []:
            counted[entry["className"]] += entry["count"]
    assert counted == drifting["all"]
    (full,) = [b for b in body["buckets"] if b["rowCount"]]
    assert sum(e["percent"] for e in full["classDistribution"]) == pytest.approx(100)
    (baseline,) = body["baselines"]
    assert baseline["rowCount"] == 600
    assert {e["className"]: e["count"] for e in baseline["classDistribution"]} == drifting["baseline"]
    only = get(server, drifting["id"], "predictionsOverTime", bucketSize="P1D", targetClass="1")["buckets"]
    assert {e["className"] for b in only for e in b["classDistribution"] or []} == {"1"}


# --- the query ------------------------------------------------------------------------------------------------


def test_dates_with_offsets_fractions_and_a_plus_turned_space(server: Server, classifier: dict[str, Any]) -> None:
    body = get(
        server,
        classifier["id"],
        "serviceStats",
        start="2024-01-01T05:30:00.123456+02:00",
        end="2024-01-02T00:00:00 00:00",
    )
    assert body["period"] == {"start": "2024-01-01T03:00:00Z", "end": "2024-01-02T00:00:00Z"}
    assert body["metrics"]["totalRequests"] == 0


@pytest.mark.parametrize("route", GETS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2024-13-01T00:00:00Z"}, "end"),
        ({"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "start"),
        ({"start": "0001-01-01T00:00:00+05:00"}, "start"),
        ({"end": "9999-12-31T23:59:59"}, "end"),
        ({"segmentAttribute": "DataRobot-Consumer", "segmentValue": "u"}, "segmentAttribute"),
        ({"segmentValue": ""}, "segmentAttribute"),
        ({"modelId": "no-such-model"}, "modelId"),
    ],
)
def test_every_monitoring_route_refuses_a_bad_query_naming_it(
    server: Server, classifier: dict[str, Any], route: str, params: dict[str, Any], field: str
) -> None:
    response = dr(server, "GET", f"deployments/{classifier['id']}/{route}/", params=params)
    assert message_of(response, 400).startswith(f"{field}: ")


@pytest.mark.parametrize("route", OVER_TIME)
@pytest.mark.parametrize("size", ["PT30M", "P1M", "1 day", "3600", "P1D", "-PT1H"])
def test_a_bucket_size_is_whole_hours_within_the_period(
    server: Server, classifier: dict[str, Any], route: str, size: str
) -> None:
    # A two-day period: a day fits, a month (30 days) does not.
    params = {"bucketSize": size, "start": "2024-01-01T00:00:00Z", "end": "2024-01-03T00:00:00Z"}
    response = dr(server, "GET", f"deployments/{classifier['id']}/{route}/", params=params)
    if size == "P1D":
        assert response.status_code == 200, response.text
        assert len(response.json()["buckets"]) == 2
    else:
        assert message_of(response, 400).startswith("bucketSize: ")


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        ("featureDrift", {"metric": "ks"}, "metric"),
        ("targetDrift", {"metric": "PSI"}, "metric"),
        ("accuracy", {"metric": "RMSE"}, "metric"),
        ("accuracy", {"metric": "Accuracy!"}, "metric"),
        ("accuracyOverTime", {"metric": "R Squared"}, "metric"),
        ("accuracy", {"targetClass": "1"}, "targetClass"),
        ("accuracy", {"modelId": ["a", "b"]}, "metric"),
        ("serviceStats", {"modelId": ["a", "b"]}, "modelId"),
        ("accuracy", {"baselineModelId": "nope"}, "baselineModelId"),
    ],
)
def test_metric_and_model_refusals(
    server: Server, classifier: dict[str, Any], route: str, params: dict[str, Any], field: str
) -> None:
    response = dr(server, "GET", f"deployments/{classifier['id']}/{route}/", params=params)
    assert message_of(response, 400).startswith(f"{field}: ")


@pytest.mark.parametrize("route", GETS)
def test_strangers_and_unknown_deployments_get_404(server: Server, classifier: dict[str, Any], route: str) -> None:
    message_of(dr(server, "GET", f"deployments/{classifier['id']}/{route}/", who="mallory"), 404)
    message_of(dr(server, "GET", f"deployments/no-such-deployment/{route}/"), 404)
    assert dr(server, "GET", f"deployments/{classifier['id']}/{route}/", who=None).status_code == 401


def test_a_quantile_outside_zero_to_one_is_a_validation_error(server: Server, classifier: dict[str, Any]) -> None:
    response = dr(server, "GET", f"deployments/{classifier['id']}/serviceStats/", params={"executionTimeQuantile": 2})
    assert "executionTimeQuantile" in message_of(response, 422)


# --- settings and capabilities -----------------------------------------------------------------------------


def test_association_id_and_data_collection_settings_in_datarobot_spelling(
    server: Server, classifier: dict[str, Any]
) -> None:
    url = f"deployments/{classifier['id']}/settings/"
    got = dr(server, "GET", url).json()
    assert got["associationId"] == {"columnNames": [RID], "requiredInPredictionRequests": True}
    collection = got["predictionsDataCollection"]
    assert collection["enabled"] is True and set(collection) == {
        "enabled",
        "samplingPercent",
        "retentionDays",
        "maxRows",
    }
    change = {
        "predictionsDataCollection": {"retentionDays": 7},
        "associationId": {"requiredInPredictionRequests": False},
    }
    follow(server, dr(server, "PATCH", url, json=change))
    got = dr(server, "GET", url).json()
    assert got["predictionsDataCollection"]["retentionDays"] == 7 and got["predictionsDataCollection"]["enabled"]
    assert got["associationId"] == {"columnNames": [RID], "requiredInPredictionRequests": False}
    follow(server, dr(server, "PATCH", url, json={"associationId": {"requiredInPredictionRequests": True}}))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"associationId": {"columnNames": ["a", "b"]}}, "associationId.columnNames"),
        ({"associationId": {"columnNames": [" "]}}, "associationId.columnNames"),
        ({"predictionsDataCollection": {"samplingPercent": 0}}, "predictionsDataCollection.samplingPercent"),
        ({"predictionsDataCollection": {"enabled": "yes"}}, "predictionsDataCollection.enabled"),
    ],
)
def test_bad_monitoring_settings_name_the_datarobot_field(
    server: Server, classifier: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = dr(server, "PATCH", f"deployments/{classifier['id']}/settings/", json=body)
    message_of(response, 400)
    assert list(response.json()["errors"]) == [field]


def test_capabilities_say_what_champion_does(server: Server, classifier: dict[str, Any]) -> None:
    capabilities = dr(server, "GET", f"deployments/{classifier['id']}/").json()["capabilities"]
    assert capabilities["supportsFeatureDriftTracking"] and capabilities["supportsTargetDriftTracking"]
    assert capabilities["supportsHumilityRules"] and capabilities["supportsModelReplacement"]
    assert capabilities["supportsChallengerModels"] and not capabilities["supportsSegmentedAnalysisDriftAndAccuracy"]
    assert "supportsHumility" not in capabilities
