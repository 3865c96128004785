"""champion's extensions of the WML deployment routes: validate a candidate, and read or change settings.

WML has neither. Validation runs the one engine a replacement runs (`replacement.service.check`)
and writes nothing, so what it answers is what `PATCH /asset` would decide. Settings are the
document `deployments.settings` keeps (the DataRobot face shows the same one in camelCase); here it
travels in champion's own snake_case. Who may do what is the services' rule: anyone who sees the
deployment may validate (a viewer's report fails its `permission` check), editors change settings.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool

from champion.api.deps import ActorDep, EngineDep, SessionDep, StoreDep
from champion.api.wml.errors import WMLRoute
from champion.api.wml.schemas import AssetRef, Strict
from champion.deployments import scoring
from champion.deployments import service as deployments
from champion.deployments import settings as deployment_settings
from champion.errors import InvalidInput
from champion.replacement import service as replacement
from champion.replacement.checks import ValidationReport

router = APIRouter(route_class=WMLRoute)


class ValidationRequest(Strict):
    asset: AssetRef


def validation(report: ValidationReport) -> dict[str, Any]:
    """The report as a replacement record stores it, and whether the input schemas differ (WML then warns)."""
    return {**report.to_dict(), "schema_mismatch": report.schema_mismatch}


def _rev(given: str | None) -> int | None:
    return int(given) if given is not None else None  # AssetRef checked it is a revision


@router.post("/ml/v4/deployments/{deployment_id}/validation")
def validate_candidate(
    deployment_id: str,
    body: ValidationRequest,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    space_id: str | None = None,
) -> dict[str, Any]:
    """champion's extension: the named checks for replacing the deployment's model with `asset`.

    200 whatever the checks say (as DataRobot's validation answers): the report is the answer.
    """
    deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)  # not in that space: 404
    report = replacement.check(
        session, actor, store, deployment_id=deployment_id, model_id=body.asset.id, rev=_rev(body.asset.rev)
    )
    return validation(report)


@router.get("/ml/v4/deployments/{deployment_id}/settings")
def get_settings(
    deployment_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None
) -> dict[str, Any]:
    """champion's extension: the deployment's settings (intervals, drift, segments, challengers, humility)."""
    deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)
    return deployments.get_settings(session, actor, deployment_id=deployment_id).model_dump(mode="json")


@router.patch("/ml/v4/deployments/{deployment_id}/settings")
async def update_settings(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    engine: EngineDep,
    space_id: str | None = None,
    body: Any = Body(),
) -> dict[str, Any]:
    """champion's extension: merge a partial settings document (objects key by key, lists whole).

    Answered once this process's serving engine acts on the change (within a follower tick), so a
    prediction sent next meets it."""
    await run_in_threadpool(deployments.get, session, actor, deployment_id=deployment_id, space_id=space_id)
    if not isinstance(body, dict) or not body:
        raise InvalidInput("give the settings to change as an object", field="body")
    changed = await run_in_threadpool(
        deployments.update_settings, session, actor, deployment_id=deployment_id, changes=body
    )
    stored = await run_in_threadpool(deployment_settings.current, session, deployment_id=deployment_id)
    await scoring.until_acting_on(engine, deployment_id, deployment_settings.digest(stored))
    return changed.model_dump(mode="json")
