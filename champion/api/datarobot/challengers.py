"""DataRobot's challengers: `challengers/`, `challengerReplaySettings/` and `challengerPredictions/` of a deployment.

Each route parses, calls `champion.challengers.service` (or the settings service, for the replay
schedule) and renders in the shapes `datarobot==3.20.0` parses:

- The challenger document holds only `id`, `name`, `model`, `modelPackage` and
  `predictionEnvironment`: the client's converter refuses any other key. So the comparison a replay
  found is served apart, by champion's own `challengerComparison/`.
- Adding a challenger is synchronous here (its load trial runs before the answer), but the client
  waits on a status URL: POST answers 202 with a `Location` whose status answers a 303 to
  `.../challengers/{id}/`, trailing slash included (the client takes the id from the next-to-last
  segment of that URL).
- champion is its own and only prediction environment: `predictionEnvironmentId` is accepted and
  ignored, and `predictionEnvironment` is null.
- `challengerReplaySettings/` is the `challenger_replay` section of the deployment's settings, with
  DataRobot's camelCase schedule keys (`dayOfMonth`, `dayOfWeek`) and champion's `rows` beside
  `enabled` and `schedule`. The client does not poll, so a PATCH is answered at once (200, the
  settings as changed).
- `challengerPredictions/` starts a replay of the champion's latest captured rows through every
  challenger: 202 and a status URL; 429 while one runs, as DataRobot answers. champion replays the
  latest rows up to now, so a `timestamp` (DataRobot scores the rows up to a moment) is refused, not
  ignored.

Both status URLs are `challengerStatus/{id}/` under the deployment, not the shared `/api/v2/status/`
(`operations.py`), which answers deploy and replace operations only: a challenger is no operation.
The id is a challenger (done: a 303 to it) or a replay's operation: RUNNING while it runs (watched
for up to `operations.WAIT_SECONDS` first, as the shared route does), ERROR with the reason if it
failed, and a 303 to the deployment once it succeeded. The deployment, not the challengers list, for
two reasons: every other DataRobot status in champion ends there, so a generic poller sees one
protocol; and the list could not show what the replay found anyway (the client refuses extra keys).

The services name fields as champion does (`version_id`, `deployment_id`); errors here name
DataRobot's (`modelPackageId`, `deploymentId`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic.alias_generators import to_camel, to_snake
from sqlalchemy.orm import Session

from champion.api.datarobot import lookup, render
from champion.api.datarobot.deployments import base_url
from champion.api.datarobot.errors import DataRobotRoute, error_response
from champion.api.datarobot.operations import POLL_SECONDS, WAIT_SECONDS, StatusNotFound
from champion.api.datarobot.schemas import Body as DataRobotBody
from champion.api.deps import ActorDep, ContextDep, HotActorDep, RunnerDep, SessionDep, StoreDep
from champion.challengers import service as challengers
from champion.challengers.errors import ChallengerNotFound, ReplayNotFound, ReplayRunning
from champion.challengers.service import Compared
from champion.context import ServerContext
from champion.deployments import service as deployments
from champion.deployments.settings import ChallengerReplay, Schedule
from champion.errors import InvalidInput
from champion.models import service as models
from champion.models.errors import ModelNotFound
from champion.models.tables import RegisteredModel
from champion.operations.types import OperationState
from champion.runtimes import Signature
from champion.users.service import Actor

router = APIRouter(route_class=DataRobotRoute)

DEPLOYMENT = "/api/v2/deployments/{deployment_id}"

# The services' field names → the DataRobot names the caller sent (the deployment id is in the path).
FIELDS = {"version_id": "modelPackageId", "deployment_id": "deploymentId"}

SECTION = "challenger_replay"
"""The settings section `challengerReplaySettings/` reads and changes."""
REPLAY_KEYS = ("enabled", "schedule", "rows")
SECTION_FIELD = "schedule"
"""What an error about the section as a whole names: its one rule is that a scheduled replay needs a schedule."""

TOO_MANY_REQUESTS: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "a replay of this deployment's traffic is already running",
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}
            }
        },
    }
}


class NewChallenger(DataRobotBody):
    model_package_id: str = Field(min_length=1)
    name: str | None = None
    """Without one, the challenger is named after its model and version."""
    prediction_environment_id: str | None = None
    """champion is its own and only prediction environment: accepted, and ignored."""


class ChallengerUpdate(DataRobotBody):
    name: str | None = None
    prediction_environment_id: str | None = None


class ChallengerScore(DataRobotBody):
    timestamp: str | None = None


# ---- the challengers ----------------------------------------------------------------------------


@router.get(f"{DEPLOYMENT}/challengers/")
def list_challengers(deployment_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Every challenger on one page: the client reads `data` and never follows `next`."""
    documents = [_document(session, actor, c) for c in challengers.listed(session, actor, deployment_id=deployment_id)]
    return {"count": len(documents), "totalCount": len(documents), "next": None, "previous": None, "data": documents}


