"""Requests no client means to send: still a 400 in the face's own error shape, naming the part at fault."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_wml_routes import Server, assert_wml_error, serving

NOT_UTF8 = b'{"name": "\xff"}'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("unreadable-home"), "alice") as server:
        yield server


@pytest.mark.parametrize("path", ["/v2/spaces", "/ml/v4/models?space_id=x", "/icp4d-api/v1/authorize"])
def test_json_that_is_not_utf8_is_a_wml_400_naming_the_body(server: Server, path: str) -> None:
    response = server.call("POST", path, content=NOT_UTF8, headers={"Content-Type": "application/json"})
    message = assert_wml_error(response, 400, "body")
    assert "cannot be read" in message


def test_datarobot_answers_it_with_its_message_body(server: Server) -> None:
    response = server.call(
        "POST",
        "/api/v2/deployments/fromModelPackage/",
        content=NOT_UTF8,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"body": "body: the body cannot be read (There was an error parsing the body)"}


def test_malformed_json_names_the_body_not_a_character_offset(server: Server) -> None:
    response = server.call("POST", "/v2/spaces", content=b"{not json", headers={"Content-Type": "application/json"})
    assert "not valid JSON" in assert_wml_error(response, 400, "body")


def test_a_nul_in_an_id_is_a_client_error_on_either_database(tmp_path: Path, database_url: str) -> None:
    """PostgreSQL cannot compare text holding U+0000: such an id used to reach it and answer 500."""
    with serving(tmp_path / "home", "alice", database_url=database_url) as server:
        space = server.call("POST", "/v2/spaces", json={"name": "s"}).json()["metadata"]["id"]
        for method, url, field in (
            ("GET", f"/ml/v4/models/a%00b?space_id={space}", "model_id"),
            ("GET", "/ml/v4/models?space_id=a%00b", "space_id"),
            ("GET", f"/v2/assets/a%00b?space_id={space}", "asset_id"),
            ("DELETE", f"/ml/v4/deployments/a%00b?space_id={space}", "deployment_id"),
        ):
            assert "NUL" in assert_wml_error(server.call(method, url), 400, field)
        # In a body, an id holding NUL names nothing: each face's own not-found answer, never a 500.
        nul = "a\u0000b"
        for method, url, body in (
            ("POST", "/ml/v4/deployments", {"name": "d", "online": {}, "asset": {"id": nul}, "space_id": space}),
            ("POST", "/ml/v4/models", {"name": "m", "type": "scikit-learn_1.3", "software_spec": {}, "space_id": nul}),
            ("POST", f"/v2/spaces/{space}/members", {"members": [{"id": nul, "type": "user", "role": "viewer"}]}),
            ("POST", "/api/v2/deployments/fromModelPackage/", {"modelPackageId": nul, "label": "d"}),
        ):
            response = server.call(method, url, json=body)
            assert 400 <= response.status_code < 500, (url, response.status_code, response.text)


@pytest.mark.parametrize("path", ["/v2/spaces", "/ml/v4/models", "/ml/v4/deployments", "/ml/v4/deployment_jobs"])
def test_a_page_limit_below_one_is_a_400_naming_it(server: Server, path: str) -> None:
    """It used to be taken as a Python slice: limit=-5 silently dropped the last five resources."""
    for limit in ("0", "-5"):
        assert_wml_error(server.call("GET", path, params={"limit": limit, "space_id": "x"}), 400, "limit")
