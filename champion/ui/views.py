"""What the pages show, gathered from the services: names for ids, and what the caller's role lets them use.

Nothing here decides a rule. The role comes from `spaces.service`; the greyed-out controls only
spare a user a refusal the services would give anyway (they still check every request).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from champion.deployments import service as deployments
from champion.deployments.service import Described
from champion.deployments.types import State
from champion.models import service as models
from champion.models.tables import ModelVersion, RegisteredModel
from champion.replacement import service as replacement
from champion.replacement.service import HistoryEntry
from champion.replacement.types import Outcome
from champion.spaces import service as spaces
from champion.spaces.tables import Space, SpaceMember
from champion.spaces.types import Role
from champion.users import service as users
from champion.users.errors import UserNotFound
from champion.users.service import Actor

BUSY = (State.UPDATING.value, State.INITIALIZING.value)
NOTHING_TO_ROLL_BACK = "No earlier model to return to."


def user_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    names = {}
    for user_id in set(ids):
        try:
            names[user_id] = users.get_user(session, user_id=user_id).name
        except UserNotFound:
            names[user_id] = "(deleted user)"
    return names


@dataclass(frozen=True)
class Permissions:
    """What the caller's role in a space lets them use, and why not when it does not."""

    role: Role

    @property
    def may_edit(self) -> bool:
        return self.role.allows(Role.EDITOR)

    @property
    def may_manage(self) -> bool:
        return self.role.allows(Role.ADMIN)

    @property
    def edit_reason(self) -> str:
        return "" if self.may_edit else f"Needs the editor role in this space; you are a {self.role.value}."

    @property
    def manage_reason(self) -> str:
        return "" if self.may_manage else f"Only a space admin can do this; you are a {self.role.value}."

    def rollback_reason(self, target: ModelVersion | None) -> str:
        """Why Roll back is greyed out ("" when it is not): the role first, then nothing to return to.

        `target` is `replacement.service.rollback_target`'s answer, so the rule stays the service's.
        """
        return self.edit_reason or ("" if target is not None else NOTHING_TO_ROLL_BACK)


def permissions(session: Session, actor: Actor, space_id: str) -> Permissions:
    return Permissions(spaces.role_of(session, actor, space_id))


@dataclass
class SpaceView:
    space: Space
    can: Permissions
    models: list[RegisteredModel]
    versions: dict[str, list[ModelVersion]]
    deployments: list[Described]
    members: list[SpaceMember]
    names: dict[str, str]
    model_names: dict[str, str] = field(default_factory=dict)
    rollback_targets: dict[str, ModelVersion | None] = field(default_factory=dict)
    """Per deployment id, what Roll back would return to (None: nothing)."""

    def rollback_reason(self, deployment_id: str) -> str:
        return self.can.rollback_reason(self.rollback_targets.get(deployment_id))


def space_view(session: Session, actor: Actor, space_id: str) -> SpaceView:
    space = spaces.get_space(session, actor, space_id=space_id)
    registered = models.list_models(session, actor, space_id=space_id)
    versions = {m.id: models.list_versions(session, actor, model_id=m.id) for m in registered}
    described = deployments.list_deployments(session, actor, space_id=space_id)
    members = spaces.list_members(session, actor, space_id=space_id)
    ids = [m.user_id for m in members] + [d.deployment.owner_id for d in described]
    return SpaceView(
        space=space,
        can=permissions(session, actor, space_id),
        models=registered,
        versions=versions,
        deployments=described,
        members=members,
        names=user_names(session, ids),
        model_names={m.id: m.name for m in registered},
        rollback_targets={
            d.deployment.id: replacement.rollback_target(session, actor, deployment_id=d.deployment.id)
            for d in described
        },
    )


@dataclass
class DeploymentView:
    described: Described
    space: Space
    can: Permissions
    model: RegisteredModel
    owner_name: str
    owner_candidates: list[tuple[str, str]]
    """(user id, name) of the space's active admins and editors: who may own a deployment."""
    history: list[HistoryEntry]
    model_names: dict[str, str]
    names: dict[str, str]
    rollback_to: ModelVersion | None
    """What Roll back would return to (None: nothing)."""

    @property
    def busy(self) -> bool:
        return self.described.deployment.state in BUSY

    @property
    def rollback_reason(self) -> str:
        return self.can.rollback_reason(self.rollback_to)


