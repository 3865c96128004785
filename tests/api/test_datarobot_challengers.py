"""DataRobot's challenger routes in-process: shapes the client parses, every refusal, a replay's figures.

The arena: a champion classifier that answered 200 captured rows through the prediction API, half
of them with actuals, and challengers to add — a sound retrain, a flipped model (disagrees
everywhere), one that fails on negative inputs, a regressor (the wrong kind of target) and spare
classifiers to fill the five places. `arena` is shared with the WML face's tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from champion.challengers.service import MAX_CHALLENGERS
from tests.api.test_datarobot_routes import dr, message_of
from tests.api.test_humility import ready
from tests.api.test_wml_deployments import V, upload_model
from tests.api.test_wml_routes import Server, serving
from tests.challengers.test_challengers import version_of
from tests.model_files import FEATURES, ModelFiles, training_data
from tests.replacement.test_replay import flipped, model_bytes, square_rooting

DOCUMENT_KEYS = {"id", "name", "model", "modelPackage", "predictionEnvironment"}
NEVER = {"minute": [0], "hour": [2], "dayOfMonth": [31], "month": [2], "dayOfWeek": ["*"]}
"""A schedule that is never due (31 February), so the scheduler starts nothing behind a test's back."""


@dataclass(frozen=True)
class Arena:
    space: str
    deployment: str
    empty: str
    """A ready deployment with no challengers."""
    models: dict[str, str]
    """Model ids by role: champion, retrained, flipped, rooting, regressor, spare0..spare2."""
    versions: dict[str, str]
    """Each model's (only) version id: DataRobot's model package id."""


