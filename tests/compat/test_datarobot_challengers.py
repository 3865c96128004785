"""The official `datarobot` client's challenger calls, unchanged, against a real `champion serve --tls`.

Models go in through the WML REST API (DataRobot has no upload route for champion's formats) and
200 rows through the prediction API, which the server captures (stored every 0.2 s:
`CHAMPION_CAPTURE_FLUSH_SECONDS`). Then the client adds, lists, renames and removes challengers,
sets the replay schedule, and promotes a challenger with `replace_model`; a replay is asked for
with plain HTTP (the client has no method for it) and followed through the client's own poller.
One server for the module; the tests run in file order and build on each other (STATE).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import datarobot as dr
import httpx
import numpy as np
import pytest
from datarobot.client import get_client
from datarobot.enums import MODEL_REPLACEMENT_REASON
from datarobot.models.deployment.challenger import Challenger  # not exported at the top level
from datarobot.utils.waiters import wait_for_async_resolution
from sklearn.linear_model import LogisticRegression

from champion.models.software_specs import CATALOGUE
from tests.compat.conftest import RunningServer
from tests.model_files import FEATURES, ModelFiles, training_data
from tests.replacement.test_replay import flipped, model_bytes, square_rooting
from tests.servers import running_server

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    # replace_model is deprecated in the client (in favour of registered model versions).
    pytest.mark.filterwarnings("ignore::datarobot.errors.DataRobotDeprecationWarning"),
    # The client builds its urllib3 Retry with allowed_methods=[] or False, which urllib3 2 warns about.
    pytest.mark.filterwarnings("ignore:Using an empty collection for 'allowed_methods':FutureWarning"),
]

V = {"version": "2026-10-14"}
ROWS = 200
STATE: dict[str, Any] = {}
NEVER = {"minute": [0], "hour": [2], "day_of_month": [31], "month": [2], "day_of_week": ["*"]}
"""A schedule that is never due (31 February): the server's scheduler starts nothing behind the test's back."""
T = TypeVar("T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("champion-server")
    with running_server(home, CHAMPION_CAPTURE_FLUSH_SECONDS="0.2") as running:
        yield running


@pytest.fixture(scope="module")
def rest(server: RunningServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    with httpx.Client(base_url=server.url, verify=False, headers=headers, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module", autouse=True)
def client(server: RunningServer) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify=False.
        patch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        dr.Client(token=server.admin_api_key, endpoint=f"{server.url}/api/v2", ssl_verify=False)
        yield


def until(read: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"waited too long for {what}: {value!r}"
        time.sleep(0.1)


def upload(rest: httpx.Client, space: str, name: str, content: bytes) -> str:
    """A model with one version, through the WML API; its DataRobot model package (= version) id."""
    body = {"name": name, "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}, "space_id": space}
    model_id = rest.post("/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
    put = rest.put(f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=content)
    assert put.status_code == 201, put.text
    packages = rest.get("/api/v2/modelPackages/", params={"modelId": model_id}).json()["data"]
    package_id: str = packages[0]["id"]
    return package_id


@pytest.fixture(scope="module")
def arena(rest: httpx.Client, model_files: ModelFiles) -> dict[str, Any]:
    """A deployed champion that answered ROWS captured rows, and the packages of the would-be challengers."""
    space: str = rest.post("/v2/spaces", json={"name": "arena"}).json()["metadata"]["id"]
    champion = upload(rest, space, "champion", model_files.classifier_named.read_bytes())
    created = rest.post("/api/v2/deployments/fromModelPackage/", json={"modelPackageId": champion, "label": "arena"})
    assert created.status_code == 202, created.text
    deployment_id: str = created.json()["id"]
    until(lambda: dr.Deployment.get(deployment_id).status, lambda status: status == "active", "the deployment")
    rows = np.random.default_rng(11).normal(size=(ROWS, len(FEATURES))).round(4)
    records = [dict(zip(FEATURES, row, strict=True)) for row in rows.tolist()]
    answer = rest.post(f"/predApi/v1.0/deployments/{deployment_id}/predictions", json=records)
    assert answer.status_code == 200, answer.text
    until(
        lambda: dr.Deployment.get(deployment_id).get_service_stats()["totalPredictions"],
        lambda total: total == ROWS,
        "the captured rows to be stored",
    )
    frame, labels = training_data(seed=4)
    contents = {
        "retrained": model_bytes(LogisticRegression(C=0.5).fit(frame, labels)),
        "flipped": model_bytes(flipped()),
        "rooting": model_bytes(square_rooting()),
        "spare": model_bytes(LogisticRegression(C=0.1).fit(frame, labels)),
    }
    packages = {name: upload(rest, space, name, body) for name, body in contents.items()}
    return {"space": space, "deployment": deployment_id, "champion": champion, "packages": packages}


def test_challengers_are_added_listed_renamed_and_removed_by_the_client(arena: dict[str, Any]) -> None:
    deployment = dr.Deployment.get(arena["deployment"])
    deployment.update_challenger_models_settings(challenger_models_enabled=True)
    assert deployment.get_challenger_models_settings() == {"enabled": True}

    made = {}
    for name in ("retrained", "flipped", "rooting", "spare"):
        challenger = Challenger.create(
            deployment_id=deployment.id,
            model_package_id=arena["packages"][name],
            prediction_environment_id=None,  # type: ignore[arg-type]  # the client drops it
            name=name,
        )
        assert challenger.name == name and challenger.deployment_id == deployment.id
        assert challenger.model is not None and challenger.model["id"] == arena["packages"][name]
        assert challenger.model_package is not None and challenger.model_package["id"] == arena["packages"][name]
        made[name] = challenger
    STATE["challengers"] = made

    listed = Challenger.list(deployment.id)
    assert sorted(c.name for c in listed) == ["flipped", "retrained", "rooting", "spare"]
    assert {c.id for c in deployment.list_challengers()} == {c.id for c in made.values()}

    made["spare"].update(name="spare part")
    assert made["spare"].name == "spare part"
    assert Challenger.get(deployment.id, made["spare"].id).name == "spare part"
    made["spare"].delete()
    assert sorted(c.name for c in Challenger.list(deployment.id)) == ["flipped", "retrained", "rooting"]


def test_the_replay_schedule_through_the_client(arena: dict[str, Any]) -> None:
    deployment = dr.Deployment.get(arena["deployment"])
    assert deployment.get_challenger_replay_settings() == {"enabled": False, "rows": 1000}  # a null schedule is dropped
    deployment.update_challenger_replay_settings(True, NEVER)  # type: ignore[arg-type]
    assert deployment.get_challenger_replay_settings() == {"enabled": True, "schedule": NEVER, "rows": 1000}
    deployment.update_challenger_replay_settings(False)
    assert deployment.get_challenger_replay_settings() == {"enabled": False, "schedule": NEVER, "rows": 1000}


def test_a_replay_asked_for_over_http_and_awaited_by_the_client(rest: httpx.Client, arena: dict[str, Any]) -> None:
    deployment_id = arena["deployment"]
    started = rest.post(f"/api/v2/deployments/{deployment_id}/challengerPredictions/")
    assert started.status_code == 202, started.text
    # The client's own poller: RUNNING, then the 303 to the deployment.
    location = wait_for_async_resolution(get_client(), started.headers["location"], max_wait=60)
    assert location == f"{rest.base_url}/api/v2/deployments/{deployment_id}/"

    response = rest.get(f"/api/v2/deployments/{deployment_id}/challengerComparison/")
    assert response.status_code == 200, response.text
    found = {entry["name"]: entry for entry in response.json()["data"]}
    assert found["retrained"]["rows"] == ROWS and found["retrained"]["failedRows"] == 0
    assert found["retrained"]["agreement"] > 0.8
    assert found["flipped"]["agreement"] < 0.2
    assert found["rooting"]["failedRows"] > 0 and "NaN" in found["rooting"]["firstError"]
    assert {entry["replay"]["id"] for entry in found.values()} == {started.json()["id"]}


def test_the_replay_check_refuses_a_candidate_that_fails_on_the_captured_rows(arena: dict[str, Any]) -> None:
    """Through the client's own validation and replacement: the square-rooting model passes warm-up on
    zeros but fails on the champion's captured rows (negative inputs), so it is refused and nothing changes."""
    deployment = dr.Deployment.get(arena["deployment"])
    rooting = arena["packages"]["rooting"]
    status, message, checks = deployment.validate_replacement_model(new_registered_model_version_id=rooting)
    assert status == "failing" and "replay" in message
    assert checks["replay"]["status"] == "failing" and f"of {ROWS} recent rows" in checks["replay"]["message"]
    assert checks["model_can_be_deployed"]["status"] == "passing"
    with pytest.raises(dr.errors.ClientError) as refused:
        deployment.perform_model_replace(rooting, MODEL_REPLACEMENT_REASON.ACCURACY)
    assert refused.value.status_code == 400
    assert dr.Deployment.get(arena["deployment"]).model_package["id"] == arena["champion"]


def test_promoting_a_challenger_with_replace_model(arena: dict[str, Any]) -> None:
    deployment = dr.Deployment.get(arena["deployment"])
    retrained = STATE["challengers"]["retrained"]
    deployment.replace_model(retrained.model["id"], MODEL_REPLACEMENT_REASON.ACCURACY)
    assert dr.Deployment.get(deployment.id).model["id"] == arena["packages"]["retrained"]
    assert deployment.get_champion_model_package().id == arena["packages"]["retrained"]
