"""Revisions snapshot the model's metadata and point to content by SHA-256; blobs shared by revisions
are kept while any row names them; migration 0009 fills the snapshot of existing versions."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from champion.context import ServerContext
from champion.db import MIGRATIONS, make_engine, migrate
from champion.models import service as models
from champion.models import software_specs
from champion.models.errors import NoContent
from champion.models.schemas import NewModel
from champion.models.tables import ModelVersion, RegisteredModel
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor
from tests.model_files import ModelFiles

SPEC = software_specs.CATALOGUE[0].id


@pytest.fixture
def space_id(context: ServerContext, alice: Actor) -> str:
    with context.sessions() as session:
        return spaces.create_space(session, alice, details=SpaceDetails(name="s")).id


def register(context: ServerContext, actor: Actor, space_id: str, name: str) -> RegisteredModel:
    values = {"name": name, "type": "scikit-learn_1.3", "software_spec_id": SPEC, "tags": ["a"], "custom": {"k": 1}}
    with context.sessions() as session:
        return models.create_model(session, actor, space_id=space_id, new=NewModel.model_validate(values))


def upload(context: ServerContext, actor: Actor, model_id: str, source: Path, tmp_path: Path) -> ModelVersion:
    copy = tmp_path / f"upload-{source.name}"
    shutil.copy(source, copy)
    with context.sessions() as session:
        return models.add_version(
            session, actor, context.store, model_id=model_id, upload=copy, limit=context.settings.max_upload_bytes
        )


def rename(context: ServerContext, actor: Actor, model_id: str, name: str, **more: object) -> None:
    operations = [{"op": "replace", "path": "/name", "value": name}]
    operations += [{"op": "replace", "path": f"/{path}", "value": value} for path, value in more.items()]
    with context.sessions() as session:
        models.update_model(session, actor, model_id=model_id, operations=operations)


def revise(context: ServerContext, actor: Actor, model_id: str) -> ModelVersion:
    with context.sessions() as session:
        return models.create_revision(session, actor, model_id=model_id)


def snapshot(version: ModelVersion) -> tuple[object, ...]:
    return version.name, version.description, version.tags, version.software_spec_id, version.custom


def test_each_revision_keeps_the_metadata_and_content_it_was_made_with(
    context: ServerContext, alice: Actor, space_id: str, model_files: ModelFiles, tmp_path: Path
) -> None:
    model = register(context, alice, space_id, "first name")
    with context.sessions() as session, pytest.raises(NoContent):
        models.create_revision(session, alice, model_id=model.id)
    uploaded = upload(context, alice, model.id, model_files.classifier_named, tmp_path)
    assert uploaded.number == 1 and snapshot(uploaded) == ("first name", "", ["a"], SPEC, {"k": 1})

    rename(context, alice, model.id, "second name", description="d2", tags=["b"], custom={"k": 2})
    second = revise(context, alice, model.id)
    third = revise(context, alice, model.id)  # a revision every time, even with nothing changed
    assert (second.number, third.number) == (2, 3)
    assert snapshot(second) == snapshot(third) == ("second name", "d2", ["b"], SPEC, {"k": 2})
    # A metadata-only revision names the same file: one blob, its signature and parameters with it.
    for revision in (second, third):
        assert (revision.sha256, revision.size, revision.filename, revision.framework) == (
            uploaded.sha256,
            uploaded.size,
            uploaded.filename,
            uploaded.framework,
        )
        assert revision.signature == uploaded.signature
    assert len(list(context.store.digests())) == 1

    rename(context, alice, model.id, "third name")
    fourth = upload(context, alice, model.id, model_files.classifier_plain, tmp_path)
    assert fourth.number == 4 and fourth.name == "third name" and fourth.sha256 != uploaded.sha256
    with context.sessions() as session:
        listed = models.list_versions(session, alice, model_id=model.id)
        assert [v.name for v in listed] == ["first name", "second name", "second name", "third name"]
        # The revisions did not follow the rename; the model did.
        assert session.get(RegisteredModel, model.id).name == "third name"  # type: ignore[union-attr]


def test_a_blob_shared_by_revisions_and_models_goes_only_with_the_last_row(
    context: ServerContext, alice: Actor, space_id: str, model_files: ModelFiles, tmp_path: Path
) -> None:
    mine = register(context, alice, space_id, "mine")
    theirs = register(context, alice, space_id, "theirs")
    shared = upload(context, alice, mine.id, model_files.classifier_named, tmp_path).sha256
    revise(context, alice, mine.id)
    upload(context, alice, theirs.id, model_files.classifier_named, tmp_path)
    revise(context, alice, theirs.id)
    with context.sessions() as session:
        assert models.sweep_orphans(session, context.store) == 0
        models.delete_model(session, alice, context.store, model_id=mine.id)
    assert context.store.exists(shared)  # two revisions of the other model still name it
    with context.sessions() as session:
        assert models.sweep_orphans(session, context.store) == 0
        assert context.store.exists(shared)
        models.delete_model(session, alice, context.store, model_id=theirs.id)
    assert not context.store.exists(shared)


SPACES = sa.table(
    "spaces",
    *(sa.column(n) for n in ("id", "name", "description", "creator_id", "created_at", "modified_at")),
    sa.column("tags", sa.JSON),
)
MODELS = sa.table(
    "registered_models",
    *(sa.column(n) for n in ("id", "space_id", "name", "description", "type", "software_spec_id", "owner_id")),
    *(sa.column(n) for n in ("created_at", "modified_at")),
    sa.column("tags", sa.JSON),
    sa.column("custom", sa.JSON),
)
VERSIONS = sa.table(
    "model_versions",
    *(sa.column(n) for n in ("id", "model_id", "number", "framework", "sha256", "size", "filename", "created_by")),
    sa.column("created_at"),
    sa.column("signature", sa.JSON),
)


def test_the_migration_gives_existing_versions_their_models_metadata(database_url: str) -> None:
    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    now = dt.datetime.now(dt.UTC)
    user = "00000000-0000-4000-8000-000000000001"
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
        connection.execute(
            sa.insert(SPACES).values(
                id="s" * 36, name="s", description="", tags=[], creator_id=user, created_at=now, modified_at=now
            )
        )
        for model, name, custom in (("a" * 36, "alpha", {"k": [1]}), ("b" * 36, "beta", {})):
            connection.execute(
                sa.insert(MODELS).values(
                    id=model,
                    space_id="s" * 36,
                    name=name,
                    description=f"{name} described",
                    tags=[name],
                    type="scikit-learn_1.3",
                    software_spec_id=SPEC,
                    custom=custom,
                    owner_id=user,
                    created_at=now,
                    modified_at=now,
                )
            )
        for version, model, number in (("1" * 36, "a" * 36, 1), ("2" * 36, "a" * 36, 2), ("3" * 36, "b" * 36, 1)):
            connection.execute(
                sa.insert(VERSIONS).values(
                    id=version,
                    model_id=model,
                    number=number,
                    framework="scikit-learn",
                    sha256="0" * 64,
                    size=1,
                    filename="m.pkl",
                    signature={},
                    created_by=user,
                    created_at=now,
                )
            )
    migrate(engine)
    with engine.connect() as connection:
        table = sa.Table("model_versions", sa.MetaData(), autoload_with=connection)
        rows = connection.execute(
            sa.select(table.c.id, table.c.name, table.c.description, table.c.tags, table.c.software_spec_id)
            .add_columns(table.c.custom)
            .order_by(table.c.id)
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("1" * 36, "alpha", "alpha described", ["alpha"], SPEC, {"k": [1]}),
        ("2" * 36, "alpha", "alpha described", ["alpha"], SPEC, {"k": [1]}),
        ("3" * 36, "beta", "beta described", ["beta"], SPEC, {}),
    ]


def test_revisions_and_uploads_racing_each_get_their_own_number(
    context: ServerContext, alice: Actor, space_id: str, model_files: ModelFiles, tmp_path: Path
) -> None:
    model = register(context, alice, space_id, "raced")
    upload(context, alice, model.id, model_files.classifier_named, tmp_path)
    start = threading.Barrier(6, timeout=30)

    def revision(_: int) -> int:
        start.wait()
        return revise(context, alice, model.id).number

    def new_upload(index: int) -> int:
        folder = tmp_path / f"upload-{index}"
        folder.mkdir()
        start.wait()
        return upload(context, alice, model.id, model_files.classifier_plain, folder).number

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(revision, i) for i in range(4)] + [pool.submit(new_upload, i) for i in range(2)]
        numbers = [future.result(timeout=60) for future in futures]
    assert sorted(numbers) == list(range(2, 8))
    with context.sessions() as session:
        versions = models.list_versions(session, alice, model_id=model.id)
    # Each revision froze the content of the revision numbered just before it: the newest when it took its number.
    by_number = {v.number: v for v in versions}
    assert all(by_number[n].sha256 == by_number[n - 1].sha256 for n in numbers[:4])
    assert set(context.store.digests()) == {v.sha256 for v in versions}
