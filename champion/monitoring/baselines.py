"""A drift baseline from a data asset the user names (the training data), instead of the first captured rows.

DataRobot measures feature drift against the training data and target drift against the model's
predictions on it; champion does the same when asked: the asset's rows (the model's features, by
name; other columns ignored; at most `MAX_ROWS`) fix the bins, and the model's own answers to them,
computed in the trial process (never in a serving process), fix the target's. The version's drift is
then counted again from every capture file it has, against the new bins, in the same commit that
replaces the old baseline, so no hour mixes two sets of bins.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from champion.artifacts import ArtifactStore
from champion.deployments import service as deployments
from champion.errors import InvalidInput
from champion.jobs import assets, reading
from champion.models.tables import ModelVersion
from champion.monitoring import binning, drift, files
from champion.monitoring.tables import CaptureFile, DriftBaseline, DriftCount
from champion.replacement import trial
from champion.runtimes import Framework, Signature
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor

MAX_ROWS = 100_000
"""Rows of the asset a baseline reads: plenty for ten quantile bins, bounded in time and memory."""


def from_data_asset(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    deployment_id: str,
    data_asset_id: str,
    version_id: str | None = None,
) -> int:
    """Fix the drift baseline of a version (the champion by default) from a data asset; the rows it read.

    Editors only. Refused, naming `data_asset_id`, when the asset is not in the deployment's space,
    has no content, lacks a feature the model takes, or the model cannot answer its rows.
    """
    described = deployments.get(session, actor, deployment_id=deployment_id)
    deployment = described.deployment
    spaces.require(session, actor, deployment.space_id, Role.EDITOR)
    version = _version(session, described, version_id)
    asset = assets.get(session, actor, asset_id=data_asset_id, space_id=deployment.space_id)
    if asset.sha256 is None:
        raise InvalidInput("the data asset has no content yet: upload it first", field="data_asset_id")
    signature = Signature.from_dict(version.signature)
    matrix = reading.file_matrix(signature, store.open_path(asset.sha256), field="data_asset_id")[:MAX_ROWS]
    try:
        labels = trial.answers(store.open_path(version.sha256), Framework(version.framework), signature, matrix)
    except RuntimeError as exc:
        raise InvalidInput(f"the model could not answer the data asset's rows: {exc}", field="data_asset_id") from None
    made = _baselines(deployment.id, version.id, signature, matrix, labels)
    _replace(session, store, deployment.id, version.id, signature, made)
    session.commit()
    return len(matrix)


def _baselines(
    deployment_id: str, version_id: str, signature: Signature, matrix: np.ndarray, labels: np.ndarray
) -> list[DriftBaseline]:
    columns = {f.name: matrix[:, j] for j, f in enumerate(signature.features)}
    classes = tuple(dict.fromkeys(str(c) for c in signature.target.classes))
    made = []
    for feature, kind in drift.tracked(signature):
        values = labels if feature == drift.TARGET else columns[feature]
        if feature == drift.TARGET and classes:
            values = np.asarray([str(v) for v in values], dtype=object)
            bins = binning.Bins(kind="categorical", categories=classes)
        else:
            if kind == "numeric":
                values = np.asarray(values, dtype=np.float64)
            bins = binning.fit(values, kind)
        made.append(
            DriftBaseline(
                deployment_id=deployment_id,
                version_id=version_id,
                feature=feature,
                bins=bins.to_json(),
                counts=binning.count(bins, values),
                source="asset",
            )
        )
    return made


def _replace(
    session: Session,
    store: ArtifactStore,
    deployment_id: str,
    version_id: str,
    signature: Signature,
    made: list[DriftBaseline],
) -> None:
    """Swap the baseline and count every capture file of the version again against it (one transaction)."""
    mine = {"deployment_id": deployment_id, "version_id": version_id}
    session.execute(delete(DriftBaseline).filter_by(**mine))
    session.execute(delete(DriftCount).filter_by(**mine))
    session.execute(update(CaptureFile).filter_by(**mine).values(drift_counted=False))
    session.add_all(made)
    session.flush()
    baselines = {b.feature: b for b in made}
    for record in session.scalars(select(CaptureFile).filter_by(**mine)):
        if store.exists(record.sha256):
            rows = files.read(store.open_path(record.sha256), signature)
            drift.count_file(session, deployment_id, version_id, baselines, record.id, rows)


def _version(session: Session, described: deployments.Described, version_id: str | None) -> ModelVersion:
    """The champion, or another version whose answers the deployment captured."""
    champion: ModelVersion = described.version
    if version_id is None or version_id == champion.id:
        return champion
    captured = select(CaptureFile.id).where(
        CaptureFile.deployment_id == described.deployment.id, CaptureFile.version_id == version_id
    )
    version = session.get(ModelVersion, version_id)
    if version is None or session.scalar(captured.limit(1)) is None:
        raise InvalidInput(
            f"this deployment has no captured predictions of the model {version_id!r}", field="version_id"
        )
    return version
