"""Carrying out a checked import plan through the owning domains' services, and saying what each step did.

Every write goes through the service that owns the item — `models.create_model` and
`models.add_version` (which loads and checks the file again, like any upload, and keeps the
revision's runtime parameter definitions; a revision the archive gives a signature is written with
the one the plan made of it, in the same commit), `assets.create` and its attachment upload,
`deployments.create` (which keeps the deployment's settings and runtime parameter values and
starts a deploy operation, all in one commit) — so an import obeys the same rules as the API.
Each of those commits on its own; the plan has checked everything they check, so what is left to
fail here is the storage itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy.orm import Session

from champion.artifacts import ArtifactStore
from champion.deployments import service as deployments
from champion.deployments import settings as deployment_settings
from champion.deployments.schemas import NewDeployment
from champion.jobs import assets
from champion.models import service as models
from champion.models.tables import ModelVersion
from champion.runtimes import Signature
from champion.transfer.manifest import DeploymentEntry
from champion.transfer.plan import (
    AssetStep,
    DeploymentStep,
    ModelStep,
    Plan,
    private_copy,
    runtime_entries,
    same_revision,
)
from champion.transfer.types import ItemKind, ItemReport, Outcome
from champion.users.service import Actor

REPLACEMENT_HINT = "changing a live deployment's model is a replacement (PATCH its /asset), not an import"


def run(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    space_id: str,
    plan: Plan,
    blobs: Mapping[str, Path],
    workdir: Path,
    limit: int,
) -> list[ItemReport]:
    items: list[ItemReport] = []
    model_ids: list[str] = []
    for i, step in enumerate(plan.models):
        model_id, report = _model(
            session, actor, store, space_id, step, plan.signatures[i], blobs, workdir / f"model-{i}", limit
        )
        model_ids.append(model_id)
        items.append(report)
    for i, asset_step in enumerate(plan.assets):
        items.append(_asset(session, actor, store, space_id, asset_step, blobs, workdir / f"asset-{i}"))
    for deployment_step in plan.deployments:
        items.append(_deployment(session, actor, space_id, deployment_step, model_ids))
    return items


def _model(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    space_id: str,
    step: ModelStep,
    signatures: Mapping[int, Signature],
    blobs: Mapping[str, Path],
    workdir: Path,
    limit: int,
) -> tuple[str, ItemReport]:
    """The model's id in the target space, and what became of it."""
    entry = step.entry
    if step.target is None:
        assert step.new is not None, "a plan creates a model only with its details"
        model_id = models.create_model(session, actor, space_id=space_id, new=step.new).id
    else:
        model_id = step.target.id
    added = []
    for j in step.add:
        version = entry.versions[j]
        upload = private_copy(blobs[version.sha256], workdir / str(j) / version.file_name)
        added.append(
            models.add_version(
                session,
                actor,
                store,
                model_id=model_id,
                upload=upload,
                limit=limit,
                runtime_parameters=version.runtime_parameters,
                signature=signatures[j] if version.signature is not None else None,
                metadata=step.metadata.get(j),
            ).number
        )
        upload.unlink(missing_ok=True)  # add_version may have moved it under its digest already
    numbers = tuple(added)
    if step.target is None:
        outcome, reason = Outcome.CREATED, f"created with revisions {_listed(numbers)}" if numbers else "created"
    elif numbers:
        sources = _listed(entry.versions[j].number for j in step.add)
        outcome, reason = Outcome.NEW_REVISIONS, f"added revisions {_listed(numbers)} (the archive's {sources})"
    else:
        outcome, reason = Outcome.UNCHANGED, "already holds every revision"
    return model_id, ItemReport(
        ItemKind.MODEL, entry.name, outcome, model_id, "; ".join((reason, *step.notes)), numbers
    )


