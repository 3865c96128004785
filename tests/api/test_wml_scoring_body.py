"""The WML scoring route drops the request body before it awaits the prediction.

Held by every request in flight, a body's dicts and row lists outlive the collector's young generations
and bring on full collections on the prediction path (the Open Inference route does the same).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from champion.deployments import scoring
from champion.serving.engine import Answer
from tests.api.test_inference import deployed
from tests.api.test_wml_routes import Server, V, serving
from tests.model_files import FEATURES, ModelFiles

MARKER = 1234.56789
"""A value no other list in the process holds: the rows carrying it are the body's."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("wml-body-home"), "alice") as server:
        yield server


def test_the_body_is_dropped_before_the_prediction_is_awaited(
    server: Server, model_files: ModelFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = server.call("POST", "/v2/spaces", json={"name": "bodies"}).json()["metadata"]["id"]
    deployment_id, _ = deployed(server, space, model_files.classifier_named.read_bytes(), "clf")
    alive: list[int] = []
    predict = scoring.predict

    async def watching(*args: Any, **kwargs: Any) -> Answer:
        gc.collect()
        alive.append(
            sum(1 for o in gc.get_objects() if type(o) is list and o and type(o[0]) is float and o[0] == MARKER)
        )
        return await predict(*args, **kwargs)

    monkeypatch.setattr(scoring, "predict", watching)
    rows = [[MARKER, 0.5, -1.0] for _ in range(50)]
    content = orjson.dumps({"input_data": [{"fields": FEATURES, "values": rows}]})  # bytes: no list held here
    del rows
    response = server.call(
        "POST",
        f"/ml/v4/deployments/{deployment_id}/predictions",
        params=V,
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"][0]["values"]) == 50
    assert alive == [0]
