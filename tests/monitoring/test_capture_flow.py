"""Prediction capture end to end, in-process: predictions through the faces land in files, indexes and windows.

The server's writer flushes on its own every 0.2 s here; the tests also call `flush_now` (what the
writer's loop calls) to make the moment deterministic.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score
from sqlalchemy import select

from champion.errors import InvalidInput
from champion.models.tables import ModelVersion
from champion.monitoring import drift, files
from champion.monitoring import service as monitoring
from champion.monitoring.capture import REQUEST_CELLS, ROW_CELLS, CaptureBuffer, CapturePolicy
from champion.monitoring.tables import AssociatedPrediction, CaptureFile, ServiceWindow
from champion.monitoring.types import ActualIn
from champion.runtimes import Prediction, Signature
from champion.runtimes.base import Feature, FeatureType, Target, TargetType
from champion.users.service import Actor
from tests.api.test_humility import ready
from tests.api.test_wml_deployments import V, upload_model
from tests.api.test_wml_jobs import upload_asset
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.conftest import throwaway_postgres
from tests.model_files import FEATURES, ModelFiles, training_data

SCRAPE = "scrape-0123456789abcdef"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per backend: the writer's upserts are spelled per dialect."""
    home = tmp_path_factory.mktemp("capture-home")
    with ExitStack() as stack:
        database: dict[str, str] = {}
        if request.param == "postgres":
            request.getfixturevalue("postgres_available")
            database["database_url"] = stack.enter_context(throwaway_postgres("champion_capture"))
        yield stack.enter_context(serving(home, "alice", "bob", capture_flush_seconds=0.2, **database))


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "watched"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space_id}/members", json=members).status_code == 200
    return space_id


@pytest.fixture(scope="module")
def classifier(server: Server, space: str, model_files: ModelFiles) -> str:
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="clf")
    return ready(server, space, model, "watched")


def settings(server: Server, space: str, deployment_id: str, body: dict[str, Any]) -> None:
    url = f"/ml/v4/deployments/{deployment_id}/settings"
    response = server.call("PATCH", url, params={**V, "space_id": space}, json=body)
    assert response.status_code == 200, response.text


def score(server: Server, deployment_id: str, fields: list[str], rows: list[list[Any]]) -> Any:
    body = {"input_data": [{"fields": fields, "values": rows}]}
    return server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", json=body)


def flush(server: Server) -> None:
    server.client.app.state.capture_writer.flush_now()


def actor(server: Server, name: str = "alice") -> Actor:
    return Actor(user_id=server.ids[name], name=name, is_admin=False)


def captured_files(server: Server, deployment_id: str) -> list[CaptureFile]:
    with server.context.sessions() as session:
        query = select(CaptureFile).where(CaptureFile.deployment_id == deployment_id).order_by(CaptureFile.first_at)
        return list(session.scalars(query))


def until_policy(server: Server, deployment_id: str, wanted: Callable[[CapturePolicy], bool]) -> None:
    """Wait for the follower to compile changed settings into the deployment's view (it polls every 100 ms)."""
    deadline = time.monotonic() + 10
    while True:
        view = server.client.app.state.engine.resolve(deployment_id)
        if view is not None and view.capture is not None and wanted(view.capture):
            return
        assert time.monotonic() < deadline, "the settings never reached the serving engine"
        time.sleep(0.05)


def test_predictions_are_captured_with_what_the_model_answered(
    server: Server, space: str, classifier: str, model_files: ModelFiles
) -> None:
    settings(server, space, classifier, {"association_id": {"column_names": ["order"]}})
    until_policy(server, classifier, lambda policy: policy.association_column == "order")
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(40, 3)).round(3)
    # Fields out of order, the association id column among them: the model never sees it.
    values = [[f"o-{i}", r[2], r[0], r[1]] for i, r in enumerate(rows.tolist())]
    response = score(server, classifier, ["order", "x3", "x1", "x2"], values)
    assert response.status_code == 200, response.text
    flush(server)
    (record,) = captured_files(server, classifier)
    assert record.rows == 40
    with server.context.sessions() as session:
        version = session.get(ModelVersion, record.version_id)
        assert version is not None
        signature = Signature.from_dict(version.signature)
    stored = files.read(server.context.store.open_path(record.sha256), signature)
    np.testing.assert_allclose(stored.rows_of(signature), rows)
    estimator = joblib.load(model_files.classifier_named)
    assert stored.labels.tolist() == [str(label) for label in estimator.predict(rows)]
    np.testing.assert_allclose(stored.probabilities, estimator.predict_proba(rows))
    assert stored.association_ids == [f"o-{i}" for i in range(40)]
    with server.context.sessions() as session:
        indexed = session.scalars(
            select(AssociatedPrediction).where(AssociatedPrediction.deployment_id == classifier)
        ).all()
        window = session.scalars(select(ServiceWindow).where(ServiceWindow.deployment_id == classifier)).one()
    assert {p.association_id for p in indexed} == {f"o-{i}" for i in range(40)}
    assert (window.requests, window.rows, window.dropped_rows) == (1, 40, 0)


