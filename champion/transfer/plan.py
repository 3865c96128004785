"""Planning an import: pair archive items with the target space's by name, and check all of it before a write.

Items pair by name, in order: the first archive model named "churn" with the space's oldest
model named "churn", the second with the next, and so on, so a space holding two models of one
name round-trips as two. Every check the writes would make is made here first — the manifest's
fields, each revision's runtime parameter definitions, each served revision, every model file the
import would add (loaded once with its real library against the model it will join) with the
signature the archive gives it, and a new deployment's settings and runtime parameter values
against the revision it will serve — so a bad item stops the import before anything is written.

A revision's signature is what its file reports with the archive's inputs applied by the rules of a
logged MLflow signature (`models.mlflow.merge`: the same number of inputs, types the file pins kept,
no strings for a runtime that reads numbers; target type and classes the file's), so names the file
cannot know (a model fitted on a bare array, logged with column names) survive the trip. An archive
without signatures imports with what the file alone reports.

A revision is known by its file's SHA-256. One the model already holds is not added again, even
when the archive's copy declares other runtime parameters or another signature: a version never
changes, so the model's revision keeps its own, and the report says so.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from champion.deployments import runtime_values
from champion.deployments import service as deployments
from champion.deployments import settings as deployment_settings
from champion.deployments.runtime_values import RuntimeValue
from champion.deployments.schemas import NewDeployment
from champion.deployments.service import Described
from champion.errors import InvalidInput
from champion.jobs import assets
from champion.jobs.schemas import NewDataAsset
from champion.jobs.tables import DataAsset
from champion.models import mlflow, software_specs
from champion.models import service as models
from champion.models import signature as model_signature
from champion.models.runtime_parameters import RuntimeParameterDefinition, from_stored, parse_definitions
from champion.models.schemas import NewModel
from champion.models.tables import ModelVersion, RegisteredModel
from champion.models.types import RevisionMetadata, parse_model_type
from champion.runtimes import Framework, Signature
from champion.transfer.errors import BadArchive
from champion.transfer.manifest import (
    DataAssetEntry,
    DeploymentEntry,
    Manifest,
    ModelEntry,
    SignatureEntry,
    VersionEntry,
    location,
)
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
    held: tuple[ModelVersion, ...] = ()
    """The target's revisions before the import, in number order (none for a new model)."""
    metadata: Mapping[int, RevisionMetadata] = field(default_factory=dict)
    """Per position in `entry.versions` of a revision to add, its own metadata snapshot, when the archive
    carried one (older archives: the revision takes the model's)."""


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
    signatures: tuple[Mapping[int, Signature], ...]
    """Per model step, the signature each revision it adds will have, by position in `entry.versions`."""


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
    signatures = [
        _check_files(step, blobs, workdir / f"check-{i}", where=f"manifest.models[{i}]", limit=limit)
        for i, step in enumerate(model_steps)
    ]
    return Plan(
        models=model_steps,
        assets=tuple(_asset_steps(session, actor, space_id, manifest)),
        deployments=tuple(_deployment_steps(session, actor, space_id, manifest, model_steps, signatures)),
        signatures=tuple(signatures),
    )


def _model_steps(session: Session, actor: Actor, space_id: str, manifest: Manifest) -> Iterable[ModelStep]:
    existing = models.list_models(session, actor, space_id=space_id)
    by_name = pair(manifest.models, existing, name=lambda model: model.name)
    for i, (entry, target) in enumerate(zip(manifest.models, by_name, strict=True)):
        where = f"manifest.models[{i}]"
        declared = [_definitions(version, where=f"{where}.versions[{j}]") for j, version in enumerate(entry.versions)]
        if target is not None:
            held = tuple(models.list_versions(session, actor, model_id=target.id))
            # Per file: which revisions hold it (named for the report), and the definitions and inputs each keeps.
            have: defaultdict[str, list[tuple[str, list[Any], Inputs | None]]] = defaultdict(list)
            for v in held:
                kept = _inputs_of(Signature.from_dict(v.signature))
                have[v.sha256].append((f"revision {v.number} here", v.runtime_parameters or [], kept))
            missing, differing = [], []
            for j, version in enumerate(entry.versions):
                inputs = _inputs_of(version.signature) if version.signature is not None else None
                if version.sha256 not in have:
                    missing.append(j)
                    holder = f"the archive's revision {version.number}"
                    have[version.sha256].append((holder, declared[j] or [], inputs))
                    continue
                holders = have[version.sha256]
                other = []
                if declared[j] is not None and all(declared[j] != kept for _, kept, _ in holders):
                    other.append("declares other runtime parameters")
                if inputs is not None and all(kept is not None and inputs != kept for _, _, kept in holders):
                    other.append("has another signature")
                if other:
                    holder = holders[-1][0]
                    differing.append(
                        f"the archive's revision {version.number} has the same file as {holder} but "
                        f"{' and '.join(other)}; a revision never changes, so {holder} keeps its own"
                    )
            metadata, spec_notes = _revision_metadata(entry, missing, model_type=target.type)
            yield ModelStep(entry, target, None, tuple(missing), (*differing, *spec_notes), held, metadata)
            continue
        spec_id, notes = _software_spec(entry.type, entry.software_spec_id, entry.software_spec_name)
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
        everything = tuple(range(len(entry.versions)))
        metadata, spec_notes = _revision_metadata(entry, everything, model_type=entry.type)
        yield ModelStep(entry, None, new, everything, (*notes, *spec_notes), (), metadata)


