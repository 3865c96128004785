"""Exporting a space as an archive, and importing an archive or another space into an existing space.

An import adds to a space and never takes away: a model of the same name gains the revisions
it lacks (each loaded and checked like an upload), a data asset of the same name gets the
archive's content, and a deployment of the same name is left as it is, because changing what a
live deployment serves is a replacement with its own checks. Importing the same thing twice
changes nothing the second time, so an import cut short can simply be run again.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from champion.artifacts import ArtifactStore
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.transfer import apply, archive, plan, snapshot
from champion.transfer.errors import BadArchive
from champion.transfer.manifest import Manifest
from champion.transfer.types import ImportReport
from champion.users.service import Actor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Export:
    """A space ready to stream: `chunks()` reads each blob from the store only as it is sent."""

    file_name: str
    snapshot: snapshot.Snapshot

    def chunks(self) -> Iterator[bytes]:
        manifest = self.snapshot.manifest
        return archive.write(manifest, self.snapshot.blobs, mtime=manifest.exported_at.timestamp())


def export_space(session: Session, actor: Actor, store: ArtifactStore, *, space_id: str) -> Export:
    """Any member may export (reading is all it does)."""
    taken = snapshot.take(session, actor, store, space_id=space_id)
    manifest = taken.manifest
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", manifest.space.name).strip("-.") or "space"
    return Export(f"{slug}-{manifest.exported_at:%Y%m%d-%H%M%S}.tar.gz", taken)


def check_importer(session: Session, actor: Actor, *, space_id: str) -> None:
    """Importing changes the space: editors and admins only (asked before a face reads an upload)."""
    spaces.require(session, actor, space_id, Role.EDITOR)


def import_archive(
    session: Session, actor: Actor, store: ArtifactStore, *, space_id: str, upload: Path, limit: int
) -> ImportReport:
    """Import an archive file; BadArchive naming the first bad item, with nothing written, if any is.

    `limit` bounds each blob as an upload is bounded (and ten times it all of them together).
    """
    check_importer(session, actor, space_id=space_id)
    workdir = store.stage_dir()
    try:
        (workdir / "blobs").mkdir()
        unpacked = archive.read(upload, workdir / "blobs", limit=limit)
        return _import(session, actor, store, space_id, unpacked.manifest, unpacked.blobs, workdir, limit)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def import_space(
    session: Session, actor: Actor, store: ArtifactStore, *, space_id: str, source_space_id: str, limit: int
) -> ImportReport:
    """Import another space's content: the caller must be an editor here and a member (any role) there."""
    check_importer(session, actor, space_id=space_id)
    taken = snapshot.take(session, actor, store, space_id=source_space_id)
    blobs = {blob.sha256: blob.path for blob in taken.blobs}
    for digest, user in taken.manifest.blob_users().items():
        if not store.exists(digest):
            raise BadArchive(f"the artifact store has lost blob {digest}", field=user)
    workdir = store.stage_dir()
    try:
        return _import(session, actor, store, space_id, taken.manifest, blobs, workdir, limit)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _import(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    space_id: str,
    manifest: Manifest,
    blobs: Mapping[str, Path],
    workdir: Path,
    limit: int,
) -> ImportReport:
    checked = plan.make(session, actor, space_id=space_id, manifest=manifest, blobs=blobs, workdir=workdir, limit=limit)
    items = apply.run(session, actor, store, space_id=space_id, plan=checked, blobs=blobs, workdir=workdir, limit=limit)
    report = ImportReport(
        space_id=space_id,
        source_space_id=manifest.space.id,
        source_space_name=manifest.space.name,
        exported_at=manifest.exported_at,
        items=tuple(items),
    )
    logger.info("imported space %s into %s: %s", manifest.space.id, space_id, report.summary())
    return report
