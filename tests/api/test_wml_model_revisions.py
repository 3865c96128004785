"""Model revisions through the WML face: each a snapshot of the metadata with its content, deployments
pinned to a revision serving its file, and the seed's `PATCH /ml/v4/models/{id}` with `/asset`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_wml_deployments import upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles, build_variants, training_data

V = {"version": "2026-10-14"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("revisions-home"), "alice", "bob") as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "revisions"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space_id}/members", json=members).status_code == 200
    return space_id


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_variants(tmp_path_factory.mktemp("variants"))


def put_content(server: Server, space: str, model_id: str, content: bytes) -> None:
    put = server.call("PUT", f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=content)
    assert put.status_code == 201, put.text


def patch_model(server: Server, space: str, model_id: str, body: Any, who: str = "alice") -> httpx.Response:
    # As the seed writes it, project_id and version included.
    params = {**V, "space_id": space, "project_id": ""}
    return server.call("PATCH", f"/ml/v4/models/{model_id}", who=who, params=params, json=body)


def new_revision(server: Server, space: str, model_id: str) -> dict[str, Any]:
    response = server.call("POST", f"/ml/v4/models/{model_id}/revisions", params=V, json={"space_id": space})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def model_details(server: Server, space: str, model_id: str, rev: str | None = None) -> dict[str, Any]:
    params = {**V, "space_id": space, **({"rev": rev} if rev else {})}
    response = server.call("GET", f"/ml/v4/models/{model_id}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def deploy(server: Server, space: str, model_id: str, rev: str, name: str, **extra: Any) -> str:
    body = {"name": name, "online": {}, "asset": {"id": model_id, "rev": rev}, "space_id": space, **extra}
    response = server.call("POST", "/ml/v4/deployments", params=V, json=body)
    assert response.status_code == 202, response.text
    deployment_id: str = response.json()["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
    return deployment_id


ROWS = {"input_data": [{"fields": FEATURES, "values": training_data(rows=5, seed=7)[0].to_numpy().tolist()}]}


def answer(server: Server, deployment_id: str) -> tuple[str, Any]:
    """The revision that answered (`model:rev` from champion's header) and its predictions."""
    response = server.call("POST", f"/ml/v4/deployments/{deployment_id}/predictions", params=V, json=ROWS)
    assert response.status_code == 200, response.text
    return response.headers["Champion-Model-Version"].split(":")[1], response.json()["predictions"]


@pytest.fixture(scope="module")
def churn(server: Server, space: str, model_files: ModelFiles, variants: dict[str, Path]) -> str:
    """Revision 1 uploaded as "churn"; then renamed and described, revision 2 made from it (the same
    file); then revision 3 a retrained file (an upload, with the metadata of that time)."""
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="churn")
    renamed = [
        {"op": "replace", "path": "/name", "value": "churn renamed"},
        {"op": "replace", "path": "/description", "value": "second thoughts"},
        {"op": "add", "path": "/tags", "value": ["two"]},
        {"op": "replace", "path": "/custom", "value": {"stage": 2}},
    ]
    assert patch_model(server, space, model_id, renamed).status_code == 200
    assert new_revision(server, space, model_id)["metadata"]["rev"] == "2"
    put_content(server, space, model_id, variants["retrained"].read_bytes())
    return model_id


def test_each_revision_shows_the_metadata_and_content_it_was_made_with(server: Server, space: str, churn: str) -> None:
    current = model_details(server, space, churn)
    assert current["metadata"]["name"] == "churn renamed" and current["metadata"]["rev"] == "3"
    first, second, third = (model_details(server, space, churn, rev) for rev in ("1", "2", "3"))
    assert (first["metadata"]["name"], first["metadata"]["description"], first["metadata"]["tags"]) == ("churn", "", [])
    assert first["entity"]["custom"] == {}
    assert (second["metadata"]["name"], second["metadata"]["description"]) == ("churn renamed", "second thoughts")
    assert second["metadata"]["tags"] == ["two"] and second["entity"]["custom"] == {"stage": 2}
    assert [r["metadata"]["rev"] for r in (first, second, third)] == ["1", "2", "3"]
    # Revision 2 froze revision 1's file; revision 3 is another file.
    assert second["entity"]["content"]["sha256"] == first["entity"]["content"]["sha256"]
    assert third["entity"]["content"]["sha256"] != first["entity"]["content"]["sha256"]
    listing = server.call("GET", f"/ml/v4/models/{churn}/revisions", params={**V, "space_id": space}).json()
    assert [(r["metadata"]["rev"], r["metadata"]["name"]) for r in listing["resources"]] == [
        ("1", "churn"),
        ("2", "churn renamed"),
        ("3", "churn renamed"),
    ]


