"""/api/v2/deployments: list, read, edit, delete, create from a model package or a model, (de)activate.

Ids follow `lookup`'s mapping (a model package is a model version). Creating a deployment,
activating one and replacing its model answer 202 with a `Location` status URL (`operations.py`);
the client polls it until a 303 names the deployment.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from champion import patch
from champion.api.datarobot import lookup, render
from champion.api.datarobot.errors import DataRobotRoute
from champion.api.datarobot.schemas import (
    DeploymentUpdate,
    FromLearningModel,
    FromModelPackage,
    Importance,
    StatusChange,
)
from champion.api.deps import ActorDep, RunnerDep, SessionDep
from champion.deployments import service as deployments
from champion.deployments.schemas import NewDeployment
from champion.errors import InvalidInput
from champion.operations.tables import Operation
from champion.replacement import service as replacement
from champion.users.service import Actor

router = APIRouter(route_class=DataRobotRoute)

PAGE_SIZE = 20
"""DataRobot's default page: `Deployment.list()` follows `next` until it is null."""

# List orderings: DataRobot's names, each with the key that sorts by it.
ORDERINGS = ("label", "createdAt", "importance", "status")
IMPORTANCE_RANK: dict[str, int] = {name.value: rank for rank, name in enumerate(Importance)}


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def status_url(request: Request, status_id: str) -> str:
    """Absolute: the client refuses a Location starting with '/' (protocol reference, section 5)."""
    return f"{base_url(request)}/api/v2/status/{status_id}/"


def accepted(request: Request, body: dict[str, Any], status_id: str) -> JSONResponse:
    return JSONResponse(body, status_code=202, headers={"Location": status_url(request, status_id)})


@router.get("/api/v2/version/")
def version(actor: ActorDep) -> dict[str, Any]:
    # Major version 2, or the client refuses the server (protocol reference, pitfall 1).
    return {**render.VERSION, "releasedVersion": "champion"}


@router.get("/api/v2/deployments/")
def list_deployments(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = PAGE_SIZE,
    search: str | None = None,
    order_by: Annotated[str | None, Query(alias="orderBy")] = None,
    importance: str | None = None,
) -> dict[str, Any]:
    items = lookup.visible_deployments(session, actor)
    if search:
        needle = search.casefold()
        items = [i for i in items if needle in i.described.deployment.name.casefold()]
    if importance:
        wanted = {part.strip().upper() for part in importance.split(",")}
        items = [i for i in items if i.described.deployment.custom.get("importance") in wanted]
    items = _ordered(items, order_by)
    shown = items[offset : offset + limit]
    base = base_url(request)
    return render.page(
        [render.deployment(i, base) for i in shown], total=len(items), offset=offset, limit=limit, url=request.url
    )


def _ordered(items: list[lookup.DeploymentItem], order_by: str | None) -> list[lookup.DeploymentItem]:
    if not order_by:
        return sorted(items, key=lambda i: i.described.deployment.created_at)
    field = order_by.removeprefix("-")
    if field not in ORDERINGS:
        raise InvalidInput(f"cannot order by {order_by!r}; use one of {', '.join(ORDERINGS)}", field="orderBy")

    def key(i: lookup.DeploymentItem) -> Any:
        row = i.described.deployment
        match field:
            case "label":
                return row.name.casefold()
            case "importance":
                return IMPORTANCE_RANK.get(str(row.custom.get("importance")), len(IMPORTANCE_RANK))
            case "status":
                return row.state
        return row.created_at

    return sorted(items, key=key, reverse=order_by.startswith("-"))


