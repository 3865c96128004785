"""The official `datarobot` client, unchanged, against a real `champion serve --tls`.

DataRobot has no upload route for champion's model formats, so models are uploaded through the
WML REST API; everything after that goes through the client. One server per module; the tests
run in file order and build on each other (STATE).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import datarobot as dr
import httpx
import pytest
from datarobot.errors import AsyncProcessUnsuccessfulError, ClientError
from datarobot.models.model_registry import RegisteredModelVersion
from datarobot.utils import waiters

from champion.models.software_specs import CATALOGUE
from tests.compat.conftest import CreatedUser, RunningServer
from tests.model_files import FEATURES, ModelFiles, build_failing, build_variants
from tests.servers import running_server

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    # replace_model, create_from_learning_model and validate(new_model_id=) are deprecated in the client.
    pytest.mark.filterwarnings("ignore::datarobot.errors.DataRobotDeprecationWarning"),
    # The client builds its urllib3 Retry with allowed_methods=[], which urllib3 2 warns about.
    pytest.mark.filterwarnings("ignore:Using an empty collection for 'allowed_methods':FutureWarning"),
]

V = {"version": "2026-10-14"}
ROW = {"input_data": [{"fields": FEATURES, "values": [[0.5, -0.2, 1.0]]}]}
REASONS = ["ACCURACY", "DATA_DRIFT", "ERRORS", "SCHEDULED_REFRESH", "SCORING_SPEED", "DEPRECATION", "OTHER"]
STATE: dict[str, Any] = {}


@pytest.fixture
def client_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep the client's status polling takes (it sleeps 5 s between polls): a deploy or replacement
    of a tiny model must answer its first poll, which champion holds until the operation ends. Counted, not
    timed: on a busy machine the operation may take seconds, and the client still never sleeps."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(waiters, "time", SimpleNamespace(time=time.time, sleep=sleep))
    return slept


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """This module's `champion serve --tls`. The candidate that fails warm-up is a pickled class from
    tests/model_files.py, so the server must be able to import `tests`."""
    root = Path(__file__).resolve().parents[2]
    with running_server(tmp_path_factory.mktemp("champion-server"), PYTHONPATH=str(root)) as running:
        yield running


def http(server: RunningServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, verify=False, headers={"Authorization": f"Bearer {key}"}, timeout=30.0)


def connect(server: RunningServer, key: str, token_type: str = "Token") -> None:
    """Make the client's global connection; `dr.Client` itself calls GET /api/v2/version/."""
    dr.Client(token=key, endpoint=f"{server.url}/api/v2", ssl_verify=False, token_type=token_type)