def test_every_call_makes_a_new_revision(server: Server, space: str, model_files: ModelFiles) -> None:
    model_id = new_model_without_content(server, space, "empty")
    refused = server.call("POST", f"/ml/v4/models/{model_id}/revisions", params=V, json={"space_id": space})
    assert_wml_error(refused, 409)
    put_content(server, space, model_id, model_files.classifier_named.read_bytes())
    assert [new_revision(server, space, model_id)["metadata"]["rev"] for _ in range(2)] == ["2", "3"]
    listing = server.call("GET", f"/ml/v4/models/{model_id}/revisions", params={**V, "space_id": space}).json()
    assert listing["total_count"] == 3
    assert len({r["entity"]["content"]["sha256"] for r in listing["resources"]}) == 1
    viewer = server.call("POST", f"/ml/v4/models/{model_id}/revisions", who="bob", json={"space_id": space})
    assert_wml_error(viewer, 403)
    listing = server.call("GET", f"/ml/v4/models/{model_id}/revisions", params={**V, "space_id": space}).json()
    assert listing["total_count"] == 3


def new_model_without_content(server: Server, space: str, name: str) -> str:
    body = {"name": name, "type": "scikit-learn_1.3", "software_spec": {"id": spec_id(server)}, "space_id": space}
    response = server.call("POST", "/ml/v4/models", params=V, json=body)
    assert response.status_code == 201, response.text
    model_id: str = response.json()["metadata"]["id"]
    return model_id


def spec_id(server: Server) -> str:
    from champion.models.software_specs import CATALOGUE

    return CATALOGUE[0].id


@pytest.fixture(scope="module")
def pinned(server: Server, space: str, churn: str) -> dict[str, str]:
    """One online deployment per revision of churn."""
    return {rev: deploy(server, space, churn, rev, f"churn-rev{rev}") for rev in ("1", "2", "3")}


def test_a_deployment_pinned_to_a_revision_serves_its_content(server: Server, pinned: dict[str, str]) -> None:
    (rev1, one), (rev2, two), (rev3, three) = (answer(server, pinned[rev]) for rev in ("1", "2", "3"))
    assert (rev1, rev2, rev3) == ("1", "2", "3")
    assert two == one  # revision 2 is revision 1's file with other metadata
    assert three != one  # revision 3 is the retrained file


def test_the_seed_asset_patch_moves_every_online_deployment_serving_the_model(
    server: Server, space: str, churn: str, pinned: dict[str, str]
) -> None:
    batch = {"name": "churn-batch", "batch": {}, "hardware_spec": {"name": "S"}, "asset": {"id": churn, "rev": "1"}}
    created = server.call("POST", "/ml/v4/deployments", params={**V, "space_id": space}, json=batch)
    assert created.status_code == 202, created.text
    batch_id = created.json()["metadata"]["id"]
    assert wait_until_settled(server, space, batch_id)["entity"]["status"]["state"] == "ready"

    body = [{"op": "replace", "path": "/asset", "value": {"id": churn, "rev": "3"}}]
    response = patch_model(server, space, churn, body)
    assert response.status_code == 202, response.text
    moved = response.json()["resources"]
    # The deployment already serving revision 3 is left alone; the others turn updating, with their checks.
    assert sorted(d["metadata"]["id"] for d in moved) == sorted([pinned["1"], pinned["2"]])
    assert {d["entity"]["status"]["state"] for d in moved} == {"updating"}
    assert {d["entity"]["status"]["validation"]["status"] for d in moved} <= {"passing", "warning"}
    for deployment_id in pinned.values():
        details = wait_until_settled(server, space, deployment_id)
        assert details["entity"]["status"]["state"] == "ready"
        assert details["entity"]["asset"] == {"id": churn, "rev": "3"}
        assert answer(server, deployment_id)[0] == "3"
    history = server.call("GET", f"/ml/v4/deployments/{pinned['1']}/replacements", params={"space_id": space}).json()
    assert [(r["entity"]["from"]["rev"], r["entity"]["to"]["rev"]) for r in history["resources"]] == [("1", "3")]

    # The seed patches a model "for an online deployment": a batch deployment keeps its revision.
    batch_details = server.call("GET", f"/ml/v4/deployments/{batch_id}", params={"space_id": space}).json()
    assert batch_details["entity"]["asset"] == {"id": churn, "rev": "1"}

    # Patched again to where they are, nothing moves.
    again = patch_model(server, space, churn, body)
    assert again.status_code == 202 and again.json()["resources"] == []


