"""The model registry's rules: who may add, change and remove models, and what an upload must be."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from champion import blob_references, patch, runtimes
from champion.artifacts import ArtifactStore
from champion.db import utcnow
from champion.deployments.tables import Deployment
from champion.errors import InvalidInput
from champion.models import revisions, software_specs
from champion.models import signature as signatures
from champion.models.errors import ModelInUse, ModelNotFound, NoContent, NotAModel, VersionNotFound
from champion.models.mlflow import LoggedModel
from champion.models.runtime_parameters import parse_definitions
from champion.models.schemas import ModelDetails, NewModel, SoftwareSpecRef
from champion.models.tables import ModelVersion, RegisteredModel
from champion.models.types import ModelType, RevisionMetadata, parse_model_type
from champion.models.unpack import model_file
from champion.replacement import trial
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor

PATCHABLE = ("/name", "/description", "/tags", "/software_spec", "/custom")


def create_model(session: Session, actor: Actor, *, space_id: str, new: NewModel) -> RegisteredModel:
    spaces.require(session, actor, space_id, Role.EDITOR)
    parse_model_type(new.type)
    _check_software_spec(new.software_spec_id, model_type=new.type, field="software_spec.id")
    model = RegisteredModel(
        space_id=space_id,
        name=new.name,
        description=new.description,
        tags=new.tags,
        type=new.type,
        software_spec_id=new.software_spec_id,
        label_column=new.label_column,
        declared_input=[f.__dict__ for f in new.declared_input] if new.declared_input else None,
        custom=new.custom,
        owner_id=actor.user_id,
    )
    session.add(model)
    session.commit()
    return model


def get_model(session: Session, actor: Actor, *, model_id: str, space_id: str | None = None) -> RegisteredModel:
    """The model, if the caller is a member of its space (and it is in `space_id`, when given)."""
    model = session.get(RegisteredModel, model_id)
    if model is None or not spaces.sees(session, actor, model.space_id, within=space_id):
        raise ModelNotFound(f"no model with id {model_id!r}")
    return model


def list_models(session: Session, actor: Actor, *, space_id: str) -> list[RegisteredModel]:
    spaces.role_of(session, actor, space_id)
    query = select(RegisteredModel).where(RegisteredModel.space_id == space_id).order_by(RegisteredModel.created_at)
    return list(session.scalars(query))


def update_model(session: Session, actor: Actor, *, model_id: str, operations: Any) -> RegisteredModel:
    model = get_model(session, actor, model_id=model_id)
    spaces.require(session, actor, model.space_id, Role.EDITOR)
    current = ModelDetails(
        name=model.name,
        description=model.description,
        tags=model.tags,
        software_spec=SoftwareSpecRef(id=model.software_spec_id),
        custom=model.custom,
    )
    changed = patch.apply_to(current, operations, allowed=PATCHABLE)
    spec_id = changed.software_spec.id
    if spec_id != model.software_spec_id or changed.software_spec.name is not None:
        # Only a spec the patch names is checked: a model whose spec this server no longer offers
        # (another Python) can still be renamed.
        _check_software_spec(spec_id, model_type=model.type, field="/software_spec/id", name=changed.software_spec.name)
    model.name, model.description, model.tags = changed.name, changed.description, changed.tags
    model.software_spec_id, model.custom = spec_id, changed.custom
    model.modified_at = utcnow()
    session.commit()
    return model


def delete_model(session: Session, actor: Actor, store: ArtifactStore, *, model_id: str) -> None:
    model = get_model(session, actor, model_id=model_id)
    spaces.require(session, actor, model.space_id, Role.EDITOR)
    in_use = session.scalars(select(Deployment.name).where(Deployment.model_id == model.id)).all()
    if in_use:
        raise ModelInUse(f"the model is deployed by {', '.join(sorted(in_use))}: delete those deployments first")
    digests = set(session.scalars(select(ModelVersion.sha256).where(ModelVersion.model_id == model.id)))
    session.delete(model)
    session.commit()
    blob_references.forget_unused(session, store, digests)


def add_version(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    model_id: str,
    upload: Path,
    limit: int,
    runtime_parameters: Sequence[Mapping[str, Any]] | None = None,
    signature: runtimes.Signature | None = None,
    metadata: RevisionMetadata | None = None,
) -> ModelVersion:
    """Check that the upload loads as the model's declared type, then keep it as the next version.

    `upload` stays the caller's to remove (it may be kept already, moved under its digest).

    The file is loaded once with its real library to read the signature. Nothing is
    written unless every check passes, and a kept blob is removed again if the row
    cannot be committed, so no version lacks its artifact and no artifact lacks a version.
    `runtime_parameters` are the definitions the version declares (checked first; see
    `models/runtime_parameters.py`); a version never changes, so they are fixed here.
    `signature`, when given, is recorded instead of the one read from the file: an import passes the
    signature its archive carried, which its plan has already merged onto this file's by the rules
    of a logged MLflow signature (`models.mlflow.merge`). `metadata`, when given, is the revision's snapshot
    instead of the model's current metadata: an import keeps each revision's own; its software spec must
    fit the model's type like any other.
    """
    model = get_model(session, actor, model_id=model_id)
    spaces.require(session, actor, model.space_id, Role.EDITOR)
    if metadata is not None:
        _check_software_spec(metadata.software_spec_id, model_type=model.type, field="software_spec")
    declared = [d.to_json() for d in parse_definitions(runtime_parameters)] if runtime_parameters else None
    workdir = store.stage_dir()
    try:
        path, framework, read = check_upload(
            upload,
            workdir,
            limit=limit,
            model_type=model.type,
            declared_input=model.declared_input,
            label_column=model.label_column,
        )
        staged = store.stage(path)
        _lock(session, model)
        version = ModelVersion(
            model_id=model.id,
            number=_next_number(session, model_id=model.id),
            framework=framework.value,
            sha256=staged.sha256,
            size=staged.size,
            filename=path.name,
            signature=(signature or read).to_dict(),
            runtime_parameters=declared,
            created_by=actor.user_id,
            **_snapshot(metadata or _metadata(model)),
        )
        session.add(version)
        session.flush()
        created = not store.exists(staged.sha256)
        store.keep(staged)
        try:
            session.commit()
        except Exception:
            session.rollback()
            # Only a blob this upload brought in may go: one that was there already is another
            # version's (or another upload's, committing now), and no version may lose its blob.
            if created:
                blob_references.forget_unused(session, store, {staged.sha256})
            raise
        return version
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check_upload(
    upload: Path,
    workdir: Path,
    *,
    limit: int,
    model_type: str,
    declared_input: list[dict[str, Any]] | None,
    label_column: str | None,
) -> tuple[Path, runtimes.Framework, runtimes.Signature]:
    """Everything `add_version` checks of an upload, writing nothing: the model file, its framework, its signature.

    For an MLflow model folder the model file is its flavor's file, and the signature the one it was
    logged with (`models/mlflow.py`); the version keeps that file alone, with the signature.
    """
    found = model_file(upload, workdir, limit=limit)
    logged, path = (found, found.path) if isinstance(found, LoggedModel) else (None, found)
    framework, signature = _inspect(path, parse_model_type(model_type), logged=logged)
    declared = [signatures.DeclaredField(**f) for f in declared_input] if declared_input else None
    return path, framework, signatures.complete(signature, declared=declared, label=label_column)


def _inspect(
    path: Path, declared: ModelType, *, logged: LoggedModel | None = None
) -> tuple[runtimes.Framework, runtimes.Signature]:
    try:
        framework = runtimes.detect(path)
        if logged is not None:
            logged.admit(framework)
        if framework not in declared.frameworks:
            raise NotAModel(f"the model type is {declared} but the file is a {framework.value} model", field="content")
        # Loaded in the trial process, never here: see `trial.inspect`.
        own, library = trial.inspect(path, framework)
        if framework is runtimes.Framework.SKLEARN and declared.family in ("xgboost", "lightgbm"):
            library = library or declared.family
            if library != declared.family:
                raise NotAModel(f"the model type is {declared} but the pickle holds a {library} model", field="content")
        return framework, logged.signature(own, framework) if logged is not None else own
    except runtimes.RuntimeLoadError as exc:
        raise NotAModel(str(exc), field="content") from exc


def _lock(session: Session, model: RegisteredModel) -> None:
    """Take the model row's write lock until the commit, before numbering a new revision.

    Touching the row takes a row lock on PostgreSQL (the database's write lock on SQLite): concurrent
    uploads and revisions of one model number theirs in turn, each reading the newest number (and, for
    a revision, the newest content) the one before it committed.
    """
    model_id = model.id
    model.modified_at = utcnow()
    try:
        session.flush()
    except StaleDataError:  # the model was deleted meanwhile
        session.rollback()
        raise ModelNotFound(f"no model with id {model_id!r}") from None


def _metadata(model: RegisteredModel) -> RevisionMetadata:
    """The model's editable metadata, as a revision made now keeps it."""
    return RevisionMetadata(
        name=model.name,
        description=model.description,
        tags=tuple(model.tags),
        software_spec_id=model.software_spec_id,
        custom=model.custom,
    )


def _snapshot(metadata: RevisionMetadata) -> dict[str, Any]:
    """A revision's metadata columns (copies: a revision never changes)."""
    return {
        "name": metadata.name,
        "description": metadata.description,
        "tags": list(metadata.tags),
        "software_spec_id": metadata.software_spec_id,
        "custom": copy.deepcopy(metadata.custom),
    }


def _next_number(session: Session, *, model_id: str) -> int:
    """The number the model's next version takes; call it holding the model row's lock (`_lock`)."""
    return (session.scalar(select(func.max(ModelVersion.number)).where(ModelVersion.model_id == model_id)) or 0) + 1


def latest_version(session: Session, *, model_id: str) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.number.desc()).limit(1)
    return session.scalar(query)


