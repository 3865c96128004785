"""An uploaded archive names its members; no name may reach a file outside the upload's own folder.

A member named by absolute path used to be taken at its word: the server read the file of that
name, then moved it into the store, or deleted it when that blob was kept already (another
model's blob, for one).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from champion.artifacts.store import LocalArtifactStore, StagedFile
from champion.context import ServerContext
from champion.models import service as models
from champion.models.errors import NotAModel
from champion.models.tables import ModelVersion
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor
from tests.model_files import ModelFiles
from tests.models.test_mlflow import SKLEARN_MLMODEL, handmade, pickle_bytes
from tests.models.test_service import register, space_id, upload

__all__ = ["pickle_bytes", "space_id"]  # fixtures, used by name


def refused(context: ServerContext, actor: Actor, model_id: str, tar: Path) -> str:
    with context.sessions() as session, pytest.raises(NotAModel) as caught:
        models.add_version(
            session, actor, context.store, model_id=model_id, upload=tar, limit=context.settings.max_upload_bytes
        )
    assert caught.value.field == "content"
    return str(caught.value)


def versions(context: ServerContext) -> int:
    with context.sessions() as session:
        return session.scalar(select(func.count()).select_from(ModelVersion)) or 0


def test_a_member_named_after_another_models_blob_is_refused_and_the_blob_stays(
    context: ServerContext, alice: Actor, bob: Actor, space_id: str, model_files: ModelFiles, tmp_path: Path
) -> None:
    victim = upload(
        context, alice, register(context, alice, space_id, name="victim").id, model_files.regressor, tmp_path
    )
    blob = context.store.open_path(victim.sha256).resolve()
    before = blob.read_bytes()
    with context.sessions() as session:  # bob's own space: he cannot even see the victim's model
        bobs_space = spaces.create_space(session, bob, details=SpaceDetails(name="bob's")).id
    attacker = register(context, bob, bobs_space, name="attacker")
    message = refused(context, bob, attacker.id, handmade(tmp_path, {str(blob): b"anything"}))
    assert str(blob) in message and "outside" in message
    assert blob.read_bytes() == before
    assert versions(context) == 1


def test_a_member_naming_a_server_file_is_neither_kept_nor_moved(
    context: ServerContext, alice: Actor, space_id: str, model_files: ModelFiles, tmp_path: Path
) -> None:
    # A real model, so that only the path check stands between the upload and this file.
    server_file = tmp_path / "server" / "secret-model.joblib"
    server_file.parent.mkdir()
    server_file.write_bytes(model_files.classifier_named.read_bytes())
    model = register(context, alice, space_id)
    message = refused(context, alice, model.id, handmade(tmp_path, {str(server_file): b"not a model"}))
    assert str(server_file) in message
    assert server_file.read_bytes() == model_files.classifier_named.read_bytes()
    assert list(context.store.digests()) == []
    assert versions(context) == 0


def test_a_member_climbing_out_is_refused_naming_it_and_no_server_path(
    context: ServerContext, alice: Actor, space_id: str, model_files: ModelFiles, tmp_path: Path
) -> None:
    tar = handmade(tmp_path, {"a/../../model.joblib": model_files.classifier_named.read_bytes()})
    message = refused(context, alice, register(context, alice, space_id).id, tar)
    assert "a/../../model.joblib" in message and "outside" in message
    assert str(context.settings.home.resolve()) not in message and str(tmp_path) not in message
    assert not list(context.settings.home.rglob("model.joblib")) and not (tmp_path / "model.joblib").exists()


def test_an_mlflow_folder_member_with_an_absolute_name_is_refused_naming_it(
    context: ServerContext, alice: Actor, space_id: str, pickle_bytes: bytes, tmp_path: Path
) -> None:
    # tarfile's "data" filter would write /m/model.pkl as m/model.pkl; the name itself is still refused.
    mlmodel = SKLEARN_MLMODEL.format(file="model.pkl", form="cloudpickle").encode()
    tar = handmade(tmp_path, {"m/MLmodel": mlmodel, "/m/model.pkl": pickle_bytes})
    message = refused(context, alice, register(context, alice, space_id).id, tar)
    assert "/m/model.pkl" in message and "outside" in message
    assert versions(context) == 0


def staged(store: LocalArtifactStore, content: bytes) -> StagedFile:
    path = store.stage_dir() / "upload"
    path.write_bytes(content)
    return store.stage(path)


def test_keep_refuses_a_file_outside_staging_and_leaves_it_alone(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    kept = store.keep(staged(store, b"a"))
    same_bytes, other = tmp_path / "a server file", tmp_path / "another server file"
    same_bytes.write_bytes(b"a")
    other.write_bytes(b"b")
    # A digest already kept used to mean `unlink` of the given path; a new one, `os.replace` of it.
    for outside, digest in ((same_bytes, kept), (other, "0" * 64)):
        with pytest.raises(ValueError, match="not in the staging folder"):
            store.keep(StagedFile(path=outside, sha256=digest, size=1))
    assert same_bytes.read_bytes() == b"a" and other.read_bytes() == b"b"
    assert store.exists(kept) and not store.exists("0" * 64)


def test_keep_refuses_a_link_in_staging(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    target = tmp_path / "a server file"
    target.write_bytes(b"a")
    link = store.stage_dir() / "link"
    link.symlink_to(target)
    with pytest.raises(ValueError, match="not in the staging folder"):
        store.keep(StagedFile(path=link, sha256="0" * 64, size=1))
    assert target.read_bytes() == b"a" and not store.exists("0" * 64)


def test_stage_copies_a_file_from_elsewhere_so_keep_never_moves_it(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    source = tmp_path / "caller's file"
    source.write_bytes(b"content")
    digest = store.keep(store.stage(source))
    assert source.read_bytes() == b"content"
    assert store.open_path(digest).read_bytes() == b"content"
