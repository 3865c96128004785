"""/ml/v4/models: the model registry, revisions and content upload."""

from __future__ import annotations

import re
import shutil
from typing import Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.concurrency import run_in_threadpool

from champion import patch
from champion.api.deps import ActorDep, RunnerDep, SessionDep, SettingsDep, StoreDep
from champion.api.wml import render
from champion.api.wml.errors import WMLRoute
from champion.api.wml.schemas import NewModel, NewRevision, PageLimit
from champion.artifacts.store import receive
from champion.errors import InvalidInput
from champion.models import service as models
from champion.models import software_specs
from champion.models.revisions import Revision
from champion.models.schemas import NewModel as DomainNewModel
from champion.models.tables import ModelVersion, RegisteredModel
from champion.replacement import model_asset
from champion.replacement.types import Reason

router = APIRouter(route_class=WMLRoute)

# The domain's names for what the WML body spells otherwise, so a refusal names the field the client sent.
WML_FIELDS = {"software_spec_id": "software_spec.id", "declared_input": "schemas.input[0].fields"}


def _render(session: SessionDep, row: RegisteredModel) -> dict[str, Any]:
    version = models.latest_version(session, model_id=row.id)
    return render.model(row, version, software_specs.find(spec_id=row.software_spec_id))


def _revision(row: RegisteredModel, version: ModelVersion) -> dict[str, Any]:
    return render.revision(row, version, software_specs.find(spec_id=version.software_spec_id))


def _space(space_id: str | None) -> str:
    if not space_id:
        raise InvalidInput("is required", field="space_id")
    return space_id


@router.post("/ml/v4/models", status_code=201)
def create_model(body: NewModel, session: SessionDep, actor: ActorDep, space_id: str | None = None) -> dict[str, Any]:
    space = _space(body.space_id or space_id)
    spec_id = body.software_spec.id
    if spec_id is None and body.software_spec.name is not None:
        spec = software_specs.find(name=body.software_spec.name)
        spec_id = spec.id if spec else body.software_spec.name
    declared = None
    if body.schemas and body.schemas.input:
        declared = [{"name": f.name, "type": f.type} for f in body.schemas.input[0].fields]
    fields = {
        "name": body.name,
        "type": body.type,
        "software_spec_id": spec_id or "",
        "description": body.description,
        "tags": body.tags,
        "label_column": body.label_column,
        "declared_input": declared,
        "custom": body.custom,
    }
    try:
        new = patch.validated(DomainNewModel, fields)
    except InvalidInput as error:
        raise _in_wml_terms(error) from None
    return _render(session, models.create_model(session, actor, space_id=space, new=new))


def _in_wml_terms(error: InvalidInput) -> InvalidInput:
    """The error with the domain's field name put back into the WML body's terms (`declared_input.0.type`
    is `schemas.input[0].fields[0].type`)."""
    field = error.field or ""
    for domain, wml in WML_FIELDS.items():
        if field == domain or field.startswith(domain + "."):
            rest = re.sub(r"\.(\d+)", r"[\1]", field.removeprefix(domain))
            return InvalidInput(error.message.removeprefix(f"{field}: "), field=wml + rest)
    return error


@router.get("/ml/v4/models")
def list_models(
    session: SessionDep, actor: ActorDep, space_id: str | None = None, limit: PageLimit = None
) -> dict[str, Any]:
    rows = models.list_models(session, actor, space_id=_space(space_id))
    return render.page([_render(session, row) for row in rows], limit=limit)


@router.get("/ml/v4/models/{model_id}")
def get_model(
    model_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None, rev: Revision | None = None
) -> dict[str, Any]:
    row = models.get_model(session, actor, model_id=model_id, space_id=space_id)
    if rev is None:
        return _render(session, row)
    version = models.get_version(session, actor, model_id=model_id, number=rev)
    return _revision(row, version)


@router.patch("/ml/v4/models/{model_id}")
def update_model(
    model_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    runner: RunnerDep,
    space_id: str | None = None,
    reason: Reason = Reason.OTHER,
    body: Any = Body(),
) -> dict[str, Any]:
    """Metadata ops answer the model (200). The seed's `/asset` op moves the online deployments serving
    the model to the revision named and answers 202 with those deployments, `updating`, in a page."""
    # `reason` is champion's addition, as on the deployment's asset patch: why the model is replaced.
    patched = model_asset.apply_model_patch(
        session, actor, store, model_id=model_id, operations_body=body, space_id=space_id, reason=reason
    )
    if patched.moved is None:
        return _render(session, patched.model)
    runner.wake()
    response.status_code = 202
    base = str(request.base_url).rstrip("/")
    moved = []
    for started in patched.moved:
        deployment = render.described(started.described, base)
        render.add_validation(deployment, started.report)
        moved.append(deployment)
    return render.page(moved)


@router.delete("/ml/v4/models/{model_id}", status_code=204)
def delete_model(
    model_id: str, session: SessionDep, actor: ActorDep, store: StoreDep, space_id: str | None = None
) -> Response:
    models.get_model(session, actor, model_id=model_id, space_id=space_id)
    models.delete_model(session, actor, store, model_id=model_id)
    return Response(status_code=204)


@router.put("/ml/v4/models/{model_id}/content", status_code=201)
async def upload_content(
    model_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    settings: SettingsDep,
    space_id: str | None = None,
) -> dict[str, Any]:
    # The body is raw model bytes whatever the Content-Type says (the client sends gzip
    # tars as application/json), so it is streamed to disk, never parsed.
    await run_in_threadpool(models.get_model, session, actor, model_id=model_id, space_id=space_id)
    folder = store.stage_dir()
    try:
        upload = folder / "upload"
        await receive(request.stream(), upload, limit=settings.max_upload_bytes)
        await run_in_threadpool(
            models.add_version, session, actor, store, model_id=model_id, upload=upload, limit=settings.max_upload_bytes
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    row = await run_in_threadpool(models.get_model, session, actor, model_id=model_id)
    return await run_in_threadpool(_render, session, row)


@router.post("/ml/v4/models/{model_id}/revisions", status_code=201)
def create_revision(
    model_id: str, session: SessionDep, actor: ActorDep, body: NewRevision | None = None, space_id: str | None = None
) -> dict[str, Any]:
    row = models.get_model(session, actor, model_id=model_id, space_id=(body.space_id if body else None) or space_id)
    message = body.commit_message if body else None
    version = models.create_revision(session, actor, model_id=model_id, commit_message=message)
    return _revision(row, version)


@router.get("/ml/v4/models/{model_id}/revisions")
def list_revisions(
    model_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None, limit: PageLimit = None
) -> dict[str, Any]:
    row = models.get_model(session, actor, model_id=model_id, space_id=space_id)
    versions = models.list_versions(session, actor, model_id=model_id)
    return render.page([_revision(row, v) for v in versions], limit=limit)