def _asset(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    space_id: str,
    step: AssetStep,
    blobs: Mapping[str, Path],
    workdir: Path,
) -> ItemReport:
    entry = step.entry
    if step.outcome == Outcome.UNCHANGED:
        assert step.target is not None
        return ItemReport(ItemKind.DATA_ASSET, entry.name, step.outcome, step.target.id, "same content")
    asset = step.target or assets.create(session, actor, space_id=space_id, new=step.new)
    # Content arrives as an attachment upload, the one way the jobs domain takes a file.
    asset, secret = assets.open_attachment(
        session, actor, asset_id=asset.id, space_id=space_id, file_name=entry.file_name
    )
    assert asset.attachment_id is not None, "open_attachment sets it"
    upload = private_copy(blobs[entry.sha256], workdir / entry.file_name)
    assets.receive_content(
        session, store, asset_id=asset.id, attachment_id=asset.attachment_id, secret=secret, upload=upload
    )
    upload.unlink(missing_ok=True)
    reason = "created" if step.outcome == Outcome.CREATED else "content replaced with the archive's"
    return ItemReport(ItemKind.DATA_ASSET, entry.name, step.outcome, asset.id, reason)


def _deployment(
    session: Session, actor: Actor, space_id: str, step: DeploymentStep, model_ids: list[str]
) -> ItemReport:
    entry, ref = step.entry, step.entry.model
    if step.existing is not None:
        d, serving = step.existing.deployment, step.existing.version
        if serving.sha256 == step.sha256:
            reason = "exists and serves the same model revision"
            if differing := _own(session, actor, entry, d.id):
                reason += (
                    f", not changed: its {differing} differ from the archive's, and an import does not change a "
                    "deployment's settings (change them through its settings)"
                )
                return ItemReport(ItemKind.DEPLOYMENT, entry.name, Outcome.SKIPPED, d.id, reason)
            return ItemReport(ItemKind.DEPLOYMENT, entry.name, Outcome.UNCHANGED, d.id, reason)
        model = models.get_model(session, actor, model_id=d.model_id)
        reason = (
            f"exists, not changed: it serves {model.name!r} revision {serving.number} and the archive "
            f"{ref.name!r} revision {ref.rev}; {REPLACEMENT_HINT}"
        )
        return ItemReport(ItemKind.DEPLOYMENT, entry.name, Outcome.SKIPPED, d.id, reason)
    model_id = model_ids[ref.index]
    version = _same_revision(models.list_versions(session, actor, model_id=model_id), step.sha256, ref.rev)
    new = NewDeployment(
        name=entry.name,
        kind=entry.kind,
        model_id=model_id,
        rev=version.number,
        description=entry.description,
        tags=entry.tags,
        custom=entry.custom,
        serving_name=step.serving_name,
        hardware_spec=entry.hardware_spec,
    )
    described, _ = deployments.create(
        session,
        actor,
        space_id=space_id,
        new=new,
        runtime_parameter_values=runtime_entries(entry),
        settings=entry.settings,
    )
    reason = f"created, serving {ref.name!r} revision {version.number}; deploying"
    return ItemReport(
        ItemKind.DEPLOYMENT, entry.name, Outcome.CREATED, described.deployment.id, "; ".join((reason, *step.notes))
    )


def _same_revision(versions: list[ModelVersion], sha256: str, number: int) -> ModelVersion:
    """The target's revision with the archive's file (the plan checked the deployment against the same one)."""
    matching = [v for v in versions if v.sha256 == sha256]
    assert matching, "the model steps added every revision a deployment serves"
    return matching[same_revision([v.number for v in matching], number)]


def _own(session: Session, actor: Actor, entry: DeploymentEntry, deployment_id: str) -> str:
    """What of an existing deployment differs from the archive's entry (and stays as it is): "" when nothing.

    Only what the archive carries is compared; an archive written before settings were carried has none.
    """
    differing = []
    if entry.settings is not None and deployment_settings.as_document(entry.settings) != deployment_settings.stored(
        session, deployment_id=deployment_id
    ).model_dump(mode="json"):
        differing.append("settings")
    if entry.runtime_parameter_values is not None and entry.runtime_parameter_values != (
        deployments.runtime_values_of(session, actor, deployment_id=deployment_id)
    ):
        differing.append("runtime parameter values")
    return " and ".join(differing)


def _listed(numbers: Iterable[int]) -> str:
    return ", ".join(str(n) for n in numbers)
