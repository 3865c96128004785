"""champion's challenger extension of the WML face in-process: shapes, every refusal, a replay, a promotion.

The same arena as the DataRobot face's tests (`build_arena`): a champion with 200 captured rows
(half with actuals) and models to challenge it. The promotion runs last: it changes the champion.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from champion.challengers.service import MAX_CHALLENGERS
from tests.api.test_datarobot_challengers import Arena, build_arena
from tests.api.test_wml_deployments import wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import ModelFiles


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("wml-challengers-home")
    with serving(home, "alice", "bob", "mallory", capture_flush_seconds=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def arena(server: Server, model_files: ModelFiles) -> Arena:
    return build_arena(server, model_files)


def call(
    server: Server,
    arena: Arena,
    method: str,
    path: str = "",
    who: str = "alice",
    deployment: str | None = None,
    **kw: Any,
) -> httpx.Response:
    url = f"/ml/v4/deployments/{deployment or arena.deployment}/challengers{path}"
    params = {"space_id": arena.space, **kw.pop("params", {})}
    return server.call(method, url, who=who, params=params, **kw)


def add(server: Server, arena: Arena, name: str, who: str = "alice", **asset: Any) -> httpx.Response:
    return call(server, arena, "POST", who=who, json={"asset": {"id": arena.models[name], **asset}, "name": name})


@pytest.fixture(scope="module")
def contenders(server: Server, arena: Arena) -> dict[str, str]:
    """The retrained, flipped and rooting challengers, by name: their ids."""
    found = {}
    for name in ("retrained", "flipped", "rooting"):
        response = add(server, arena, name)
        assert response.status_code == 201, response.text
        found[name] = response.json()["metadata"]["id"]
    return found


def listed(server: Server, arena: Arena, who: str = "alice") -> dict[str, dict[str, Any]]:
    response = call(server, arena, "GET", who=who)
    assert response.status_code == 200, response.text
    return {r["metadata"]["name"]: r for r in response.json()["resources"]}


def test_a_challenger_is_added_listed_renamed_and_removed(server: Server, arena: Arena) -> None:
    response = add(server, arena, "spare0", rev="1")
    assert response.status_code == 201, response.text
    challenger = response.json()
    challenger_id = challenger["metadata"]["id"]
    assert challenger["metadata"]["deployment_id"] == arena.deployment
    assert challenger["metadata"]["space_id"] == arena.space and challenger["metadata"]["created_at"].endswith("Z")
    assert challenger["metadata"]["href"] == (
        f"/ml/v4/deployments/{arena.deployment}/challengers/{challenger_id}?space_id={arena.space}"
    )
    assert challenger["entity"] == {
        "asset": {"id": arena.models["spare0"], "rev": "1"},
        "model_version_id": arena.versions["spare0"],
        "comparison": None,  # no replay yet
    }
    page = call(server, arena, "GET", who="bob").json()
    assert page["total_count"] == len(page["resources"]) and challenger in page["resources"]

    rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
    renamed = call(server, arena, "PATCH", f"/{challenger_id}", json=rename)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["metadata"]["name"] == "renamed"
    assert renamed.json()["entity"] == challenger["entity"]
    blank = [{"op": "replace", "path": "/name", "value": " "}]
    assert_wml_error(call(server, arena, "PATCH", f"/{challenger_id}", json=blank), 400, "/name")
    elsewhere = [{"op": "replace", "path": "/asset", "value": {"id": "x"}}]
    assert_wml_error(call(server, arena, "PATCH", f"/{challenger_id}", json=elsewhere), 400, "[0].path")
    assert_wml_error(call(server, arena, "PATCH", f"/{challenger_id}", json={"name": "x"}), 400, "body")

    assert call(server, arena, "DELETE", f"/{challenger_id}").status_code == 204
    assert_wml_error(call(server, arena, "DELETE", f"/{challenger_id}"), 404)
    assert challenger_id not in [r["metadata"]["id"] for r in call(server, arena, "GET").json()["resources"]]


def test_what_a_challenger_may_not_be(server: Server, arena: Arena, contenders: dict[str, str]) -> None:
    assert_wml_error(add(server, arena, "spare0", who="bob"), 403)
    assert_wml_error(add(server, arena, "spare0", who="mallory"), 404)
    assert "champion" in assert_wml_error(add(server, arena, "champion"), 400, "asset.id")
    assert "same kind of target" in assert_wml_error(add(server, arena, "regressor"), 400, "asset.id")
    assert_wml_error(add(server, arena, "spare0", rev="9"), 400, "asset.rev")
    unknown = call(server, arena, "POST", json={"asset": {"id": "no-such-model"}})
    assert_wml_error(unknown, 400, "asset.id")
    assert_wml_error(call(server, arena, "POST", json={"name": "assetless"}), 400, "asset")
    assert_wml_error(add(server, arena, "retrained"), 409)  # already one

    spares = []
    for index in range(MAX_CHALLENGERS - len(contenders)):
        response = add(server, arena, f"spare{index}")
        assert response.status_code == 201, response.text
        spares.append(response.json()["metadata"]["id"])
    assert "at most 5" in assert_wml_error(add(server, arena, f"spare{len(spares)}"), 400, "asset.id")
    for challenger_id in spares:
        assert call(server, arena, "DELETE", f"/{challenger_id}").status_code == 204


def test_who_sees_and_changes_challengers(server: Server, arena: Arena, contenders: dict[str, str]) -> None:
    one = f"/{contenders['retrained']}"
    rename = [{"op": "replace", "path": "/name", "value": "mine"}]
    assert_wml_error(call(server, arena, "GET", who="mallory"), 404)
    assert_wml_error(call(server, arena, "PATCH", one, who="bob", json=rename), 403)
    assert_wml_error(call(server, arena, "DELETE", one, who="bob"), 403)
    assert_wml_error(call(server, arena, "POST", "/replay", who="bob"), 403)
    assert_wml_error(call(server, arena, "POST", f"{one}/promote", who="bob"), 403)
    assert_wml_error(call(server, arena, "POST", f"{one}/promote", who="mallory"), 404)
    for method, path, body in (
        ("PATCH", "/no-such-challenger", rename),
        ("DELETE", "/no-such-challenger", None),
        ("POST", "/no-such-challenger/promote", None),
    ):
        assert_wml_error(call(server, arena, method, path, json=body), 404)
    # Another space's id is a 404, as on every WML deployment route.
    other: str = server.call("POST", "/v2/spaces", json={"name": "elsewhere"}).json()["metadata"]["id"]
    assert_wml_error(call(server, arena, "GET", params={"space_id": other}), 404)
    assert_wml_error(call(server, arena, "POST", "/replay", deployment=arena.empty), 400, "deployment_id")


def test_a_replay_compares_every_challenger_with_the_champion(
    server: Server, arena: Arena, contenders: dict[str, str]
) -> None:
    started = call(server, arena, "POST", "/replay")
    assert started.status_code == 202, started.text
    operation = started.json()
    assert operation["entity"]["kind"] == "challenger_replay"
    assert operation["entity"]["deployment_id"] == arena.deployment
    assert operation["entity"]["state"] in ("pending", "running")
    assert "already running" in assert_wml_error(call(server, arena, "POST", "/replay"), 409)
    replay_id = operation["entity"]["replay_id"]

    deadline = time.monotonic() + 60
    while True:
        found = listed(server, arena, who="bob")
        comparisons = [r["entity"]["comparison"] for r in found.values()]
        if all(c is not None and c["replay"]["id"] == replay_id for c in comparisons):
            break
        assert time.monotonic() < deadline, "the replay never ended"
        time.sleep(0.1)
    retrained, flipped_one, rooting = (found[n]["entity"]["comparison"] for n in ("retrained", "flipped", "rooting"))
    assert retrained["rows"] == 200 and retrained["failed_rows"] == 0 and retrained["agreement"] > 0.8
    assert retrained["replay"]["rows"] == 200 and retrained["replay"]["finished_at"].endswith("Z")
    assert flipped_one["agreement"] < 0.2
    assert rooting["failed_rows"] > 0 and "NaN" in rooting["first_error"]
    assert retrained["actual_rows"] == 100 and retrained["seconds_per_row"] > 0
    assert retrained["accuracy"]["Accuracy"] > flipped_one["accuracy"]["Accuracy"]
    assert set(retrained["champion_accuracy"]) == set(retrained["accuracy"])


def test_promoting_a_challenger_replaces_the_champion(server: Server, arena: Arena, contenders: dict[str, str]) -> None:
    # The rooting model fails on the champion's captured rows: the replacement's replay check refuses it.
    refused = call(server, arena, "POST", f"/{contenders['rooting']}/promote", json={"reason": "ACCURACY"})
    assert_wml_error(refused, 400)
    checks = {c["name"]: c["status"] for c in refused.json()["validation"]["checks"]}
    assert checks["replay"] == "failing"

    promoted = call(server, arena, "POST", f"/{contenders['retrained']}/promote", json={"reason": "ACCURACY"})
    assert promoted.status_code == 202, promoted.text
    body = promoted.json()
    assert body["metadata"]["id"] == arena.deployment and promoted.headers["etag"]
    assert body["entity"]["status"]["state"] == "updating"
    assert body["entity"]["status"]["validation"]["status"] in ("passing", "warning")
    details = wait_until_settled(server, arena.space, arena.deployment)
    assert details["entity"]["status"]["state"] == "ready"
    assert details["entity"]["asset"] == {"id": arena.models["retrained"], "rev": "1"}
    history = server.call("GET", f"/ml/v4/deployments/{arena.deployment}/replacements").json()["resources"]
    assert history[0]["entity"]["to"] == {"id": arena.models["retrained"], "rev": "1"}
    assert history[0]["entity"]["reason"] == "ACCURACY"
