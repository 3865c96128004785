"""Replace asset and Roll back: the dialog, its checks, the model upload, and starting the swap.

The checks shown are `replacement.service.check`'s, the same engine the replacement runs
(and the API's asset patch), so what the dialog shows is what the replacement will decide.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from champion import patch
from champion.api.deps import RunnerDep, SessionDep, SettingsDep, StoreDep
from champion.api.status import status_of
from champion.artifacts import ArtifactStore
from champion.artifacts.store import receive
from champion.deployments import service as deployments
from champion.errors import ChampionError, InvalidInput, NotFound, ValidationFailed
from champion.models import revisions
from champion.models import service as models
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE, versioned_type
from champion.models.types import FAMILIES
from champion.replacement import service as replacement
from champion.replacement.checks import ValidationReport
from champion.replacement.errors import NothingToRollBack
from champion.replacement.report import SCHEMA_MISMATCH_WARNING
from champion.replacement.types import Reason
from champion.ui import views
from champion.ui.render import UIRoute, error_page, field_errors, go, page
from champion.ui.session import ChangingSession, UISession, ViewerSession

router = APIRouter(route_class=UIRoute)


def _parse_asset(value: str) -> tuple[str, int | None]:
    model_id, _, rev = value.partition(":")
    if not model_id:
        raise InvalidInput("choose an asset", field="asset")
    return model_id, revisions.parse(rev, field="asset") if rev else None


def _reason(value: str) -> Reason:
    try:
        return Reason(value or Reason.OTHER.value)
    except ValueError:
        raise InvalidInput(f"unknown reason {value!r}", field="reason") from None


def dialog_context(
    session: Session, ui: UISession, deployment_id: str, *, selected: str | None = None, **extra: Any
) -> dict[str, Any]:
    described = deployments.get(session, ui.actor, deployment_id=deployment_id)
    d = described.deployment
    registered = models.list_models(session, ui.actor, space_id=d.space_id)
    versions = {m.id: models.list_versions(session, ui.actor, model_id=m.id) for m in registered}
    if selected is None:
        newest = versions.get(d.model_id) or [described.version]
        selected = f"{d.model_id}:{newest[-1].number}"
    current_model = next(m for m in registered if m.id == d.model_id)
    return {
        "ui": ui,
        "d": d,
        "current": described.version,
        "current_name": current_model.name,
        "current_family": current_model.type.partition("_")[0],
        "models": registered,
        "versions": versions,
        "selected": selected,
        "reasons": list(Reason),
        "reason": Reason.OTHER.value,
        "model_types": [(family, versioned_type(family)) for family in sorted(FAMILIES)],
        "report": None,
        "errors": {},
        "uploaded": None,
        "schema_mismatch_text": SCHEMA_MISMATCH_WARNING,
        **extra,
    }


@router.get("/ui/deployments/{deployment_id}/replace", response_class=HTMLResponse)
def replace_dialog(
    deployment_id: str, request: Request, ui: ViewerSession, session: SessionDep, asset: str = ""
) -> Response:
    """The dialog; `asset` (`<model id>:<rev>`) chooses the model at first (a challenger's Replace with this one)."""
    return page(request, "_replace_dialog.html", dialog_context(session, ui, deployment_id, selected=asset or None))


@router.post("/ui/deployments/{deployment_id}/replace/validate", response_class=HTMLResponse)
async def validate(
    deployment_id: str, request: Request, ui: ChangingSession, session: SessionDep, store: StoreDep
) -> Response:
    form = await request.form()
    asset, reason = str(form.get("asset", "")), str(form.get("reason", ""))
    return await run_in_threadpool(_validate, request, ui, session, store, deployment_id, asset, reason)


def _validate(
    request: Request, ui: UISession, session: Session, store: ArtifactStore, deployment_id: str, asset: str, reason: str
) -> Response:
    report: ValidationReport | None = None
    errors: dict[str, str] = {}
    status = 200
    try:
        model_id, rev = _parse_asset(asset)
        report = replacement.check(session, ui.actor, store, deployment_id=deployment_id, model_id=model_id, rev=rev)
    except NotFound:
        raise
    except ChampionError as error:
        errors, status = field_errors(error, ("asset", "reason")), status_of(error)
    context = dialog_context(session, ui, deployment_id, selected=asset, report=report, errors=errors, reason=reason)
    return page(request, "_replace_dialog.html", context, status=status)


@router.post("/ui/deployments/{deployment_id}/replace", response_class=HTMLResponse)
async def replace(
    deployment_id: str,
    request: Request,
    ui: ChangingSession,
    session: SessionDep,
    store: StoreDep,
    runner: RunnerDep,
) -> Response:
    form = await request.form()
    asset, reason = str(form.get("asset", "")), str(form.get("reason", ""))
    response = await run_in_threadpool(_replace, request, ui, session, store, deployment_id, asset, reason)
    runner.wake()
    return response


def _replace(
    request: Request, ui: UISession, session: Session, store: ArtifactStore, deployment_id: str, asset: str, reason: str
) -> Response:
    try:
        model_id, rev = _parse_asset(asset)
        started = replacement.start(
            session, ui.actor, store, deployment_id=deployment_id, model_id=model_id, rev=rev, reason=_reason(reason)
        )
    except NotFound:
        raise
    except ChampionError as error:
        report = error.report if isinstance(error, ValidationFailed) else None
        context = dialog_context(
            session,
            ui,
            deployment_id,
            selected=asset,
            report=report,
            errors=field_errors(error, ("asset", "reason")),
            reason=reason,
        )
        return page(request, "_replace_dialog.html", context, status=status_of(error))
    return go(request, f"/ui/deployments/{deployment_id}?watch={started.record.id}")


@router.post("/ui/deployments/{deployment_id}/upload", response_class=HTMLResponse)
async def upload(
    deployment_id: str,
    request: Request,
    ui: ChangingSession,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    into: str = "",
    type: str = "",
    name: str = "",
) -> Response:
    """The drop zone's upload: the raw file becomes a new revision of `into`, or a new model."""
    limit = settings.max_upload_bytes
    folder = store.stage_dir()
    try:
        path = folder / "upload"
        await receive(request.stream(), path, limit=limit)
        return await run_in_threadpool(
            _keep_upload, request, ui, session, store, deployment_id, path, limit, into, type, name
        )
    except NotFound:
        raise
    except ChampionError as error:
        return error_page(request, status_of(error), "Upload refused", error.message)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _keep_upload(
    request: Request,
    ui: UISession,
    session: Session,
    store: ArtifactStore,
    deployment_id: str,
    path: Path,
    limit: int,
    into: str,
    model_type: str,
    file_name: str,
) -> Response:
    space_id = deployments.get(session, ui.actor, deployment_id=deployment_id).deployment.space_id
    if into:
        model = models.get_model(session, ui.actor, model_id=into, space_id=space_id)
        version = models.add_version(session, ui.actor, store, model_id=model.id, upload=path, limit=limit)
    else:
        stem = Path(file_name).name.split(".")[0] or "uploaded model"
        spec = CATALOGUE[0]
        new = patch.validated(
            NewModel,
            {"name": stem, "type": versioned_type(model_type or "scikit-learn", spec), "software_spec_id": spec.id},
        )
        model = models.create_model(session, ui.actor, space_id=space_id, new=new)
        try:
            version = models.add_version(session, ui.actor, store, model_id=model.id, upload=path, limit=limit)
        except ChampionError:
            # The new model was only a home for this file: without it, it would be an empty leftover.
            models.delete_model(session, ui.actor, store, model_id=model.id)
            raise
    selected = f"{model.id}:{version.number}"
    uploaded = f"Uploaded {file_name} as {model.name} revision {version.number}. Validate it before replacing."
    context = dialog_context(session, ui, deployment_id, selected=selected, uploaded=uploaded)
    return page(request, "_asset_choice.html", context)


def rollback_context(session: Session, ui: UISession, deployment_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "ui": ui,
        "view": views.rollback_dialog(session, ui.actor, deployment_id),
        "reasons": list(Reason),
        "reason": Reason.OTHER.value,
        "to": "",
        "errors": {},
        **extra,
    }


@router.get("/ui/deployments/{deployment_id}/rollback", response_class=HTMLResponse)
def rollback_dialog(deployment_id: str, request: Request, ui: ViewerSession, session: SessionDep) -> Response:
    """Roll back: before the last change by default, or to an earlier champion chosen from the history."""
    return page(request, "_rollback_dialog.html", rollback_context(session, ui, deployment_id))


@router.post("/ui/deployments/{deployment_id}/rollback", response_class=HTMLResponse)
async def rollback(
    deployment_id: str,
    request: Request,
    ui: ChangingSession,
    session: SessionDep,
    store: StoreDep,
    runner: RunnerDep,
) -> Response:
    form = await request.form()
    reason, to = str(form.get("reason", "")), str(form.get("to", ""))
    target = replacement.BeforeReplacement(to) if to else None
    try:
        started = await run_in_threadpool(
            replacement.rollback,
            session,
            ui.actor,
            store,
            deployment_id=deployment_id,
            reason=_reason(reason),
            to=target,
        )
    except NothingToRollBack as error:
        return error_page(request, 409, "Cannot roll back", error.message)
    except NotFound:
        raise
    except ChampionError as error:
        errors = field_errors(error, ("reason",))
        context = rollback_context(session, ui, deployment_id, reason=reason, to=to, errors=errors)
        return page(request, "_rollback_dialog.html", context, status=status_of(error))
    runner.wake()
    return go(request, f"/ui/deployments/{deployment_id}?watch={started.record.id}")
