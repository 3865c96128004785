"""Data assets: files uploaded into a space (CAMS-style, as one attachment) for batch jobs to score."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from champion import blob_references
from champion.artifacts import ArtifactStore
from champion.db import new_id, utcnow
from champion.errors import InvalidInput, PermissionDenied
from champion.jobs.errors import DataAssetNotFound, UploadUrlUsed
from champion.jobs.schemas import NewDataAsset
from champion.jobs.tables import DataAsset
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor


def create(session: Session, actor: Actor, *, space_id: str, new: NewDataAsset) -> DataAsset:
    """Record an empty data asset; its content arrives through an attachment."""
    spaces.require(session, actor, space_id, Role.EDITOR)
    asset = DataAsset(
        space_id=space_id,
        name=new.name,
        description=new.description,
        mime_type=new.mime_type,
        created_by=actor.user_id,
    )
    session.add(asset)
    session.commit()
    return asset


def get(session: Session, actor: Actor, *, asset_id: str, space_id: str | None = None) -> DataAsset:
    """The data asset, if the caller is a member of its space (and it is in `space_id`, when given)."""
    asset = session.get(DataAsset, asset_id)
    if asset is None or not spaces.sees(session, actor, asset.space_id, within=space_id):
        raise DataAssetNotFound(f"no data asset with id {asset_id!r}")
    return asset


def exists(session: Session, *, asset_id: str) -> bool:
    """Whether `asset_id` names a data asset at all (faces sharing /v2/assets/{id} with models ask)."""
    return session.get(DataAsset, asset_id) is not None


def list_assets(session: Session, actor: Actor, *, space_id: str) -> list[DataAsset]:
    spaces.role_of(session, actor, space_id)
    query = select(DataAsset).where(DataAsset.space_id == space_id).order_by(DataAsset.created_at)
    return list(session.scalars(query))


def attachment(
    session: Session, actor: Actor, *, asset_id: str, attachment_id: str, space_id: str | None = None
) -> DataAsset:
    """The data asset whose complete attachment is `attachment_id`, for a caller who sees it."""
    asset = get(session, actor, asset_id=asset_id, space_id=space_id)
    if asset.attachment_id != attachment_id or asset.sha256 is None:
        raise DataAssetNotFound(f"no complete attachment {attachment_id!r} on data asset {asset_id!r}")
    return asset


def open_attachment(
    session: Session, actor: Actor, *, asset_id: str, space_id: str | None, file_name: str
) -> tuple[DataAsset, str]:
    """Start an upload; returns the asset and the one-time secret its upload URL carries.

    The WML client sends the file without its Authorization header (it treats the URL as
    pre-signed), so the secret stands in for the caller, who must be an editor now.
    """
    asset = get(session, actor, asset_id=asset_id, space_id=space_id)
    spaces.require(session, actor, asset.space_id, Role.EDITOR)
    secret = secrets.token_urlsafe(32)
    asset.attachment_id = new_id()
    asset.upload_digest = _digest(secret)
    asset.file_name = Path(file_name).name[:255] or "data"
    asset.modified_at = utcnow()
    session.commit()
    return asset, secret


def check_upload(session: Session, *, asset_id: str, attachment_id: str, secret: str) -> DataAsset:
    """The asset an upload URL is for, if its secret holds (checked before the body is read, and again after).

    Read afresh each time: the body may take minutes to arrive, and the URL may have been used meanwhile.
    """
    asset = session.get(DataAsset, asset_id, populate_existing=True)
    if asset is None or asset.attachment_id != attachment_id:
        raise DataAssetNotFound(f"no attachment {attachment_id!r} on data asset {asset_id!r}")
    if asset.upload_digest is None:  # open_attachment set it with the attachment; an upload spent it
        raise _used()
    if not hmac.compare_digest(asset.upload_digest, _digest(secret)):
        raise PermissionDenied("this upload URL is not valid")
    return asset


def receive_content(
    session: Session, store: ArtifactStore, *, asset_id: str, attachment_id: str, secret: str, upload: Path
) -> DataAsset:
    """Keep an uploaded file as the asset's content; the upload URL's secret works once.

    The secret is spent by a conditional UPDATE (only while the row still holds its digest), so of
    two uploads racing through one URL, each of which passed `check_upload`, one is kept and the
    other refused as a used URL.
    """
    asset = check_upload(session, asset_id=asset_id, attachment_id=attachment_id, secret=secret)
    previous, digest = asset.sha256, asset.upload_digest
    staged = store.stage(upload)
    spent = session.execute(
        update(DataAsset)
        .where(DataAsset.id == asset_id, DataAsset.attachment_id == attachment_id, DataAsset.upload_digest == digest)
        .values(sha256=staged.sha256, size=staged.size, upload_digest=None, modified_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise _used()
    store.keep(staged)
    try:
        session.commit()
    except Exception:
        session.rollback()
        blob_references.forget_unused(session, store, {staged.sha256})
        raise
    if previous is not None and previous != staged.sha256:
        blob_references.forget_unused(session, store, {previous})
    session.refresh(asset)  # here in the worker thread, not when the face renders it
    return asset


def complete(session: Session, actor: Actor, *, asset_id: str, attachment_id: str, space_id: str | None) -> DataAsset:
    asset = get(session, actor, asset_id=asset_id, space_id=space_id)
    if asset.attachment_id != attachment_id:
        raise DataAssetNotFound(f"no attachment {attachment_id!r} on data asset {asset_id!r}")
    if asset.sha256 is None:
        raise InvalidInput("nothing was uploaded to this attachment yet", field="attachment_id")
    return asset


def delete(session: Session, actor: Actor, store: ArtifactStore, *, asset_id: str, space_id: str | None) -> None:
    asset = get(session, actor, asset_id=asset_id, space_id=space_id)
    spaces.require(session, actor, asset.space_id, Role.EDITOR)
    digest = asset.sha256
    session.delete(asset)
    session.commit()
    if digest is not None:
        blob_references.forget_unused(session, store, {digest})


def _used() -> UploadUrlUsed:
    return UploadUrlUsed("this upload URL was used already: ask for a new attachment to upload again")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
