"""The CAMS data asset routes the WML client uses: create, upload as an attachment, search, read, delete.

`/v2/assets/{id}` also answers for models (create_job and repository.delete read it), so
its routes here serve data assets and hand model ids on to the catalogue's routes.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from champion import patch
from champion.api.deps import ActorDep, ContextDep, SessionDep, SettingsDep, StoreDep, token_actor
from champion.api.wml import catalogue, render
from champion.api.wml.errors import WMLRoute
from champion.artifacts.store import receive
from champion.auth import issue_token
from champion.errors import InvalidInput, PayloadTooLarge
from champion.jobs import assets
from champion.jobs.schemas import NewDataAsset

router = APIRouter(route_class=WMLRoute)

MULTIPART_SLACK = 64 * 1024
"""Room for multipart boundaries and part headers on top of the file size limit."""


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Metadata(_Loose):
    name: str
    description: str = ""
    asset_type: str = "data_asset"


class _DataAssetEntity(_Loose):
    mime_type: str = "application/octet-stream"


class _Entity(_Loose):
    data_asset: _DataAssetEntity = Field(default_factory=_DataAssetEntity)


class NewAssetBody(_Loose):
    metadata: _Metadata
    entity: _Entity = Field(default_factory=_Entity)


class NewAttachmentBody(_Loose):
    name: str = "data"
    mime: str | None = None


WIRE_FIELDS = {
    "name": "metadata.name",
    "description": "metadata.description",
    "mime_type": "entity.data_asset.mime_type",
}
"""Where each field of the jobs domain's NewDataAsset is in the body the client sends."""


def _new_asset(body: NewAssetBody) -> NewDataAsset:
    """The jobs domain's document, which holds the rules (a name is 1 to 255 characters); errors named as sent."""
    values = {
        "name": body.metadata.name,
        "description": body.metadata.description,
        "mime_type": body.entity.data_asset.mime_type,
    }
    try:
        return patch.validated(NewDataAsset, values)
    except InvalidInput as error:
        field = error.field or ""
        raise InvalidInput(error.message.removeprefix(f"{field}: "), field=WIRE_FIELDS.get(field, field)) from None


def _space(space_id: str | None) -> str:
    if not space_id:
        raise InvalidInput("is required", field="space_id")
    return space_id


@router.post("/v2/assets", status_code=201)
def create_asset(body: NewAssetBody, session: SessionDep, actor: ActorDep, space_id: str | None = None) -> Any:
    if body.metadata.asset_type != "data_asset":
        raise InvalidInput("only data assets are created here", field="metadata.asset_type")
    new = _new_asset(body)
    return render.data_asset(assets.create(session, actor, space_id=_space(space_id), new=new))


