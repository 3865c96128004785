"""The replay check on a live server: the candidate answers the champion's captured rows before any swap.

The candidate here passes warm-up on sample rows (zeros) but takes the square root of its inputs, so
every captured row with a negative value makes it fail: it is refused by the replay check, nothing
is written, and the champion keeps serving. A sound candidate replays with figures in its report.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tests.api.test_humility import ready
from tests.api.test_wml_deployments import V, upload_model
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles, build_failing, training_data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("replay-home"), "alice", capture_flush_seconds=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "replayed"}).json()["metadata"]["id"]
    return space_id


def model_bytes(estimator: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def square_rooting() -> Any:
    """Fine on the zeros of warm-up; NaN, and a refusal from the classifier, on any negative input."""
    frame, labels = training_data()
    positive = frame.abs()
    return make_pipeline(FunctionTransformer(np.sqrt, feature_names_out="one-to-one"), LogisticRegression()).fit(
        positive, labels
    )


def flipped() -> Any:
    """Sound, but labels every row the other way round: it disagrees with the champion everywhere."""
    frame, labels = training_data()
    return LogisticRegression().fit(frame, 1 - labels)


def score(server: Server, deployment_id: str, rows: np.ndarray) -> Any:
    body = {"input_data": [{"fields": FEATURES, "values": rows.tolist()}]}
    return server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", json=body)


def replace(server: Server, space: str, deployment_id: str, model_id: str) -> Any:
    body = [{"op": "replace", "path": "/asset", "value": {"id": model_id}}]
    return server.call("PATCH", f"/ml/v4/deployments/{deployment_id}", params={**V, "space_id": space}, json=body)


def validation(server: Server, space: str, deployment_id: str, model_id: str) -> dict[str, Any]:
    url = f"/ml/v4/deployments/{deployment_id}/validation"
    response = server.call("POST", url, params={**V, "space_id": space}, json={"asset": {"id": model_id}})
    assert response.status_code == 200, response.text
    return {c["name"]: c for c in response.json()["checks"]}


@pytest.fixture(scope="module")
def live(server: Server, space: str, model_files: ModelFiles) -> dict[str, str]:
    champion = upload_model(server, space, model_files.classifier_named.read_bytes(), name="champion")
    deployment_id = ready(server, space, champion, "replayed")
    rows = np.random.default_rng(5).normal(size=(300, 3))
    assert score(server, deployment_id, rows).status_code == 200
    server.client.app.state.capture_writer.flush_now()
    return {"deployment": deployment_id, "champion": champion}


def test_a_candidate_that_fails_on_captured_rows_is_refused_and_the_champion_serves_on(
    server: Server, space: str, live: dict[str, str]
) -> None:
    candidate = upload_model(server, space, model_bytes(square_rooting()), name="square-rooting")
    checks = validation(server, space, live["deployment"], candidate)
    assert checks["modelCanBeDeployed"]["status"] == "passing"  # warm-up on sample rows is fine
    assert checks["replay"]["status"] == "failing"
    assert "of 300 recent rows" in checks["replay"]["message"]
    assert "NaN" in checks["replay"]["message"]
    message = assert_wml_error(replace(server, space, live["deployment"], candidate), 400)
    assert "replay" in message
    details = server.call("GET", f"/ml/v4/deployments/{live['deployment']}", params={**V, "space_id": space}).json()
    assert details["entity"]["status"]["state"] == "ready"
    assert details["entity"]["asset"]["id"] == live["champion"]
    answered = score(server, live["deployment"], np.array([[-1.0, 0.5, 2.0]]))
    assert answered.status_code == 200
    assert answered.headers["Champion-Model-Version"].startswith(live["champion"])


def test_a_sound_candidate_replays_with_its_figures(server: Server, space: str, live: dict[str, str]) -> None:
    frame, labels = training_data(seed=9)
    retrained = upload_model(server, space, model_bytes(LogisticRegression().fit(frame, labels)), name="retrained")
    checks = validation(server, space, live["deployment"], retrained)
    assert checks["replay"]["status"] == "passing", checks["replay"]
    # 300 rows, or 301 once the row the refusal test scored has been captured too.
    assert re.search(r"On 30[01] recent rows the candidate answered every row", checks["replay"]["message"])
    assert "probabilities differ by" in checks["replay"]["message"]


def test_a_candidate_that_disagrees_warns_and_may_still_replace(
    server: Server, space: str, live: dict[str, str]
) -> None:
    disagreeing = upload_model(server, space, model_bytes(flipped()), name="flipped")
    checks = validation(server, space, live["deployment"], disagreeing)
    assert checks["replay"]["status"] == "warning"
    assert "more than the deployment's limit of 20%" in checks["replay"]["message"]


def test_replay_reads_only_the_champions_own_rows(server: Server, space: str, model_files: ModelFiles) -> None:
    # A deployment nobody has scored yet: nothing to replay, and the check says so.
    champion = upload_model(server, space, model_files.classifier_named.read_bytes(), name="quiet")
    quiet = ready(server, space, champion, "quiet")
    candidate = upload_model(server, space, model_bytes(square_rooting()), name="square-rooting-2")
    checks = validation(server, space, quiet, candidate)
    assert checks["replay"]["status"] == "passing"
    assert "No captured predictions" in checks["replay"]["message"]


def test_a_candidate_that_fails_its_trial_is_refused_before_anything_is_written(
    server: Server, space: str, live: dict[str, str], tmp_path: Path
) -> None:
    failing = upload_model(server, space, build_failing(tmp_path, everywhere=True).read_bytes(), name="zeros")
    checks = validation(server, space, live["deployment"], failing)
    assert checks["modelCanBeDeployed"]["status"] == "failing"
    assert "this model refuses all-zero rows" in checks["modelCanBeDeployed"]["message"]
    assert "modelCanBeDeployed" in assert_wml_error(replace(server, space, live["deployment"], failing), 400)
    history = server.call(
        "GET", f"/ml/v4/deployments/{live['deployment']}/replacements", params={**V, "space_id": space}
    )
    assert history.status_code == 200 and history.json()["resources"] == []