def test_actuals_meet_their_predictions_and_give_accuracy(
    server: Server, space: str, classifier: str, model_files: ModelFiles
) -> None:
    rng = np.random.default_rng(2)
    rows = rng.normal(size=(60, 3)).round(3)
    ids = [f"acc-{i}" for i in range(60)]
    values = [[ids[i], *r] for i, r in enumerate(rows.tolist())]
    assert score(server, classifier, ["order", *FEATURES], values).status_code == 200
    flush(server)
    truth = (rows[:, 0] + rng.normal(scale=0.5, size=60) > 0).astype(int)
    actuals = [ActualIn(association_id=i, value=int(t)) for i, t in zip(ids, truth, strict=True)]
    actuals.append(ActualIn(association_id="never-predicted", value=1))
    with server.context.sessions() as session:
        receipt = monitoring.submit_actuals(session, actor(server), deployment_id=classifier, actuals=actuals)
        assert (receipt.received, receipt.matched, receipt.unmatched_ids) == (61, 60, ["never-predicted"])
        with pytest.raises(Exception, match="editor"):
            monitoring.submit_actuals(session, actor(server, "bob"), deployment_id=classifier, actuals=actuals[:1])
    with server.context.sessions() as session:
        figures = monitoring.accuracy(
            session, actor(server, "bob"), deployment_id=classifier, span=monitoring.period(None, None)
        )
    estimator = joblib.load(model_files.classifier_named)
    assert figures.rows == 60
    assert figures.figures["Accuracy"] == pytest.approx(accuracy_score(truth, estimator.predict(rows)))
    assert figures.figures["AUC"] == pytest.approx(roc_auc_score(truth, estimator.predict_proba(rows)[:, 1]))


def test_a_required_association_id_refuses_a_request_without_it(server: Server, space: str, classifier: str) -> None:
    settings(server, space, classifier, {"association_id": {"required_in_prediction_requests": True}})
    until_policy(server, classifier, lambda policy: policy.association_required)
    assert_wml_error(score(server, classifier, FEATURES, [[0.1, 0.2, 0.3]]), 400, "input_data[0].fields")
    assert score(server, classifier, ["order", *FEATURES], [["r-1", 0.1, 0.2, 0.3]]).status_code == 200
    settings(server, space, classifier, {"association_id": {"required_in_prediction_requests": False}})


def test_drift_rises_for_the_shifted_feature_only(server: Server, space: str, model_files: ModelFiles) -> None:
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="drifting")
    deployment_id = ready(server, space, model, "drifting")
    rng = np.random.default_rng(3)
    for _ in range(6):  # the baseline: 600 rows like the training data
        assert score(server, deployment_id, FEATURES, rng.normal(size=(100, 3)).tolist()).status_code == 200
    flush(server)
    with server.context.sessions() as session:
        before = monitoring.drift_of(
            session, actor(server), deployment_id=deployment_id, span=monitoring.period(None, None)
        )
    assert before.baseline_ready
    shifted = rng.normal(size=(600, 3))
    shifted[:, 1] += 1.5
    for start in range(0, 600, 100):
        assert score(server, deployment_id, FEATURES, shifted[start : start + 100].tolist()).status_code == 200
    flush(server)
    with server.context.sessions() as session:
        after = monitoring.drift_of(
            session, actor(server), deployment_id=deployment_id, span=monitoring.period(None, None)
        )
    scores = {d.name: d.score for d in after.features}
    assert scores["x2"] is not None and scores["x2"] > 0.25
    assert scores["x1"] is not None and scores["x1"] < 0.1 and scores["x3"] is not None and scores["x3"] < 0.1
    assert {d.name: d.rows for d in after.features} == {"x1": 1200, "x2": 1200, "x3": 1200}
    assert after.target is not None and after.target.rows == 1200


def _offer(
    buffer: CaptureBuffer, signature: Signature, rows: np.ndarray, prediction: Prediction, sampling: float = 1.0
) -> None:
    """One request of deployment "d", version "v", offered as the prediction path offers it."""
    buffer.offer(
        CapturePolicy(sampling=sampling),
        deployment_id="d",
        version_id="v",
        signature=signature,
        rows=rows,
        prediction=prediction,
        association_ids=None,
        latency=0.001,
    )


