"""Deployments: creating one starts a deploy operation; the serving engine follows the rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from champion import changes
from champion.db import utcnow
from champion.deployments.errors import DeploymentNotFound, ServingNameTaken
from champion.deployments.schemas import NewDeployment
from champion.deployments.tables import Deployment
from champion.deployments.types import State
from champion.errors import InvalidInput
from champion.models import service as models
from champion.models.errors import ModelNotFound, NoContent, VersionNotFound
from champion.models.tables import ModelVersion
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationKind
from champion.spaces import service as spaces
from champion.spaces.errors import SpaceNotFound
from champion.spaces.types import Role
from champion.users.service import Actor


@dataclass(frozen=True)
class Described:
    """A deployment with the model version it serves."""

    deployment: Deployment
    version: ModelVersion


def create(session: Session, actor: Actor, *, space_id: str, new: NewDeployment) -> tuple[Described, Operation]:
    """Record the deployment and its deploy operation in one commit; the runner does the rest."""
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
        state=State.INITIALIZING.value,
    )
    session.add(deployment)
    session.flush()
    operation = operations.create(
        session,
        kind=OperationKind.DEPLOY,
        space_id=space_id,
        target_id=deployment.id,
        created_by=actor.user_id,
        payload={"version_id": version.id},
    )
    changes.bump(session, changes.Topic.DEPLOYMENTS)
    session.commit()
    return Described(deployment, version), operation


def _version(session: Session, actor: Actor, *, model_id: str, rev: int | None) -> ModelVersion:
    if rev is not None:
        return models.get_version(session, actor, model_id=model_id, number=rev)
    version = models.latest_version(session, model_id=model_id)
    if version is None:
        raise NoContent("the model has no content yet: upload it before deploying")
    return version


def get(session: Session, actor: Actor, *, deployment_id: str, space_id: str | None = None) -> Described:
    deployment = session.get(Deployment, deployment_id)
    if deployment is None or (space_id is not None and deployment.space_id != space_id):
        raise DeploymentNotFound(f"no deployment with id {deployment_id!r}")
    try:
        spaces.role_of(session, actor, deployment.space_id)
    except SpaceNotFound:
        raise DeploymentNotFound(f"no deployment with id {deployment_id!r}") from None
    return Described(deployment, _champion(session, deployment))


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
    return [Described(d, _champion(session, d)) for d in session.scalars(query)]


def serving_name_available(session: Session, name: str) -> bool:
    return session.scalar(select(Deployment.id).where(Deployment.serving_name == name)) is None


def delete(session: Session, actor: Actor, *, deployment_id: str, space_id: str | None = None) -> None:
    described = get(session, actor, deployment_id=deployment_id, space_id=space_id)
    spaces.require(session, actor, described.deployment.space_id, Role.EDITOR)
    session.delete(described.deployment)
    changes.bump(session, changes.Topic.DEPLOYMENTS)
    session.commit()


def mark_ready(session: Session, *, deployment_id: str, version_id: str) -> None:
    """The champion is loaded and warm: serve it (a deploy operation's last step)."""
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        return  # deleted meanwhile: nothing to mark
    deployment.state, deployment.version_id, deployment.failure = State.READY.value, version_id, None
    _touch(session, deployment)


def mark_failed(session: Session, *, deployment_id: str, code: str, message: str) -> None:
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        return
    deployment.state, deployment.failure = State.FAILED.value, [{"code": code, "message": message}]
    _touch(session, deployment)


def _touch(session: Session, deployment: Deployment) -> None:
    deployment.generation += 1
    deployment.modified_at = utcnow()
    changes.bump(session, changes.Topic.DEPLOYMENTS)


def serving_snapshot(session: Session) -> list[Described]:
    """Every deployment with its champion: what each server process should be serving."""
    rows = session.execute(
        select(Deployment, ModelVersion).join(ModelVersion, ModelVersion.id == Deployment.version_id)
    )
    return [Described(d, v) for d, v in rows]