def build_arena(server: Server, model_files: ModelFiles) -> Arena:
    """alice's space (bob a viewer, mallory no member) and a champion with captured traffic and actuals."""
    space: str = server.call("POST", "/v2/spaces", json={"name": "arena"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space}/members", json=members).status_code == 200
    champion = upload_model(server, space, model_files.classifier_named.read_bytes(), name="champion")
    deployment, empty = ready(server, space, champion, "arena"), ready(server, space, champion, "empty")
    settings = {"association_id": {"column_names": ["id"]}}
    url = f"/ml/v4/deployments/{deployment}/settings"
    assert server.call("PATCH", url, params={**V, "space_id": space}, json=settings).status_code == 200
    time.sleep(0.5)  # the follower compiles the association id column into the view
    rows = np.random.default_rng(11).normal(size=(200, len(FEATURES)))
    records = [{"id": f"r{i}", **dict(zip(FEATURES, row, strict=True))} for i, row in enumerate(rows.tolist())]
    answer = server.call("POST", f"/predApi/v1.0/deployments/{deployment}/predictions", json=records)
    assert answer.status_code == 200, answer.text
    server.client.app.state.capture_writer.flush_now()  # type: ignore[attr-defined]
    truth = (rows[:, 0] > 0).astype(int)
    actuals = {"actuals": [{"association_id": f"r{i}", "value": int(truth[i])} for i in range(0, 200, 2)]}
    posted = server.call("POST", f"/ml/v4/deployments/{deployment}/actuals", params={"space_id": space}, json=actuals)
    assert posted.status_code == 200, posted.text
    frame, labels = training_data(seed=4)
    contents = {
        "retrained": model_bytes(LogisticRegression(C=0.5).fit(frame, labels)),
        "flipped": model_bytes(flipped()),
        "rooting": model_bytes(square_rooting()),
        "regressor": model_files.regressor.read_bytes(),
        **{f"spare{i}": model_bytes(LogisticRegression(C=0.1 * (i + 1)).fit(frame, labels)) for i in range(3)},
    }
    found = {"champion": champion, **{name: upload_model(server, space, body, name) for name, body in contents.items()}}
    versions = {name: version_of(server, model_id) for name, model_id in found.items()}
    return Arena(space, deployment, empty, found, versions)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("dr-challengers-home")
    with serving(home, "alice", "bob", "mallory", capture_flush_seconds=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def arena(server: Server, model_files: ModelFiles) -> Arena:
    return build_arena(server, model_files)


def challengers_of(arena: Arena, deployment: str | None = None) -> str:
    return f"deployments/{deployment or arena.deployment}/challengers/"


def add(server: Server, arena: Arena, name: str, who: str = "alice", **extra: Any) -> httpx.Response:
    body = {"modelPackageId": arena.versions[name], "name": name, **extra}
    return dr(server, "POST", challengers_of(arena), who=who, json=body)


def added(server: Server, arena: Arena, name: str) -> str:
    """Add the challenger as the client does, through its status URL; its id."""
    response = add(server, arena, name)
    assert response.status_code == 202, response.text
    status = dr(server, "GET", response.headers["location"])
    assert status.status_code == 303, status.text
    challenger_id: str = status.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    return challenger_id


@pytest.fixture(scope="module")
def contenders(server: Server, arena: Arena) -> dict[str, str]:
    """The retrained, flipped and rooting challengers, by name: their ids."""
    return {name: added(server, arena, name) for name in ("retrained", "flipped", "rooting")}


def comparison(server: Server, arena: Arena, who: str = "alice") -> dict[str, dict[str, Any]]:
    response = dr(server, "GET", f"deployments/{arena.deployment}/challengerComparison/", who=who)
    assert response.status_code == 200, response.text
    return {entry["name"]: entry for entry in response.json()["data"]}


# ---- the challenger document -----------------------------------------------------------------------


def test_a_challenger_is_added_read_renamed_and_removed_as_the_client_expects(server: Server, arena: Arena) -> None:
    response = add(server, arena, "spare0", predictionEnvironmentId="pe1")
    assert response.status_code == 202, response.text
    status_url = response.headers["location"]
    assert status_url.startswith("http://testserver/api/v2/deployments/")
    status = dr(server, "GET", status_url)
    assert status.status_code == 303 and status.json()["status"] == "COMPLETED"
    location = status.headers["location"]
    challenger_id = location.rstrip("/").rsplit("/", 1)[-1]
    # The client takes the id from the next-to-last segment: the trailing slash is required.
    assert location == f"http://testserver/api/v2/{challengers_of(arena)}{challenger_id}/"

    document = dr(server, "GET", location).json()
    assert set(document) == DOCUMENT_KEYS
    assert document["id"] == challenger_id and document["name"] == "spare0"
    assert document["model"]["id"] == arena.versions["spare0"]
    assert document["model"]["targetType"] == "Binary" and document["model"]["registeredModelVersion"] == 1
    assert document["modelPackage"] == {
        "id": arena.versions["spare0"],
        "name": "spare0 v1",
        "registeredModelId": arena.models["spare0"],
        "registeredModelVersion": 1,
    }
    assert document["predictionEnvironment"] is None  # champion is its own environment
    listed = dr(server, "GET", challengers_of(arena), who="bob").json()
    assert [set(d) for d in listed["data"]] == [DOCUMENT_KEYS] * len(listed["data"])
    assert challenger_id in [d["id"] for d in listed["data"]] and listed["next"] is None

    before = comparison(server, arena)["spare0"]
    assert before["replay"] is None and before["rows"] is None and before["accuracy"] == {}

    renamed = dr(server, "PATCH", location, json={"name": "renamed"})
    assert renamed.status_code == 200 and set(renamed.json()) == DOCUMENT_KEYS
    assert renamed.json()["name"] == "renamed"
    moved = dr(server, "PATCH", location, json={"predictionEnvironmentId": "pe9"})
    assert moved.status_code == 200 and moved.json()["name"] == "renamed"

    assert dr(server, "DELETE", location).status_code == 204
    message_of(dr(server, "GET", location), 404)
    message_of(dr(server, "GET", status_url), 404)  # its status went with it


def test_what_a_challenger_may_not_be(server: Server, arena: Arena, contenders: dict[str, str]) -> None:
    message_of(add(server, arena, "spare0", who="bob"), 403)
    message_of(add(server, arena, "spare0", who="mallory"), 404)
    for name, says in (("champion", "champion"), ("regressor", "same kind of target")):
        response = add(server, arena, name)
        assert says in message_of(response, 400)
        assert list(response.json()["errors"]) == ["modelPackageId"]
    unknown = dr(server, "POST", challengers_of(arena), json={"modelPackageId": "no-such-package"})
    message_of(unknown, 400)
    assert list(unknown.json()["errors"]) == ["modelPackageId"]
    missing = dr(server, "POST", challengers_of(arena), json={"name": "nameless"})
    message_of(missing, 422)
    assert list(missing.json()["errors"]) == ["modelPackageId"]
    message_of(add(server, arena, "retrained"), 409)  # already one

    spares = [added(server, arena, f"spare{i}") for i in range(MAX_CHALLENGERS - len(contenders))]
    sixth = add(server, arena, f"spare{len(spares)}")
    assert "at most 5" in message_of(sixth, 400)
    assert list(sixth.json()["errors"]) == ["modelPackageId"]
    for challenger_id in spares:
        assert dr(server, "DELETE", f"{challengers_of(arena)}{challenger_id}/").status_code == 204


def test_who_may_change_a_challenger_and_which_exist(server: Server, arena: Arena, contenders: dict[str, str]) -> None:
    one = f"{challengers_of(arena)}{contenders['retrained']}/"
    message_of(dr(server, "GET", challengers_of(arena), who="mallory"), 404)
    message_of(dr(server, "GET", one, who="mallory"), 404)
    assert dr(server, "GET", one, who="bob").status_code == 200
    message_of(dr(server, "PATCH", one, who="bob", json={"name": "mine"}), 403)
    message_of(dr(server, "DELETE", one, who="bob"), 403)
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        message_of(dr(server, method, f"{challengers_of(arena)}no-such-challenger/", json=body), 404)
    blank = dr(server, "PATCH", one, json={"name": "  "})
    message_of(blank, 400)
    assert list(blank.json()["errors"]) == ["name"]
    message_of(dr(server, "PATCH", one, json={}), 400)
    assert dr(server, "GET", one).json()["name"] == "retrained"


def test_capabilities_say_champion_has_challengers(server: Server, arena: Arena) -> None:
    capabilities = dr(server, "GET", f"deployments/{arena.deployment}/").json()["capabilities"]
    assert capabilities["supportsChallengerModels"] is True


# ---- the replay schedule ---------------------------------------------------------------------------


def test_replay_settings_in_camel_case_stored_in_snake_case(server: Server, arena: Arena) -> None:
    url = f"deployments/{arena.deployment}/challengerReplaySettings/"
    assert dr(server, "GET", url, who="bob").json() == {"enabled": False, "schedule": None, "rows": 1000}
    changed = dr(server, "PATCH", url, json={"enabled": True, "schedule": NEVER})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"enabled": True, "schedule": NEVER, "rows": 1000}
    assert dr(server, "GET", url).json() == changed.json()
    stored = server.call(
        "GET", f"/ml/v4/deployments/{arena.deployment}/settings", params={"space_id": arena.space}
    ).json()["challenger_replay"]
    assert stored["schedule"]["day_of_month"] == [31] and stored["schedule"]["day_of_week"] == ["*"]
    off = dr(server, "PATCH", url, json={"enabled": False})  # what the client sends without a schedule
    assert off.json() == {"enabled": False, "schedule": NEVER, "rows": 1000}
    assert dr(server, "PATCH", url, json={"rows": 50}).json()["rows"] == 50
    assert dr(server, "PATCH", url, json={"rows": 1000}).json()["rows"] == 1000  # the replay test's 200 rows


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"schedule": {**NEVER, "hour": [25]}}, "schedule", "hour takes"),
        ({"schedule": {**NEVER, "dayOfMonth": [0]}}, "schedule", "dayOfMonth takes"),
        ({"schedule": {**NEVER, "dayOfWeek": []}}, "schedule", "dayOfWeek is a list"),
        ({"schedule": {"minute": [0], "hour": [2]}}, "schedule.dayOfMonth", "required"),
        ({"enabled": True, "schedule": None}, "schedule", "needs its schedule"),
        ({"enabled": "yes"}, "enabled", "boolean"),
        ({"rows": 0}, "rows", "greater than"),
        ({"every": "day"}, "every", "not a replay setting"),
        ([], "body", "as an object"),
    ],
)
def test_bad_replay_settings_name_the_datarobot_field(
    server: Server, arena: Arena, body: Any, field: str, says: str
) -> None:
    response = dr(server, "PATCH", f"deployments/{arena.empty}/challengerReplaySettings/", json=body)
    assert says in message_of(response, 400)
    assert list(response.json()["errors"]) == [field]


