"""Challengers as a caller asks for them: add, list, rename, remove, replay, compare.

Members read; editors change. A deployment keeps at most `MAX_CHALLENGERS`; each is a model version
of the deployment's space, not its champion, predicting the same kind of target, and one that loads:
adding it runs the same trial a replacement candidate gets (`replacement.trial`: load and warm-up in
a child process). A replay (`replay.py`) scores the champion's latest captured rows through every
challenger off the serving path; its results compare each with the champion. Promoting a challenger
is a replacement like any other (`replacement.service.start`), with its reason, so it is checked,
recorded and reversible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from champion.artifacts import ArtifactStore
from champion.challengers.errors import ChallengerNotFound, ReplayNotFound, ReplayRunning, TooManyChallengers
from champion.challengers.tables import Challenger, ChallengerReplay, ChallengerResult
from champion.deployments import service as deployments
from champion.deployments import settings
from champion.deployments.tables import Deployment
from champion.errors import Conflict, InvalidInput
from champion.models.tables import ModelVersion, RegisteredModel
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationKind
from champion.replacement import trial
from champion.runtimes import Framework, Signature
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor

MAX_CHALLENGERS = 5


@dataclass(frozen=True)
class Compared:
    """A challenger with its latest replay result (None before its first replay)."""

    challenger: Challenger
    version: ModelVersion
    result: ChallengerResult | None
    replay: ChallengerReplay | None


def add(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    deployment_id: str,
    version_id: str,
    name: str | None = None,
) -> Challenger:
    """Add a challenger (editors). Refused, naming why: another kind of target, the champion itself, a
    sixth challenger, a version of another space, or one that does not load."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    deployment = described.deployment
    spaces.require(session, actor, deployment.space_id, Role.EDITOR)
    version = _version_in_space(session, version_id, deployment.space_id)
    if version.id == deployment.version_id:
        raise InvalidInput("this is the deployment's champion; a challenger is another model", field="version_id")
    count = session.scalar(
        select(func.count()).select_from(Challenger).where(Challenger.deployment_id == deployment.id)
    )
    if (count or 0) >= MAX_CHALLENGERS:
        raise TooManyChallengers(
            f"a deployment has at most {MAX_CHALLENGERS} challengers: remove one first", field="version_id"
        )
    ours, theirs = Signature.from_dict(described.version.signature), Signature.from_dict(version.signature)
    if ours.target.type is not theirs.target.type:
        raise InvalidInput(
            f"the champion is a {ours.target.type} model and this one a {theirs.target.type}: "
            "a challenger predicts the same kind of target",
            field="version_id",
        )
    outcome = trial.run(store.open_path(version.sha256), Framework(version.framework), theirs, None)
    if not outcome.loads:
        raise InvalidInput(f"the model cannot serve as a challenger: {outcome.load_error}", field="version_id")
    challenger = Challenger(
        deployment_id=deployment.id,
        version_id=version.id,
        name=(name or "").strip() or f"{version.model_id} v{version.number}",
        created_by=actor.user_id,
    )
    session.add(challenger)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("this model version is already a challenger of the deployment") from None
    return challenger