def _software_spec(model_type: str, spec_id: str, spec_name: str | None) -> tuple[str, tuple[str, ...]]:
    """The archive's software spec if this server offers it (by id, then name), else this server's own.

    A spec names the Python the exporting server ran; another server may run another one,
    and each file is loaded with this server's libraries before it is kept anyway.
    """
    spec = software_specs.find(spec_id=spec_id) or software_specs.find(name=spec_name)
    if spec is not None and spec.fits(model_type):
        return spec.id, ()
    fallback = software_specs.CATALOGUE[0]
    if spec is not None:  # the general spec fits every family; create_model would refuse this one
        return fallback.id, (f"software spec {spec.name!r} does not fit {model_type} models; using {fallback.name!r}",)
    named = spec_name or spec_id
    return fallback.id, (f"software spec {named!r} is not offered here; using {fallback.name!r}",)


def _revision_metadata(
    entry: ModelEntry, positions: Iterable[int], *, model_type: str
) -> tuple[dict[int, RevisionMetadata], tuple[str, ...]]:
    """Each added revision's own snapshot, with its software spec resolved as the model's is."""
    metadata, notes = {}, []
    for j in positions:
        carried = entry.versions[j].metadata
        if carried is None:
            continue
        spec_id, spec_notes = _software_spec(model_type, carried.software_spec_id, carried.software_spec_name)
        notes += [f"revision {entry.versions[j].number}: {note}" for note in spec_notes]
        metadata[j] = RevisionMetadata(
            name=carried.name,
            description=carried.description,
            tags=tuple(carried.tags),
            software_spec_id=spec_id,
            custom=dict(carried.custom),
        )
    return metadata, tuple(notes)


def _definitions(version: VersionEntry, *, where: str) -> list[dict[str, Any]] | None:
    """The revision's runtime parameter definitions as `add_version` will store them (None: not carried)."""
    if version.runtime_parameters is None:
        return None
    try:
        definitions = parse_definitions(version.runtime_parameters, field="runtime_parameters")
    except InvalidInput as exc:
        raise BadArchive(f"revision {version.number}: {_bare(exc)}", field=f"{where}.{exc.field}") from None
    return [d.to_json() for d in definitions]


Inputs = list[tuple[str, str]]
"""A signature's input features as (name, type): what an archive's signature decides of a revision."""


def _inputs_of(signature: Signature | SignatureEntry) -> Inputs:
    return [(f.name, f.type.value) for f in signature.features]


def _check_files(
    step: ModelStep, blobs: Mapping[str, Path], workdir: Path, *, where: str, limit: int
) -> dict[int, Signature]:
    """Load every file the step would add, as add_version will, against the model it will join: the signature each
    added revision will have, by its position in `entry.versions` (the file's own, with the archive's applied)."""
    if step.target is not None:
        model_type, declared, label = step.target.type, step.target.declared_input, step.target.label_column
    else:
        model_type, declared, label = step.entry.type, _declared(step.entry), step.entry.label_column
    fields = [model_signature.DeclaredField(**f) for f in declared] if declared else None
    loaded: dict[str, tuple[Framework, Signature]] = {}
    checked: dict[int, Signature] = {}
    for j in step.add:
        version = step.entry.versions[j]
        item = f"{where}.versions[{j}]"
        prefix = f"model {step.entry.name!r} revision {version.number}: "
        try:
            if version.sha256 not in loaded:
                loaded[version.sha256] = _load(blobs[version.sha256], version, workdir / str(j), limit, model_type)
            framework, own = loaded[version.sha256]
            # The checks of an upload as they were: the file's own signature against the model's declarations.
            checked[j] = model_signature.complete(own, declared=fields, label=label)
        except InvalidInput as exc:
            raise BadArchive(prefix + _bare(exc), field=item) from None
        if version.signature is None:
            continue
        given = version.signature
        # Placeholder names (`named` False) are the file's own: only the types apply.
        inputs = tuple(mlflow.Column(f.name if given.named else None, f.type) for f in given.features)
        try:
            merged = mlflow.merge(
                own,
                inputs,
                framework,
                output_name=given.target.name if given.target else None,
                source="the archive's signature",
            )
            checked[j] = model_signature.complete(merged, declared=fields, label=label)
        except InvalidInput as exc:
            raise BadArchive(prefix + _bare(exc), field=f"{item}.signature") from None
    return checked


