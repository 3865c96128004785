"""champion's challengers on the WML face: `/ml/v4/deployments/{id}/challengers` (WML has no challengers).

In the style of the other extensions: snake_case JSON, `space_id` in the query like every WML
deployment route (another space's id is a 404), errors in the WML shape (`WMLRoute`). A challenger
names its model as WML names models, an asset `{"id", "rev"}` (the newest revision without `rev`),
resolved here to a model version of the deployment's space with the models service; every rule
(members read, editors change, at most five, not the champion, the same kind of target, a model
that loads) is the challengers service's. Every answer about challengers carries each one's latest
comparison with the champion (null before its first replay).

    GET    .../challengers                   {"total_count", "limit", "resources": [challenger]}
    POST   .../challengers                   {"asset": {"id", "rev"?}, "name"?} -> 201 challenger
    PATCH  .../challengers/{id}              a JSON Patch of /name (as WML edits its resources) -> 200 challenger
    DELETE .../challengers/{id}              204
    POST   .../challengers/replay            202 the replay's operation; 409 while one runs
    POST   .../challengers/{id}/promote      {"reason"?} -> 202 the deployment, as PATCH /asset answers it

    challenger  {"metadata": {"id", "name", "deployment_id", "space_id", "created_at", "href"},
                 "entity": {"asset": {"id", "rev"}, "model_version_id", "comparison"}}
    comparison  {"rows", "failed_rows", "first_error", "agreement", "difference", "seconds_per_row",
                 "actual_rows", "accuracy", "champion_accuracy", "replay": {"id", "finished_at", "rows"}}

Promoting is a replacement like any other (`replacement.service.start` with the challenger's model
and revision, and the reason): checked, recorded in the history, reversible by rollback, and refused
with a 400 carrying the checks when a check fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from champion import patch
from champion.api.deps import ActorDep, RunnerDep, SessionDep, StoreDep
from champion.api.wml import render
from champion.api.wml.errors import WMLRoute
from champion.api.wml.schemas import AssetRef, Strict
from champion.challengers import service as challengers
from champion.challengers.service import Compared
from champion.deployments import service as deployments
from champion.deployments.tables import Deployment
from champion.errors import InvalidInput
from champion.models import service as models
from champion.models.errors import ModelNotFound, VersionNotFound
from champion.operations.tables import Operation
from champion.replacement import service as replacement
from champion.replacement.types import Reason
from champion.users.service import Actor

router = APIRouter(route_class=WMLRoute)

CHALLENGERS = "/ml/v4/deployments/{deployment_id}/challengers"


class NewChallenger(Strict):
    asset: AssetRef
    name: str | None = None


class PromoteRequest(Strict):
    reason: Reason = Reason.OTHER


class ChallengerDetails(BaseModel):
    """What a PATCH may change."""

    model_config = ConfigDict(extra="forbid")

    name: str


@router.get(CHALLENGERS)
def list_challengers(
    deployment_id: str, request: Request, session: SessionDep, actor: ActorDep, space_id: str | None = None
) -> dict[str, Any]:
    deployment = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id).deployment
    found = challengers.listed(session, actor, deployment_id=deployment.id)
    return render.page([_challenger(deployment, c) for c in found])


@router.post(CHALLENGERS, status_code=201)
def add_challenger(
    deployment_id: str,
    body: NewChallenger,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    space_id: str | None = None,
) -> dict[str, Any]:
    deployment = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id).deployment
    version_id = _version_id(session, actor, deployment.space_id, body.asset)
    try:
        added = challengers.add(
            session, actor, store, deployment_id=deployment.id, version_id=version_id, name=body.name
        )
    except InvalidInput as error:
        raise _renamed(error, {"version_id": "asset.id"}) from None
    return _challenger(deployment, challengers.get(session, actor, deployment_id=deployment.id, challenger_id=added.id))


@router.post(f"{CHALLENGERS}/replay", status_code=202)
def replay(
    deployment_id: str, session: SessionDep, actor: ActorDep, runner: RunnerDep, space_id: str | None = None
) -> dict[str, Any]:
    """Score the champion's latest captured rows through every challenger (editors); the list shows what it found."""
    deployment = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id).deployment
    started, operation = challengers.start_replay(session, actor, deployment_id=deployment.id)
    runner.wake()
    return _operation(operation, started.id)


@router.patch(f"{CHALLENGERS}/{{challenger_id}}")
def update_challenger(
    deployment_id: str,
    challenger_id: str,
    session: SessionDep,
    actor: ActorDep,
    space_id: str | None = None,
    body: Any = Body(),
) -> dict[str, Any]:
    deployment = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id).deployment
    current = challengers.get(session, actor, deployment_id=deployment.id, challenger_id=challenger_id)
    details = patch.apply_to(ChallengerDetails(name=current.challenger.name), body, allowed={"/name"})
    try:
        renamed = challengers.rename(
            session, actor, deployment_id=deployment.id, challenger_id=challenger_id, name=details.name
        )
    except InvalidInput as error:
        raise _renamed(error, {"name": "/name"}) from None
    return _challenger(deployment, renamed)


