"""Planning an import: pair archive items with the target space's by name, and check all of it before a write.

Items pair by name, in order: the first archive model named "churn" with the space's oldest
model named "churn", the second with the next, and so on, so a space holding two models of one
name round-trips as two. Every check the writes would make is made here first — the manifest's
fields, each served revision, and every model file the import would add, loaded once with its
real library against the model it will join — so a bad item stops the import before anything
is written.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from champion.deployments import service as deployments
from champion.deployments.schemas import NewDeployment
from champion.deployments.service import Described
from champion.errors import InvalidInput
from champion.jobs import assets
from champion.jobs.schemas import NewDataAsset
from champion.jobs.tables import DataAsset
from champion.models import service as models
from champion.models import software_specs
from champion.models.schemas import NewModel
from champion.models.tables import RegisteredModel
from champion.models.types import parse_model_type
from champion.transfer.errors import BadArchive
from champion.transfer.manifest import DataAssetEntry, DeploymentEntry, Manifest, ModelEntry, location
from champion.transfer.types import Outcome
from champion.users.service import Actor

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Named(Protocol):
    @property
    def name(self) -> str: ...


PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
"""Stands in for a model id that exists only once the import writes it."""


@dataclass(frozen=True)
class ModelStep:
    entry: ModelEntry
    target: RegisteredModel | None
    """The space's model of that name, or None to create `new`."""
    new: NewModel | None
    add: tuple[int, ...]
    """Positions in `entry.versions` of the revisions the model lacks (all, for a new model), in order."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssetStep:
    entry: DataAssetEntry
    target: DataAsset | None
    new: NewDataAsset
    outcome: Outcome


@dataclass(frozen=True)
class DeploymentStep:
    entry: DeploymentEntry
    sha256: str
    """The served revision's file, which finds the same revision in the target model."""
    existing: Described | None
    serving_name: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    models: tuple[ModelStep, ...]
    assets: tuple[AssetStep, ...]
    deployments: tuple[DeploymentStep, ...]


def make(
    session: Session,
    actor: Actor,
    *,
    space_id: str,
    manifest: Manifest,
    blobs: Mapping[str, Path],
    workdir: Path,
    limit: int,
) -> Plan:
    model_steps = tuple(_model_steps(session, actor, space_id, manifest))
    for i, step in enumerate(model_steps):
        _check_files(step, blobs, workdir / f"check-{i}", where=f"manifest.models[{i}]", limit=limit)
    return Plan(
        models=model_steps,
        assets=tuple(_asset_steps(session, actor, space_id, manifest)),
        deployments=tuple(_deployment_steps(session, actor, space_id, manifest)),
    )


def _model_steps(session: Session, actor: Actor, space_id: str, manifest: Manifest) -> Iterable[ModelStep]:
    existing = models.list_models(session, actor, space_id=space_id)
    by_name = pair(manifest.models, existing, name=lambda model: model.name)
    for i, (entry, target) in enumerate(zip(manifest.models, by_name, strict=True)):
        where = f"manifest.models[{i}]"
        if target is not None:
            have = {v.sha256 for v in models.list_versions(session, actor, model_id=target.id)}
            missing = []
            for j, version in enumerate(entry.versions):
                if version.sha256 not in have:
                    missing.append(j)
                    have.add(version.sha256)
            yield ModelStep(entry, target, None, tuple(missing))
            continue
        spec_id, notes = _software_spec(entry)
        new = _validated(
            NewModel,
            {
                "name": entry.name,
                "type": entry.type,
                "software_spec_id": spec_id,
                "description": entry.description,
                "tags": entry.tags,
                "label_column": entry.label_column,
                "declared_input": _declared(entry),
                "custom": entry.custom,
            },
            where=where,
        )
        try:
            parse_model_type(entry.type)
        except InvalidInput as exc:
            raise BadArchive(_bare(exc), field=f"{where}.type") from None
        yield ModelStep(entry, None, new, tuple(range(len(entry.versions))), notes)


def _software_spec(entry: ModelEntry) -> tuple[str, tuple[str, ...]]:
    """The archive's software spec if this server offers it (by id, then name), else this server's own.

    A spec names the Python the exporting server ran; another server may run another one,
    and each file is loaded with this server's libraries before it is kept anyway.
    """
    spec = software_specs.find(spec_id=entry.software_spec_id) or software_specs.find(name=entry.software_spec_name)
    if spec is not None:
        return spec.id, ()
    fallback = software_specs.CATALOGUE[0]
    named = entry.software_spec_name or entry.software_spec_id
    return fallback.id, (f"software spec {named!r} is not offered here; using {fallback.name!r}",)