def get_version(session: Session, actor: Actor, *, model_id: str, number: int) -> ModelVersion:
    get_model(session, actor, model_id=model_id)
    # A number no revision can have is missing without asking: SQLite cannot bind one beyond 64 bits.
    version = (
        session.scalar(select(ModelVersion).where(ModelVersion.model_id == model_id, ModelVersion.number == number))
        if revisions.in_range(number)
        else None
    )
    if version is None:
        raise VersionNotFound(f"model {model_id!r} has no revision {number}")
    return version


def list_versions(session: Session, actor: Actor, *, model_id: str) -> list[ModelVersion]:
    get_model(session, actor, model_id=model_id)
    query = select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.number)
    return list(session.scalars(query))


def create_revision(
    session: Session, actor: Actor, *, model_id: str, commit_message: str | None = None
) -> ModelVersion:
    """Freeze the model's current metadata and content as a new revision, every time it is called.

    The content is the newest revision's file: the new revision names the same blob (by its
    SHA-256), so nothing is stored twice; its signature and runtime parameters come with the file.
    `commit_message` is kept with it, as said.
    """
    model = get_model(session, actor, model_id=model_id)
    spaces.require(session, actor, model.space_id, Role.EDITOR)
    _lock(session, model)
    newest = latest_version(session, model_id=model_id)
    if newest is None:
        session.rollback()
        raise NoContent("the model has no content yet: upload it before creating a revision")
    version = ModelVersion(
        model_id=model.id,
        number=newest.number + 1,
        framework=newest.framework,
        sha256=newest.sha256,
        size=newest.size,
        filename=newest.filename,
        signature=newest.signature,
        runtime_parameters=newest.runtime_parameters,
        commit_message=commit_message,
        created_by=actor.user_id,
        **_snapshot(_metadata(model)),
    )
    session.add(version)
    session.commit()
    return version


