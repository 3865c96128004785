"""The state changes a running job makes; each end is committed together with its operation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from champion.artifacts.store import StagedFile
from champion.db import new_id, utcnow
from champion.deployments import settings
from champion.deployments.rollout import version_ref
from champion.deployments.scoring import ANSWERING
from champion.deployments.tables import Deployment
from champion.errors import InvalidInput
from champion.jobs.output import mime_type
from champion.jobs.tables import BatchJob, DataAsset
from champion.jobs.types import ACTIVE, JobState
from champion.models.tables import ModelVersion
from champion.operations import service as operations
from champion.operations.types import OperationState
from champion.serving import humility
from champion.serving.engine import VersionRef
from champion.serving.humility import HumilityRules


@dataclass(frozen=True)
class Plan:
    """What a job reads and which deployment scores it, read once when it starts."""

    job_id: str
    deployment_id: str
    champion: VersionRef
    input_data: list[dict[str, Any]]
    assets: list[InputAsset]
    """The data assets to score, in order."""
    output: bool
    """Whether the predictions also go to a new data asset (CSV, or Parquet by its name)."""
    name: str = "job"
    output_name: str | None = None
    humility: HumilityRules | None = None
    """The deployment's enabled humility rules, compiled against the champion (jobs on Dask apply them)."""
    compiled: bool = True
    """Whether the deployment lets a tree ensemble serve compiled (`runtimes.compiled`), as its view says."""


@dataclass(frozen=True)
class InputAsset:
    field: str
    """`scoring.input_data_references[<i>]`: what errors about it name."""
    sha256: str
    name: str


class DeploymentUnusable(Exception):
    """The job's deployment went away or stopped serving after the job was accepted."""


def begin(session: Session, *, job_id: str) -> Plan | None:
    """Mark the job running from the start and plan it; None when it was canceled or deleted.

    A job resumed after a restart comes back here too: its progress is reset, since
    nothing of an interrupted run is kept.
    """
    now = utcnow()
    started = session.execute(
        update(BatchJob)
        .where(BatchJob.id == job_id, BatchJob.state.in_(ACTIVE))
        .values(state=JobState.RUNNING.value, rows_scored=0, started_at=now, modified_at=now)
    )
    session.commit()
    if started.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = session.get(BatchJob, job_id)
    assert job is not None, "the row was just updated"
    deployment = session.get(Deployment, job.deployment_id)
    if deployment is None or deployment.state not in ANSWERING:
        state = "deleted" if deployment is None else deployment.state
        raise DeploymentUnusable(f"the deployment {job.deployment_id} is {state}: it cannot score the job")
    version = session.get(ModelVersion, deployment.version_id)
    assert version is not None, "a deployment's version is protected by a foreign key"
    assets = []
    for index, asset_id in enumerate(job.input_assets):
        field = f"scoring.input_data_references[{index}]"
        asset = session.get(DataAsset, asset_id)
        if asset is None or asset.sha256 is None:
            raise InvalidInput(f"the data asset {asset_id} was deleted or emptied", field=f"{field}.location.href")
        assets.append(InputAsset(field, asset.sha256, asset.name))
    champion = version_ref(version)
    kept = settings.stored(session, deployment_id=deployment.id)
    rules = kept.humility.rules if kept.humility.enabled else []
    return Plan(
        job.id,
        deployment.id,
        champion,
        list(job.input_data or []),
        assets,
        job.output_name is not None,
        name=job.name,
        output_name=job.output_name,
        humility=humility.compiled(rules, champion.signature) if rules else None,
        compiled=kept.compiled.enabled,
    )


def advance(session: Session, *, job_id: str, rows_scored: int, rows_total: int | None) -> bool:
    """Record progress; False when the job was canceled or deleted meanwhile (the handler stops)."""
    moved = session.execute(
        update(BatchJob)
        .where(BatchJob.id == job_id, BatchJob.state == JobState.RUNNING.value)
        .values(rows_scored=rows_scored, rows_total=rows_total, modified_at=utcnow())
    )
    session.commit()
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def active(session: Session, *, job_id: str) -> bool:
    """Whether the job is still queued or running (not canceled, deleted or ended)."""
    state = session.scalar(select(BatchJob.state).where(BatchJob.id == job_id))
    return state in ACTIVE


def complete(
    session: Session,
    *,
    job_id: str,
    operation_id: str,
    digest: str,
    output: StagedFile | None,
    output_name: str | None = None,
) -> bool:
    """Job completed with its predictions (and output data asset), and operation succeeded, in one commit.

    `output_name` names the output data asset of a job that named none (a job on Dask always
    writes one). False when the job was canceled or deleted after its last chunk: it stays so,
    and the caller drops the predictions.
    """
    now = utcnow()
    done = session.execute(
        update(BatchJob)
        .where(BatchJob.id == job_id, BatchJob.state == JobState.RUNNING.value)
        .values(
            state=JobState.COMPLETED.value,
            result_sha256=digest,
            rows_scored=BatchJob.rows_total,
            finished_at=now,
            modified_at=now,
        )
    )
    completed = bool(done.rowcount == 1)  # type: ignore[attr-defined]
    job = session.get(BatchJob, job_id)
    if completed and job is not None and output is not None and job.output_name is None:
        job.output_name = output_name
    if completed and job is not None and job.output_name is not None and output is not None:
        asset = DataAsset(
            space_id=job.space_id,
            name=job.output_name,
            mime_type=mime_type(job.output_name),
            attachment_id=new_id(),
            file_name=job.output_name,
            sha256=output.sha256,
            size=output.size,
            created_by=job.created_by,
        )
        session.add(asset)
        session.flush()
        job.output_asset_id = asset.id
    message = "" if completed else "the job was canceled or deleted before it completed"
    operations.finish(session, operation_id=operation_id, state=OperationState.SUCCEEDED, message=message)
    session.commit()
    return completed


def fail(session: Session, *, job_id: str, operation_id: str, message: str) -> None:
    """Job failed (unless canceled or deleted meanwhile) and operation failed, in one commit."""
    now = utcnow()
    session.execute(
        update(BatchJob)
        .where(BatchJob.id == job_id, BatchJob.state.in_(ACTIVE))
        .values(
            state=JobState.FAILED.value,
            failure=[{"code": "job_failed", "message": message}],
            finished_at=now,
            modified_at=now,
        )
    )
    operations.finish(session, operation_id=operation_id, state=OperationState.FAILED, message=message)
    session.commit()


def abandon(session: Session, *, operation_id: str, message: str) -> None:
    """End the operation of a job that was canceled or deleted: nothing left to do is a success."""
    operations.finish(session, operation_id=operation_id, state=OperationState.SUCCEEDED, message=message)
    session.commit()
