"""Export and import in the domain: round trips, re-imports, new revisions, bad archives and roles."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from champion.context import ServerContext
from champion.deployments import service as deployments
from champion.deployments.schemas import NewDeployment
from champion.deployments.tables import Deployment
from champion.errors import NotFound, PermissionDenied
from champion.jobs import assets
from champion.jobs.tables import DataAsset
from champion.models import service as models
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE
from champion.models.tables import ModelVersion, RegisteredModel
from champion.operations.tables import Operation
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.spaces.types import Role
from champion.transfer import service as transfer
from champion.transfer.errors import BadArchive
from champion.transfer.types import ImportReport, ItemKind, Outcome
from champion.users.service import Actor
from tests.jobs.test_service import data_asset
from tests.model_files import ModelFiles

CSV = b"x1,x2,x3\n1,2,3\n4,5,6\n"


def new_space(context: ServerContext, actor: Actor, name: str) -> str:
    with context.sessions() as session:
        return spaces.create_space(session, actor, details=SpaceDetails(name=name)).id


def new_model(
    context: ServerContext, actor: Actor, space_id: str, name: str, model_type: str = "scikit-learn_1.3"
) -> str:
    with context.sessions() as session:
        new = NewModel(name=name, type=model_type, software_spec_id=CATALOGUE[0].id, tags=["t"], custom={"k": 1})
        return models.create_model(session, actor, space_id=space_id, new=new).id


def add_version(context: ServerContext, actor: Actor, model_id: str, source: Path) -> int:
    upload = context.store.stage_dir() / source.name
    shutil.copy(source, upload)
    with context.sessions() as session:
        version = models.add_version(session, actor, context.store, model_id=model_id, upload=upload, limit=10**8)
    shutil.rmtree(upload.parent, ignore_errors=True)
    return version.number


def deploy(context: ServerContext, actor: Actor, space_id: str, model_id: str, name: str, **fields: object) -> str:
    with context.sessions() as session:
        new = NewDeployment.model_validate({"name": name, "kind": "online", "model_id": model_id, **fields})
        described, _ = deployments.create(session, actor, space_id=space_id, new=new)
        return described.deployment.id


@dataclass(frozen=True)
class Source:
    space_id: str
    churn: str
    booster: str


@pytest.fixture
def source(context: ServerContext, alice: Actor, model_files: ModelFiles) -> Source:
    """Two models (three revisions in all, one XGBoost), a data asset, an online and a batch deployment."""
    space_id = new_space(context, alice, "source")
    churn = new_model(context, alice, space_id, "churn")
    add_version(context, alice, churn, model_files.classifier_named)
    add_version(context, alice, churn, model_files.classifier_plain)
    booster = new_model(context, alice, space_id, "booster", "xgboost_2")
    add_version(context, alice, booster, model_files.xgboost_json)
    data_asset(context, alice, space_id, CSV, name="rows.csv")
    deploy(context, alice, space_id, churn, "churn-online", rev=1, serving_name="churn_src", tags=["prod"])
    deploy(context, alice, space_id, booster, "booster-batch", kind="batch")
    return Source(space_id, churn, booster)


def export(context: ServerContext, actor: Actor, space_id: str, target: Path) -> Path:
    with context.sessions() as session:
        exported = transfer.export_space(session, actor, context.store, space_id=space_id)
        target.write_bytes(b"".join(exported.chunks()))
    assert exported.file_name.endswith(".tar.gz")
    return target


def import_archive(context: ServerContext, actor: Actor, space_id: str, archive: Path) -> ImportReport:
    with context.sessions() as session:
        return transfer.import_archive(
            session, actor, context.store, space_id=space_id, upload=archive, limit=context.settings.max_upload_bytes
        )


def outcomes(report: ImportReport) -> dict[tuple[str, str], str]:
    return {(item.kind.value, item.name): item.outcome.value for item in report.items}


def contents(context: ServerContext, space_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a space holds, by name and digest, to compare spaces with."""
    with context.sessions() as session:
        revisions = session.execute(
            select(RegisteredModel.name, ModelVersion.number, ModelVersion.sha256)
            .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
            .where(RegisteredModel.space_id == space_id)
            .order_by(RegisteredModel.name, ModelVersion.number)
        ).all()
        data = session.execute(select(DataAsset.name, DataAsset.sha256).where(DataAsset.space_id == space_id)).all()
        served = session.execute(
            select(Deployment.name, Deployment.kind, RegisteredModel.name, ModelVersion.number)
            .join(RegisteredModel, RegisteredModel.id == Deployment.model_id)
            .join(ModelVersion, ModelVersion.id == Deployment.version_id)
            .where(Deployment.space_id == space_id)
            .order_by(Deployment.name)
        ).all()
    return {
        "revisions": [tuple(r) for r in revisions],
        "data": sorted(map(tuple, data)),
        "served": [tuple(r) for r in served],
    }


