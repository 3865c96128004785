"""Deployments: create, read, edit details and settings, delete; states change in `lifecycle`.

Creating one starts a deploy operation; the serving engine follows the rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from champion import changes, patch
from champion.db import utcnow
from champion.deployments import lifecycle, runtime_values
from champion.deployments import patch as rules
from champion.deployments import settings as deployment_settings
from champion.deployments.errors import DeploymentNotFound, ServingNameTaken
from champion.deployments.runtime_values import RuntimeValue
from champion.deployments.schemas import NewDeployment
from champion.deployments.settings import DeploymentSettings
from champion.deployments.tables import Deployment, DeploymentSettingsRow
from champion.deployments.types import Kind, State
from champion.errors import Conflict, InvalidInput, PreconditionFailed
from champion.models import service as models
from champion.models.errors import ModelNotFound, NoContent, VersionNotFound
from champion.models.runtime_parameters import from_stored
from champion.models.tables import ModelVersion
from champion.operations.tables import Operation
from champion.runtimes import Signature, compiled
from champion.spaces import service as spaces
from champion.spaces.tables import SpaceMember
from champion.spaces.types import Role
from champion.users.service import Actor

OWNER_LEFT = "The deployment owner has left the space: a space admin must assign a new owner."


@dataclass(frozen=True)
class Described:
    """A deployment with the model version it serves, and what a reader should be warned of."""

    deployment: Deployment
    version: ModelVersion
    """The champion: what the deployment answers predictions with now."""
    owner_left: bool = False
    candidate: ModelVersion | None = None
    """The version a replacement under way is preparing (None when none is): WML shows it as the
    deployment's asset while it updates, as the seed's asset patch answer does."""
    settings: DeploymentSettings = field(default_factory=DeploymentSettings)
    """Its settings, among them WML's `hardware_request` and batch `parameters`."""

    @property
    def serving_form(self) -> compiled.ServingForm | None:
        """Which form of the champion answers (compiled by ONNX Runtime, or native) and its measured deviation,
        as this process loaded it; None when this process has not loaded the champion (a CLI, a failed one)."""
        if not self.settings.compiled.enabled:
            return compiled.TURNED_OFF
        return compiled.recorded(self.version.sha256)

    @property
    def target(self) -> ModelVersion:
        """The version the deployment is headed for: the candidate while one is prepared, else the champion."""
        return self.candidate or self.version

    @property
    def etag(self) -> str:
        """A quoted tag that changes whenever the deployment does: a caller who read it may ask for a
        change only if the deployment is still as they read it (`expected_etag`; WML's If-Match)."""
        d = self.deployment
        digest = hashlib.sha256(f"{d.id}:{d.generation}:{d.modified_at.isoformat()}".encode()).hexdigest()
        return f'"{digest[:20]}"'


def create(
    session: Session,
    actor: Actor,
    *,
    space_id: str,
    new: NewDeployment,
    runtime_parameter_values: Sequence[RuntimeValue] = (),
    settings: Mapping[str, Any] | None = None,
) -> tuple[Described, Operation]:
    """Record the deployment, its runtime parameter values and settings, and its deploy operation in one commit.

    The runner does the rest. `runtime_parameter_values` are merged with the served version's
    defaults (`runtime_values.merge`): a parameter the version requires (allowEmpty false, no
    default) left without a value is an InvalidInput naming `runtime_parameter_values.<name>`, so
    no deployment is ever created unable to run its model.
    `settings` (a partial settings document, as `settings.update` takes) start the deployment with
    what an update could have given it; without them every setting is off. Nothing is written
    unless all of it holds.
    """
    spaces.require(session, actor, space_id, Role.EDITOR)
    try:
        model = models.get_model(session, actor, model_id=new.model_id, space_id=space_id)
        version = _version(session, actor, model_id=model.id, rev=new.rev)
    except ModelNotFound:
        raise InvalidInput(f"no model with id {new.model_id!r} in this space", field="asset.id") from None
    except (VersionNotFound, NoContent) as exc:
        raise InvalidInput(exc.message, field="asset.rev" if new.rev is not None else "asset.id") from None
    if new.serving_name is not None and not serving_name_available(session, new.serving_name):
        raise ServingNameTaken(f"the serving name {new.serving_name!r} is taken")
    values = runtime_values.merge(from_stored(version.runtime_parameters), {}, runtime_parameter_values)
    first_settings = (
        deployment_settings.checked(settings, signature=Signature.from_dict(version.signature))
        if settings is not None
        else None
    )
    if first_settings is not None:
        _check_batch_kind(first_settings, kind=new.kind)
    deployment = Deployment(
        space_id=space_id,
        name=new.name,
        description=new.description,
        tags=new.tags,
        custom=new.custom,
        kind=new.kind.value,
        serving_name=new.serving_name,
        hardware_spec=new.hardware_spec,
        owner_id=actor.user_id,
        model_id=model.id,
        version_id=version.id,
    )
    operation = lifecycle.deploy_new(session, deployment, actor_id=actor.user_id)
    if values or first_settings is not None:  # no row means every default
        deployment_settings.store_new(
            session, deployment_id=deployment.id, settings=first_settings, runtime_values=values
        )
    session.commit()
    return Described(deployment, version, settings=first_settings or DeploymentSettings()), operation