def upload(rest: httpx.Client, space: str, name: str, files: list[Path]) -> str:
    body = {"name": name, "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}, "space_id": space}
    created = rest.post("/ml/v4/models", params=V, json=body)
    assert created.status_code == 201, created.text
    model_id: str = created.json()["metadata"]["id"]
    for path in files:
        put = rest.put(f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=path.read_bytes())
        assert put.status_code == 201, put.text
    return model_id


def served_rev(rest: httpx.Client, deployment_id: str) -> str:
    response = rest.post(f"/ml/v4/deployments/{deployment_id}/predictions", params=V, json=ROW)
    assert response.status_code == 200, response.text
    return str(response.headers["Champion-Model-Version"].split(":")[1])


@pytest.fixture(scope="module")
def bob(make_user: Callable[[str], CreatedUser]) -> CreatedUser:
    return make_user("bob")


@pytest.fixture(scope="module")
def rest(server: RunningServer) -> Iterator[httpx.Client]:
    with http(server, server.admin_api_key) as client:
        yield client


@pytest.fixture(scope="module")
def models(
    server: RunningServer,
    rest: httpx.Client,
    bob: CreatedUser,
    model_files: ModelFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """Model `churn`, versions 1 original, 2 retrained, 3 regressor, 4 fails warm-up; model `other`, one version."""
    folder = tmp_path_factory.mktemp("dr-variants")
    variants = build_variants(folder)
    space: str = rest.post("/v2/spaces", json={"name": "datarobot"}).json()["metadata"]["id"]
    members = {"members": [{"id": bob.id, "type": "user", "role": "viewer"}]}
    assert rest.post(f"/v2/spaces/{space}/members", json=members).status_code == 200
    files = [model_files.classifier_named, variants["retrained"], variants["regressor"], build_failing(folder)]
    churn = upload(rest, space, "churn", files)
    other = upload(rest, space, "other", [variants["retrained"]])
    return {"space": space, "churn": churn, "other": other}


@pytest.fixture(scope="module", autouse=True)
def client(server: RunningServer, models: dict[str, Any]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify=False (the
        # client sets ssl_verify on its session), so they must be unset to reach a self-signed server.
        patch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        connect(server, server.admin_api_key)
        yield


def deployment() -> dr.Deployment:
    return dr.Deployment.get(STATE["deployment"])


# --------------------------------------------------------------------------- connecting


def test_token_and_bearer_authentication(server: RunningServer) -> None:
    connect(server, server.admin_api_key, token_type="Bearer")
    assert isinstance(dr.Deployment.list(), list)
    with pytest.raises(ClientError):
        connect(server, "chp_wrong.key")
    connect(server, server.admin_api_key)
    assert isinstance(dr.Deployment.list(), list)


# --------------------------------------------------------------------------- model packages and creating


def test_register_model_versions_from_models(rest: httpx.Client, models: dict[str, Any]) -> None:
    # A registered model id names its newest version; a model version id names that version.
    newest = RegisteredModelVersion.create_for_leaderboard_item(models["churn"])
    assert newest.registered_model_id == models["churn"] and newest.registered_model_version == 4
    packages = rest.get("/api/v2/modelPackages/", params={"modelId": models["churn"]}).json()["data"]
    STATE["packages"] = {p["registeredModelVersion"]: p["id"] for p in packages}
    assert STATE["packages"][4] == newest.id
    exact = RegisteredModelVersion.create_for_leaderboard_item(STATE["packages"][1], name="v1")
    assert exact.id == STATE["packages"][1] and exact.registered_model_version == 1
    assert exact.target["type"] == "Binary" and exact.model_description["model_name"] == "churn"


def test_create_from_a_registered_model_version(
    server: RunningServer, rest: httpx.Client, client_sleeps: list[float]
) -> None:
    package = STATE["packages"][1]
    created = dr.Deployment.create_from_registered_model_version(package, label="dr live", importance="LOW")
    assert client_sleeps == [], "the client had to sleep between polls"
    assert created.status == "active" and created.label == "dr live" and created.importance == "LOW"
    assert created.model_package["id"] == package
    assert created.default_prediction_server["url"] == server.url
    STATE["deployment"] = created.id
    assert served_rev(rest, created.id) == "1"


def test_create_from_a_learning_model(rest: httpx.Client, models: dict[str, Any]) -> None:
    created = dr.Deployment.create_from_learning_model(models["other"], label="from other")
    assert created.model_package["registered_model_id"] == models["other"]
    assert served_rev(rest, created.id) == "1"
    STATE["other_deployment"] = created.id


# --------------------------------------------------------------------------- listing, reading, editing


def test_list_follows_pages(rest: httpx.Client) -> None:
    # More deployments than one page (20): created over REST, the client need not wait for them.
    for index in range(21):
        body = {"modelPackageId": STATE["packages"][2], "label": f"bulk {index:02d}"}
        assert rest.post("/api/v2/deployments/fromModelPackage/", json=body).status_code == 202
    everything = dr.Deployment.list()
    labels = [d.label for d in everything]
    assert len(everything) == 23 and "dr live" in labels and "from other" in labels
    page = dr.Deployment.list(search="bulk", order_by="-label", limit=3, offset=1)
    assert [d.label for d in page] == ["bulk 19", "bulk 18", "bulk 17"]
    ascending = dr.Deployment.list(search="bulk", order_by="label", limit=2)
    assert [d.label for d in ascending] == ["bulk 00", "bulk 01"]


def test_get_update_delete() -> None:
    current = deployment()
    assert current.model["target_type"] == "Binary" and "CAN_EDIT" in current.permissions
    current.update(label="dr renamed", description="replaced by the DataRobot client", importance="HIGH")
    again = deployment()
    assert (again.label, again.description, again.importance) == (
        "dr renamed",
        "replaced by the DataRobot client",
        "HIGH",
    )
    doomed = dr.Deployment.list(search="bulk 20")
    assert len(doomed) == 1
    doomed[0].delete()
    with pytest.raises(ClientError) as raised:
        dr.Deployment.get(doomed[0].id)
    assert raised.value.status_code == 404


def test_a_viewer_reads_but_cannot_change(server: RunningServer, bob: CreatedUser) -> None:
    connect(server, bob.api_key)
    try:
        seen = deployment()
        assert seen.permissions == ["CAN_VIEW"]
        with pytest.raises(ClientError) as raised:
            seen.update(label="bob was here")
        assert raised.value.status_code == 403
        with pytest.raises(ClientError) as raised:
            seen.perform_model_replace(STATE["packages"][2], "OTHER")
        assert raised.value.status_code == 403
    finally:
        connect(server, server.admin_api_key)


# --------------------------------------------------------------------------- validating and replacing


def test_validate_by_model_id_and_by_registered_model_version() -> None:
    current = deployment()
    status, message, checks = current.validate_replacement_model(new_model_id=STATE["packages"][2])
    assert status == "passing" and message == "All checks passed."
    assert checks["target_type"]["status"] == "passing"
    status, _, checks = current.validate_replacement_model(new_registered_model_version_id=STATE["packages"][2])
    assert status == "passing" and set(checks) >= {"permission", "target", "features", "not_current_model"}


def test_a_failing_validation_and_a_refused_replacement(rest: httpx.Client) -> None:
    current = deployment()
    status, message, checks = current.validate_replacement_model(new_registered_model_version_id=STATE["packages"][3])
    assert status == "failing" and "targetType" in message
    assert checks["target_type"]["status"] == "failing"
    with pytest.raises(ClientError) as raised:
        current.perform_model_replace(STATE["packages"][3], "ACCURACY")
    assert raised.value.status_code == 400
    assert raised.value.json["checks"]["targetType"]["status"] == "failing"
    assert deployment().model_package["id"] == STATE["packages"][1]
    assert served_rev(rest, STATE["deployment"]) == "1"


def test_replace_with_every_reason(rest: httpx.Client, client_sleeps: list[float]) -> None:
    current = deployment()
    for index, reason in enumerate(REASONS):
        number = 2 if index % 2 == 0 else 1
        if index % 3 == 0:
            current.replace_model(STATE["packages"][number], reason)
        elif index % 3 == 1:
            current.replace_model(None, reason, new_registered_model_version_id=STATE["packages"][number])
        else:
            current.perform_model_replace(STATE["packages"][number], reason)
        assert client_sleeps == [], f"{reason}: the client had to sleep between polls"
        assert current.model_package["id"] == STATE["packages"][number]
        assert served_rev(rest, current.id) == str(number)
    history = rest.get(f"/api/v2/deployments/{current.id}/modelHistory/").json()["data"]
    assert [h["reason"] for h in history] == list(reversed(REASONS))
    assert all(h["outcome"] == "succeeded" for h in history)
    assert current.get_prediction_intervals_settings() == {"enabled": False, "percentiles": []}


def test_get_champion_model_package() -> None:
    package = deployment().get_champion_model_package()
    assert package.id == STATE["packages"][2] and package.registered_model_version == 2
    # The classifier was fitted without a named target: the client drops the null name.
    assert package.target == {"type": "Binary", "class_names": ["0", "1"]}
    assert package.model_description["model_name"] == "churn" and package.timeseries == {}


def test_a_candidate_that_fails_to_load_leaves_the_old_model_serving(rest: httpx.Client) -> None:
    current = deployment()
    with pytest.raises(AsyncProcessUnsuccessfulError, match="previous model still serves"):
        current.perform_model_replace(STATE["packages"][4], "ERRORS")
    assert deployment().model_package["id"] == STATE["packages"][2]
    assert served_rev(rest, current.id) == "2"
    latest = rest.get(f"/api/v2/deployments/{current.id}/modelHistory/").json()["data"][0]
    assert (latest["reason"], latest["outcome"]) == ("ERRORS", "failed")


def test_a_replacement_through_wml_shows_in_datarobot(rest: httpx.Client, models: dict[str, Any]) -> None:
    patch = [{"op": "replace", "path": "/asset", "value": {"id": models["churn"], "rev": "1"}}]
    params = {**V, "space_id": models["space"], "reason": "SCORING_SPEED"}
    assert rest.patch(f"/ml/v4/deployments/{STATE['deployment']}", params=params, json=patch).status_code == 202
    deadline = time.monotonic() + 30
    while deployment().model_package["id"] != STATE["packages"][1]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    history = rest.get(f"/api/v2/deployments/{STATE['deployment']}/modelHistory/").json()["data"]
    assert history[0]["reason"] == "SCORING_SPEED" and history[0]["modelPackage"]["id"] == STATE["packages"][1]


# --------------------------------------------------------------------------- activation


def test_deactivate_and_activate(rest: httpx.Client) -> None:
    current = deployment()
    current.deactivate()
    assert current.status == "inactive"
    refused = rest.post(f"/ml/v4/deployments/{current.id}/predictions", params=V, json=ROW)
    assert refused.status_code == 409 and "inactive" in refused.text
    with pytest.raises(ClientError) as raised:
        current.perform_model_replace(STATE["packages"][2], "OTHER")
    assert raised.value.json["checks"]["predictionReady"]["status"] == "failing"
    current.activate()
    assert current.status == "active" and deployment().status == "active"
    assert served_rev(rest, current.id) == "1"
