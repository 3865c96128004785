"""Batch jobs' rules: who may create, read, cancel and delete them, and what a job's input must be."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from champion import blob_references
from champion.artifacts import ArtifactStore
from champion.db import utcnow
from champion.deployments import service as deployments
from champion.deployments.scoring import ANSWERING
from champion.deployments.types import Kind
from champion.errors import InvalidInput
from champion.jobs import blobs, memory, reading
from champion.jobs.errors import DeploymentNotReady, JobNotFound
from champion.jobs.schemas import NewJob
from champion.jobs.tables import BatchJob, DataAsset
from champion.jobs.types import ACTIVE, JobResult, JobState
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationKind
from champion.runtimes import Signature
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor


def create(
    session: Session,
    actor: Actor,
    *,
    space_id: str,
    new: NewJob,
    store: ArtifactStore | None = None,
    memory_limit: int | None = None,
) -> tuple[BatchJob, Operation]:
    """Check the deployment and the input, then record the job and its operation in one commit.

    Inline rows are checked against the champion's signature here, so a bad field is a
    400 naming it and nothing is written; a data asset is read only when the job runs. With
    `memory_limit` (the job will run in a server process: no Dask scheduler is set), a data asset
    estimated to need more memory is refused now (`memory.check`), rather than failing the job, when
    its blob is on this host's disk; a blob only in a bucket is not downloaded inside the request to
    estimate it: the job's run checks it the same way before reading it, and fails saying so.
    """
    spaces.require(session, actor, space_id, Role.EDITOR)
    described = deployments.get(session, actor, deployment_id=new.deployment_id, space_id=space_id)
    deployment = described.deployment
    named = f"deployment {deployment.name!r} ({deployment.id})"
    if deployment.kind != Kind.BATCH:
        raise InvalidInput(
            f"{named} is an online deployment: score it at /ml/v4/deployments/{deployment.id}/predictions",
            field="deployment.id",
        )
    if deployment.state not in ANSWERING:
        raise DeploymentNotReady(f"{named} is {deployment.state}, not ready: it cannot run jobs")
    if bool(new.input_data) == bool(new.input_assets):
        raise InvalidInput("give exactly one of input_data or input_data_references", field="scoring.input_data")
    signature = Signature.from_dict(described.version.signature)
    total = sum(len(reading.inline_matrix(signature, b.model_dump(), i)) for i, b in enumerate(new.input_data))
    for index, asset_id in enumerate(new.input_assets):
        field = f"scoring.input_data_references[{index}]"
        asset = _check_asset(session, asset_id, space_id=space_id, field=field)
        path = store.cached_path(asset.sha256) if store is not None and asset.sha256 is not None else None
        if path is not None and memory_limit is not None:
            memory.check(path, features=len(signature.features), limit=memory_limit, name=asset.name, field=field)
    job = BatchJob(
        space_id=space_id,
        deployment_id=deployment.id,
        name=new.name,
        state=JobState.QUEUED.value,
        input_data=[b.model_dump() for b in new.input_data] or None,
        input_assets=list(new.input_assets),
        rows_total=total if new.input_data else None,
        output_name=new.output_name,
        created_by=actor.user_id,
    )
    session.add(job)
    session.flush()
    operation = operations.create(
        session,
        kind=OperationKind.BATCH_JOB,
        space_id=space_id,
        target_id=job.id,
        created_by=actor.user_id,
    )
    session.commit()
    return job, operation


def _check_asset(session: Session, asset_id: str, *, space_id: str, field: str) -> DataAsset:
    asset = session.get(DataAsset, asset_id)
    if asset is None or asset.space_id != space_id:
        raise InvalidInput(f"no data asset with id {asset_id!r} in this space", field=f"{field}.location.href")
    if asset.sha256 is None:
        raise InvalidInput(f"data asset {asset.name!r} has no content yet", field=f"{field}.location.href")
    return asset


def get(session: Session, actor: Actor, *, job_id: str, space_id: str | None = None) -> BatchJob:
    """The job, if the caller is a member of its space (and it is in `space_id`, when given)."""
    job = session.get(BatchJob, job_id)
    if job is None or not spaces.sees(session, actor, job.space_id, within=space_id):
        raise JobNotFound(f"no deployment job with id {job_id!r}")
    return job


def list_jobs(session: Session, actor: Actor, *, space_id: str, deployment_id: str | None = None) -> list[BatchJob]:
    """The space's jobs, newest first."""
    spaces.role_of(session, actor, space_id)
    query = select(BatchJob).where(BatchJob.space_id == space_id).order_by(BatchJob.created_at.desc())
    if deployment_id is not None:
        query = query.where(BatchJob.deployment_id == deployment_id)
    return list(session.scalars(query))


def result(store: ArtifactStore, job: BatchJob) -> JobResult | None:
    """A completed job's predictions (None before it completes)."""
    if job.state != JobState.COMPLETED or job.result_sha256 is None:
        return None
    return blobs.read_result(store, job.result_sha256)


def cancel(session: Session, actor: Actor, *, job_id: str, space_id: str | None = None) -> BatchJob:
    """Stop a queued or running job; a job that already ended is left as it is.

    Only the job row changes: its handler sees the state between chunks (or when it
    starts) and stops, so cancel and a finishing handler cannot both win.
    """
    job = get(session, actor, job_id=job_id, space_id=space_id)
    spaces.require(session, actor, job.space_id, Role.EDITOR)
    now = utcnow()
    session.execute(
        update(BatchJob)
        .where(BatchJob.id == job.id, BatchJob.state.in_(ACTIVE))
        .values(state=JobState.CANCELED.value, finished_at=now, modified_at=now)
    )
    session.commit()
    session.refresh(job)
    return job


def delete(session: Session, actor: Actor, store: ArtifactStore, *, job_id: str, space_id: str | None = None) -> None:
    """Remove the job's record and its predictions; a running handler sees it gone and stops."""
    job = get(session, actor, job_id=job_id, space_id=space_id)
    spaces.require(session, actor, job.space_id, Role.EDITOR)
    digest = job.result_sha256
    session.delete(job)
    session.commit()
    if digest is not None:
        blob_references.forget_unused(session, store, {digest})