def _version(session: Session, actor: Actor, *, model_id: str, rev: int | None) -> ModelVersion:
    if rev is not None:
        return models.get_version(session, actor, model_id=model_id, number=rev)
    version = models.latest_version(session, model_id=model_id)
    if version is None:
        raise NoContent("the model has no content yet: upload it before deploying")
    return version


def get(session: Session, actor: Actor, *, deployment_id: str, space_id: str | None = None) -> Described:
    deployment = session.get(Deployment, deployment_id)
    if deployment is None or not spaces.sees(session, actor, deployment.space_id, within=space_id):
        raise DeploymentNotFound(f"no deployment with id {deployment_id!r}")
    return _describe(session, deployment)


def _describe(session: Session, deployment: Deployment) -> Described:
    owner = session.get(SpaceMember, (deployment.space_id, deployment.owner_id))
    owner_left = owner is None or owner.state != "active"
    candidate = session.get(ModelVersion, deployment.candidate_version_id) if deployment.candidate_version_id else None
    kept = deployment_settings.stored(session, deployment_id=deployment.id)
    return Described(deployment, _champion(session, deployment), owner_left, candidate, kept)


def _champion(session: Session, deployment: Deployment) -> ModelVersion:
    version = session.get(ModelVersion, deployment.version_id)
    assert version is not None, "a deployment's version is protected by a foreign key"
    return version


def list_deployments(
    session: Session,
    actor: Actor,
    *,
    space_id: str,
    model_id: str | None = None,
    serving_name: str | None = None,
) -> list[Described]:
    spaces.role_of(session, actor, space_id)
    query = select(Deployment).where(Deployment.space_id == space_id).order_by(Deployment.created_at)
    if model_id is not None:
        query = query.where(Deployment.model_id == model_id)
    if serving_name is not None:
        query = query.where(Deployment.serving_name == serving_name)
    return [_describe(session, d) for d in session.scalars(query)]


def update_details(
    session: Session,
    actor: Actor,
    *,
    deployment_id: str,
    operations: Any,
    space_id: str | None = None,
    expected_etag: str | None = None,
) -> Described:
    """Apply a JSON Patch to a deployment's details: all of it, or none of it.

    With `expected_etag`, only if the deployment is still as the caller read it.
    """
    described = get(session, actor, deployment_id=deployment_id, space_id=space_id)
    check_unchanged(described, expected_etag)
    deployment = described.deployment
    parsed = patch.parse_operations(operations)
    patch.check_paths(parsed, rules.PATCHABLE)
    rules.check_rules(parsed, role=spaces.role_of(session, actor, deployment.space_id))
    if rules.touches(parsed, rules.ASSET_PATH):
        raise InvalidInput("replacing the deployed asset is not available yet", field="[0].path")
    current = document(described)
    changed = patch.validated(
        rules.DeploymentDocument, patch.apply(current.model_dump(mode="json"), parsed), prefix="/", separator="/"
    )
    rules.check_kind(changed, kind=Kind(deployment.kind))
    if changed.metadata.owner != deployment.owner_id:
        _check_new_owner(session, deployment.space_id, changed.metadata.owner)
    serving_name = changed.online.parameters.serving_name if changed.online else None
    if serving_name != deployment.serving_name:
        if deployment.kind != Kind.ONLINE:
            raise InvalidInput("only online deployments have a serving name", field="/online/parameters")
        if serving_name is not None and not serving_name_available(session, serving_name):
            raise ServingNameTaken(f"the serving name {serving_name!r} is taken")
        deployment.serving_name = serving_name
        lifecycle.touch(session, deployment)
    deployment.name, deployment.description, deployment.tags = changed.name, changed.description, changed.tags
    deployment.custom, deployment.hardware_spec = changed.custom, changed.hardware_spec
    deployment.owner_id = changed.metadata.owner
    deployment.modified_at = utcnow()
    _keep_requested(session, deployment, changed)
    try:
        session.commit()
    except IntegrityError:  # another first edit of the settings inserted their row meanwhile
        session.rollback()
        raise Conflict("the deployment changed while you edited it; read it again and retry") from None
    return _describe(session, deployment)