def sweep_orphans(session: Session, store: ArtifactStore, *, keep: Iterable[str] = ()) -> int:
    """Remove blobs no row names (left by a crash between keeping and committing), except `keep`."""
    referenced = blob_references.all_in_use(session) | set(keep)
    orphans = [digest for digest in store.digests() if digest not in referenced]
    for digest in orphans:
        store.delete(digest)
    return len(orphans)


def _check_software_spec(spec_id: str, *, model_type: str, field: str, name: str | None = None) -> None:
    """The spec must be one champion offers, named as it is (when a name is given), and fit the model's family."""
    spec = software_specs.find(spec_id=spec_id)
    if spec is None:
        names = ", ".join(spec.name for spec in software_specs.CATALOGUE)
        raise InvalidInput(f"Unsupported software specification {spec_id!r}; champion offers {names}", field=field)
    if name is not None and name != spec.name:
        raise InvalidInput(
            f"the software specification {spec_id!r} is named {spec.name!r}, not {name!r}",
            field=field.rsplit("/", 1)[0] + "/name",
        )
    if not spec.fits(model_type):
        family = parse_model_type(model_type).family
        names = ", ".join(s.name for s in software_specs.fitting(model_type))
        raise InvalidInput(
            f"the software specification {spec.name!r} runs {' and '.join(spec.model_types)} models, "
            f"not {family} models; the specifications that fit {family} models are {names}",
            field=field,
        )