@router.post("/v2/asset_types/data_asset/search")
def search_assets(
    session: SessionDep, actor: ActorDep, space_id: str | None = None, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    # Only the match-all query the client sends ("*:*") is understood: every data asset of the space.
    limit = (body or {}).get("limit")
    rows = assets.list_assets(session, actor, space_id=_space(space_id))
    shown = rows[:limit] if isinstance(limit, int) else rows
    return {"total_rows": len(rows), "results": [render.data_asset(row) for row in shown]}


@router.get("/v2/assets/{asset_id}")
def get_asset(asset_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None) -> dict[str, Any]:
    if not assets.exists(session, asset_id=asset_id):
        return catalogue.get_asset(asset_id, session, actor, space_id)
    return render.data_asset(assets.get(session, actor, asset_id=asset_id, space_id=space_id))


@router.delete("/v2/assets/{asset_id}", status_code=204)
def delete_asset(
    asset_id: str, session: SessionDep, actor: ActorDep, store: StoreDep, space_id: str | None = None
) -> Response:
    if not assets.exists(session, asset_id=asset_id):
        return catalogue.delete_asset(asset_id, session, actor, store, space_id)
    assets.delete(session, actor, store, asset_id=asset_id, space_id=space_id)
    return Response(status_code=204)


@router.post("/v2/assets/{asset_id}/attachments", status_code=201)
def create_attachment(
    asset_id: str, body: NewAttachmentBody, session: SessionDep, actor: ActorDep, space_id: str | None = None
) -> dict[str, Any]:
    asset, secret = assets.open_attachment(session, actor, asset_id=asset_id, space_id=space_id, file_name=body.name)
    # The client PUTs the file to `url1` without its Authorization header: the URL carries a one-time secret.
    url = f"/v2/assets/{asset.id}/attachments/{asset.attachment_id}/upload?token={secret}"
    return {**render.attachment(asset), "attachment_id": asset.attachment_id, "url1": url}


@router.put("/v2/assets/{asset_id}/attachments/{attachment_id}/upload", status_code=201)
async def upload_attachment(
    asset_id: str,
    attachment_id: str,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    token: str = "",
) -> dict[str, Any]:
    await run_in_threadpool(assets.check_upload, session, asset_id=asset_id, attachment_id=attachment_id, secret=token)
    limit = settings.max_upload_bytes
    folder = store.stage_dir()
    try:
        body = folder / "body"
        await receive(request.stream(), body, limit=limit + MULTIPART_SLACK)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            body = await _file_part(request, body, folder / "file")
        if body.stat().st_size > limit:
            raise PayloadTooLarge(f"the upload is larger than the limit of {limit} bytes", field="file")
        asset = await run_in_threadpool(
            assets.receive_content,
            session,
            store,
            asset_id=asset_id,
            attachment_id=attachment_id,
            secret=token,
            upload=body,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return render.attachment(asset)


async def _file_part(request: Request, body: Path, target: Path) -> Path:
    """The `file` part of a multipart body already on disk (the client uploads with files={"file": ...})."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        with body.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                yield chunk

    try:
        form = await MultiPartParser(request.headers, chunks(), max_files=1, max_fields=10).parse()
    except MultiPartException as exc:
        raise InvalidInput(f"the body is not valid multipart/form-data: {exc.message}", field="file") from exc
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise InvalidInput("expected the file in a multipart part named 'file'", field="file")
        with target.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, part.file, out)
    finally:
        await form.close()
    if target.stat().st_size == 0:
        raise InvalidInput("the upload is empty", field="file")
    return target


DOWNLOAD_SECONDS = 300
"""How long an attachment's download URL works."""


@router.get("/v2/assets/{asset_id}/attachments/{attachment_id}")
def get_attachment(
    asset_id: str,
    attachment_id: str,
    session: SessionDep,
    actor: ActorDep,
    context: ContextDep,
    space_id: str | None = None,
) -> dict[str, Any]:
    asset = assets.attachment(session, actor, asset_id=asset_id, attachment_id=attachment_id, space_id=space_id)
    # The client GETs `url` without its Authorization header (as it would a signed COS URL), so
    # the URL carries a short-lived token good for this one attachment and nothing else.
    token = issue_token(
        user_id=actor.user_id,
        user_name=actor.name,
        key=context.signing_key,
        ttl_seconds=DOWNLOAD_SECONDS,
        audience=_download_audience(asset.id, attachment_id),
        key_id=actor.key_id,
    )
    url = f"/v2/assets/{asset.id}/attachments/{attachment_id}/content?token={token}"
    return {**render.attachment(asset), "attachment_id": attachment_id, "url": url}


@router.get("/v2/assets/{asset_id}/attachments/{attachment_id}/content")
def download_attachment(
    asset_id: str, attachment_id: str, session: SessionDep, context: ContextDep, store: StoreDep, token: str = ""
) -> FileResponse:
    # Like any token, it dies with the API key it was issued under.
    actor = token_actor(session, context, token, audience=_download_audience(asset_id, attachment_id))
    asset = assets.attachment(session, actor, asset_id=asset_id, attachment_id=attachment_id)
    assert asset.sha256 is not None  # assets.attachment answers only complete attachments
    return FileResponse(store.open_path(asset.sha256), media_type=asset.mime_type, filename=asset.file_name)


def _download_audience(asset_id: str, attachment_id: str) -> str:
    return f"attachment:{asset_id}:{attachment_id}"


@router.post("/v2/assets/{asset_id}/attachments/{attachment_id}/complete")
def complete_attachment(
    asset_id: str, attachment_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None
) -> dict[str, Any]:
    asset = assets.complete(session, actor, asset_id=asset_id, attachment_id=attachment_id, space_id=space_id)
    return render.data_asset(asset)