def test_a_full_buffer_drops_and_counts_and_never_fails_a_prediction() -> None:
    buffer = CaptureBuffer(capacity_cells=1_000)
    signature = Signature((Feature("x", FeatureType.DOUBLE),), Target(TargetType.REGRESSION))
    for _ in range(30):
        rows = np.zeros((100, 1))
        _offer(buffer, signature, rows, Prediction(np.zeros(100), None))
    drained = buffer.drain()
    kept = 1_000 // (100 * (1 + ROW_CELLS))  # each row: its value, its time, its label and its association id
    assert kept == 2 and len(drained.pending[("d", "v")]) == kept * 100
    ((key, tally),) = drained.tallies.items()
    assert key[:2] == ("d", "v") and (tally.requests, tally.rows, tally.dropped_rows) == (30, 3_000, 3_000 - kept * 100)
    assert buffer.drain().pending == {}  # drained means empty


def test_the_capacity_counts_what_a_row_holds_beside_its_values() -> None:
    # A 1-row request of 20 features and two classes: 20 values, 2 probabilities, its time, label and id.
    buffer = CaptureBuffer(capacity_cells=100_000)
    signature = Signature(tuple(Feature(f"x{i}", FeatureType.DOUBLE) for i in range(20)), Target(TargetType.REGRESSION))
    for _ in range(5_000):
        _offer(buffer, signature, np.zeros((1, 20)), Prediction(np.zeros(1), np.full((1, 2), 0.5)))
    assert len(buffer.drain().pending[("d", "v")]) == 100_000 // (REQUEST_CELLS + 20 + 2 + ROW_CELLS) == 1_234


def test_what_the_buffer_counts_is_what_its_requests_hold() -> None:
    # Its requests' own arrays are kept (1-row traffic's overhead is most of it): the capacity must count
    # what they hold in memory, not only their values.
    buffer = CaptureBuffer(capacity_cells=10_000_000)
    signature = Signature(tuple(Feature(f"x{i}", FeatureType.DOUBLE) for i in range(20)), Target(TargetType.BINARY))
    batch = (np.zeros(32, dtype=np.int64), np.full((32, 2), 0.5))  # the answer's arrays: views of a batch's
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2_000):
            _offer(
                buffer,
                signature,
                np.zeros((1, 20)),
                Prediction(batch[0][i % 32 : i % 32 + 1], batch[1][i % 32 : i % 32 + 1]),
            )
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= buffer.filling() * buffer.capacity_cells * 8


def test_sampling_keeps_about_its_share() -> None:
    buffer = CaptureBuffer()
    signature = Signature((Feature("x", FeatureType.DOUBLE),), Target(TargetType.REGRESSION))
    for _ in range(2_000):
        _offer(buffer, signature, np.zeros((1, 1)), Prediction(np.zeros(1), None), sampling=0.25)
    drained = buffer.drain()
    assert 400 < len(drained.pending[("d", "v")]) < 600
    assert sum(t.requests for t in drained.tallies.values()) == 2_000  # every request is counted, sampled or not


def test_baseline_rows_is_what_the_drift_test_sends() -> None:
    assert drift.BASELINE_ROWS <= 600


def test_an_actual_past_floats_range_is_refused_naming_it(server: Server, classifier: str) -> None:
    with server.context.sessions() as session, pytest.raises(InvalidInput) as refused:
        monitoring.submit_actuals(
            session,
            actor(server),
            deployment_id=classifier,
            actuals=[ActualIn(association_id="big", value=10**400)],
        )
    assert refused.value.field == "actuals[0].value"


def test_a_classifier_has_no_mean_prediction(server: Server, classifier: str) -> None:
    with server.context.sessions() as session:
        stats = monitoring.service_stats(
            session, actor(server), deployment_id=classifier, span=monitoring.period(None, None)
        )
    assert stats.requests > 0 and stats.mean_prediction is None


def test_a_classifiers_prediction_drifts_over_all_its_classes(
    server: Server, space: str, model_files: ModelFiles
) -> None:
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="one-sided")
    deployment_id = ready(server, space, model, "one-sided")
    rows = np.random.default_rng(4).normal(size=(600, 3))
    rows[:, 0] = -5.0  # the first rows all predict one class
    assert score(server, deployment_id, FEATURES, rows.tolist()).status_code == 200
    flush(server)
    with server.context.sessions() as session:
        found = monitoring.drift_of(
            session, actor(server), deployment_id=deployment_id, span=monitoring.period(None, None)
        )
    assert found.target is not None
    classes = [str(c) for c in joblib.load(model_files.classifier_named).classes_]
    assert found.target.labels[: len(classes)] == classes  # the class never predicted yet has its own bin
    assert sorted(found.target.counts[: len(classes)]) == [0, 600]