@router.post(f"{DEPLOYMENT}/challengers/", status_code=202)
def add_challenger(
    deployment_id: str, body: NewChallenger, request: Request, session: SessionDep, actor: ActorDep, store: StoreDep
) -> JSONResponse:
    with lookup.renamed_fields(FIELDS):
        added = challengers.add(
            session, actor, store, deployment_id=deployment_id, version_id=body.model_package_id, name=body.name
        )
    compared = challengers.get(session, actor, deployment_id=added.deployment_id, challenger_id=added.id)
    location = status_url(request, added.deployment_id, added.id)
    return JSONResponse(_document(session, actor, compared), status_code=202, headers={"Location": location})


@router.get(f"{DEPLOYMENT}/challengers/{{challenger_id}}/")
def get_challenger(deployment_id: str, challenger_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    compared = challengers.get(session, actor, deployment_id=deployment_id, challenger_id=challenger_id)
    return _document(session, actor, compared)


@router.patch(f"{DEPLOYMENT}/challengers/{{challenger_id}}/")
def update_challenger(
    deployment_id: str, challenger_id: str, body: ChallengerUpdate, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    """200 with the whole document: the client parses it (a 204 or `{}` would raise after the change)."""
    if body.name is None and body.prediction_environment_id is None:
        raise InvalidInput("give name or predictionEnvironmentId", field="name")
    current = challengers.get(session, actor, deployment_id=deployment_id, challenger_id=challenger_id)
    # Only a prediction environment (which champion ignores): still an edit, so still an editor's.
    name = body.name if body.name is not None else current.challenger.name
    compared = challengers.rename(session, actor, deployment_id=deployment_id, challenger_id=challenger_id, name=name)
    return _document(session, actor, compared)


@router.delete(f"{DEPLOYMENT}/challengers/{{challenger_id}}/", status_code=204)
def remove_challenger(deployment_id: str, challenger_id: str, session: SessionDep, actor: ActorDep) -> Response:
    challengers.remove(session, actor, deployment_id=deployment_id, challenger_id=challenger_id)
    return Response(status_code=204)


def _document(session: Session, actor: Actor, compared: Compared) -> dict[str, Any]:
    """The five keys the client's converter allows, and no other."""
    version = compared.version
    model = _model_of(session, actor, version.model_id)
    target = Signature.from_dict(version.signature).target
    return {
        "id": compared.challenger.id,
        "name": compared.challenger.name,
        "model": {
            "id": version.id,
            "type": model.type if model is not None else version.framework,
            "targetName": target.name,
            "targetType": render.TARGET_TYPES[target.type],
            "registeredModelId": version.model_id,
            "registeredModelVersion": version.number,
            "framework": version.framework,
        },
        "modelPackage": render.package_ref(version),
        "predictionEnvironment": None,
    }


def _model_of(session: Session, actor: Actor, model_id: str) -> RegisteredModel | None:
    with contextlib.suppress(ModelNotFound):
        return models.get_model(session, actor, model_id=model_id)
    return None


# ---- what the latest replay found (champion's own route) -----------------------------------------


@router.get(f"{DEPLOYMENT}/challengerComparison/")
def comparison(deployment_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """champion's extension: each challenger against the champion on the latest replay (null before one)."""
    return {"data": [_compared(c) for c in challengers.listed(session, actor, deployment_id=deployment_id)]}


def _compared(compared: Compared) -> dict[str, Any]:
    result, replay = compared.result, compared.replay
    body: dict[str, Any] = {
        "id": compared.challenger.id,
        "name": compared.challenger.name,
        "modelPackageId": compared.version.id,
    }
    if result is None:
        figures: dict[str, Any] = dict.fromkeys(
            ("rows", "failedRows", "firstError", "agreement", "difference", "secondsPerRow", "actualRows")
        )
        figures.update(accuracy={}, championAccuracy={})
    else:
        figures = {
            "rows": result.rows,
            "failedRows": result.failed_rows,
            "firstError": result.first_error,
            "agreement": _finite(result.agreement),
            "difference": _finite(result.difference),
            "secondsPerRow": _finite(result.seconds_per_row),
            "actualRows": result.actual_rows,
            "accuracy": _finite_values(result.accuracy),
            "championAccuracy": _finite_values(result.champion_accuracy),
        }
    body.update(figures)
    body["replay"] = (
        None
        if replay is None
        else {"id": replay.id, "finishedAt": render.timestamp(replay.finished_at), "rows": replay.rows}
    )
    return body


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a figure the arithmetic could not keep finite is null."""
    return value if value is not None and math.isfinite(value) else None


def _finite_values(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _finite(value) if isinstance(value, float) else value for name, value in figures.items()}


# ---- the replay schedule ---------------------------------------------------------------------------


@router.get(f"{DEPLOYMENT}/challengerReplaySettings/")
def get_replay_settings(deployment_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    return _replay_settings(deployments.get_settings(session, actor, deployment_id=deployment_id).challenger_replay)


@router.patch(f"{DEPLOYMENT}/challengerReplaySettings/")
def update_replay_settings(
    deployment_id: str, session: SessionDep, actor: ActorDep, body: Any = Body()
) -> dict[str, Any]:
    """Synchronous: `update_challenger_replay_settings` sends `{"enabled", "schedule"?}` and waits on nothing."""
    deployments.get(session, actor, deployment_id=deployment_id)  # unknown or invisible: 404 first
    changes = _replay_changes(body)
    try:
        changed = deployments.update_settings(session, actor, deployment_id=deployment_id, changes={SECTION: changes})
    except InvalidInput as error:
        raise _renamed(error) from None
    return _replay_settings(changed.challenger_replay)


def _replay_settings(replay: ChallengerReplay) -> dict[str, Any]:
    plain = replay.model_dump(mode="json")
    schedule = plain["schedule"]
    return {
        "enabled": plain["enabled"],
        "schedule": {to_camel(key): value for key, value in schedule.items()} if schedule is not None else None,
        "rows": plain["rows"],
    }


def _replay_changes(body: Any) -> dict[str, Any]:
    """DataRobot's partial document as the settings section's: the schedule's keys in snake_case."""
    if not isinstance(body, Mapping) or not body:
        raise InvalidInput(f"give the replay settings to change as an object: {', '.join(REPLAY_KEYS)}", field="body")
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key not in REPLAY_KEYS:
            raise InvalidInput(f"not a replay setting; they are {', '.join(REPLAY_KEYS)}", field=str(key))
        if key == "schedule" and isinstance(value, Mapping):
            value = {to_snake(str(name)): item for name, item in value.items()}
        changes[key] = value
    return changes


def _renamed(error: InvalidInput) -> InvalidInput:
    """`challenger_replay.schedule.day_of_month` → `schedule.dayOfMonth`, the key the caller sent."""
    field = error.field or ""
    if field != SECTION and not field.startswith(SECTION + "."):
        return error
    rest = field.removeprefix(SECTION).removeprefix(".")
    wire = ".".join(to_camel(part) for part in rest.split(".")) if rest else SECTION_FIELD
    message = error.message.removeprefix(f"{field}: ")
    # The schedule checks its ranges as a whole, naming the key in its message: name it as sent.
    for name in Schedule.model_fields:
        message = message.replace(name, to_camel(name))
    return InvalidInput(message, field=wire)


# ---- replays ----------------------------------------------------------------------------------------


@router.post(f"{DEPLOYMENT}/challengerPredictions/", status_code=202, responses=TOO_MANY_REQUESTS)
def replay(
    deployment_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    runner: RunnerDep,
    body: ChallengerScore | None = None,
) -> JSONResponse:
    """Score the champion's latest captured rows through every challenger (editors); 429 while a replay runs."""
    if body is not None and body.timestamp is not None:
        raise InvalidInput(
            "champion replays the latest captured rows (challengerReplaySettings' rows); it cannot stop at a "
            "timestamp: leave it out",
            field="timestamp",
        )
    try:
        with lookup.renamed_fields(FIELDS):
            started, operation = challengers.start_replay(session, actor, deployment_id=deployment_id)
    except ReplayRunning as error:
        return error_response(429, error.message)
    runner.wake()
    location = status_url(request, started.deployment_id, operation.id)
    return JSONResponse({"id": started.id, "statusId": operation.id}, status_code=202, headers={"Location": location})


# ---- the status of an addition or a replay ----------------------------------------------------------


def status_url(request: Request, deployment_id: str, status_id: str) -> str:
    """Absolute: the client refuses a Location starting with '/'."""
    return f"{base_url(request)}/api/v2/deployments/{deployment_id}/challengerStatus/{status_id}/"


@dataclass(frozen=True)
class Seen:
    """Where a status stands: running (DataRobot's status body), failed (why), or done (the path to go to)."""

    running: dict[str, Any] | None = None
    error: str | None = None
    path: str = ""
    message: str = ""


@router.get(f"{DEPLOYMENT}/challengerStatus/{{status_id}}/")
async def challenger_status(
    deployment_id: str, status_id: str, request: Request, context: ContextDep, actor: HotActorDep
) -> Response:
    # As the shared status route: async, authenticated from memory, each look in its own short session.
    deadline = time.monotonic() + WAIT_SECONDS
    seen = await asyncio.to_thread(_look, context, actor, deployment_id, status_id)
    while seen.running is not None and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        seen = await asyncio.to_thread(_look, context, actor, deployment_id, status_id)
    if seen.running is not None:
        return JSONResponse(seen.running)
    if seen.error is not None:
        return JSONResponse({"status": "ERROR", "message": seen.error, "code": 1, "statusId": status_id})
    body = {"status": "COMPLETED", "statusId": status_id, "message": seen.message}
    return JSONResponse(body, status_code=303, headers={"Location": f"{base_url(request)}{seen.path}"})


def _look(context: ServerContext, actor: Actor, deployment_id: str, status_id: str) -> Seen:
    with context.sessions() as session:
        deployment = deployments.get(session, actor, deployment_id=deployment_id).deployment
        with contextlib.suppress(ChallengerNotFound):
            found = challengers.get(session, actor, deployment_id=deployment.id, challenger_id=status_id)
            return Seen(path=f"/api/v2/deployments/{deployment.id}/challengers/{found.challenger.id}/")
        try:
            operation = challengers.replay_operation(
                session, actor, deployment_id=deployment.id, operation_id=status_id
            )
        except ReplayNotFound:
            raise StatusNotFound(f"no challenger or replay with id {status_id!r} in this deployment") from None
        match OperationState(operation.state):
            case OperationState.SUCCEEDED:
                return Seen(path=f"/api/v2/deployments/{deployment.id}/", message=operation.message)
            case OperationState.FAILED:
                return Seen(error=operation.message or "the replay failed")
        return Seen(running=render.job_status(operation))
