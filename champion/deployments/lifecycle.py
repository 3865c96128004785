"""The deployment lifecycle: every change of a deployment's state is one named transition here.

    transition              from                  to              called by
    ----------------------  --------------------  --------------  --------------------------------
    deploy_new              (a new row)           initializing    deployments.service.create
    activate                inactive, failed      initializing    deployments.service.activate
    deployed                initializing          ready           the deploy handler (rollout.py)
    deploy_failed           initializing          failed          the deploy handler
    deactivate              ready                 inactive        deployments.service.deactivate
    begin_replacement       ready, failed         updating        replacement.service.start
    promote                 updating              updating        the replace handler, phase two:
                                                                  the candidate becomes the champion
    replacement_succeeded   updating              ready           the replace handler
    replacement_failed      updating              what it was     the replace handler (ready if the
                                                  before          candidate was already promoted)
    champion_lost           ready                 failed          each process's follower, when the
                                                                  champion's file cannot be loaded

No other module writes a deployment's `state`, `version_id`, `candidate_version_id` or
`failure`. Each transition is a conditional UPDATE on the state it starts from, so two
processes (or two requests) racing for the same deployment cannot both move it: the loser
learns so from the return value and nothing else changes. Transitions join the caller's
transaction and bump the `deployments` change counter; the caller commits.

Whether a replacement *may* start is not decided here but by the validation report
(`replacement.checks`); `begin_replacement` only makes sure nobody else moved first.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import update
from sqlalchemy.orm import Session

from champion import changes
from champion.db import utcnow
from champion.deployments.errors import NotReady
from champion.deployments.tables import Deployment
from champion.deployments.types import State
from champion.models.tables import ModelVersion
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationKind

logger = logging.getLogger(__name__)

DEPLOY_FAILED = "deployment_failed"
REPLACEMENT_FAILED = "replacement_failed"
MODEL_UNAVAILABLE = "model_unavailable"
"""The failure code of a champion that served once and can no longer be loaded (its file is gone or
damaged): the deployment is failed, and the server's readiness probe says so until it is repaired."""


class DeployPayload(BaseModel):
    """What a deploy operation loads: the champion it was started for."""

    model_config = ConfigDict(frozen=True)

    version_id: str


def deploy_new(session: Session, deployment: Deployment, *, actor_id: str) -> Operation:
    """A new deployment starts `initializing`, with the deploy operation that will load it everywhere."""
    deployment.state = State.INITIALIZING.value
    session.add(deployment)
    session.flush()
    changes.bump(session, changes.Topic.DEPLOYMENTS)
    return _deploy_operation(session, deployment, actor_id=actor_id)


def activate(session: Session, deployment: Deployment, *, actor_id: str) -> Operation:
    """Deploy an inactive deployment's champion again, or retry a failed one (its file may be back)."""
    _move(session, deployment, (State.INACTIVE, State.FAILED), State.INITIALIZING, failure=None)
    return _deploy_operation(session, deployment, actor_id=actor_id)


def _deploy_operation(session: Session, deployment: Deployment, *, actor_id: str) -> Operation:
    return operations.create(
        session,
        kind=OperationKind.DEPLOY,
        space_id=deployment.space_id,
        target_id=deployment.id,
        created_by=actor_id,
        payload=DeployPayload(version_id=deployment.version_id),
    )


def deployed(session: Session, *, deployment_id: str, version_id: str) -> bool:
    """Every process serves the champion: the deployment is ready. False if it moved on meanwhile."""
    return _moved(
        session, deployment_id, (State.INITIALIZING,), State.READY, version_id=version_id, failure=None
    ) or _gone(deployment_id, "deployed")


def deploy_failed(session: Session, *, deployment_id: str, message: str) -> bool:
    """A process could not load the champion (or not in time): the deployment failed, saying why."""
    failure = [{"code": DEPLOY_FAILED, "message": message}]
    return _moved(session, deployment_id, (State.INITIALIZING,), State.FAILED, failure=failure) or _gone(
        deployment_id, "deploy_failed"
    )


def deactivate(session: Session, deployment: Deployment) -> None:
    """Stop answering predictions; NotReady unless the deployment is ready (nothing else may be running)."""
    _move(session, deployment, (State.READY,), State.INACTIVE)


