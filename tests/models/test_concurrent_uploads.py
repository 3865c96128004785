"""Uploads racing to one model through the WML face: each gets its own revision, and the blobs stay right."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from champion.context import ServerContext
from champion.models import service as models
from champion.models import software_specs
from champion.models.errors import ModelNotFound
from champion.models.schemas import NewModel
from champion.models.tables import ModelVersion
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor
from tests.api.test_wml_routes import Server, new_model, serving
from tests.model_files import ModelFiles

UPLOADS = 6
UPLOAD_LIMIT = 5_000_000


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    with serving(tmp_path / "home", "alice", database_url=database_url) as server:
        yield server


def test_concurrent_uploads_each_get_their_own_revision(server: Server, model_files: ModelFiles) -> None:
    space = server.call("POST", "/v2/spaces", json={"name": "race"}).json()["metadata"]["id"]
    model_id = new_model(server, space).json()["metadata"]["id"]
    # Two different files, three times each: some uploads share a blob, some do not.
    contents = [model_files.classifier_named.read_bytes(), model_files.classifier_plain.read_bytes()] * (UPLOADS // 2)
    start = threading.Barrier(UPLOADS)

    def put(content: bytes) -> httpx.Response:
        start.wait()
        return server.call("PUT", f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=content)

    with ThreadPoolExecutor(UPLOADS) as pool:
        responses = list(pool.map(put, contents))

    assert [r.status_code for r in responses] == [201] * UPLOADS, [r.text for r in responses if r.status_code != 201]
    with server.context.sessions() as session:
        versions = session.scalars(select(ModelVersion).where(ModelVersion.model_id == model_id)).all()
    assert sorted(v.number for v in versions) == list(range(1, UPLOADS + 1))
    # Every version's blob is there, and no blob is kept that no version names.
    assert set(server.context.store.digests()) == {v.sha256 for v in versions}
    assert len({v.sha256 for v in versions}) == 2


def test_a_model_deleted_while_its_upload_is_checked_is_not_found(
    context: ServerContext, alice: Actor, model_files: ModelFiles, tmp_path: Path
) -> None:
    """Checking an upload loads the model file (seconds, for a large one) before anything is written: a
    delete committed meanwhile must answer "no such model", keeping no version and no blob."""
    with context.sessions() as session:
        space_id = spaces.create_space(session, alice, details=SpaceDetails(name="s")).id
        new = NewModel(name="m", type="scikit-learn_1.3", software_spec_id=software_specs.CATALOGUE[0].id)
        model_id = models.create_model(session, alice, space_id=space_id, new=new).id
    upload = tmp_path / "upload"
    shutil.copy(model_files.classifier_named, upload)

    def delete_first(session: Session, *_: object) -> None:
        # The upload's first write is where the delete lands: after every check, before any row.
        with context.sessions() as deleting:
            models.delete_model(deleting, alice, context.store, model_id=model_id)

    with context.sessions() as uploading:
        event.listen(uploading, "before_flush", delete_first, once=True)
        with pytest.raises(ModelNotFound):
            models.add_version(uploading, alice, context.store, model_id=model_id, upload=upload, limit=UPLOAD_LIMIT)
    with context.sessions() as session:
        assert session.scalars(select(ModelVersion)).all() == []
    assert list(context.store.digests()) == []