def test_under_load_a_full_buffer_drops_and_counts_and_no_prediction_fails(
    tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles
) -> None:
    """A buffer of 1,000 cells (a dozen requests of 10 rows of 3 features), flushed when half full. Small
    requests may or may not find room between flushes; a 400-row request (1,200 cells) never does.
    Every prediction answers; the buffer never holds more than its capacity; what it could not keep
    is counted, in the service figures and in Prometheus, and with what it kept adds up to every row
    answered."""
    home = tmp_path_factory.mktemp("capture-load")
    with serving(home, "alice", capture_buffer_cells=1_000, capture_flush_seconds=3600, metrics_key=SCRAPE) as server:
        space_id: str = server.call("POST", "/v2/spaces", json={"name": "loaded"}).json()["metadata"]["id"]
        model = upload_model(server, space_id, model_files.classifier_named.read_bytes(), name="loaded")
        deployment_id = ready(server, space_id, model, "loaded")
        buffer: CaptureBuffer = server.client.app.state.engine.capture
        small, large = np.random.default_rng(6).normal(size=(10, 3)).tolist(), np.zeros((400, 3)).tolist()
        for request in range(200):
            assert score(server, deployment_id, FEATURES, large if request % 40 == 0 else small).status_code == 200
            assert buffer.filling() <= 1.0
        flush(server)
        with server.context.sessions() as session:
            captured = sum(f.rows for f in session.scalars(select(CaptureFile)))
            window = session.scalars(select(ServiceWindow).where(ServiceWindow.deployment_id == deployment_id)).one()
        assert window.requests == 200 and window.rows == 195 * 10 + 5 * 400
        assert captured + window.dropped_rows == window.rows and window.dropped_rows >= 5 * 400
        scraped = server.call("GET", "/metrics", who=None, headers={"Authorization": f"Bearer {SCRAPE}"}).text
        assert (
            f'champion_capture_dropped_rows_total{{deployment="{deployment_id}"}} {float(window.dropped_rows)}'
            in scraped
        )


def test_a_baseline_from_the_training_data_sees_drift_the_first_captured_rows_hide(
    server: Server, space: str, model_files: ModelFiles
) -> None:
    model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="trained")
    deployment_id = ready(server, space, model, "trained")
    rng = np.random.default_rng(8)
    shifted = rng.normal(size=(600, 3))
    shifted[:, 2] += 2.0  # x3 has drifted since training, from the first request on
    assert score(server, deployment_id, FEATURES, shifted.tolist()).status_code == 200
    flush(server)
    with server.context.sessions() as session:
        before = monitoring.drift_of(
            session, actor(server), deployment_id=deployment_id, span=monitoring.period(None, None)
        )
    assert {d.name: d.score for d in before.features}["x3"] == pytest.approx(0.0, abs=0.05)  # its own baseline

    frame, _ = training_data(rows=2_000, seed=12)
    asset = upload_asset(server, space, "training.csv", frame.assign(label=0).to_csv(index=False).encode())
    url = f"/ml/v4/deployments/{deployment_id}/monitoring/baseline"
    response = server.call("POST", url, params={**V, "space_id": space}, json={"data_asset_id": asset})
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == 2_000
    with server.context.sessions() as session:
        after = monitoring.drift_of(
            session, actor(server), deployment_id=deployment_id, span=monitoring.period(None, None)
        )
    scores = {d.name: d.score for d in after.features}
    assert scores["x3"] is not None and scores["x3"] > 0.5
    assert scores["x1"] is not None and scores["x1"] < 0.1 and scores["x2"] is not None and scores["x2"] < 0.1
    assert {d.name: d.baseline_rows for d in after.features} == {"x1": 2_000, "x2": 2_000, "x3": 2_000}
    assert {d.name: d.rows for d in after.features} == {"x1": 600, "x2": 600, "x3": 600}  # recounted, not doubled
    viewer = server.call("POST", url, who="bob", params={**V, "space_id": space}, json={"data_asset_id": asset})
    assert_wml_error(viewer, 403)
    missing = server.call("POST", url, params={**V, "space_id": space}, json={"data_asset_id": "nope"})
    assert missing.status_code == 404
