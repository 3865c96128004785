"""Retention: captured rows are kept as long as a deployment's settings say, and no more.

Each deployment keeps its captured files for `retention_days` and at most `max_rows` rows
(`predictions_data_collection`), whichever limit is reached first: the oldest files go first, with
their blobs. Predictions indexed by association id and the actuals that met them follow the
days limit. The hourly figures (service windows, drift counts) are small and kept: they are the
history a chart draws.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from champion import blob_references
from champion.artifacts import ArtifactStore
from champion.db import utcnow
from champion.deployments import settings
from champion.monitoring.tables import Actual, AssociatedPrediction, CaptureFile


def sweep(session: Session, store: ArtifactStore, *, now: dt.datetime | None = None) -> int:
    """Drop what every deployment keeps past its limits; the number of capture files dropped."""
    now = now or utcnow()
    dropped: list[CaptureFile] = []
    deployments = session.scalars(select(CaptureFile.deployment_id).distinct()).all()
    for deployment_id in deployments:
        keep = settings.stored(session, deployment_id=deployment_id).predictions_data_collection
        cutoff = now - dt.timedelta(days=keep.retention_days)
        dropped += _expired(session, deployment_id, cutoff, keep.max_rows)
        session.execute(
            delete(AssociatedPrediction).where(
                AssociatedPrediction.deployment_id == deployment_id, AssociatedPrediction.predicted_at < cutoff
            )
        )
        session.execute(delete(Actual).where(Actual.deployment_id == deployment_id, Actual.actual_at < cutoff))
    for record in dropped:
        session.delete(record)
    session.commit()
    blob_references.forget_unused(session, store, (r.sha256 for r in dropped))
    return len(dropped)


def _expired(session: Session, deployment_id: str, cutoff: dt.datetime, max_rows: int) -> list[CaptureFile]:
    newest_first = session.scalars(
        select(CaptureFile).where(CaptureFile.deployment_id == deployment_id).order_by(CaptureFile.last_at.desc())
    )
    kept_rows, expired = 0, []
    for record in newest_first:
        kept_rows += record.rows
        if record.last_at < cutoff or kept_rows > max_rows:
            expired.append(record)
    return expired
