"""A body FastAPI cannot even decode is still answered in the face's own error shape, naming the body."""

from __future__ import annotations

from collections.abc import Iterator

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
