"""Prometheus meters at /metrics: scoring counted per deployment, errors by kind, who may scrape."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

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

SCRAPE_KEY = "scrape-0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """alice is a server admin; eve an ordinary user, a member of no space."""
    context = open_context(Settings(home=tmp_path_factory.mktemp("metrics-home"), metrics_key=SCRAPE_KEY))
    keys, ids = {}, {}
    with context.sessions() as session:
        for name, admin in (("alice", True), ("eve", False)):
            user = users.create_user(session, name=name, is_admin=admin)
            keys[name], ids[name] = users.issue_key(session, user_id=user.id).secret, user.id
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


def test_a_user_who_is_no_admin_may_not_read_every_spaces_meters(server: Server, space: str) -> None:
    """The meters name every deployment and model on the server: eve, a member of no space, is refused."""
    message = assert_wml_error(server.call("GET", "/metrics", who="eve"), 403)
    assert "server admin" in message
    # A member of a space is no better: the meters cover the spaces they are not in too.
    members = {"members": [{"id": server.ids["eve"], "type": "user", "role": "editor"}]}
    assert server.call("POST", f"/v2/spaces/{space}/members", json=members).status_code == 200
    assert_wml_error(server.call("GET", "/metrics", who="eve"), 403)


def test_an_admins_key_or_token_reads_the_meters(server: Server) -> None:
    assert server.call("GET", "/metrics", who="alice").status_code == 200
    authorized = server.call(
        "POST", "/icp4d-api/v1/authorize", who=None, json={"username": "alice", "api_key": server.keys["alice"]}
    )
    token = authorized.json()["token"]
    assert server.call("GET", "/metrics", who=None, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_the_scrape_key_reads_the_meters_and_nothing_else(server: Server) -> None:
    scrape_key = {"Authorization": f"Bearer {SCRAPE_KEY}"}
    response = server.call("GET", "/metrics", who=None, headers=scrape_key)
    assert response.status_code == 200 and "champion_models_loaded" in response.text
    assert_wml_error(server.call("GET", "/v2/spaces", who=None, headers=scrape_key), 401)
    near_miss = {"Authorization": f"Bearer {SCRAPE_KEY[:-1]}x"}
    assert_wml_error(server.call("GET", "/metrics", who=None, headers=near_miss), 401)


def test_a_short_scrape_key_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="CHAMPION_METRICS_KEY must be at least 16 characters"):
        Settings(metrics_key="short")


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