@router.get("/api/v2/deployments/{deployment_id}/")
def get_deployment(deployment_id: str, request: Request, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    return render.deployment(lookup.deployment_item(session, actor, deployment_id=deployment_id), base_url(request))


@router.patch("/api/v2/deployments/{deployment_id}/", status_code=204)
def update_deployment(deployment_id: str, body: DeploymentUpdate, session: SessionDep, actor: ActorDep) -> Response:
    """label, description and importance, through the same JSON Patch rules as the WML face."""
    operations: list[dict[str, Any]] = []
    if body.label is not None:
        operations.append({"op": "replace", "path": "/name", "value": body.label})
    if body.description is not None:
        operations.append({"op": "replace", "path": "/description", "value": body.description})
    if body.importance is not None:
        operations.append({"op": "add", "path": "/custom/importance", "value": body.importance.value})
    if not operations:
        raise InvalidInput("give at least one of label, description and importance", field="body")
    names = {"/name": "label", "/description": "description", "/custom": "importance"}
    with lookup.renamed_fields(names):
        deployments.update_details(session, actor, deployment_id=deployment_id, operations=operations)
    return Response(status_code=204)


@router.delete("/api/v2/deployments/{deployment_id}/", status_code=204)
def delete_deployment(deployment_id: str, session: SessionDep, actor: ActorDep) -> Response:
    deployments.delete(session, actor, deployment_id=deployment_id)
    return Response(status_code=204)


@router.post("/api/v2/deployments/fromModelPackage/", status_code=202)
def create_from_model_package(
    body: FromModelPackage, request: Request, session: SessionDep, actor: ActorDep, runner: RunnerDep
) -> JSONResponse:
    with lookup.renamed_not_found("modelPackageId"):
        found = lookup.package(session, actor, package_id=body.model_package_id)
    return _create(request, session, actor, runner, found, body.label, body.description, body.importance)


@router.post("/api/v2/deployments/fromLearningModel/", status_code=202)
def create_from_learning_model(
    body: FromLearningModel, request: Request, session: SessionDep, actor: ActorDep, runner: RunnerDep
) -> JSONResponse:
    with lookup.renamed_not_found("modelId"):
        found = lookup.learning_model(session, actor, model_id=body.model_id)
    return _create(request, session, actor, runner, found, body.label, body.description, body.importance)


def _create(
    request: Request,
    session: SessionDep,
    actor: Actor,
    runner: RunnerDep,
    found: lookup.Package,
    label: str,
    description: str | None,
    importance: Importance | None,
) -> JSONResponse:
    """An online deployment in the model's space; 202 with `{"id"}` and the deploy operation's status URL."""
    new = patch.validated(
        NewDeployment,
        {
            "name": label,
            "kind": "online",
            "model_id": found.model.id,
            "rev": found.version.number,
            "description": description or "",
            "custom": {"importance": importance.value} if importance else {},
        },
    )
    described, operation = deployments.create(session, actor, space_id=found.model.space_id, new=new)
    runner.wake()
    return accepted(request, {"id": described.deployment.id}, operation.id)


@router.patch("/api/v2/deployments/{deployment_id}/status/", status_code=202)
def change_status(
    deployment_id: str, body: StatusChange, request: Request, session: SessionDep, actor: ActorDep, runner: RunnerDep
) -> JSONResponse:
    """activate() / deactivate(). Deactivating is immediate; activating loads the champion everywhere again.

    The status URL is the activation's deploy operation, or, when nothing runs (deactivated, or
    already active), the deployment's own id, which the status route answers with a 303 at once.
    """
    operation: Operation | None = None
    if body.status == "inactive":
        described = deployments.deactivate(session, actor, deployment_id=deployment_id)
    else:
        described, operation = deployments.activate(session, actor, deployment_id=deployment_id)
        runner.wake()
    status_id = operation.id if operation is not None else described.deployment.id
    return accepted(request, {"id": described.deployment.id, "status": body.status}, status_id)


@router.get("/api/v2/deployments/{deployment_id}/championModelPackage/")
def champion_model_package(deployment_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    item = lookup.deployment_item(session, actor, deployment_id=deployment_id)
    if item.model is None:
        raise lookup.PackageNotFound("the champion's model is no longer visible")
    return render.model_package(lookup.Package(item.described.version, item.model))


@router.get("/api/v2/deployments/{deployment_id}/modelHistory/")
def model_history(
    deployment_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Every replacement and rollback, newest first, with its reason, outcome and checks.

    One history whichever face replaced the model (WML asset patch, DataRobot, CLI, rollback).
    """
    entries = replacement.history(session, actor, deployment_id=deployment_id)
    shown = entries[offset : offset + limit]
    return render.page(
        [render.history_entry(e) for e in shown], total=len(entries), offset=offset, limit=limit, url=request.url
    )
