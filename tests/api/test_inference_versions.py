"""The Open Inference Protocol's version segment: `/v2/models/{name}/versions/{version}[/ready|/infer]`.

A deployment serves one model version at a time, named as its metadata's `versions` and the
`Champion-Model-Version` header name it (`<model id>:<revision>`). A request naming that version is
answered as without the segment; one naming any other version is a 404 in the protocol's shape, and
after a swap the old version's name stops answering.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from champion.deployments import scoring
from champion.deployments.errors import VersionNotServed
from champion.runtimes import Framework
from champion.serving.engine import VersionRef
from tests.api.test_wml_deployments import upload_model, wait_until_settled
from tests.api.test_wml_replacement import V
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles, build_variants
from tests.serving.test_engine import SIGNATURE

BODY = {"inputs": [{"name": name, "shape": [1], "datatype": "FP64", "data": [0.5]} for name in FEATURES]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("oip-versions-home"), "alice", "mallory") as server:
        yield server


@pytest.fixture(scope="module")
def live(server: Server, model_files: ModelFiles, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    space: str = server.call("POST", "/v2/spaces", json={"name": "s"}).json()["metadata"]["id"]
    model = upload_model(server, space, model_files.classifier_named.read_bytes())
    retrained = build_variants(Path(tmp_path_factory.mktemp("variants")))["retrained"]
    put = server.call(
        "PUT", f"/ml/v4/models/{model}/content", params={"space_id": space}, content=retrained.read_bytes()
    )
    assert put.status_code == 201, put.text
    body = {"name": "dep", "online": {}, "asset": {"id": model, "rev": "1"}, "space_id": space}
    deployment = server.call("POST", "/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
    assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
    return {"space": space, "model": model, "deployment": deployment}


def call(server: Server, method: str, path: str, who: str = "alice", **kwargs: Any) -> httpx.Response:
    return server.call(method, path, who=who, **kwargs)


def assert_oip_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:500]
    assert set(response.json()) == {"error"}
    message: str = response.json()["error"]
    return message


def test_the_served_version_answers_as_without_the_segment(server: Server, live: dict[str, str]) -> None:
    deployment = live["deployment"]
    served = f"{live['model']}:1"
    metadata = call(server, "GET", f"/v2/models/{deployment}").json()
    assert metadata["versions"] == [served]
    assert call(server, "GET", f"/v2/models/{deployment}/versions/{served}").json() == metadata
    ready = call(server, "GET", f"/v2/models/{deployment}/versions/{served}/ready").json()
    assert ready == {"name": deployment, "version": served, "ready": True}
    plain = call(server, "POST", f"/v2/models/{deployment}/infer", json=BODY)
    pinned = call(server, "POST", f"/v2/models/{deployment}/versions/{served}/infer", json=BODY)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["model_version"] == served and pinned.headers["Champion-Model-Version"] == served
    assert pinned.json()["outputs"] == plain.json()["outputs"]


@pytest.mark.parametrize("suffix", ["", "/ready", "/infer"])
def test_another_version_is_a_404_naming_the_served_one(server: Server, live: dict[str, str], suffix: str) -> None:
    method = "POST" if suffix == "/infer" else "GET"
    path = f"/v2/models/{live['deployment']}/versions/{live['model']}:7{suffix}"
    message = assert_oip_error(call(server, method, path, json=BODY if method == "POST" else None), 404)
    assert f"{live['model']}:7" in message and "it serves" in message


def test_the_segment_reveals_nothing_to_a_non_member(server: Server, live: dict[str, str]) -> None:
    for method, suffix in (("GET", ""), ("GET", "/ready"), ("POST", "/infer")):
        path = f"/v2/models/{live['deployment']}/versions/{live['model']}:1{suffix}"
        response = call(server, method, path, who="mallory", json=BODY if method == "POST" else None)
        assert "no deployment" in assert_oip_error(response, 404)


def test_a_nul_in_the_version_is_a_400(server: Server, live: dict[str, str]) -> None:
    response = call(server, "POST", f"/v2/models/{live['deployment']}/versions/a%00b/infer", json=BODY)
    assert "NUL" in assert_oip_error(response, 400)


def test_after_a_swap_only_the_new_version_answers(server: Server, live: dict[str, str]) -> None:
    deployment, old, new = live["deployment"], f"{live['model']}:1", f"{live['model']}:2"
    patch = [{"op": "replace", "path": "/asset", "value": {"id": live["model"], "rev": "2"}}]
    response = call(
        server, "PATCH", f"/ml/v4/deployments/{deployment}", params={**V, "space_id": live["space"]}, json=patch
    )
    assert response.status_code == 202, response.text
    assert wait_until_settled(server, live["space"], deployment)["entity"]["status"]["state"] == "ready"
    assert assert_oip_error(call(server, "POST", f"/v2/models/{deployment}/versions/{old}/infer", json=BODY), 404)
    answered = call(server, "POST", f"/v2/models/{deployment}/versions/{new}/infer", json=BODY)
    assert answered.status_code == 200 and answered.json()["model_version"] == new


def test_an_answer_from_another_version_is_refused() -> None:
    # The face checks the version that answered too: a swap may fall between the check and the answer.
    served = VersionRef("v2", "m", 2, Framework.SKLEARN, "0" * 64, SIGNATURE)

    class View:
        id = "d"

    scoring.require_version(View(), served, "m:2")  # type: ignore[arg-type]
    with pytest.raises(VersionNotServed, match=r"'m:1'.*it serves 'm:2'"):
        scoring.require_version(View(), served, "m:1")  # type: ignore[arg-type]