def begin_replacement(session: Session, deployment: Deployment, *, candidate_version_id: str) -> State | None:
    """Name the candidate and turn `updating`; the state it left, or None if another request moved it first.

    The report decided the replacement may start from the state it saw; the UPDATE holds only
    if the deployment is still in that state, so of two replacements racing only one starts.
    """
    previous = State(deployment.state)
    if previous not in (State.READY, State.FAILED):
        return None
    moved = _moved(session, deployment.id, (previous,), State.UPDATING, candidate_version_id=candidate_version_id)
    return previous if moved else None


def promote(session: Session, deployment: Deployment, *, version_id: str, model_id: str) -> None:
    """Phase two of a replacement: the prepared candidate becomes the champion (the asset follows it).

    The deployment keeps the features of the champion it leaves: requests may still carry them, and
    they stay accepted (`replacement.service.retired_fields`), read from this one row, not the history.
    """
    outgoing = session.get(ModelVersion, deployment.version_id)
    taken = {feature["name"] for feature in outgoing.signature["features"]} if outgoing else set()
    if not taken <= set(deployment.earlier_features):
        deployment.earlier_features = sorted(taken | set(deployment.earlier_features))
    deployment.version_id, deployment.model_id = version_id, model_id
    deployment.candidate_version_id = None
    touch(session, deployment)


def replacement_succeeded(session: Session, *, deployment_id: str) -> bool:
    return _moved(session, deployment_id, (State.UPDATING,), State.READY, failure=None)


def replacement_failed(
    session: Session, *, deployment_id: str, candidate_version_id: str, previous: State, message: str
) -> bool:
    """Back to the state it was in, the champion unchanged, saying why; or `ready` if the candidate
    had already been promoted (rare: it is committed and serving, so that is the truth)."""
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        return False
    if deployment.version_id == candidate_version_id:
        return _moved(session, deployment_id, (State.UPDATING,), State.READY)
    failure = [{"code": REPLACEMENT_FAILED, "message": message}]
    return _moved(session, deployment_id, (State.UPDATING,), previous, candidate_version_id=None, failure=failure)


def champion_lost(session: Session, *, deployment_id: str, version_id: str, message: str) -> bool:
    """A ready deployment's champion can no longer be loaded (its file is missing or damaged): failed.

    Only while it is still ready with that champion: a replacement under way, or one that already
    swapped another model in, is left alone.
    """
    moved = session.execute(
        update(Deployment)
        .where(
            Deployment.id == deployment_id,
            Deployment.state == State.READY.value,
            Deployment.version_id == version_id,
        )
        .values(
            state=State.FAILED.value,
            failure=[{"code": MODEL_UNAVAILABLE, "message": message}],
            generation=Deployment.generation + 1,
            modified_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    changes.bump(session, changes.Topic.DEPLOYMENTS)
    logger.warning("deployment %s failed: its model cannot be loaded: %s", deployment_id, message)
    return True


def touch(session: Session, deployment: Deployment) -> None:
    """Record a change the serving engine must follow (champion, state or serving name)."""
    deployment.generation += 1
    deployment.modified_at = utcnow()
    changes.bump(session, changes.Topic.DEPLOYMENTS)


def _move(session: Session, deployment: Deployment, sources: Collection[State], target: State, **values: Any) -> None:
    """A transition a caller asked for: NotReady, naming the state, when the deployment is elsewhere."""
    if not _moved(session, deployment.id, sources, target, **values):
        session.rollback()
        allowed = " or ".join(s.value for s in sources)
        raise NotReady(f"the deployment is {deployment.state}, not {allowed}: it cannot become {target.value}")
    session.refresh(deployment)


def _moved(session: Session, deployment_id: str, sources: Collection[State], target: State, **values: Any) -> bool:
    moved = session.execute(
        update(Deployment)
        .where(Deployment.id == deployment_id, Deployment.state.in_([s.value for s in sources]))
        .values(state=target.value, generation=Deployment.generation + 1, modified_at=utcnow(), **values)
        .execution_options(synchronize_session="fetch")
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    changes.bump(session, changes.Topic.DEPLOYMENTS)
    logger.info("deployment %s is %s", deployment_id, target.value)
    return True


def _gone(deployment_id: str, transition: str) -> bool:
    logger.info("deployment %s: %s skipped, it was deleted or moved on meanwhile", deployment_id, transition)
    return False