def test_only_editors_change_the_replay_settings(server: Server, arena: Arena) -> None:
    url = f"deployments/{arena.empty}/challengerReplaySettings/"
    message_of(dr(server, "PATCH", url, who="bob", json={"enabled": False}), 403)
    message_of(dr(server, "PATCH", url, who="mallory", json={"enabled": False}), 404)
    message_of(dr(server, "GET", url, who="mallory"), 404)


# ---- replays -----------------------------------------------------------------------------------------


def settled(server: Server, status_url: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        status = dr(server, "GET", status_url)
        if status.status_code != 200 or status.json()["status"] != "RUNNING":
            return status
        assert time.monotonic() < deadline, "the replay never ended"


def test_a_replay_compares_every_challenger_with_the_champion(
    server: Server, arena: Arena, contenders: dict[str, str]
) -> None:
    url = f"deployments/{arena.deployment}/challengerPredictions/"
    message_of(dr(server, "POST", url, who="bob"), 403)
    message_of(dr(server, "POST", url, who="mallory"), 404)
    refused = dr(server, "POST", url, json={"timestamp": "2026-01-01T00:00:00Z"})
    assert "timestamp" in message_of(refused, 400)
    nothing = dr(server, "POST", f"deployments/{arena.empty}/challengerPredictions/")
    assert "no challengers" in message_of(nothing, 400)

    started = dr(server, "POST", url)
    assert started.status_code == 202, started.text
    assert "already running" in message_of(dr(server, "POST", url, json={}), 429)
    status = settled(server, started.headers["location"])
    assert status.status_code == 303, status.text
    assert status.headers["location"] == f"http://testserver/api/v2/deployments/{arena.deployment}/"

    found = comparison(server, arena, who="bob")
    retrained, flipped_one, rooting = found["retrained"], found["flipped"], found["rooting"]
    for entry in found.values():
        assert entry["replay"]["id"] == started.json()["id"] and entry["replay"]["rows"] == 200
        assert entry["replay"]["finishedAt"].endswith("Z")
    assert retrained["rows"] == 200 and retrained["failedRows"] == 0 and retrained["firstError"] is None
    assert retrained["agreement"] > 0.8 and retrained["secondsPerRow"] > 0
    assert flipped_one["agreement"] < 0.2 and flipped_one["difference"] > 0.5
    assert rooting["failedRows"] > 0 and "NaN" in rooting["firstError"]
    assert retrained["actualRows"] == 100
    assert retrained["accuracy"]["Accuracy"] > flipped_one["accuracy"]["Accuracy"]
    assert retrained["championAccuracy"]["Accuracy"] > 0.5
    # The client's documents stay as it parses them: the figures are only here.
    listed = dr(server, "GET", challengers_of(arena)).json()["data"]
    assert [set(d) for d in listed] == [DOCUMENT_KEYS] * 3


def test_statuses_of_other_things_are_not_found(server: Server, arena: Arena, contenders: dict[str, str]) -> None:
    base = f"deployments/{arena.deployment}/challengerStatus"
    message_of(dr(server, "GET", f"{base}/no-such-status/"), 404)
    message_of(dr(server, "GET", f"{base}/{contenders['retrained']}/", who="mallory"), 404)
    # A challenger of another deployment is no status of this one.
    message_of(dr(server, "GET", f"deployments/{arena.empty}/challengerStatus/{contenders['retrained']}/"), 404)
    created = dr(
        server, "POST", "deployments/fromModelPackage/", json={"modelPackageId": arena.versions["spare2"], "label": "d"}
    )
    assert created.status_code == 202, created.text
    operation_id = created.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    message_of(dr(server, "GET", f"{base}/{operation_id}/"), 404)  # a deploy operation, not a replay