def _load(blob: Path, version: VersionEntry, folder: Path, limit: int, model_type: str) -> tuple[Framework, Signature]:
    """Load the file as an upload is loaded: its framework and the signature it reports on its own."""
    upload = private_copy(blob, folder / version.file_name)
    try:
        (folder / "unpacked").mkdir(parents=True, exist_ok=True)
        _, framework, own = models.check_upload(
            upload, folder / "unpacked", limit=limit, model_type=model_type, declared_input=None, label_column=None
        )
        return framework, own
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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


def _deployment_steps(
    session: Session,
    actor: Actor,
    space_id: str,
    manifest: Manifest,
    model_steps: Sequence[ModelStep],
    signatures: Sequence[Mapping[int, Signature]],
) -> Iterable[DeploymentStep]:
    existing = deployments.list_deployments(session, actor, space_id=space_id)
    by_name = pair(manifest.deployments, existing, name=lambda described: described.deployment.name)
    claimed: set[str] = set()
    for i, (entry, target) in enumerate(zip(manifest.deployments, by_name, strict=True)):
        where = f"manifest.deployments[{i}]"
        sha256 = _served_file(manifest, entry, where=where)
        if target is not None:
            yield DeploymentStep(entry, sha256, target, None)
            continue
        fields = entry.model_dump(exclude={"model", "settings", "runtime_parameter_values"})
        _validated(NewDeployment, {**fields, "model_id": PLACEHOLDER_ID}, where=where)
        index = entry.model.index
        signature, definitions = _served_version(model_steps[index], signatures[index], sha256, entry.model.rev)
        _check_settings(entry, signature, definitions, where=where)
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


def _served_version(
    step: ModelStep, signatures: Mapping[int, Signature], sha256: str, rev: int
) -> tuple[Signature, list[RuntimeParameterDefinition]]:
    """The signature and runtime parameters of the revision `apply` will deploy, before it exists.

    The target model's revisions with the served file, as they will be numbered once the step's
    revisions are added, chosen by `same_revision` as `apply` will choose among the real ones.
    """
    found: list[tuple[int, Signature, list[RuntimeParameterDefinition]]] = []
    for held in step.held:
        if held.sha256 == sha256:
            found.append((held.number, Signature.from_dict(held.signature), from_stored(held.runtime_parameters)))
    number = max((held.number for held in step.held), default=0)
    for j in step.add:
        number += 1
        version = step.entry.versions[j]
        if version.sha256 == sha256:
            found.append((number, signatures[j], from_stored(version.runtime_parameters)))
    assert found, "a served revision is held or added"
    _, signature, definitions = found[same_revision([n for n, _, _ in found], rev)]
    return signature, definitions


def same_revision(numbers: Sequence[int], rev: int) -> int:
    """Which of the target's revisions holding the served file (their numbers, ascending) a new deployment
    serves: the one numbered as in the source, else the newest."""
    return numbers.index(rev) if rev in numbers else len(numbers) - 1


def _check_settings(
    entry: DeploymentEntry, signature: Signature, definitions: Sequence[RuntimeParameterDefinition], *, where: str
) -> None:
    """Refuse what `deployments.create` would: settings `settings.update` would refuse, and runtime values that do
    not fit the served revision's definitions (or leave a required one empty)."""
    prefix = f"deployment {entry.name!r}: "
    if entry.settings is not None:
        try:
            deployment_settings.checked(entry.settings, signature=signature)
        except InvalidInput as exc:
            raise BadArchive(
                prefix + _bare(exc), field=".".join(filter(None, (where, "settings", exc.field)))
            ) from None
    try:
        runtime_values.merge(definitions, {}, runtime_entries(entry))
    except InvalidInput as exc:
        name = (exc.field or "").removeprefix(f"{runtime_values.FIELD}.")
        raise BadArchive(prefix + _bare(exc), field=f"{where}.runtime_parameter_values.{name}") from None


def runtime_entries(entry: DeploymentEntry) -> list[RuntimeValue]:
    """The archive's values by name, as `deployments.create` takes them."""
    return [RuntimeValue(name, value) for name, value in (entry.runtime_parameter_values or {}).items()]


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