def test_when_one_deployment_is_refused_none_moves(
    server: Server, space: str, model_files: ModelFiles, variants: dict[str, Path]
) -> None:
    # Revision 1 a regressor, 2 a classifier, 3 a retrained classifier: revision 3 fits a deployment
    # of revision 2, but its target type fails the checks for one of revision 1.
    model_id = upload_model(server, space, model_files.regressor.read_bytes(), name="mixed")
    put_content(server, space, model_id, model_files.classifier_named.read_bytes())
    put_content(server, space, model_id, variants["retrained"].read_bytes())
    regression = deploy(server, space, model_id, "1", "mixed-regression")
    classifier = deploy(server, space, model_id, "2", "mixed-classifier")
    body = [{"op": "replace", "path": "/asset", "value": {"id": model_id, "rev": "3"}}]
    response = patch_model(server, space, model_id, body)
    message = assert_wml_error(response, 400)
    assert "1 of the 2 deployments" in message and "none was replaced" in message
    assert f"'mixed-regression' ({regression})" in message and "mixed-classifier" not in message
    assert {c["name"]: c["status"] for c in response.json()["validation"]["checks"]}["targetType"] == "failing"
    for deployment_id, rev in ((regression, "1"), (classifier, "2")):
        details = server.call("GET", f"/ml/v4/deployments/{deployment_id}", params={"space_id": space}).json()
        assert details["entity"]["status"]["state"] == "ready"
        assert details["entity"]["asset"] == {"id": model_id, "rev": rev}
        history = server.call("GET", f"/ml/v4/deployments/{deployment_id}/replacements", params={"space_id": space})
        assert history.json()["resources"] == []
        assert answer(server, deployment_id)[0] == rev


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            [
                {"op": "replace", "path": "/asset", "value": {"rev": "1"}},
                {"op": "replace", "path": "/name", "value": "x"},
            ],
            "[1].path",
            "only path",
        ),
        (
            [
                {"op": "replace", "path": "/name", "value": "x"},
                {"op": "replace", "path": "/asset", "value": {"rev": "1"}},
            ],
            "[0].path",
            "only path",
        ),
        ([{"op": "replace", "path": "/asset/rev", "value": "1"}], "[0].path", "whole /asset"),
        ([{"op": "remove", "path": "/asset"}], "[0].op", "replace"),
        ([{"op": "test", "path": "/asset", "value": {}}], "[0].op", "replace"),
        ([{"op": "replace", "path": "/asset", "value": "3"}], "[0].value", "object"),
        ([{"op": "replace", "path": "/asset", "value": {"id": "other", "rev": "1"}}], "[0].value.id", "this model"),
        ([{"op": "replace", "path": "/asset", "value": {"id": "{model}", "rev": "9"}}], "[0].value.rev", "no revision"),
        ([{"op": "replace", "path": "/asset", "value": {"id": "{model}", "rev": "x"}}], "[0].value.rev", "revision"),
        ([{"op": "replace", "path": "/asset", "value": {"id": "{model}", "more": 1}}], "[0].value.more", ""),
    ],
)
def test_an_asset_patch_that_breaks_the_rules_is_a_400_naming_the_field(
    server: Server, space: str, churn: str, body: list[dict[str, Any]], field: str, words: str
) -> None:
    for operation in body:
        if isinstance(operation.get("value"), dict) and operation["value"].get("id") == "{model}":
            operation["value"]["id"] = churn
    before = model_details(server, space, churn)
    assert words in assert_wml_error(patch_model(server, space, churn, body), 400, field)
    assert model_details(server, space, churn) == before


def test_viewers_cannot_and_an_undeployed_model_has_nothing_to_move(
    server: Server, space: str, model_files: ModelFiles
) -> None:
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="undeployed")
    body = [{"op": "replace", "path": "/asset", "value": {"id": model_id, "rev": "1"}}]
    assert_wml_error(patch_model(server, space, model_id, body, who="bob"), 403)
    assert "no online deployment" in assert_wml_error(patch_model(server, space, model_id, body), 409)


def test_a_revision_keeps_its_commit_message(server: Server, space: str, model_files: ModelFiles) -> None:
    model_id = new_model_without_content(server, space, "committed")
    put_content(server, space, model_id, model_files.classifier_named.read_bytes())
    body = {"space_id": space, "commit_message": "retrained on March's data"}
    made = server.call("POST", f"/ml/v4/models/{model_id}/revisions", params=V, json=body)
    assert made.status_code == 201, made.text
    assert made.json()["metadata"]["commit_info"]["commit_message"] == "retrained on March's data"

    shown = model_details(server, space, model_id, rev="2")["metadata"]["commit_info"]
    assert shown["commit_message"] == "retrained on March's data" and shown["committed_at"]
    listing = server.call("GET", f"/ml/v4/models/{model_id}/revisions", params={**V, "space_id": space}).json()
    assert [r["metadata"]["commit_info"].get("commit_message") for r in listing["resources"]] == [
        None,
        "retrained on March's data",
    ]
    too_long = {"space_id": space, "commit_message": "x" * 1001}
    refused = server.call("POST", f"/ml/v4/models/{model_id}/revisions", params=V, json=too_long)
    assert_wml_error(refused, 400, "commit_message")
