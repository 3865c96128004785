"""Large prediction requests on every face: scored in chunks up to `max_rows_per_request`, then 413.

A request over the model's queue (8,192 rows) was refused with a 503 "queue is full (0 rows
waiting)" that no retry could get past. Now it is fed through the batcher in chunks, answered
by the one model it started on; only many concurrent requests can still fill the queue (503 with
Retry-After).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests.api.test_datarobot_predictions import Deployed, as_csv, csv_of, deployed, table
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles, training_data

V = {"version": "2026-10-14"}
LIMIT = 25_000
LARGE = training_data(rows=20_000, seed=21)[0]
TOO_MANY = training_data(rows=LIMIT + 1, seed=22)[0]

HELD = threading.Event()
"""Cleared, every HeldModel call waits until it is set again: how a test keeps the model busy."""
HELD.set()


class HeldModel(LogisticRegression):
    """A real classifier whose calls wait while HELD is cleared (warm-up runs with it set)."""

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        assert HELD.wait(10), "the test never released the model"
        return super().predict_proba(X)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("large-requests-home")
    with serving(home, "alice", max_rows_per_request=LIMIT) as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "large"}).json()["metadata"]["id"]
    return space_id


@pytest.fixture(scope="module")
def classifier(server: Server, space: str, model_files: ModelFiles) -> Deployed:
    return deployed(server, space, model_files.classifier_named, "large", label="churn")


@pytest.fixture(scope="module")
def held(server: Server, space: str, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    frame, target = training_data()
    path: Path = tmp_path_factory.mktemp("held") / "held.joblib"
    joblib.dump(HeldModel().fit(frame, target), path)
    return deployed(server, space, path, "held")


def wml_score(server: Server, deployment: Deployed, *blocks: Any) -> httpx.Response:
    body = {"input_data": [{"fields": FEATURES, "values": block.to_numpy().tolist()} for block in blocks]}
    return server.call("POST", f"/ml/v4/deployments/{deployment.id}/predictions", params=V, json=body)


def infer(server: Server, deployment: Deployed, rows: Any) -> httpx.Response:
    tensors = [{"name": n, "shape": [len(rows)], "datatype": "FP64", "data": rows[n].tolist()} for n in FEATURES]
    return server.call("POST", f"/v2/models/{deployment.id}/infer", json={"inputs": tensors})


def dr_predict(server: Server, deployment: Deployed, rows: Any) -> httpx.Response:
    url = f"/predApi/v1.0/deployments/{deployment.id}/predictions"
    return server.call("POST", url, **as_csv(csv_of(rows), Accept="text/csv"))


def test_a_20000_row_wml_request_is_scored_like_the_model(server: Server, classifier: Deployed) -> None:
    response = wml_score(server, classifier, LARGE)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Champion-Model-Version"] == classifier.version
    (block,) = response.json()["predictions"]
    assert [row[0] for row in block["values"]] == classifier.estimator.predict(LARGE).tolist()
    np.testing.assert_allclose([row[1] for row in block["values"]], classifier.estimator.predict_proba(LARGE))


def test_wml_blocks_are_scored_together_and_counted_together(server: Server, classifier: Deployed) -> None:
    first, second = LARGE[:12_000], TOO_MANY[:12_000]
    response = wml_score(server, classifier, first, second)
    assert response.status_code == 200, response.text[:500]
    answered = response.json()["predictions"]
    for rows, block in zip((first, second), answered, strict=True):
        assert [row[0] for row in block["values"]] == classifier.estimator.predict(rows).tolist()
        np.testing.assert_allclose([row[1] for row in block["values"]], classifier.estimator.predict_proba(rows))
    message = assert_wml_error(wml_score(server, classifier, LARGE, TOO_MANY[:5_001]), 413, "input_data")
    assert f"25001 rows is more than one request may score ({LIMIT})" in message


def test_a_20000_row_datarobot_csv_is_scored_like_the_model(server: Server, classifier: Deployed) -> None:
    frame = table(dr_predict(server, classifier, LARGE))
    assert frame["churn_PREDICTION"].tolist() == classifier.estimator.predict(LARGE).tolist()
    np.testing.assert_allclose(frame["churn_1_PREDICTION"], classifier.estimator.predict_proba(LARGE)[:, 1])


def test_a_20000_row_inference_request_is_scored_like_the_model(server: Server, classifier: Deployed) -> None:
    response = infer(server, classifier, LARGE)
    assert response.status_code == 200, response.text[:500]
    answers = {output["name"]: output for output in response.json()["outputs"]}
    assert answers["predict"]["data"] == classifier.estimator.predict(LARGE).tolist()
    proba = np.reshape(answers["predict_proba"]["data"], (len(LARGE), 2))
    np.testing.assert_allclose(proba, classifier.estimator.predict_proba(LARGE))


def test_one_row_over_the_limit_is_413_on_every_face(server: Server, classifier: Deployed) -> None:
    wml = wml_score(server, classifier, TOO_MANY)
    assert "25001 rows" in assert_wml_error(wml, 413, "input_data")
    dr = dr_predict(server, classifier, TOO_MANY)
    assert dr.status_code == 413 and "25001 rows" in dr.json()["message"]
    assert dr.headers["Champion-Model-Version"] == classifier.version
    inference = infer(server, classifier, TOO_MANY)
    assert inference.status_code == 413 and inference.json()["error"].startswith("inputs: 25001 rows")


def test_a_full_queue_is_a_503_with_retry_after_and_a_large_request_still_goes_through(
    server: Server, held: Deployed
) -> None:
    """With the model held, 256-row requests fill its queue of 8,192 rows (the one running included):
    32 are taken, the other 9 are refused at once, and every one taken is answered once it is let go."""
    rows = training_data(rows=256, seed=23)[0]
    HELD.clear()
    try:
        with ThreadPoolExecutor(41) as pool:
            crowd = [pool.submit(wml_score, server, held, rows) for _ in range(41)]
            deadline = time.monotonic() + 10
            while sum(f.done() for f in crowd) < 9:
                assert time.monotonic() < deadline, "the queue never filled"
                time.sleep(0.01)
            time.sleep(0.1)  # nothing else can finish while the model is held
            refused = [f for f in crowd if f.done()]
            HELD.set()
            answered = [f.result() for f in crowd if f not in refused]
    finally:
        HELD.set()
    assert len(refused) == 9
    for future in refused:
        response = future.result()
        assert "queue is full" in assert_wml_error(response, 503)
        assert response.headers["Retry-After"] == "1"
    assert [r.status_code for r in answered] == [200] * 32
    # One request larger than the whole queue is not refused: it goes in chunks.
    assert wml_score(server, held, LARGE).status_code == 200