def listed(session: Session, actor: Actor, *, deployment_id: str) -> list[Compared]:
    """The deployment's challengers, oldest first, each with its latest replay result."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    found = session.scalars(
        select(Challenger).where(Challenger.deployment_id == described.deployment.id).order_by(Challenger.created_at)
    ).all()
    latest = _latest_replay(session, described.deployment.id)
    results = {}
    if latest is not None:
        results = {
            r.challenger_id: r
            for r in session.scalars(select(ChallengerResult).where(ChallengerResult.replay_id == latest.id))
        }
    compared = []
    for challenger in found:
        version = session.get(ModelVersion, challenger.version_id)
        assert version is not None, "a challenger's version is protected by a foreign key"
        result = results.get(challenger.id)
        compared.append(Compared(challenger, version, result, latest if result is not None else None))
    return compared


def get(session: Session, actor: Actor, *, deployment_id: str, challenger_id: str) -> Compared:
    for compared in listed(session, actor, deployment_id=deployment_id):
        if compared.challenger.id == challenger_id:
            return compared
    raise ChallengerNotFound(f"no challenger with id {challenger_id!r} in this deployment")


def rename(session: Session, actor: Actor, *, deployment_id: str, challenger_id: str, name: str) -> Compared:
    compared = get(session, actor, deployment_id=deployment_id, challenger_id=challenger_id)
    described = deployments.get(session, actor, deployment_id=deployment_id)
    spaces.require(session, actor, described.deployment.space_id, Role.EDITOR)
    if not name.strip() or len(name) > 255:
        raise InvalidInput("a challenger's name is 1 to 255 characters, not blank", field="name")
    compared.challenger.name = name.strip()
    session.commit()
    return get(session, actor, deployment_id=deployment_id, challenger_id=challenger_id)


def remove(session: Session, actor: Actor, *, deployment_id: str, challenger_id: str) -> None:
    compared = get(session, actor, deployment_id=deployment_id, challenger_id=challenger_id)
    described = deployments.get(session, actor, deployment_id=deployment_id)
    spaces.require(session, actor, described.deployment.space_id, Role.EDITOR)
    session.delete(compared.challenger)
    session.commit()


def start_replay(session: Session, actor: Actor, *, deployment_id: str) -> tuple[ChallengerReplay, Operation]:
    """Ask for a replay now (editors); ReplayRunning while one is under way."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    spaces.require(session, actor, described.deployment.space_id, Role.EDITOR)
    if not session.scalar(select(Challenger.id).where(Challenger.deployment_id == described.deployment.id).limit(1)):
        raise InvalidInput("the deployment has no challengers to replay its traffic through", field="deployment_id")
    return begin_replay(session, described.deployment.id, created_by=actor.user_id, scheduled_for=None)


def begin_replay(
    session: Session, deployment_id: str, *, created_by: str, scheduled_for: dt.datetime | None
) -> tuple[ChallengerReplay, Operation]:
    """Record a replay and its operation in one commit (on demand, or for a scheduled minute)."""
    running = _running_replay(session, deployment_id)
    if running is not None:
        raise ReplayRunning(
            f"a replay of this deployment's traffic is already running (operation {running.operation_id})"
        )
    deployment = session.get(Deployment, deployment_id)
    assert deployment is not None, "the caller found the deployment"
    operation = operations.create(
        session,
        kind=OperationKind.CHALLENGER_REPLAY,
        space_id=deployment.space_id,
        target_id=deployment.id,
        created_by=created_by,
    )
    session.flush()
    replay = ChallengerReplay(
        deployment_id=deployment.id,
        operation_id=operation.id,
        champion_version_id=deployment.version_id,
        scheduled_for=scheduled_for,
        state="running",
    )
    session.add(replay)
    session.commit()
    return replay, operation


def replay_operation(session: Session, actor: Actor, *, deployment_id: str, operation_id: str) -> Operation:
    """The operation of a replay of this deployment (members); ReplayNotFound for any other id."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    operation = session.get(Operation, operation_id)
    if (
        operation is None
        or operation.kind != OperationKind.CHALLENGER_REPLAY
        or operation.target_id != described.deployment.id
    ):
        raise ReplayNotFound(f"no replay with id {operation_id!r} of this deployment")
    return operation


def replay_rows(session: Session, *, deployment_id: str) -> int:
    return settings.stored(session, deployment_id=deployment_id).challenger_replay.rows


def _running_replay(session: Session, deployment_id: str) -> ChallengerReplay | None:
    return session.scalar(
        select(ChallengerReplay)
        .where(ChallengerReplay.deployment_id == deployment_id, ChallengerReplay.state == "running")
        .limit(1)
    )


def _latest_replay(session: Session, deployment_id: str) -> ChallengerReplay | None:
    return session.scalar(
        select(ChallengerReplay)
        .where(ChallengerReplay.deployment_id == deployment_id, ChallengerReplay.state == "succeeded")
        .order_by(ChallengerReplay.finished_at.desc())
        .limit(1)
    )


def _version_in_space(session: Session, version_id: str, space_id: str) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    model = session.get(RegisteredModel, version.model_id) if version is not None else None
    if version is None or model is None or model.space_id != space_id:
        raise InvalidInput(f"no model version with id {version_id!r} in the deployment's space", field="version_id")
    return version
