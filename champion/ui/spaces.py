"""The spaces list and a space's page: its Assets, Deployments and Members tabs, and Import."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from champion.api.deps import SessionDep, SettingsDep, StoreDep
from champion.api.status import status_of
from champion.errors import ChampionError, InvalidInput, NotFound, PayloadTooLarge
from champion.spaces import service as spaces
from champion.spaces.errors import LastAdmin
from champion.spaces.types import Role
from champion.transfer import service as transfer
from champion.transfer.types import ImportReport
from champion.ui import views
from champion.ui.render import UIRoute, field_errors, go, page
from champion.ui.session import ChangingSession, UISession, ViewerSession
from champion.users import service as users
from champion.users.errors import UserNotFound

router = APIRouter(route_class=UIRoute)

TABS = ("assets", "deployments", "members")


@router.get("/ui/spaces", response_class=HTMLResponse)
def list_spaces(request: Request, ui: ViewerSession, session: SessionDep) -> Response:
    rows = [(s, spaces.role_of(session, ui.actor, s.id)) for s in spaces.list_spaces(session, ui.actor)]
    return page(request, "spaces.html", {"ui": ui, "rows": rows})


def space_page(
    request: Request, ui: UISession, session: Session, space_id: str, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    tab = extra.pop("tab", None) or request.query_params.get("tab", "deployments")
    view = views.space_view(session, ui.actor, space_id)
    context = {
        "ui": ui,
        "view": view,
        "s": view.space,
        "can": view.can,
        "tab": tab if tab in TABS else "deployments",
        "roles": list(Role),
        "import_errors": {},
        "member_errors": {},
        "add_errors": {},
        "report": None,
        **extra,
    }
    return page(request, "space.html", context, status=status)


@router.get("/ui/spaces/{space_id}", response_class=HTMLResponse)
def show_space(space_id: str, request: Request, ui: ViewerSession, session: SessionDep) -> Response:
    return space_page(request, ui, session, space_id)


@router.post("/ui/spaces/{space_id}/import", response_class=HTMLResponse)
async def import_archive(
    space_id: str, request: Request, ui: ChangingSession, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> Response:
    limit = settings.max_upload_bytes
    report: ImportReport | None = None
    errors: dict[str, str] = {}
    status = 200
    folder = store.stage_dir()
    # Parsed once per request (the CSRF check may have read it first); closed here, so the spooled
    # upload is deleted now rather than whenever the collector gets to it.
    form = await request.form()
    try:
        await run_in_threadpool(transfer.check_importer, session, ui.actor, space_id=space_id)
        upload = form.get("archive")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose an export archive to import", field="archive")
        path = folder / "archive.tar.gz"
        await _copy(upload, path, limit)
        report = await run_in_threadpool(
            transfer.import_archive, session, ui.actor, store, space_id=space_id, upload=path, limit=limit
        )
    except NotFound:
        raise
    except ChampionError as error:
        # A bad archive names the item at fault; it belongs next to the file field.
        errors = field_errors(error, ("archive",))
        if "_" in errors and isinstance(error, InvalidInput):
            errors = {"archive": errors["_"]}
        status = status_of(error)
    finally:
        await form.close()
        shutil.rmtree(folder, ignore_errors=True)
    return await run_in_threadpool(
        space_page, request, ui, session, space_id, status=status, report=report, import_errors=errors, tab="assets"
    )


async def _copy(upload: UploadFile, path: Path, limit: int) -> None:
    size = 0
    with path.open("wb") as handle:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the archive is larger than the limit of {limit} bytes", field="archive")
            handle.write(chunk)
    if size == 0:
        raise InvalidInput("the archive is empty", field="archive")


@router.post("/ui/spaces/{space_id}/members", response_class=HTMLResponse)
async def add_member(space_id: str, request: Request, ui: ChangingSession, session: SessionDep) -> Response:
    form = await request.form()
    name, role = str(form.get("user_name", "")).strip(), str(form.get("role", ""))
    return await run_in_threadpool(_add_member, request, ui, session, space_id, name, role)


def _add_member(request: Request, ui: UISession, session: Session, space_id: str, name: str, role: str) -> Response:
    try:
        # Asked first, so only a space admin learns whether a user name exists.
        spaces.require(session, ui.actor, space_id, Role.ADMIN)
        try:
            user = users.find_user(session, name=name)
        except UserNotFound as missing:
            raise InvalidInput(missing.message, field="user_name") from None
        spaces.add_members(session, ui.actor, space_id=space_id, members=[(user.id, _role(role))])
    except InvalidInput as error:
        errors = field_errors(error, ("user_name",))
        if "_" in errors:
            errors = {"user_name": errors["_"]}
        return space_page(request, ui, session, space_id, status=400, tab="members", add_errors=errors, add_name=name)
    return go(request, f"/ui/spaces/{space_id}?tab=members")


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"unknown role {value!r}", field="role") from None


@router.post("/ui/spaces/{space_id}/members/{user_id}/role", response_class=HTMLResponse)
async def change_role(
    space_id: str, user_id: str, request: Request, ui: ChangingSession, session: SessionDep
) -> Response:
    role = str((await request.form()).get("role", ""))
    operations = [{"op": "replace", "path": "/role", "value": role}]
    return await run_in_threadpool(
        _member_change,
        request,
        ui,
        session,
        space_id,
        lambda: spaces.update_member(session, ui.actor, space_id=space_id, user_id=user_id, operations=operations),
    )


@router.post("/ui/spaces/{space_id}/members/{user_id}/remove", response_class=HTMLResponse)
def remove_member(space_id: str, user_id: str, request: Request, ui: ChangingSession, session: SessionDep) -> Response:
    return _member_change(
        request,
        ui,
        session,
        space_id,
        lambda: spaces.remove_member(session, ui.actor, space_id=space_id, user_id=user_id),
    )


def _member_change(request: Request, ui: UISession, session: Session, space_id: str, change: Any) -> Response:
    try:
        change()
    except (InvalidInput, LastAdmin) as error:
        errors = {"_": error.message}
        return space_page(request, ui, session, space_id, status=400, tab="members", member_errors=errors)
    return go(request, f"/ui/spaces/{space_id}?tab=members")
