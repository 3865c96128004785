"""`/api/v2/status/{id}/`: champion's operations in DataRobot's asynchronous protocol.

The id is an Operation id (a deploy, an activation, a replacement): 200 `{"status": "RUNNING"}`
while it runs, 303 to `.../api/v2/deployments/{id}/` once it succeeded (the client reads the
deployment id from that URL, so the 303 is mandatory), 200 `{"status": "ERROR", "message"}` when
it failed. A deployment id is answered too: that is the status URL of a change that finished
at once (deactivation), or of a deployment still starting or being replaced.

The client polls at once, then every 5 seconds, and waits 60 seconds for an answer. So a running
operation is watched for up to `WAIT_SECONDS` before answering RUNNING: a deploy or replacement that
ends within them (a small model's takes about a second, a first load that converts a tree ensemble a few
on a busy machine) answers the client's first poll, and it never sleeps.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from champion.api.datarobot import render
from champion.api.datarobot.deployments import base_url
from champion.api.datarobot.errors import DataRobotRoute
from champion.api.deps import ContextDep, EngineDep, HotActorDep
from champion.context import ServerContext
from champion.deployments import scoring
from champion.deployments import service as deployments
from champion.deployments import settings as deployment_settings
from champion.deployments.errors import DeploymentNotFound
from champion.deployments.types import State
from champion.errors import NotFound
from champion.operations import service as operations
from champion.operations.types import OperationKind, OperationState
from champion.serving.engine import ServingEngine
from champion.spaces import service as spaces
from champion.users.service import Actor

router = APIRouter(route_class=DataRobotRoute)

WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05

# Operations that end in a deployment; a batch job's operation has no DataRobot status URL here.
DEPLOYMENT_KINDS = (OperationKind.DEPLOY, OperationKind.REPLACE)


class Outcome(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"


@dataclass(frozen=True)
class Seen:
    outcome: Outcome
    deployment_id: str
    message: str = ""
    running: dict[str, Any] = field(default_factory=dict)
    state: str | None = None
    """For a deployment's own status: the state this process's serving engine must show before a 303."""
    settings_digest: str | None = None
    """For a deployment's own status: the settings this process's serving engine must act on before a 303."""

    def pending(self, engine: ServingEngine) -> bool:
        if self.outcome is Outcome.RUNNING:
            return True
        # A deactivation or a settings change is committed at once; the engine follows within a tick, and
        # the 303 waits for it, so a prediction sent after the client returns meets the change here (an
        # association id set is captured, a deactivated deployment refuses).
        view = engine.resolve(self.deployment_id)
        if view is None:
            return False
        return (self.state is not None and view.state != self.state) or (
            self.settings_digest is not None and not scoring.acts_on(engine, self.deployment_id, self.settings_digest)
        )


class StatusNotFound(NotFound):
    pass


@router.get("/api/v2/status/{status_id}/")
async def job_status(
    status_id: str, request: Request, context: ContextDep, engine: EngineDep, actor: HotActorDep
) -> Response:
    # Async, and the caller authenticated from memory: no database session or worker thread is
    # held while waiting, each look opens its own short session.
    deadline = time.monotonic() + WAIT_SECONDS
    seen = await asyncio.to_thread(_look, context, actor, status_id)
    while seen.pending(engine) and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        seen = await asyncio.to_thread(_look, context, actor, status_id)
    if seen.pending(engine):
        return JSONResponse(seen.running or {"status": "RUNNING", "message": "", "statusId": status_id})
    match seen.outcome:
        case Outcome.DONE:
            location = f"{base_url(request)}/api/v2/deployments/{seen.deployment_id}/"
            body = {"status": "COMPLETED", "statusId": status_id, "message": seen.message}
            return JSONResponse(body, status_code=303, headers={"Location": location})
        case Outcome.ERROR:
            return JSONResponse({"status": "ERROR", "message": seen.message, "code": 1, "statusId": status_id})
    return JSONResponse(seen.running)  # not reached: a running outcome is pending


def _look(context: ServerContext, actor: Actor, status_id: str) -> Seen:
    with context.sessions() as session:
        try:
            operation = operations.get(session, operation_id=status_id)
        except NotFound:
            operation = None
        if operation is not None:
            if operation.kind not in DEPLOYMENT_KINDS or not spaces.sees(session, actor, operation.space_id):
                raise StatusNotFound(f"no status with id {status_id!r}")
            match OperationState(operation.state):
                case OperationState.SUCCEEDED:
                    return Seen(Outcome.DONE, operation.target_id, operation.message)
                case OperationState.FAILED:
                    return Seen(Outcome.ERROR, operation.target_id, operation.message or "the operation failed")
            return Seen(Outcome.RUNNING, operation.target_id, running=render.job_status(operation))
        try:
            described = deployments.get(session, actor, deployment_id=status_id)
        except DeploymentNotFound:
            raise StatusNotFound(f"no status with id {status_id!r}") from None
        row = described.deployment
        if row.state == State.FAILED:
            reasons = "; ".join(str(f.get("message", "")) for f in row.failure or []) or "the deployment failed"
            return Seen(Outcome.ERROR, row.id, reasons)
        if row.state in (State.INITIALIZING, State.UPDATING):
            return Seen(Outcome.RUNNING, row.id, running={"status": "RUNNING", "message": "", "statusId": status_id})
        stored = deployment_settings.current(session, deployment_id=row.id)
        return Seen(Outcome.DONE, row.id, state=row.state, settings_digest=deployment_settings.digest(stored))
