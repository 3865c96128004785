"""Hostile uploads through the WML face, in-process: every one is a 4xx in WML's shape, and nothing is written.

Model content whose archive names a file outside itself, a one-time data asset upload URL used
twice, a multipart body that is not one, and a data asset with an empty name.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from champion.jobs.tables import DataAsset
from champion.models.software_specs import CATALOGUE
from tests.api.test_wml_deployments import deploy, score, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, new_model, serving
from tests.model_files import FEATURES, ModelFiles

V = {"version": "2026-10-14"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("hostile-home"), "alice", "bob") as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    return space_id


def one_member_tar(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def put_content(server: Server, space: str, model_id: str, body: bytes, who: str = "alice") -> Any:
    params = {**V, "space_id": space, "content_format": "native"}
    return server.call("PUT", f"/ml/v4/models/{model_id}/content", who=who, params=params, content=body)


# 1. Archive members named outside the archive.


def test_a_member_named_after_another_models_blob_is_refused_and_that_model_keeps_serving(
    server: Server, space: str, model_files: ModelFiles
) -> None:
    content = model_files.classifier_named.read_bytes()
    victim = upload_model(server, space, content, name="victim")
    deployment = deploy(server, space, victim, name="victim's")["metadata"]["id"]
    assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
    blob = server.context.store.open_path(hashlib.sha256(content).hexdigest()).resolve()
    assert blob.read_bytes() == content

    # Bob, in a space of his own, names the victim's blob by its absolute path.
    bobs_space = server.call("POST", "/v2/spaces", who="bob", json={"name": "bob's"}).json()["metadata"]["id"]
    body = {"name": "attacker", "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}}
    created = server.call("POST", "/ml/v4/models", who="bob", params={**V, "space_id": bobs_space}, json=body)
    attacker = created.json()["metadata"]["id"]
    refused = put_content(server, bobs_space, attacker, one_member_tar(str(blob), b"anything"), who="bob")

    assert str(blob) in assert_wml_error(refused, 400, "content")
    assert blob.read_bytes() == content
    details = server.call("GET", f"/ml/v4/models/{attacker}", who="bob", params={"space_id": bobs_space}).json()
    assert "rev" not in details["metadata"]
    rows = {"input_data": [{"fields": FEATURES, "values": [[0.1, 0.2, 0.3]]}]}
    assert score(server, deployment, rows).status_code == 200
    # A replacement checks the blob still hashes to its digest: the victim's model is whole.
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def test_a_member_named_after_a_server_file_leaves_it_where_it_is(
    server: Server, space: str, model_files: ModelFiles, tmp_path: Path
) -> None:
    planted = tmp_path / "some-server-file.joblib"  # a real model: only the path check stands in the way
    planted.write_bytes(model_files.classifier_named.read_bytes())
    model_id = new_model(server, space, name="planted").json()["metadata"]["id"]
    blobs_before = set(server.context.store.digests())

    refused = put_content(server, space, model_id, one_member_tar(str(planted), b"not a model"))

    assert str(planted) in assert_wml_error(refused, 400, "content")
    assert planted.read_bytes() == model_files.classifier_named.read_bytes()
    assert set(server.context.store.digests()) == blobs_before
    assert list(server.context.store.staging.iterdir()) == []


# 3. and 4. The data asset upload path.


def new_asset(server: Server, space: str, name: str = "data.csv", mime_type: str = "text/csv") -> Any:
    body = {"metadata": {"name": name, "asset_type": "data_asset"}, "entity": {"data_asset": {"mime_type": mime_type}}}
    return server.call("POST", "/v2/assets", params={**V, "space_id": space}, json=body)


def upload_url(server: Server, space: str) -> tuple[str, str, str]:
    """A new asset's id, its attachment's id and the one-time URL the client PUTs the file to."""
    asset_id = new_asset(server, space).json()["metadata"]["asset_id"]
    attachment = server.call(
        "POST", f"/v2/assets/{asset_id}/attachments", params={**V, "space_id": space}, json={"name": "data.csv"}
    ).json()
    return asset_id, attachment["attachment_id"], attachment["url1"]


def stored(server: Server, asset_id: str) -> tuple[str | None, str | None]:
    """What the database holds of the asset's content: its digest and the upload URL's secret digest."""
    with server.context.sessions() as session:
        asset = session.get(DataAsset, asset_id)
        assert asset is not None
        return asset.sha256, asset.upload_digest


def test_an_upload_url_works_once(server: Server, space: str) -> None:
    asset_id, attachment_id, url = upload_url(server, space)
    first = server.client.put(url, files={"file": ("data.csv", b"x1\n1\n", "file")})
    assert first.status_code == 201, first.text
    kept, _ = stored(server, asset_id)

    again = server.client.put(url, files={"file": ("data.csv", b"x1\n2\n", "file")})

    assert "used already" in assert_wml_error(again, 401)
    assert stored(server, asset_id) == (kept, None)
    params = {**V, "space_id": space}
    done = server.call("POST", f"/v2/assets/{asset_id}/attachments/{attachment_id}/complete", params=params)
    assert done.status_code == 200, done.text
    assert server.context.store.open_path(str(kept)).read_bytes() == b"x1\n1\n"


def test_a_body_that_is_not_the_multipart_it_claims_is_a_400(server: Server, space: str) -> None:
    asset_id, _, url = upload_url(server, space)
    secret_before = stored(server, asset_id)[1]
    blobs_before = set(server.context.store.digests())

    response = server.client.put(
        url, content=b"x1,x2\n1,2\n", headers={"Content-Type": "multipart/form-data; boundary=zz"}
    )

    assert "multipart" in assert_wml_error(response, 400, "file")
    assert stored(server, asset_id) == (None, secret_before)  # nothing kept, and the URL still works
    assert set(server.context.store.digests()) == blobs_before
    assert list(server.context.store.staging.iterdir()) == []
    retry = server.client.put(url, files={"file": ("data.csv", b"x1\n1\n", "file")})
    assert retry.status_code == 201, retry.text


def test_a_multipart_body_without_its_boundary_is_a_400(server: Server, space: str) -> None:
    asset_id, _, url = upload_url(server, space)
    response = server.client.put(url, content=b"--zz\r\nbroken", headers={"Content-Type": "multipart/form-data"})
    assert "boundary" in assert_wml_error(response, 400, "file")
    assert stored(server, asset_id)[0] is None


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": ""}, "metadata.name", "at least 1 character"),
        ({"name": "n" * 256}, "metadata.name", "at most 255 characters"),
        ({"mime_type": "t" * 256}, "entity.data_asset.mime_type", "at most 255 characters"),
        ({"name": "a\u0000b"}, "metadata.name", "NUL"),
    ],
)
def test_a_data_asset_the_jobs_domain_refuses_is_a_400_naming_the_field(
    server: Server, space: str, fields: dict[str, str], field: str, words: str
) -> None:
    def count() -> int:
        found = server.call("POST", "/v2/asset_types/data_asset/search", params={**V, "space_id": space}, json={})
        return int(found.json()["total_rows"])

    before = count()
    assert words in assert_wml_error(new_asset(server, space, **fields), 400, field)
    assert count() == before
