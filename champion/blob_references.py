"""Which blobs of the artifact store the database still names: a blob may go only when no row does.

Model versions, data assets, batch-job results and captured predictions all keep blobs, and identical bytes share one
content-addressed blob, so no domain alone can tell whether a blob it stops using is free.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from champion.artifacts import ArtifactStore
from champion.jobs.tables import BatchJob, DataAsset
from champion.models.tables import ModelVersion
from champion.monitoring.tables import CaptureFile

BLOB_COLUMNS = (ModelVersion.sha256, DataAsset.sha256, BatchJob.result_sha256, CaptureFile.sha256)
"""Every column that names a blob by its SHA-256."""


def in_use(session: Session, digest: str) -> bool:
    return any(session.scalar(select(column).where(column == digest).limit(1)) is not None for column in BLOB_COLUMNS)


def all_in_use(session: Session) -> set[str]:
    named = (session.scalars(select(column).where(column.is_not(None)).distinct()) for column in BLOB_COLUMNS)
    return {digest for digests in named for digest in digests if digest is not None}


def forget_unused(session: Session, store: ArtifactStore, digests: Iterable[str]) -> None:
    """Remove the blobs among `digests` no row names (call after the commit that dropped a reference)."""
    for digest in set(digests):
        if not in_use(session, digest):
            store.delete(digest)
