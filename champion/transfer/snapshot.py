"""A space read as a manifest: what an export writes and what a space-to-space import copies from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from champion import __version__
from champion.artifacts import ArtifactStore
from champion.db import utcnow
from champion.deployments import service as deployments
from champion.deployments import settings as deployment_settings
from champion.deployments.types import Kind
from champion.jobs import assets
from champion.models import service as models
from champion.models import software_specs
from champion.models.tables import ModelVersion
from champion.runtimes import Signature
from champion.spaces import service as spaces
from champion.transfer.archive import Blob
from champion.transfer.manifest import (
    FORMAT_VERSION,
    DataAssetEntry,
    DeclaredInputField,
    DeploymentEntry,
    Manifest,
    ModelEntry,
    RevisionMetadataEntry,
    ServedModel,
    SignatureEntry,
    SourceSpace,
    VersionEntry,
    is_plain_file_name,
)
from champion.users.service import Actor


@dataclass(frozen=True)
class Snapshot:
    manifest: Manifest
    blobs: tuple[Blob, ...]
    """Each distinct artifact once, in the order the manifest first names it."""


def take(session: Session, actor: Actor, store: ArtifactStore, *, space_id: str) -> Snapshot:
    """Everything in the space any member may read (a viewer can export)."""
    space = spaces.get_space(session, actor, space_id=space_id)
    model_entries: list[ModelEntry] = []
    position: dict[str, int] = {}
    blobs: dict[str, Blob] = {}
    for model in models.list_models(session, actor, space_id=space_id):
        versions = models.list_versions(session, actor, model_id=model.id)
        spec = software_specs.find(spec_id=model.software_spec_id)
        position[model.id] = len(model_entries)
        model_entries.append(
            ModelEntry(
                name=model.name,
                description=model.description,
                tags=model.tags,
                type=model.type,
                software_spec_id=model.software_spec_id,
                software_spec_name=spec.name if spec else None,
                label_column=model.label_column,
                declared_input=[DeclaredInputField(**f) for f in model.declared_input]
                if model.declared_input
                else None,
                custom=model.custom,
                versions=[
                    VersionEntry(
                        number=v.number,
                        sha256=v.sha256,
                        file_name=v.filename,
                        framework=v.framework,
                        size=v.size,
                        runtime_parameters=list(v.runtime_parameters or ()),
                        signature=SignatureEntry.model_validate(Signature.from_dict(v.signature).to_dict()),
                        metadata=_revision_metadata(v),
                    )
                    for v in versions
                ],
            )
        )
        for v in versions:
            blobs.setdefault(v.sha256, Blob(v.sha256, store.open_path(v.sha256), v.size))
    deployment_entries = []
    for described in deployments.list_deployments(session, actor, space_id=space_id):
        d, version = described.deployment, described.version
        deployment_entries.append(
            DeploymentEntry(
                name=d.name,
                description=d.description,
                tags=d.tags,
                custom=d.custom,
                kind=Kind(d.kind),
                serving_name=d.serving_name,
                hardware_spec=d.hardware_spec,
                model=ServedModel(
                    index=position[d.model_id], name=model_entries[position[d.model_id]].name, rev=version.number
                ),
                settings=deployment_settings.stored(session, deployment_id=d.id).model_dump(mode="json"),
                # What the champion runs with (stored values, declared defaults for the rest), not only what was set.
                runtime_parameter_values=deployments.runtime_values_of(session, actor, deployment_id=d.id),
            )
        )
    asset_entries = []
    # An asset whose upload never finished has no content to carry: it is left out.
    for asset in assets.list_assets(session, actor, space_id=space_id):
        if asset.sha256 is None:
            continue
        asset_entries.append(
            DataAssetEntry(
                name=asset.name,
                description=asset.description,
                mime_type=asset.mime_type,
                file_name=_file_name(asset.file_name, fallback="data"),
                sha256=asset.sha256,
                size=asset.size,
            )
        )
        blobs.setdefault(asset.sha256, Blob(asset.sha256, store.open_path(asset.sha256), asset.size))
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        champion_version=__version__,
        exported_at=utcnow(),
        space=SourceSpace(id=space.id, name=space.name),
        models=model_entries,
        deployments=deployment_entries,
        data_assets=asset_entries,
    )
    return Snapshot(manifest, tuple(blobs.values()))


def _revision_metadata(version: ModelVersion) -> RevisionMetadataEntry:
    spec = software_specs.find(spec_id=version.software_spec_id)
    return RevisionMetadataEntry(
        name=version.name,
        description=version.description,
        tags=list(version.tags),
        software_spec_id=version.software_spec_id,
        software_spec_name=spec.name if spec else None,
        custom=version.custom,
    )


def _file_name(name: str | None, *, fallback: str) -> str:
    # Names come from uploads; one that could name a folder is not carried into the archive.
    return name if name is not None and is_plain_file_name(name) else fallback
