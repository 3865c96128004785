"""A deployment in the browser: its information sheet, Edit configuration, edits in place, delete, live status.

Every change goes through the same JSON Patch service as the WML face
(`replacement.service.apply_patch`), so the rules and the error messages are the API's.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from champion.api.deps import SessionDep, StoreDep
from champion.api.status import status_of
from champion.artifacts import ArtifactStore
from champion.deployments import service as deployments
from champion.errors import ChampionError, NotFound
from champion.replacement import service as replacement
from champion.ui import views
from champion.ui.render import UIRoute, back, field_errors, go, page
from champion.ui.session import ChangingSession, UISession, ViewerSession

router = APIRouter(route_class=UIRoute)

FIELDS = ("name", "description", "tags", "owner")
PATHS = {"name": "/name", "description": "/description", "tags": "/tags", "owner": "/metadata/owner"}


def split_tags(text: str) -> list[str]:
    """The Tags field is comma-separated; blanks between commas are no tags."""
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _errors(error: ChampionError) -> dict[str, str]:
    errors = field_errors(error, (*FIELDS, "metadata"))
    if "metadata" in errors:
        errors["owner"] = errors.pop("metadata")
    return errors


def sheet(
    request: Request,
    ui: UISession,
    session: Session,
    deployment_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    open_field: str | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    view = views.deployment_view(session, ui.actor, deployment_id)
    d = view.described.deployment
    features = view.described.version.signature["features"]
    example = {"input_data": [{"fields": [f["name"] for f in features], "values": [[0 for _ in features]]}]}
    base = str(request.base_url).rstrip("/")
    context: dict[str, Any] = {
        "ui": ui,
        "view": view,
        "described": view.described,
        "d": d,
        "can": view.can,
        "errors": errors or {},
        "open": open_field,
        "values": values or {},
        "watch": request.query_params.get("watch"),
        "online_url": f"{base}/ml/v4/deployments/{d.id}/predictions",
        "owner_left_text": deployments.OWNER_LEFT,
        "example_payload": json.dumps(example),
    }
    return page(request, "deployment.html", context, status=status)


@router.get("/ui/deployments/{deployment_id}", response_class=HTMLResponse)
def show(deployment_id: str, request: Request, ui: ViewerSession, session: SessionDep) -> Response:
    return sheet(request, ui, session, deployment_id)


def _patch(session: Session, ui: UISession, store: ArtifactStore, deployment_id: str, operations: Any) -> None:
    replacement.apply_patch(session, ui.actor, store, deployment_id=deployment_id, operations_body=operations)


@router.post("/ui/deployments/{deployment_id}/details", response_class=HTMLResponse)
async def edit_detail(
    deployment_id: str, request: Request, ui: ChangingSession, session: SessionDep, store: StoreDep
) -> Response:
    """One detail edited in place on the information sheet (the Edit name/description/tags/owner buttons)."""
    form = await request.form()
    field, value = str(form.get("field", "")), str(form.get("value", ""))
    if field not in PATHS:
        raise NotFound(f"no editable detail {field!r}")
    new: Any = split_tags(value) if field == "tags" else value
    try:
        _patch(session, ui, store, deployment_id, [{"op": "replace", "path": PATHS[field], "value": new}])
    except NotFound:
        raise
    except ChampionError as error:
        errors = _errors(error)
        if "_" in errors:
            errors = {field: errors.pop("_")}
        return sheet(
            request,
            ui,
            session,
            deployment_id,
            status=status_of(error),
            errors=errors,
            open_field=field,
            values={field: value},
        )
    return go(request, f"/ui/deployments/{deployment_id}")


@router.get("/ui/deployments/{deployment_id}/edit", response_class=HTMLResponse)
def edit_dialog(deployment_id: str, request: Request, ui: ViewerSession, session: SessionDep) -> Response:
    d = deployments.get(session, ui.actor, deployment_id=deployment_id).deployment
    values = {"name": d.name, "description": d.description, "tags": ", ".join(str(t) for t in d.tags)}
    return page(request, "_edit_dialog.html", {"ui": ui, "d": d, "values": values, "errors": {}})


@router.post("/ui/deployments/{deployment_id}/edit", response_class=HTMLResponse)
async def edit_configuration(
    deployment_id: str, request: Request, ui: ChangingSession, session: SessionDep, store: StoreDep
) -> Response:
    form = await request.form()
    values = {key: str(form.get(key, "")) for key in ("name", "description", "tags")}
    operations = [
        {"op": "replace", "path": "/name", "value": values["name"].strip()},
        {"op": "replace", "path": "/description", "value": values["description"]},
        {"op": "replace", "path": "/tags", "value": split_tags(values["tags"])},
    ]
    try:
        _patch(session, ui, store, deployment_id, operations)
    except NotFound:
        raise
    except ChampionError as error:
        d = deployments.get(session, ui.actor, deployment_id=deployment_id).deployment
        context = {"ui": ui, "d": d, "values": values, "errors": _errors(error)}
        return page(request, "_edit_dialog.html", context, status=status_of(error))
    return go(request, back(request, f"/ui/deployments/{deployment_id}"))


@router.get("/ui/deployments/{deployment_id}/delete", response_class=HTMLResponse)
def delete_dialog(deployment_id: str, request: Request, ui: ViewerSession, session: SessionDep) -> Response:
    d = deployments.get(session, ui.actor, deployment_id=deployment_id).deployment
    context = {
        "ui": ui,
        "action": f"/ui/deployments/{d.id}/delete",
        "title": f"Delete {d.name}?",
        "text": "The deployment stops answering predictions and is removed. Its models stay in the space.",
        "confirm": "Delete",
        "danger": True,
        "errors": {},
    }
    return page(request, "_confirm_dialog.html", context)


@router.post("/ui/deployments/{deployment_id}/delete", response_class=HTMLResponse)
def delete(deployment_id: str, request: Request, ui: ChangingSession, session: SessionDep) -> Response:
    space_id = deployments.get(session, ui.actor, deployment_id=deployment_id).deployment.space_id
    deployments.delete(session, ui.actor, deployment_id=deployment_id)
    return go(request, f"/ui/spaces/{space_id}?tab=deployments")


@router.get("/ui/deployments/{deployment_id}/status", response_class=HTMLResponse)
def status(
    deployment_id: str, request: Request, ui: ViewerSession, session: SessionDep, record: str | None = None
) -> Response:
    """The small fragment ui.js polls while an operation runs; it carries the notification when it ends."""
    d = deployments.get(session, ui.actor, deployment_id=deployment_id).deployment
    ending = views.ending(session, ui.actor, deployment_id, record) if record else None
    return page(request, "_status.html", {"d": d, "record": record, "ending": ending})