def deployment_view(session: Session, actor: Actor, deployment_id: str) -> DeploymentView:
    described = deployments.get(session, actor, deployment_id=deployment_id)
    d = described.deployment
    space = spaces.get_space(session, actor, space_id=d.space_id)
    members = spaces.list_members(session, actor, space_id=d.space_id)
    owners = [m for m in members if m.state == "active" and Role(m.role).allows(Role.EDITOR)]
    history = replacement.history(session, actor, deployment_id=deployment_id)
    version_models = {d.model_id} | {
        v.model_id for e in history for v in (e.from_version, e.to_version) if v is not None
    }
    model_names = {}
    for model_id in version_models:
        model_names[model_id] = models.get_model(session, actor, model_id=model_id).name
    names = user_names(session, [d.owner_id, *(m.user_id for m in owners), *(e.record.actor_id for e in history)])
    return DeploymentView(
        described=described,
        space=space,
        can=permissions(session, actor, d.space_id),
        model=models.get_model(session, actor, model_id=d.model_id),
        owner_name=names[d.owner_id],
        owner_candidates=[(m.user_id, names[m.user_id]) for m in owners],
        history=history,
        model_names=model_names,
        names=names,
        rollback_to=replacement.rollback_target(session, actor, deployment_id=deployment_id),
    )


@dataclass(frozen=True)
class RollbackChoice:
    """An earlier champion the Roll back dialog offers: the model a recorded replacement replaced."""

    record_id: str
    version: ModelVersion
    model_name: str
    replaced: HistoryEntry


@dataclass(frozen=True)
class RollbackDialog:
    described: Described
    default: ModelVersion | None
    """Where a plain rollback goes (`replacement.service.rollback_target`), None when nowhere."""
    default_name: str
    choices: list[RollbackChoice]
    """The other earlier champions, newest first, each once; the champion itself is not offered."""


def rollback_dialog(session: Session, actor: Actor, deployment_id: str) -> RollbackDialog:
    """What Roll back can return to, from the history: the service still checks the choice made."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    default = replacement.rollback_target(session, actor, deployment_id=deployment_id)
    offered = {described.version.id} | ({default.id} if default else set())
    names: dict[str, str] = {}

    def name_of(version: ModelVersion) -> str:
        if version.model_id not in names:
            names[version.model_id] = models.get_model(session, actor, model_id=version.model_id).name
        return names[version.model_id]

    choices = []
    for entry in replacement.history(session, actor, deployment_id=deployment_id):
        earlier = entry.from_version
        if earlier is None or earlier.id in offered:
            continue
        offered.add(earlier.id)
        choices.append(RollbackChoice(entry.record.id, earlier, name_of(earlier), entry))
    return RollbackDialog(described, default, name_of(default) if default else "", choices)


@dataclass(frozen=True)
class Ending:
    """How a watched replacement ended, for the polite notification."""

    succeeded: bool
    text: str


def ending(session: Session, actor: Actor, deployment_id: str, record_id: str) -> Ending | None:
    """None while the replacement `record_id` runs; otherwise what the notification should say."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    if described.deployment.state in BUSY:
        return None
    entry = next(
        (e for e in replacement.history(session, actor, deployment_id=deployment_id) if e.record.id == record_id), None
    )
    if entry is None or entry.record.outcome == Outcome.RUNNING.value:
        return None
    name = described.deployment.name
    serving = models.get_model(session, actor, model_id=described.version.model_id).name
    now = f"{serving} revision {described.version.number}"
    if entry.record.outcome == Outcome.SUCCEEDED.value:
        return Ending(True, f"Deployment {name} was updated and is ready: it now serves {now}.")
    reason = entry.record.message or "no reason was recorded"
    return Ending(False, f"The replacement of {name} failed: {reason}. The old model still serves ({now}).")
