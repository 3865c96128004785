"""The official `ibm_watsonx_ai` client, unchanged, against a real `champion serve --tls`.

One server and one admin client per module; the tests run in file order and share the
module's space, so each builds on what the previous ones stored.
"""

from __future__ import annotations

import sys
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from ibm_watsonx_ai import APIClient, Credentials
from ibm_watsonx_ai.wml_client_error import CannotSetProjectOrSpace, WMLClientError
from sklearn.linear_model import LogisticRegression

from tests.compat.conftest import CreatedUser, RunningServer
from tests.model_files import FEATURES, ModelFiles, training_data

pytestmark = [
    pytest.mark.compat,
    # The client's legacy uploader (urllib3) talks to the self-signed server without verification.
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

# The server runs this interpreter, so its one spec is "runtime-24.1-py3.11" under Python 3.11.
SPEC_NAME = f"runtime-24.1-py{sys.version_info.major}.{sys.version_info.minor}"
V = {"version": "2026-10-14"}


# --------------------------------------------------------------------------- helpers


def http(server: RunningServer, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.url, verify=False, headers=headers, timeout=30.0)


def assert_wml_error(response: httpx.Response, status: int, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    (error,) = body["errors"]
    assert error["code"] and error["message"]
    if field is not None:
        assert error["target"] == {"type": "field", "name": field}, body
    message: str = error["message"]
    return message


def model_names(client: APIClient) -> list[str]:
    return [m["metadata"]["name"] for m in client.repository.get_model_details()["resources"]]


def fitted_classifier() -> LogisticRegression:
    frame, target = training_data()
    return LogisticRegression().fit(frame, target)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def _scratch_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The client writes temporary model folders into the CWD during object uploads."""
    folder = tmp_path_factory.mktemp("client-cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> APIClient:
    """Token login: the admin's API key is sent as a Bearer token (it contains a '.')."""
    return APIClient(Credentials(url=server.url, token=server.admin_api_key, verify=False))


@pytest.fixture(scope="module")
def space_id(admin: APIClient) -> str:
    """The module's working space, the admin client's default."""
    meta = admin.spaces.ConfigurationMetaNames
    details = admin.spaces.store({meta.NAME: "compat models", meta.DESCRIPTION: "models stored by the WML client"})
    space: str = details["metadata"]["id"]
    assert details["entity"]["status"]["state"] == "active"
    assert admin.set.default_space(space) == "SUCCESS"
    return space


@pytest.fixture(scope="module")
def spec_id(admin: APIClient, space_id: str) -> str:
    found: str = admin.software_specifications.get_id_by_name(SPEC_NAME)
    return found


@pytest.fixture(scope="module")
def object_model(admin: APIClient, spec_id: str) -> str:
    """A model uploaded as a fitted estimator object (the client's legacy uploader)."""
    meta = admin.repository.ModelMetaNames
    details = admin.repository.store_model(
        model=fitted_classifier(),
        meta_props={meta.NAME: "lr object", meta.TYPE: "scikit-learn_1.3", meta.SOFTWARE_SPEC_ID: spec_id},
    )
    model_id: str = admin.repository.get_model_id(details)
    return model_id


@pytest.fixture(scope="module")
def archive_model(admin: APIClient, spec_id: str, model_files: ModelFiles) -> str:
    """A model uploaded from a .tar.gz path holding ./scikit_model.pkl."""
    meta = admin.repository.ModelMetaNames
    details = admin.repository.store_model(
        model=str(model_files.classifier_tar),
        meta_props={meta.NAME: "lr archive", meta.TYPE: "scikit-learn_1.3", meta.SOFTWARE_SPEC_ID: spec_id},
    )
    model_id: str = admin.repository.get_model_id(details)
    return model_id


@pytest.fixture(scope="module")
def bob(make_user: Callable[[str], CreatedUser]) -> CreatedUser:
    return make_user("bob")


# --------------------------------------------------------------------------- authentication


def test_version_probe_needs_no_credentials(server: RunningServer) -> None:
    with http(server) as plain:
        response = plain.get("/ml/wml_services/v2/version")
    assert response.status_code == 200
    assert response.json()["version"].startswith("5.")


def test_requests_without_credentials_get_a_wml_401(server: RunningServer) -> None:
    with http(server) as plain:
        response = plain.get("/v2/spaces", params=V)
    assert_wml_error(response, 401)
    assert response.json()["trace"]


def test_token_login(admin: APIClient, space_id: str) -> None:
    assert admin.CLOUD_PLATFORM_SPACES is False  # a non-IBM host means on-prem (CPD) mode
    spaces = admin.spaces.get_details()["resources"]
    assert space_id in [s["metadata"]["id"] for s in spaces]


def test_username_and_api_key_login(server: RunningServer, space_id: str) -> None:
    client = APIClient(
        Credentials(url=server.url, username=server.admin_user, api_key=server.admin_api_key, verify=False)
    )
    # The token came from POST /icp4d-api/v1/authorize: a JWT, not the API key itself.
    assert client.token != server.admin_api_key
    assert client.token.count(".") == 2
    listing = client.spaces.list()
    assert space_id in set(listing["ID"])


def test_wrong_api_key_is_refused(server: RunningServer) -> None:
    wrong = server.admin_api_key.split(".")[0] + ".not-the-right-secret-at-all"
    with pytest.raises(WMLClientError, match="not valid"):
        APIClient(Credentials(url=server.url, username=server.admin_user, api_key=wrong, verify=False))


# --------------------------------------------------------------------------- spaces


def test_space_lifecycle(server: RunningServer, admin: APIClient) -> None:
    meta = admin.spaces.ConfigurationMetaNames
    name = f"scratch {uuid.uuid4().hex[:8]}"
    created = admin.spaces.store({meta.NAME: name, meta.DESCRIPTION: "to be renamed"})
    space = created["metadata"]["id"]
    assert created["entity"]["name"] == name

    listing = admin.spaces.list()
    assert name in set(listing.loc[listing["ID"] == space, "NAME"])

    details = admin.spaces.get_details(space)
    assert details["metadata"]["id"] == space
    assert details["entity"]["description"] == "to be renamed"

    admin.spaces.update(space, {meta.NAME: name + " renamed"})
    assert admin.spaces.get_details(space)["entity"]["name"] == name + " renamed"

    assert admin.spaces.delete(space) == "SUCCESS"
    with pytest.raises(WMLClientError, match="404"):
        admin.spaces.get_details(space)
    with http(server, server.admin_api_key) as raw:
        assert_wml_error(raw.get(f"/v2/spaces/{space}"), 404)


def test_set_default_space_to_an_unknown_space_fails(server: RunningServer) -> None:
    # A client of its own: a failed set.default_space still leaves the id as the default.
    client = APIClient(Credentials(url=server.url, token=server.admin_api_key, verify=False))
    with pytest.raises(CannotSetProjectOrSpace, match="does not exist"):
        client.set.default_space(str(uuid.uuid4()))


# --------------------------------------------------------------------------- software specifications


def test_software_specifications(admin: APIClient, spec_id: str) -> None:
    details = admin.software_specifications.get_details(spec_id)
    assert details["metadata"]["asset_id"] == spec_id
    assert details["metadata"]["name"] == SPEC_NAME
    listing = admin.software_specifications.list()
    assert SPEC_NAME in set(listing["NAME"])


# --------------------------------------------------------------------------- models


def test_store_model_from_an_estimator_object(admin: APIClient, object_model: str) -> None:
    details = admin.repository.get_model_details(object_model)
    assert details["metadata"]["name"] == "lr object"
    assert details["metadata"]["rev"] == "1"
    entity = details["entity"]
    assert entity["type"] == "scikit-learn_1.3"
    assert entity["content_import_state"] == "completed"
    assert [f["name"] for f in entity["schemas"]["input"][0]["fields"]] == FEATURES
    prediction = entity["schemas"]["output"][0]["fields"][0]
    assert prediction["name"] == "prediction"
    assert prediction["metadata"]["class_labels"] == [0, 1]
    assert prediction["metadata"]["target_type"] == "binary"


def test_store_model_from_a_tar_gz(admin: APIClient, archive_model: str, spec_id: str) -> None:
    details = admin.repository.get_model_details(archive_model)
    assert details["metadata"]["name"] == "lr archive"
    assert details["entity"]["software_spec"]["id"] == spec_id
    assert [f["name"] for f in details["entity"]["schemas"]["input"][0]["fields"]] == FEATURES
    metadata = details["entity"]["schemas"]["output"][0]["fields"][0]["metadata"]
    assert metadata["class_labels"] == [0, 1]
    assert metadata["target_type"] == "binary"


def test_list_models(admin: APIClient, object_model: str, archive_model: str) -> None:
    resources = admin.repository.get_model_details()["resources"]
    assert {object_model, archive_model} <= {m["metadata"]["id"] for m in resources}
    listing = admin.repository.list_models()
    assert {object_model, archive_model} <= set(listing["ID"])
    assert "lr archive" in set(listing["NAME"])


def test_update_model(admin: APIClient, archive_model: str) -> None:
    meta = admin.repository.ModelMetaNames
    updated = admin.repository.update_model(
        archive_model, {meta.NAME: "lr archive renamed", meta.DESCRIPTION: "now described"}
    )
    assert updated["metadata"]["name"] == "lr archive renamed"
    details = admin.repository.get_model_details(archive_model)
    assert details["metadata"]["name"] == "lr archive renamed"
    assert details["metadata"]["description"] == "now described"


def test_model_revisions(admin: APIClient, object_model: str) -> None:
    model = object_model
    revision = admin.repository.create_model_revision(model)
    assert revision["metadata"]["rev"] == "2"  # the upload was revision 1; this one froze it again
    assert revision["metadata"]["id"] == model

    details = admin.repository.get_model_revision_details(model, "1")
    (only,) = details["resources"]  # the client wraps the single revision
    assert only["metadata"]["id"] == model
    assert only["metadata"]["rev"] == "1"

    listing = admin.repository.list_models_revisions(model)
    assert sorted(listing["REV"].astype(str)) == ["1", "2"]


# --------------------------------------------------------------------------- members and roles


def test_space_members_and_roles(
    server: RunningServer,
    admin: APIClient,
    space_id: str,
    object_model: str,
    bob: CreatedUser,
    spec_id: str,
    model_files: ModelFiles,
) -> None:
    members = admin.spaces.MemberMetaNames
    added = admin.spaces.create_member(space_id, {members.MEMBERS: [{"id": bob.id, "type": "user", "role": "editor"}]})
    assert [(m["id"], m["role"]) for m in added["members"]] == [(bob.id, "editor")]

    listing = admin.spaces.list_members(space_id)
    assert set(listing.loc[listing["ID"] == bob.id, "ROLE"]) == {"editor"}
    assert admin.spaces.get_member_details(space_id, bob.id)["role"] == "editor"

    admin.spaces.update_member(space_id, bob.id, {members.MEMBER: {"role": "viewer"}})
    assert admin.spaces.get_member_details(space_id, bob.id)["role"] == "viewer"

    # Bob, a viewer, can read the space's models but not add any.
    as_bob = APIClient(Credentials(url=server.url, token=bob.api_key, verify=False))
    assert as_bob.set.default_space(space_id) == "SUCCESS"
    assert object_model in set(as_bob.repository.list_models()["ID"])
    meta = as_bob.repository.ModelMetaNames
    with pytest.raises(WMLClientError, match="403"):
        as_bob.repository.store_model(
            model=str(model_files.classifier_tar),
            meta_props={meta.NAME: "bob's model", meta.TYPE: "scikit-learn_1.3", meta.SOFTWARE_SPEC_ID: spec_id},
        )
    assert "bob's model" not in model_names(admin)

    assert admin.spaces.delete_member(space_id, bob.id) == "SUCCESS"
    assert bob.id not in set(admin.spaces.list_members(space_id)["ID"])

    # Removed, bob no longer sees the space at all.
    removed = APIClient(Credentials(url=server.url, token=bob.api_key, verify=False))
    with pytest.raises(CannotSetProjectOrSpace):
        removed.set.default_space(space_id)
    with http(server, bob.api_key) as raw:
        assert_wml_error(raw.get(f"/v2/spaces/{space_id}"), 404)


# --------------------------------------------------------------------------- bad input


def test_unsupported_model_type_is_refused(
    server: RunningServer, admin: APIClient, space_id: str, spec_id: str, model_files: ModelFiles
) -> None:
    meta = admin.repository.ModelMetaNames
    with pytest.raises(WMLClientError, match="Status code: 400") as refused:
        admin.repository.store_model(
            model=str(model_files.classifier_tar),
            meta_props={meta.NAME: "tf model", meta.TYPE: "tensorflow_2.14", meta.SOFTWARE_SPEC_ID: spec_id},
        )
    # The client shows the WML error body verbatim; it names the offending field.
    assert '"target":{"type":"field","name":"type"}' in str(refused.value)
    assert "tensorflow_2.14" in str(refused.value)
    assert "tf model" not in model_names(admin)

    body = {"name": "tf model", "type": "tensorflow_2.14", "software_spec": {"id": spec_id}}
    with http(server, server.admin_api_key) as raw:
        response = raw.post("/ml/v4/models", params={**V, "space_id": space_id}, json=body)
    assert "tensorflow_2.14" in assert_wml_error(response, 400, field="type")


def test_garbage_upload_leaves_no_model(
    server: RunningServer, admin: APIClient, space_id: str, spec_id: str, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not a model\n" * 20)
    archive = tmp_path / "garbage.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(text, arcname="notes.txt")

    meta = admin.repository.ModelMetaNames
    with pytest.raises(WMLClientError, match="Status code: 400") as refused:
        admin.repository.store_model(
            model=str(archive),
            meta_props={meta.NAME: "garbage model", meta.TYPE: "scikit-learn_1.3", meta.SOFTWARE_SPEC_ID: spec_id},
        )
    assert '"target":{"type":"field","name":"content"}' in str(refused.value)
    # The client deletes the half-made model itself after the failed upload.
    assert "garbage model" not in model_names(admin)

    with http(server, server.admin_api_key) as raw:
        params = {**V, "space_id": space_id}
        created = raw.post(
            "/ml/v4/models",
            params=params,
            json={"name": "empty", "type": "scikit-learn_1.3", "software_spec": {"id": spec_id}},
        )
        assert created.status_code == 201, created.text
        model = created.json()["metadata"]["id"]
        put = raw.put(
            f"/ml/v4/models/{model}/content",
            params={**params, "content_format": "native"},
            content=archive.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert_wml_error(put, 400, field="content")
        after = raw.get(f"/ml/v4/models/{model}", params=params)
        assert after.status_code == 200
        assert "rev" not in after.json()["metadata"]
        assert "content_import_state" not in after.json()["entity"]
        assert raw.delete(f"/ml/v4/models/{model}", params=params).status_code == 204


# --------------------------------------------------------------------------- deletion


def test_delete_models(admin: APIClient, object_model: str, archive_model: str) -> None:
    # repository.delete goes through the CAMS route DELETE /v2/assets/{id}.
    assert admin.repository.delete(archive_model) == "SUCCESS"
    with pytest.raises(WMLClientError, match="404"):
        admin.repository.get_model_details(archive_model)

    # _models.delete goes through DELETE /ml/v4/models/{id}.
    assert admin._models.delete(object_model) == "SUCCESS"
    with pytest.raises(WMLClientError, match="404"):
        admin.repository.get_model_details(object_model)

    remaining = {m["metadata"]["id"] for m in admin.repository.get_model_details()["resources"]}
    assert not remaining & {object_model, archive_model}