@router.delete(f"{CHALLENGERS}/{{challenger_id}}", status_code=204)
def remove_challenger(
    deployment_id: str, challenger_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None
) -> Response:
    deployment = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id).deployment
    challengers.remove(session, actor, deployment_id=deployment.id, challenger_id=challenger_id)
    return Response(status_code=204)


@router.post(f"{CHALLENGERS}/{{challenger_id}}/promote", status_code=202)
def promote(
    deployment_id: str,
    challenger_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    runner: RunnerDep,
    space_id: str | None = None,
    body: PromoteRequest | None = None,
) -> Response:
    """Make the challenger the champion: a replacement by its model and revision, answered as PATCH /asset is."""
    deployment = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id).deployment
    version = challengers.get(session, actor, deployment_id=deployment.id, challenger_id=challenger_id).version
    started = replacement.start(
        session,
        actor,
        store,
        deployment_id=deployment.id,
        model_id=version.model_id,
        rev=version.number,
        reason=body.reason if body is not None else Reason.OTHER,
    )
    runner.wake()
    answer = render.described(started.described, str(request.base_url).rstrip("/"))
    render.add_validation(answer, started.report)
    return Response(
        orjson.dumps(answer),
        status_code=202,
        media_type="application/json",
        headers={"ETag": started.described.etag},
    )


def _version_id(session: Session, actor: Actor, space_id: str, asset: AssetRef) -> str:
    """The model version an asset names in the deployment's space: its revision, or its newest."""
    try:
        model = models.get_model(session, actor, model_id=asset.id, space_id=space_id)
        if asset.rev is not None:  # AssetRef checked it is a revision number
            return models.get_version(session, actor, model_id=model.id, number=int(asset.rev)).id
        version = models.latest_version(session, model_id=model.id)
    except ModelNotFound:
        raise InvalidInput(f"no model with id {asset.id!r} in the deployment's space", field="asset.id") from None
    except VersionNotFound as error:
        raise InvalidInput(error.message, field="asset.rev") from None
    if version is None:
        raise InvalidInput("the model has no content yet: upload it first", field="asset.id")
    return version.id


def _renamed(error: InvalidInput, names: Mapping[str, str]) -> InvalidInput:
    """The service's field (`version_id`, `name`) as the caller sent it (`asset.id`, `/name`)."""
    if error.field is None or error.field not in names:
        return error
    return InvalidInput(error.message.removeprefix(f"{error.field}: "), field=names[error.field])


def _challenger(deployment: Deployment, compared: Compared) -> dict[str, Any]:
    challenger, version = compared.challenger, compared.version
    return {
        "metadata": {
            "id": challenger.id,
            "name": challenger.name,
            "deployment_id": deployment.id,
            "space_id": deployment.space_id,
            "created_at": render.timestamp(challenger.created_at),
            "href": f"/ml/v4/deployments/{deployment.id}/challengers/{challenger.id}?space_id={deployment.space_id}",
        },
        "entity": {
            "asset": {"id": version.model_id, "rev": str(version.number)},
            "model_version_id": version.id,
            "comparison": _comparison(compared),
        },
    }


def _comparison(compared: Compared) -> dict[str, Any] | None:
    result, replay = compared.result, compared.replay
    if result is None or replay is None:
        return None
    return {
        "rows": result.rows,
        "failed_rows": result.failed_rows,
        "first_error": result.first_error,
        "agreement": _finite(result.agreement),
        "difference": _finite(result.difference),
        "seconds_per_row": _finite(result.seconds_per_row),
        "actual_rows": result.actual_rows,
        "accuracy": _finite_values(result.accuracy),
        "champion_accuracy": _finite_values(result.champion_accuracy),
        "replay": {
            "id": replay.id,
            "finished_at": render.timestamp(replay.finished_at) if replay.finished_at is not None else None,
            "rows": replay.rows,
        },
    }


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a figure the arithmetic could not keep finite is null."""
    return value if value is not None and math.isfinite(value) else None


def _finite_values(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _finite(value) if isinstance(value, float) else value for name, value in figures.items()}


def _operation(operation: Operation, replay_id: str) -> dict[str, Any]:
    return {
        "metadata": {"id": operation.id, "created_at": render.timestamp(operation.created_at)},
        "entity": {
            "kind": operation.kind,
            "state": operation.state,
            "deployment_id": operation.target_id,
            "replay_id": replay_id,
        },
    }