def _keep_requested(session: Session, deployment: Deployment, changed: rules.DeploymentDocument) -> None:
    """Store WML's hardware request and batch parameters with the settings, if the patch changed them.

    Nothing served changes (`settings.HARDWARE_NOT_APPLIED`): they are recorded for the reader.
    """
    kept = deployment_settings.current(session, deployment_id=deployment.id)
    batch = changed.batch or kept.batch
    if (changed.hardware_request, batch) == (kept.hardware_request, kept.batch):
        return
    updated = kept.model_copy(update={"hardware_request": changed.hardware_request, "batch": batch})
    deployment_settings.keep(session, deployment_id=deployment.id, settings=updated)


def check_unchanged(described: Described, expected_etag: str | None) -> None:
    """PreconditionFailed unless the deployment still has the tag the caller read (None: no condition)."""
    if expected_etag is not None and expected_etag != described.etag:
        raise PreconditionFailed("the deployment changed since you read it (its ETag is no longer the one given)")


def document(described: Described) -> rules.DeploymentDocument:
    d = described.deployment
    online = (
        rules.Online(parameters=rules.OnlineParameters(serving_name=d.serving_name)) if d.kind == Kind.ONLINE else None
    )
    return rules.DeploymentDocument(
        name=d.name,
        description=d.description,
        tags=d.tags,
        custom=d.custom,
        hardware_spec=d.hardware_spec,
        hardware_request=described.settings.hardware_request,
        online=online,
        batch=described.settings.batch if d.kind == Kind.BATCH else None,
        metadata=rules.Owner(owner=d.owner_id),
        asset=rules.Asset(id=d.model_id, rev=str(described.version.number)),
    )


def _check_new_owner(session: Session, space_id: str, user_id: str) -> None:
    member = session.get(SpaceMember, (space_id, user_id))
    if member is None or member.state != "active" or not Role(member.role).allows(Role.EDITOR):
        raise InvalidInput(
            f"the new owner {user_id!r} must be an admin or editor of the space", field="/metadata/owner"
        )


def serving_name_available(session: Session, name: str) -> bool:
    return session.scalar(select(Deployment.id).where(Deployment.serving_name == name)) is None


def delete(session: Session, actor: Actor, *, deployment_id: str, space_id: str | None = None) -> None:
    described = get(session, actor, deployment_id=deployment_id, space_id=space_id)
    spaces.require(session, actor, described.deployment.space_id, Role.EDITOR)
    session.delete(described.deployment)
    changes.bump(session, changes.Topic.DEPLOYMENTS)
    session.commit()


def deactivate(session: Session, actor: Actor, *, deployment_id: str) -> Described:
    """Stop answering predictions; the champion stays what it is. Deactivating twice is a no-op.

    Only a ready deployment can be deactivated: one that is starting or being replaced must
    finish first, so no operation finds its deployment changed under it.
    """
    described = get(session, actor, deployment_id=deployment_id)
    deployment = described.deployment
    spaces.require(session, actor, deployment.space_id, Role.EDITOR)
    if deployment.state == State.INACTIVE:
        return described
    lifecycle.deactivate(session, deployment)
    session.commit()
    return _describe(session, deployment)


def activate(session: Session, actor: Actor, *, deployment_id: str) -> tuple[Described, Operation | None]:
    """Answer predictions again. An active deployment is left as it is (no operation).

    Activation is a deploy of the champion: the deployment turns `initializing`, and the deploy
    operation makes it `ready` once every server process serves it again (a process started
    while it was inactive has not loaded it), or `failed` if one cannot. A failed deployment is
    activated the same way: a retry, once what made it fail (a missing model file) is repaired.
    """
    described = get(session, actor, deployment_id=deployment_id)
    deployment = described.deployment
    spaces.require(session, actor, deployment.space_id, Role.EDITOR)
    if deployment.state in (State.READY, State.UPDATING):
        return described, None
    operation = lifecycle.activate(session, deployment, actor_id=actor.user_id)
    session.commit()
    session.refresh(deployment)
    return _describe(session, deployment), operation


