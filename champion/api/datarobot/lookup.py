"""Finding what DataRobot's ids name among champion's things, through the services' visibility rules.

DataRobot's ids map onto champion's like this:

- a **model package** (registered model version) is a champion **model version**: same id;
- a **registered model** is a champion **registered model** (a WML model asset): same id;
- a **learning model** (`modelId`, a leaderboard model) is a trained artefact, so it is a
  champion model version id too; a registered model id is accepted as well and means its newest
  version. A deployment's `model.id` is therefore the id of the version it serves, the same as
  its `modelPackage.id`.

Everything here fetches; the rules (who sees what, who may change what) stay in the services.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from champion.deployments import service as deployments
from champion.deployments.service import Described
from champion.errors import InvalidInput, NotFound
from champion.models import service as models
from champion.models.errors import ModelNotFound
from champion.models.tables import ModelVersion, RegisteredModel
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor


@dataclass(frozen=True)
class Package:
    """A model version with the registered model it belongs to."""

    version: ModelVersion
    model: RegisteredModel


@dataclass(frozen=True)
class DeploymentItem:
    """A deployment with what its DataRobot rendering needs: the champion's model and the caller's role."""

    described: Described
    model: RegisteredModel | None
    role: Role


class PackageNotFound(NotFound):
    pass


def package(session: Session, actor: Actor, *, package_id: str) -> Package:
    """The model version `package_id`, if the caller sees its model."""
    # A primary-key fetch; whether the caller may see it is the registry's rule (get_model).
    version = session.get(ModelVersion, package_id)
    if version is not None:
        with contextlib.suppress(ModelNotFound):
            return Package(version, models.get_model(session, actor, model_id=version.model_id))
    raise PackageNotFound(f"no model package with id {package_id!r}")


def learning_model(session: Session, actor: Actor, *, model_id: str) -> Package:
    """A model version id, or a registered model id meaning its newest version."""
    try:
        model = models.get_model(session, actor, model_id=model_id)
    except ModelNotFound:
        try:
            return package(session, actor, package_id=model_id)
        except PackageNotFound:
            raise PackageNotFound(f"no model with id {model_id!r}") from None
    version = models.latest_version(session, model_id=model.id)
    if version is None:
        raise InvalidInput(f"the model {model_id!r} has no content yet: upload it first", field="modelId")
    return Package(version, model)


def candidate(session: Session, actor: Actor, *, model_id: str | None, model_package_id: str | None) -> Package:
    """The model a replacement names: exactly one of `modelId` and `modelPackageId`."""
    if (model_id is None) == (model_package_id is None):
        raise InvalidInput("give exactly one of modelId and modelPackageId", field="modelId")
    with renamed_not_found("modelId" if model_id is not None else "modelPackageId"):
        if model_id is not None:
            return learning_model(session, actor, model_id=model_id)
        assert model_package_id is not None
        return package(session, actor, package_id=model_package_id)


@contextlib.contextmanager
def renamed_not_found(field: str) -> Iterator[None]:
    """A thing named in the body that does not exist is a bad field (400), not a missing resource."""
    try:
        yield
    except PackageNotFound as exc:
        raise InvalidInput(exc.message, field=field) from None


@contextlib.contextmanager
def renamed_fields(names: Mapping[str, str]) -> Iterator[None]:
    """Report a service's field names (`asset.id`, `/name`) as the DataRobot field the caller sent."""
    try:
        yield
    except InvalidInput as exc:
        if exc.field is None or exc.field not in names:
            raise
        plain = exc.message.removeprefix(f"{exc.field}: ")
        raise InvalidInput(plain, field=names[exc.field]) from None


def item(session: Session, actor: Actor, described: Described, *, role: Role | None = None) -> DeploymentItem:
    deployment = described.deployment
    try:
        model: RegisteredModel | None = models.get_model(session, actor, model_id=described.version.model_id)
    except ModelNotFound:
        model = None
    return DeploymentItem(described, model, role or spaces.role_of(session, actor, deployment.space_id))


def deployment_item(session: Session, actor: Actor, *, deployment_id: str) -> DeploymentItem:
    return item(session, actor, deployments.get(session, actor, deployment_id=deployment_id))


def visible_deployments(session: Session, actor: Actor) -> list[DeploymentItem]:
    """Every deployment in every space the caller is a member of (DataRobot has no spaces)."""
    items = []
    for space in spaces.list_spaces(session, actor):
        role = spaces.role_of(session, actor, space.id)
        for described in deployments.list_deployments(session, actor, space_id=space.id):
            items.append(item(session, actor, described, role=role))
    return items


def deployment_count(session: Session, actor: Actor, found: Package) -> int:
    """How many deployments serve this version now."""
    serving = deployments.list_deployments(session, actor, space_id=found.model.space_id, model_id=found.model.id)
    return sum(1 for d in serving if d.version.id == found.version.id)
