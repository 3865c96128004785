"""Export and import keep each revision's own metadata snapshot (name, description, tags, spec, custom)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from champion.context import ServerContext
from champion.models import service as models
from champion.models.software_specs import CATALOGUE
from champion.models.tables import ModelVersion, RegisteredModel
from champion.users.service import Actor
from tests.transfer import test_service
from tests.transfer.test_service import Source, export, import_archive, new_space
from tests.transfer.test_settings import edited

source = test_service.source  # the fixture: two models, three revisions, a data asset, two deployments

SKLEARN_SPEC = next(spec for spec in CATALOGUE if spec.name.startswith("scikit-learn_"))


def snapshots(context: ServerContext, space_id: str, model: str) -> dict[int, tuple[Any, ...]]:
    with context.sessions() as session:
        rows = session.scalars(
            select(ModelVersion)
            .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
            .where(RegisteredModel.space_id == space_id, RegisteredModel.name == model)
            .order_by(ModelVersion.number)
        ).all()
        return {v.number: (v.name, v.description, tuple(v.tags), v.software_spec_id, v.custom) for v in rows}


def renamed_revision(context: ServerContext, actor: Actor, model_id: str) -> None:
    """Edit the model's metadata, then freeze it as a new revision (same file as the newest)."""
    with context.sessions() as session:
        models.update_model(
            session,
            actor,
            model_id=model_id,
            operations=[
                {"op": "replace", "path": "/description", "value": "retrained on March"},
                {"op": "replace", "path": "/tags", "value": ["march"]},
                {"op": "replace", "path": "/software_spec", "value": {"id": SKLEARN_SPEC.id}},
                {"op": "replace", "path": "/custom", "value": {"k": 2}},
            ],
        )
        models.create_revision(session, actor, model_id=model_id)


def test_each_revision_keeps_its_own_metadata_through_export_and_import(
    context: ServerContext,
    alice: Actor,
    source: Source,
    tmp_path: Path,
) -> None:
    renamed_revision(context, alice, source.churn)
    before = snapshots(context, source.space_id, "churn")
    assert before[1] != before[3]  # revisions 1 and 2 kept the old metadata, 3 the new

    target = new_space(context, alice, "target")
    import_archive(context, alice, target, export(context, alice, source.space_id, tmp_path / "space.tar.gz"))

    assert snapshots(context, target, "churn") == before
    assert before[3][1:] == ("retrained on March", ("march",), SKLEARN_SPEC.id, {"k": 2})


def test_an_archive_without_revision_metadata_gives_revisions_the_models_metadata(
    context: ServerContext,
    alice: Actor,
    source: Source,
    tmp_path: Path,
) -> None:
    renamed_revision(context, alice, source.churn)

    def old(manifest: dict[str, Any]) -> None:
        for model in manifest["models"]:
            for version in model["versions"]:
                del version["metadata"]

    archive = edited(export(context, alice, source.space_id, tmp_path / "new.tar.gz"), tmp_path / "old.tar.gz", old)
    target = new_space(context, alice, "target")
    import_archive(context, alice, target, archive)

    imported = snapshots(context, target, "churn")
    assert all(snapshot == imported[3] for snapshot in imported.values())  # the model's metadata as exported
    assert imported[3][1:4] == ("retrained on March", ("march",), SKLEARN_SPEC.id)


def test_a_revision_spec_this_server_lacks_is_replaced_and_said(
    context: ServerContext,
    alice: Actor,
    source: Source,
    tmp_path: Path,
) -> None:
    def foreign(manifest: dict[str, Any]) -> None:
        churn = next(model for model in manifest["models"] if model["name"] == "churn")
        churn["versions"][0]["metadata"].update(software_spec_id="0" * 36, software_spec_name="runtime-99.1-py3.99")

    archive = edited(export(context, alice, source.space_id, tmp_path / "new.tar.gz"), tmp_path / "odd.tar.gz", foreign)
    target = new_space(context, alice, "target")
    report = import_archive(context, alice, target, archive)

    churn = next(item for item in report.items if item.name == "churn")
    assert "revision 1: software spec 'runtime-99.1-py3.99' is not offered here" in churn.reason
    assert snapshots(context, target, "churn")[1][3] == CATALOGUE[0].id