# --- settings and runtime parameter values --------------------------------------------------------


def get_settings(session: Session, actor: Actor, *, deployment_id: str) -> DeploymentSettings:
    """The settings of a deployment the caller can see."""
    described = get(session, actor, deployment_id=deployment_id)
    return deployment_settings.stored(session, deployment_id=described.deployment.id)


def update_settings(
    session: Session, actor: Actor, *, deployment_id: str, changes: Mapping[str, Any]
) -> DeploymentSettings:
    """Merge `changes` (a partial settings document) into the stored settings; all of it, or none.

    Objects merge key by key; lists (percentiles, attributes, rules) are replaced whole. The result
    must hold for the current champion: tracked attributes and rule features are features it takes,
    and intervals need a regression model.
    """
    described = get(session, actor, deployment_id=deployment_id)
    deployment = described.deployment
    spaces.require(session, actor, deployment.space_id, Role.EDITOR)
    current = deployment_settings.current(session, deployment_id=deployment.id)
    changed = deployment_settings.checked(
        changes, signature=Signature.from_dict(described.version.signature), current=current
    )
    _check_batch_kind(changed, kind=Kind(deployment.kind))
    deployment_settings.keep(session, deployment_id=deployment.id, settings=changed)
    try:
        session.commit()
    except IntegrityError:  # another first edit inserted the row meanwhile
        session.rollback()
        raise Conflict("the settings changed while you edited them; read them again and retry") from None
    return changed


def _check_batch_kind(settings: DeploymentSettings, *, kind: Kind) -> None:
    """Batch parameters belong to batch deployments (`patch.check_kind`'s rule, for a settings document)."""
    if kind == Kind.ONLINE and settings.batch.parameters:
        raise InvalidInput("an online deployment has no batch parameters", field="batch.parameters")


def runtime_values_of(session: Session, actor: Actor, *, deployment_id: str) -> dict[str, Any]:
    """The champion's runtime parameter values by name: the stored ones, its defaults for the rest."""
    described = get(session, actor, deployment_id=deployment_id)
    values = deployment_settings.stored_runtime_values(session, deployment_id=described.deployment.id)
    definitions = from_stored(described.version.runtime_parameters)
    return {d.field_name: values.get(d.field_name, d.default_value) for d in definitions}


Mark = tuple[int, dt.datetime, dt.datetime | None]
"""What moves whenever anything a server process follows about one deployment does: its generation,
its row's and its settings row's modification times."""


def serving_marks(session: Session) -> dict[str, Mark]:
    """Every deployment's mark, from a few small columns: a process compares them with the marks of
    what it built, and reads in full only the deployments whose mark moved (or that are new)."""
    rows = session.execute(
        select(
            Deployment.id, Deployment.generation, Deployment.modified_at, DeploymentSettingsRow.modified_at
        ).outerjoin(DeploymentSettingsRow, DeploymentSettingsRow.deployment_id == Deployment.id)
    )
    return {d: (generation, modified, kept) for d, generation, modified, kept in rows}


@dataclass(frozen=True)
class Served:
    """A deployment as a server process follows it: champion, candidate and settings, with its mark."""

    described: Described
    mark: Mark


def serving_snapshot(session: Session, *, ids: Collection[str] | None = None) -> list[Served]:
    """The deployments named by `ids` (every one when None), each with its champion, its candidate and
    its settings, in one query: what each server process should be serving."""
    candidate = aliased(ModelVersion)
    query = (
        select(Deployment, ModelVersion, candidate, DeploymentSettingsRow)
        .join(ModelVersion, ModelVersion.id == Deployment.version_id)
        .outerjoin(candidate, candidate.id == Deployment.candidate_version_id)
        .outerjoin(DeploymentSettingsRow, DeploymentSettingsRow.deployment_id == Deployment.id)
    )
    if ids is not None:
        query = query.where(Deployment.id.in_(list(ids)))
    return [
        Served(
            Described(
                d,
                v,
                candidate=c,
                settings=DeploymentSettings.model_validate(kept.settings or {}) if kept else DeploymentSettings(),
            ),
            (d.generation, d.modified_at, kept.modified_at if kept else None),
        )
        for d, v, c, kept in session.execute(query)
    ]
