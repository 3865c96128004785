"""Prometheus meters at /metrics: scoring counted per deployment, errors by kind, scrapes signed in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from champion.app import create_app
from champion.config import Settings
from champion.context import open_context
from champion.deployments import scoring
from champion.errors import InvalidInput, Unavailable
from champion.runtimes import Framework, Signature
from champion.runtimes.base import Feature, FeatureType, Target, TargetType
from champion.serving.engine import DeploymentView, ServingEngine, VersionRef
from champion.users import service as users
from tests.api.test_wml_deployments import V, deploy, score, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error
from tests.model_files import FEATURES, ModelFiles, training_data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    context = open_context(Settings(home=tmp_path_factory.mktemp("metrics-home")))
    with context.sessions() as session:
        user = users.create_user(session, name="alice")
        keys, ids = {"alice": users.issue_key(session, user_id=user.id).secret}, {"alice": user.id}
    with TestClient(create_app(context=context)) as client:
        yield Server(client, context, keys, ids)
    context.close()


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "metrics"}).json()["metadata"]["id"]
    return space_id


def scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = server.call("GET", "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_scoring_is_counted_for_the_deployment_and_version(server: Server, space: str, model_files: ModelFiles) -> None:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes())
    deployment_id = deploy(server, space, model_id)["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
    frame, _ = training_data(rows=5, seed=1)
    body = {"input_data": [{"fields": FEATURES, "values": frame.to_numpy().tolist()}]}
    for _ in range(4):
        assert score(server, deployment_id, body).status_code == 200

    samples = scrape(server)
    labels = {"deployment": deployment_id, "model_version": f"{model_id}:1"}
    assert value(samples, "champion_predictions_total", **labels) == 4
    assert value(samples, "champion_prediction_rows_total", **labels) == 20
    assert value(samples, "champion_prediction_latency_seconds_count", **labels) == 4
    assert value(samples, "champion_prediction_latency_seconds_bucket", **labels, le="+Inf") == 4
    assert 0 < value(samples, "champion_prediction_latency_seconds_sum", **labels) < 10
    assert value(samples, "champion_models_loaded") >= 1


def test_scoring_a_batch_deployment_is_an_invalid_input_error(
    server: Server, space: str, model_files: ModelFiles
) -> None:
    model_id = upload_model(server, space, model_files.regressor.read_bytes(), name="reg")
    body = {"name": "nightly", "batch": {}, "asset": {"id": model_id}, "space_id": space}
    deployment_id = server.call("POST", "/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
    wait_until_settled(server, space, deployment_id)
    rows = {"input_data": [{"fields": FEATURES, "values": [[1.0, 2.0, 3.0]]}]}
    for _ in range(2):
        assert_wml_error(score(server, deployment_id, rows), 400)

    samples = scrape(server)
    assert value(samples, "champion_prediction_errors_total", deployment=deployment_id, kind="invalid_input") == 2
    answered = [labels for name, labels in samples if name == "champion_predictions_total"]
    assert not any(("deployment", deployment_id) in labels for labels in answered)


def test_metrics_need_a_credential(server: Server) -> None:
    assert_wml_error(server.call("GET", "/metrics", who=None), 401)
    bad = {"Authorization": "Bearer chp_nope.nope"}
    assert_wml_error(server.call("GET", "/metrics", who=None, headers=bad), 401)


def test_each_app_has_its_own_registry() -> None:
    first, second = create_app(Settings()), create_app(Settings())
    assert first.state.metrics.registry is not second.state.metrics.registry


# -- the scoring functions themselves, on an engine with nothing loaded --------------------


def _view(deployment_id: str) -> DeploymentView:
    signature = Signature(
        features=tuple(Feature(name, FeatureType.DOUBLE) for name in FEATURES),
        target=Target(TargetType.BINARY, classes=(0, 1)),
    )
    ref = VersionRef("v1", "m1", 1, Framework.SKLEARN, "0" * 64, signature)
    return DeploymentView(deployment_id, "s1", "d", "online", "ready", None, ref, serves=True, dropped=False)


def _errors(engine: ServingEngine, deployment_id: str, kind: str) -> float:
    found = engine.metrics.registry.get_sample_value(
        "champion_prediction_errors_total", {"deployment": deployment_id, "kind": kind}
    )
    return found or 0.0


def test_a_bad_request_read_inside_reading_is_counted() -> None:
    engine, view = ServingEngine(), _view("d1")
    with pytest.raises(InvalidInput), scoring.reading(engine, view):
        raise InvalidInput("no such column", field="input_data[0].fields")
    with scoring.reading(engine, view):
        pass
    assert _errors(engine, "d1", "invalid_input") == 1


def test_a_deployment_with_no_model_here_counts_as_unavailable() -> None:
    engine, view = ServingEngine(), _view("d2")
    with pytest.raises(Unavailable):
        asyncio.run(scoring.predict(engine, view, np.zeros((1, 3))))
    assert _errors(engine, "d2", "unavailable") == 1
