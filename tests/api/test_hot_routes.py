"""Every prediction face answers from memory (invariant 5), on the plain Starlette routes matched first.

WML scoring, Open Inference inference (per-feature tensors and one 2-D tensor) and DataRobot's
prediction API (JSON and CSV) are plain routes ahead of FastAPI's router. With the key already
known, a prediction must not touch the database: here every SQL statement fails while they are
sent, and each face still answers, the same as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from starlette.routing import Route

from champion.api import datarobot, inference, wml
from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles, training_data

ROWS = training_data(rows=3, seed=11)[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("hot-home"), "alice") as server:
        yield server


@pytest.fixture(scope="module")
def deployment(server: Server, model_files: ModelFiles) -> str:
    space: str = server.call("POST", "/v2/spaces", json={"name": "hot"}).json()["metadata"]["id"]
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="clf")
    deployment_id: str = deploy(server, space, model_id, name="clf")["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
    return deployment_id


def predict_everywhere(server: Server, deployment_id: str) -> dict[str, Any]:
    """Each face's labels for ROWS (the same three rows), asserting a 200 from each."""
    values = ROWS.to_numpy()
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "wml": (
            f"/ml/v4/deployments/{deployment_id}/predictions",
            {"json": {"input_data": [{"fields": FEATURES, "values": values.tolist()}]}},
        ),
        "oip-columns": (
            f"/v2/models/{deployment_id}/infer",
            {
                "json": {
                    "inputs": [
                        {"name": n, "shape": [3], "datatype": "FP64", "data": ROWS[n].tolist()} for n in FEATURES
                    ]
                }
            },
        ),
        "oip-2d": (
            f"/v2/models/{deployment_id}/infer",
            {"json": {"inputs": [{"name": "rows", "shape": [3, 3], "datatype": "FP64", "data": values.tolist()}]}},
        ),
        "datarobot-json": (
            f"/predApi/v1.0/deployments/{deployment_id}/predictions",
            {"json": ROWS.to_dict(orient="records")},
        ),
        "datarobot-csv": (
            f"/predApi/v1.0/deployments/{deployment_id}/predictions",
            {"content": ROWS.to_csv(index=False), "headers": {"Content-Type": "text/csv"}},
        ),
    }
    labels: dict[str, Any] = {}
    for face, (path, options) in requests.items():
        response = server.call("POST", path, **options)
        assert response.status_code == 200, (face, response.text[:300])
        labels[face] = _labels(face, response)
    return labels


def _labels(face: str, response: httpx.Response) -> list[Any]:
    body = response.json()
    if face == "wml":
        return [row[0] for row in body["predictions"][0]["values"]]
    if face.startswith("oip"):
        return next(o["data"] for o in body["outputs"] if o["name"] == "predict")
    return [row["prediction"] for row in body["data"]]


@contextmanager
def database_unreachable(server: Server) -> Iterator[None]:
    """Every SQL statement fails until the block ends: whatever needs the database errs."""

    def refuse(*args: Any) -> None:
        raise RuntimeError("the database is unreachable (a test)")

    engine = server.context.engine
    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def test_every_face_predicts_while_the_database_is_unreachable(server: Server, deployment: str) -> None:
    before = predict_everywhere(server, deployment)  # the key is known from here on
    assert len({str(labels) for labels in before.values()}) == 1, before  # every face, the same answers
    with database_unreachable(server):
        during = predict_everywhere(server, deployment)
        with pytest.raises(RuntimeError, match="unreachable"), server.context.sessions() as session:
            session.execute(text("SELECT 1"))  # the block is real
    assert during == before


def test_the_prediction_routes_are_matched_before_every_router(server: Server) -> None:
    hot = [*wml.hot_routes, *inference.hot_routes, *datarobot.hot_routes]
    first = server.client.app.router.routes[: len(hot)]  # type: ignore[attr-defined]
    assert all(type(route) is Route and any(route is h for h in hot) for route in first)
    assert {route.path for route in inference.hot_routes} == {
        "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}/infer",
    }


@pytest.mark.parametrize("url", ["/v2/models/a%00b/infer", "/v2/models/{id}/infer?x=%00"])
def test_inference_refuses_a_nul_in_the_path_or_query_as_the_face_does(
    server: Server, deployment: str, url: str
) -> None:
    response = server.call("POST", url.format(id=deployment), json={"inputs": []})
    assert response.status_code == 400 and "NUL" in response.json()["error"]