def counts(context: ServerContext) -> tuple[int, ...]:
    with context.sessions() as session:
        tables = (RegisteredModel, ModelVersion, DataAsset, Deployment, Operation)
        rows = tuple(session.scalar(select(func.count()).select_from(t)) or 0 for t in tables)
    return (*rows, len(list(context.store.digests())))


def test_export_then_import_into_an_empty_space_reproduces_it(
    context: ServerContext, alice: Actor, source: Source, tmp_path: Path
) -> None:
    archive = export(context, alice, source.space_id, tmp_path / "space.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json" and len(names) == 1 + 4  # three model files and one CSV, each once

    target = new_space(context, alice, "target")
    report = import_archive(context, alice, target, archive)

    assert contents(context, target) == contents(context, source.space_id)
    assert set(outcomes(report).values()) == {"created"}
    assert report.source_space_id == source.space_id and report.source_space_name == "source"
    churn = next(item for item in report.items if item.name == "churn")
    assert churn.revisions == (1, 2)
    online = next(item for item in report.items if item.name == "churn-online")
    assert "serving name 'churn_src' is taken" in online.reason  # the source still holds it on this server
    with context.sessions() as session:
        created = session.scalars(select(Deployment).where(Deployment.space_id == target)).all()
        assert {(d.state, d.serving_name, tuple(d.tags)) for d in created} == {
            ("initializing", None, ("prod",)),
            ("initializing", None, ()),
        }
        pending = session.scalars(select(Operation.kind).where(Operation.target_id.in_([d.id for d in created])))
        assert sorted(pending) == ["deploy", "deploy"]
        model = session.scalars(select(RegisteredModel).where(RegisteredModel.space_id == target)).first()
        assert model is not None and (model.tags, model.custom) == (["t"], {"k": 1})


def test_importing_again_changes_nothing(context: ServerContext, alice: Actor, source: Source, tmp_path: Path) -> None:
    archive = export(context, alice, source.space_id, tmp_path / "space.tar.gz")
    target = new_space(context, alice, "target")
    import_archive(context, alice, target, archive)
    before = counts(context)

    again = import_archive(context, alice, target, archive)
    assert set(outcomes(again).values()) == {"unchanged"} and len(again.items) == 5
    assert counts(context) == before
    # A space imported into itself is already all there.
    assert set(outcomes(import_archive(context, alice, source.space_id, archive)).values()) == {"unchanged"}


def test_a_new_revision_in_the_source_becomes_a_new_revision_in_the_target(
    context: ServerContext, alice: Actor, source: Source, model_files: ModelFiles, tmp_path: Path
) -> None:
    target = new_space(context, alice, "target")
    import_archive(context, alice, target, export(context, alice, source.space_id, tmp_path / "first.tar.gz"))
    assert add_version(context, alice, source.churn, model_files.regressor) == 3
    before = counts(context)

    report = import_archive(context, alice, target, export(context, alice, source.space_id, tmp_path / "next.tar.gz"))

    churn = next(item for item in report.items if item.name == "churn")
    assert (churn.outcome, churn.revisions) == (Outcome.NEW_REVISIONS, (3,))
    assert {k: v for k, v in outcomes(report).items() if k != ("model", "churn")} == dict.fromkeys(
        [
            ("model", "booster"),
            ("data_asset", "rows.csv"),
            ("deployment", "churn-online"),
            ("deployment", "booster-batch"),
        ],
        "unchanged",
    )
    assert counts(context)[1] == before[1] + 1  # exactly one version more, no new model
    assert contents(context, target)["revisions"] == contents(context, source.space_id)["revisions"]


def test_a_deployment_serving_another_revision_is_left_alone(
    context: ServerContext, alice: Actor, source: Source, tmp_path: Path
) -> None:
    target = new_space(context, alice, "target")
    churn = new_model(context, alice, target, "churn")
    add_version(context, alice, churn, source_file(context, source.churn, 2))  # rev 1 here is the source's rev 2
    deploy(context, alice, target, churn, "churn-online")

    report = import_archive(context, alice, target, export(context, alice, source.space_id, tmp_path / "a.tar.gz"))

    item = next(item for item in report.items if item.name == "churn-online")
    assert item.outcome == Outcome.SKIPPED and "exists, not changed" in item.reason and "replacement" in item.reason
    churn_report = next(item for item in report.items if item.name == "churn")
    assert (churn_report.outcome, churn_report.revisions) == (Outcome.NEW_REVISIONS, (2,))
    assert ("churn-online", "online", "churn", 1) in contents(context, target)["served"]


def source_file(context: ServerContext, model_id: str, number: int) -> Path:
    with context.sessions() as session:
        sha = session.scalar(
            select(ModelVersion.sha256).where(ModelVersion.model_id == model_id, ModelVersion.number == number)
        )
    assert sha is not None
    return context.store.open_path(sha)


def rewrite(archive: Path, target: Path, edit: dict[str, bytes]) -> Path:
    """A copy of `archive` with some members' bytes replaced (their names, and so the manifest, unchanged)."""
    with tarfile.open(archive) as source, tarfile.open(target, "w:gz") as out:
        for member in source.getmembers():
            data = edit.get(member.name) or source.extractfile(member).read()  # type: ignore[union-attr]
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return target


def test_a_corrupt_blob_is_named_and_nothing_is_written(
    context: ServerContext, alice: Actor, source: Source, tmp_path: Path
) -> None:
    archive = export(context, alice, source.space_id, tmp_path / "space.tar.gz")
    with context.sessions() as session:
        first = session.scalar(select(ModelVersion.sha256).where(ModelVersion.model_id == source.churn))
    assert first is not None
    blob = context.store.open_path(first).read_bytes()
    corrupt = rewrite(archive, tmp_path / "corrupt.tar.gz", {f"blobs/{first}": blob[:-1] + bytes([blob[-1] ^ 1])})
    target = new_space(context, alice, "target")
    before = counts(context)

    with pytest.raises(BadArchive, match="does not match its sha256") as caught:
        import_archive(context, alice, target, corrupt)
    assert caught.value.field == "manifest.models[0].versions[0]"
    assert counts(context) == before


def test_a_model_file_that_fails_to_load_stops_the_import_before_any_write(
    context: ServerContext, alice: Actor, source: Source, tmp_path: Path
) -> None:
    archive = export(context, alice, source.space_id, tmp_path / "space.tar.gz")
    with tarfile.open(archive) as tar:
        manifest = orjson.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    # The second model's file swapped for bytes that are no model, its digest made to match.
    garbage = b"not a model" * 50
    digest = hashlib.sha256(garbage).hexdigest()
    manifest["models"][1]["versions"][0]["sha256"] = digest
    members = {"manifest.json": orjson.dumps(manifest), f"blobs/{digest}": garbage}
    with tarfile.open(tmp_path / "bad.tar.gz", "w:gz") as out, tarfile.open(archive) as tar:
        for member in tar.getmembers():
            members.setdefault(member.name, tar.extractfile(member).read())  # type: ignore[union-attr]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    target = new_space(context, alice, "target")
    before = counts(context)

    with pytest.raises(BadArchive, match="model 'booster' revision 1") as caught:
        import_archive(context, alice, target, tmp_path / "bad.tar.gz")
    assert caught.value.field == "manifest.models[1].versions[0]"
    assert counts(context) == before  # not even the first model, whose files were fine


def test_viewers_cannot_import_and_non_members_are_told_nothing(
    context: ServerContext, alice: Actor, bob: Actor, source: Source, tmp_path: Path
) -> None:
    archive = export(context, alice, source.space_id, tmp_path / "space.tar.gz")
    target = new_space(context, alice, "target")
    with pytest.raises(NotFound):
        import_archive(context, bob, target, archive)
    with context.sessions() as session:
        spaces.add_members(session, alice, space_id=target, members=[(bob.user_id, Role.VIEWER)])
        spaces.add_members(session, alice, space_id=source.space_id, members=[(bob.user_id, Role.VIEWER)])
    with pytest.raises(PermissionDenied):
        import_archive(context, bob, target, archive)
    export(context, bob, source.space_id, tmp_path / "by-a-viewer.tar.gz")  # viewers may export


def test_space_to_space_import(context: ServerContext, alice: Actor, bob: Actor, source: Source) -> None:
    target = new_space(context, bob, "bobs")

    def run(actor: Actor) -> ImportReport:
        with context.sessions() as session:
            return transfer.import_space(
                session, actor, context.store, space_id=target, source_space_id=source.space_id, limit=10**8
            )

    with pytest.raises(NotFound):
        run(bob)  # bob is no member of the source
    with context.sessions() as session:
        spaces.add_members(session, alice, space_id=source.space_id, members=[(bob.user_id, Role.VIEWER)])
    blobs_before = set(context.store.digests())

    report = run(bob)
    assert set(outcomes(report).values()) == {"created"}
    assert contents(context, target) == contents(context, source.space_id)
    assert set(context.store.digests()) == blobs_before  # the same files, shared by digest
    assert {item.kind for item in run(bob).items if item.outcome == Outcome.UNCHANGED} == set(ItemKind)
    with context.sessions() as session:
        kept = assets.list_assets(session, bob, space_id=target)
        assert [(a.name, a.file_name) for a in kept] == [("rows.csv", "rows.csv")]


def hand_made(path: Path, manifest: dict[str, Any]) -> Path:
    with tarfile.open(path, "w:gz") as out:
        data = orjson.dumps(manifest)
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    return path


def test_manifest_references_are_checked_and_a_foreign_software_spec_is_replaced(
    context: ServerContext, alice: Actor, tmp_path: Path
) -> None:
    target = new_space(context, alice, "target")
    model = {"name": "empty", "type": "scikit-learn_1.3", "software_spec_id": "from-elsewhere", "versions": []}
    deployment = {"name": "d", "kind": "online", "model": {"index": 3, "name": "empty", "rev": 1}}
    manifest = {
        "format_version": 1,
        "champion_version": "9.9.9",
        "exported_at": "2026-01-01T00:00:00Z",
        "space": {"id": "elsewhere", "name": "far away"},
        "models": [model],
        "deployments": [deployment],
    }
    with pytest.raises(BadArchive, match="not there") as caught:
        import_archive(context, alice, target, hand_made(tmp_path / "a.tar.gz", manifest))
    assert caught.value.field == "manifest.deployments[0].model"

    manifest["deployments"] = []
    (item,) = import_archive(context, alice, target, hand_made(tmp_path / "b.tar.gz", manifest)).items
    assert item.outcome == Outcome.CREATED and "software spec 'from-elsewhere' is not offered here" in item.reason