def _check_files(step: ModelStep, blobs: Mapping[str, Path], workdir: Path, *, where: str, limit: int) -> None:
    """Load every file the step would add, as add_version will, against the model it will join."""
    if step.target is not None:
        model_type, declared, label = step.target.type, step.target.declared_input, step.target.label_column
    else:
        model_type, declared, label = step.entry.type, _declared(step.entry), step.entry.label_column
    checked: set[str] = set()
    for j in step.add:
        version = step.entry.versions[j]
        if version.sha256 in checked:
            continue
        folder = workdir / str(j)
        upload = private_copy(blobs[version.sha256], folder / version.file_name)
        try:
            (folder / "unpacked").mkdir(parents=True, exist_ok=True)
            models.check_upload(
                upload,
                folder / "unpacked",
                limit=limit,
                model_type=model_type,
                declared_input=declared,
                label_column=label,
            )
        except InvalidInput as exc:
            message = f"model {step.entry.name!r} revision {version.number}: {_bare(exc)}"
            raise BadArchive(message, field=f"{where}.versions[{j}]") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        checked.add(version.sha256)


def _declared(entry: ModelEntry) -> list[dict[str, Any]] | None:
    return [f.model_dump() for f in entry.declared_input] if entry.declared_input else None


def _asset_steps(session: Session, actor: Actor, space_id: str, manifest: Manifest) -> Iterable[AssetStep]:
    existing = assets.list_assets(session, actor, space_id=space_id)
    by_name = pair(manifest.data_assets, existing, name=lambda asset: asset.name)
    for i, (entry, target) in enumerate(zip(manifest.data_assets, by_name, strict=True)):
        new = _validated(
            NewDataAsset,
            {"name": entry.name, "description": entry.description, "mime_type": entry.mime_type},
            where=f"manifest.data_assets[{i}]",
        )
        if target is None:
            outcome = Outcome.CREATED
        else:
            outcome = Outcome.UNCHANGED if target.sha256 == entry.sha256 else Outcome.REPLACED
        yield AssetStep(entry, target, new, outcome)


def _deployment_steps(session: Session, actor: Actor, space_id: str, manifest: Manifest) -> Iterable[DeploymentStep]:
    existing = deployments.list_deployments(session, actor, space_id=space_id)
    by_name = pair(manifest.deployments, existing, name=lambda described: described.deployment.name)
    claimed: set[str] = set()
    for i, (entry, target) in enumerate(zip(manifest.deployments, by_name, strict=True)):
        where = f"manifest.deployments[{i}]"
        sha256 = _served_file(manifest, entry, where=where)
        if target is not None:
            yield DeploymentStep(entry, sha256, target, None)
            continue
        fields = entry.model_dump(exclude={"model"})
        _validated(NewDeployment, {**fields, "model_id": PLACEHOLDER_ID}, where=where)
        serving_name, notes = entry.serving_name, ""
        if serving_name is not None and (
            serving_name in claimed or not deployments.serving_name_available(session, serving_name)
        ):
            # Serving names are unique on a server; importing a space beside its source always collides.
            notes = f"serving name {serving_name!r} is taken on this server, so it was left out"
            serving_name = None
        if serving_name is not None:
            claimed.add(serving_name)
        yield DeploymentStep(entry, sha256, None, serving_name, (notes,) if notes else ())


def _served_file(manifest: Manifest, entry: DeploymentEntry, *, where: str) -> str:
    ref = entry.model
    if ref.index >= len(manifest.models) or manifest.models[ref.index].name != ref.name:
        raise BadArchive(f"names model {ref.name!r} at models[{ref.index}], which is not there", field=f"{where}.model")
    for version in manifest.models[ref.index].versions:
        if version.number == ref.rev:
            return version.sha256
    raise BadArchive(f"model {ref.name!r} has no revision {ref.rev} in the archive", field=f"{where}.model.rev")


def pair(entries: Iterable[Named], existing: Iterable[T], *, name: Callable[[T], str]) -> list[T | None]:
    """For each entry, the space's next unpaired item of the same name, oldest first, or None."""
    pools: defaultdict[str, deque[T]] = defaultdict(deque)
    for item in existing:
        pools[name(item)].append(item)
    return [pools[entry.name].popleft() if pools[entry.name] else None for entry in entries]


def private_copy(source: Path, target: Path) -> Path:
    """A file of its own for a service that moves what it is given (a hard link when the disk allows)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


def _validated(kind: type[M], data: dict[str, Any], *, where: str) -> M:
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise BadArchive(error["msg"], field=where + location(error["loc"]).removeprefix("manifest")) from None


def _bare(error: InvalidInput) -> str:
    """The message without the field prefix InvalidInput puts on it (the import names its own field)."""
    prefix = f"{error.field}: " if error.field else ""
    return error.message.removeprefix(prefix)
