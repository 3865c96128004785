"""The latest captured rows a model version answered: what a replacement candidate replays."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from champion.artifacts import ArtifactStore
from champion.monitoring import files
from champion.monitoring.tables import CaptureFile
from champion.runtimes import Signature


def recent_rows(
    session: Session, store: ArtifactStore, *, deployment_id: str, version_id: str, signature: Signature, limit: int
) -> files.Rows | None:
    """Up to `limit` of the newest rows `version_id` answered for the deployment, oldest first; None without any.

    A file whose blob is gone (removed by hand, or a retention sweep racing the read) is skipped.
    """
    newest_first = session.scalars(
        select(CaptureFile)
        .where(CaptureFile.deployment_id == deployment_id, CaptureFile.version_id == version_id)
        .order_by(CaptureFile.last_at.desc())
    )
    parts: list[files.Rows] = []
    held = 0
    for record in newest_first:
        if held >= limit:
            break
        if not store.exists(record.sha256):
            continue
        rows = files.read(store.open_path(record.sha256), signature)
        parts.append(rows)
        held += len(rows)
    if not parts:
        return None
    return _tail(_joined(list(reversed(parts))), limit)


def _joined(parts: list[files.Rows]) -> files.Rows:
    if len(parts) == 1:
        return parts[0]
    probabilities = None
    if all(p.probabilities is not None for p in parts):
        probabilities = np.concatenate([p.probabilities for p in parts if p.probabilities is not None])
    return files.Rows(
        at=np.concatenate([p.at for p in parts]),
        association_ids=[a for p in parts for a in p.association_ids],
        features={name: np.concatenate([p.features[name] for p in parts]) for name in parts[0].features},
        labels=np.concatenate([p.labels for p in parts]),
        probabilities=probabilities,
    )


def _tail(rows: files.Rows, limit: int) -> files.Rows:
    if len(rows) <= limit:
        return rows
    return files.Rows(
        at=rows.at[-limit:],
        association_ids=rows.association_ids[-limit:],
        features={name: values[-limit:] for name, values in rows.features.items()},
        labels=rows.labels[-limit:],
        probabilities=None if rows.probabilities is None else rows.probabilities[-limit:],
    )
