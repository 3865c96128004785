"""Batch jobs in the domain: the rules on create, read, cancel and delete, and the handler's runs."""

from __future__ import annotations

import asyncio
import io
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from fastapi.testclient import TestClient

from champion import blob_references
from champion.app import create_app
from champion.context import ServerContext
from champion.deployments import lifecycle
from champion.deployments import service as deployments
from champion.deployments.schemas import NewDeployment
from champion.deployments.types import Kind
from champion.errors import InvalidInput, NotFound, PermissionDenied
from champion.jobs import assets, runs
from champion.jobs import service as jobs
from champion.jobs.errors import DeploymentNotReady, JobNotFound, UploadUrlUsed
from champion.jobs.schemas import InputBlock, NewDataAsset, NewJob
from champion.jobs.scoring_job import BatchJobHandler
from champion.jobs.tables import BatchJob
from champion.models import service as models
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState
from champion.serving.engine import Answer, ServingEngine
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.spaces.types import Role
from champion.users.service import Actor
from tests.model_files import FEATURES, ModelFiles, training_data


def deployment(
    context: ServerContext, actor: Actor, model: Path, *, kind: Kind = Kind.BATCH, ready: bool = True
) -> tuple[str, str]:
    """A space and a deployment of `model` in it, marked ready without running its deploy operation."""
    with context.sessions() as session:
        space = spaces.create_space(session, actor, details=SpaceDetails(name="s"))
        registered = models.create_model(
            session,
            actor,
            space_id=space.id,
            new=NewModel(name="m", type="scikit-learn_1.3", software_spec_id=CATALOGUE[0].id),
        )
        upload = context.store.stage_dir() / "upload"
        shutil.copy(model, upload)
        version = models.add_version(session, actor, context.store, model_id=registered.id, upload=upload, limit=10**8)
        described, operation = deployments.create(
            session, actor, space_id=space.id, new=NewDeployment(name="d", kind=kind, model_id=registered.id)
        )
        if ready:
            lifecycle.deployed(session, deployment_id=described.deployment.id, version_id=version.id)
            operations.finish(session, operation_id=operation.id, state=OperationState.SUCCEEDED)
            session.commit()
        return space.id, described.deployment.id


def data_asset(context: ServerContext, actor: Actor, space_id: str, content: bytes, name: str = "in.csv") -> str:
    with context.sessions() as session:
        asset = assets.create(session, actor, space_id=space_id, new=NewDataAsset(name=name))
        asset, secret = assets.open_attachment(session, actor, asset_id=asset.id, space_id=space_id, file_name=name)
        upload = context.store.stage_dir() / "upload"
        upload.write_bytes(content)
        assert asset.attachment_id is not None
        assets.receive_content(
            session, context.store, asset_id=asset.id, attachment_id=asset.attachment_id, secret=secret, upload=upload
        )
        return asset.id


def inline(frame: Any) -> list[InputBlock]:
    return [InputBlock(fields=list(frame.columns), values=frame.to_numpy().tolist())]


def create(context: ServerContext, actor: Actor, space_id: str, deployment_id: str, **kwargs: Any) -> tuple[str, str]:
    with context.sessions() as session:
        job, operation = jobs.create(
            session, actor, space_id=space_id, new=NewJob(name="j", deployment_id=deployment_id, **kwargs)
        )
        return job.id, operation.id


def run(
    context: ServerContext, operation_id: str, engine: ServingEngine | None = None, chunk_rows: int = 1000
) -> BatchJob:
    """Claim the job's operation and run its handler to the end, as a runner would."""

    async def scenario() -> None:
        serving = engine or ServingEngine()
        with context.sessions() as session:
            operation = operations.claim_next(session, runner="test")
        assert operation is not None and operation.id == operation_id
        await BatchJobHandler(context.sessions, context.store, serving, chunk_rows=chunk_rows)(operation)
        await serving.close()

    asyncio.run(scenario())
    return state_of(context, operation_id)


def state_of(context: ServerContext, operation_id: str) -> BatchJob:
    with context.sessions() as session:
        operation = session.get(Operation, operation_id)
        assert operation is not None
        job = session.get(BatchJob, operation.target_id)
        assert job is not None
        return job


def test_an_inline_job_scores_like_the_model(context: ServerContext, alice: Actor, model_files: ModelFiles) -> None:
    space_id, deployment_id = deployment(context, alice, model_files.classifier_named)
    frame, _ = training_data(rows=25, seed=4)
    job_id, operation_id = create(context, alice, space_id, deployment_id, input_data=inline(frame))
    with context.sessions() as session:
        job = jobs.get(session, alice, job_id=job_id)
        assert (job.state, job.rows_total) == ("queued", 25)
        assert session.get(Operation, operation_id).kind == "batch_job"  # type: ignore[union-attr]
    job = run(context, operation_id, chunk_rows=10)
    assert (job.state, job.rows_scored, job.rows_total) == ("completed", 25, 25)
    result = jobs.result(context.store, job)
    assert result is not None
    (block,) = result.blocks
    estimator = joblib.load(model_files.classifier_named)
    assert block.labels == estimator.predict(frame).tolist() and block.probabilities is not None
    np.testing.assert_allclose(block.probabilities, estimator.predict_proba(frame))
    with context.sessions() as session:
        assert session.get(Operation, operation_id).state == OperationState.SUCCEEDED  # type: ignore[union-attr]


def test_data_assets_are_matched_by_column_name_and_a_missing_one_fails(
    context: ServerContext, alice: Actor, model_files: ModelFiles
) -> None:
    space_id, deployment_id = deployment(context, alice, model_files.regressor)
    frame, _ = training_data(rows=12, seed=5)
    shuffled = frame[["x3", "x1", "x2"]].assign(extra="ignored")
    parquet = io.BytesIO()
    shuffled.to_parquet(parquet)
    csv_id = data_asset(context, alice, space_id, shuffled.to_csv(index=False).encode())
    parquet_id = data_asset(context, alice, space_id, parquet.getvalue(), name="in.parquet")
    _, operation_id = create(context, alice, space_id, deployment_id, input_assets=[csv_id, parquet_id])
    job = run(context, operation_id)
    assert (job.state, job.rows_total) == ("completed", 24)
    result = jobs.result(context.store, job)
    assert result is not None
    expected = joblib.load(model_files.regressor).predict(frame)
    for block in result.blocks:
        assert block.probabilities is None
        np.testing.assert_allclose(block.labels, expected)

    missing = data_asset(context, alice, space_id, frame.drop(columns="x2").to_csv(index=False).encode())
    _, operation_id = create(context, alice, space_id, deployment_id, input_assets=[missing])
    job = run(context, operation_id)
    assert job.state == "failed" and job.failure is not None
    assert "missing column 'x2'" in job.failure[0]["message"]
    assert "input_data_references[0]" in job.failure[0]["message"]
    with context.sessions() as session:
        assert session.get(Operation, operation_id).state == OperationState.FAILED  # type: ignore[union-attr]

    with context.sessions() as session:
        asset = assets.create(session, alice, space_id=space_id, new=NewDataAsset(name="d"))
        asset, secret = assets.open_attachment(session, alice, asset_id=asset.id, space_id=space_id, file_name="d.csv")
        assert asset.attachment_id is not None
        with pytest.raises(PermissionDenied):
            assets.check_upload(session, asset_id=asset.id, attachment_id=asset.attachment_id, secret=uuid.uuid4().hex)
        upload = context.store.stage_dir() / "upload"
        upload.write_bytes(b"x1,x2,x3\n1,2,3\n")
        assets.receive_content(
            session, context.store, asset_id=asset.id, attachment_id=asset.attachment_id, secret=secret, upload=upload
        )
        with pytest.raises(UploadUrlUsed):
            assets.check_upload(session, asset_id=asset.id, attachment_id=asset.attachment_id, secret=secret)
        digest = asset.sha256
        assert digest is not None and context.store.exists(digest)
        assets.delete(session, alice, context.store, asset_id=asset.id, space_id=space_id)
    assert not context.store.exists(digest)


BAD_BLOCKS = [
    (InputBlock(fields=["x1", "x2"], values=[[1.0, 2.0]]), "scoring.input_data[0].fields"),
    (InputBlock(fields=FEATURES, values=[[1.0, "a", 3.0]]), "scoring.input_data[0].values[0][1]"),
    (InputBlock(fields=FEATURES, values=[]), "scoring.input_data[0].values"),
]


def test_who_may_do_what_and_which_deployments_take_jobs(
    context: ServerContext, alice: Actor, bob: Actor, model_files: ModelFiles
) -> None:
    space_id, deployment_id = deployment(context, alice, model_files.classifier_named)
    frame, _ = training_data(rows=2)
    with pytest.raises(NotFound):  # bob is no member yet: the space does not exist for him
        create(context, bob, space_id, deployment_id, input_data=inline(frame))
    job_id, _ = create(context, alice, space_id, deployment_id, input_data=inline(frame))
    with context.sessions() as session:
        with pytest.raises(JobNotFound):
            jobs.get(session, bob, job_id=job_id)
        spaces.add_members(session, alice, space_id=space_id, members=[(bob.user_id, Role.VIEWER)])
        assert jobs.get(session, bob, job_id=job_id).id == job_id
        assert [j.id for j in jobs.list_jobs(session, bob, space_id=space_id)] == [job_id]
        with pytest.raises(PermissionDenied):
            jobs.cancel(session, bob, job_id=job_id)
        with pytest.raises(PermissionDenied):
            jobs.delete(session, bob, context.store, job_id=job_id)
    with pytest.raises(PermissionDenied):
        create(context, bob, space_id, deployment_id, input_data=inline(frame))
    for block, field in BAD_BLOCKS:  # checked before anything is written
        with pytest.raises(InvalidInput) as refused:
            create(context, alice, space_id, deployment_id, input_data=[block])
        assert refused.value.field == field
    with pytest.raises(InvalidInput) as refused:
        create(context, alice, space_id, deployment_id)
    assert refused.value.field == "scoring.input_data"
    with context.sessions() as session:
        assert [j.id for j in jobs.list_jobs(session, alice, space_id=space_id)] == [job_id]
        assert session.query(Operation).filter(Operation.kind == "batch_job").count() == 1

    space_id, online_id = deployment(context, alice, model_files.classifier_named, kind=Kind.ONLINE)
    with pytest.raises(InvalidInput) as refused:
        create(context, alice, space_id, online_id, input_data=inline(frame))
    assert refused.value.field == "deployment.id" and "online" in refused.value.message
    space_id, pending_id = deployment(context, alice, model_files.classifier_named, ready=False)
    with pytest.raises(DeploymentNotReady, match="initializing"):
        create(context, alice, space_id, pending_id, input_data=inline(frame))


class CancelsAfterFirstChunk(ServingEngine):
    """An engine whose first answer is followed by the job's owner cancelling it."""

    def __init__(self, context: ServerContext, actor: Actor, job_id: str) -> None:
        super().__init__()
        self.context, self.actor, self.job_id, self.calls = context, actor, job_id, 0

    async def predict(self, deployment_id: str, rows: np.ndarray) -> Answer:
        answer = await super().predict(deployment_id, rows)
        self.calls += 1
        if self.calls == 1:
            with self.context.sessions() as session:
                jobs.cancel(session, self.actor, job_id=self.job_id)
        return answer


def test_cancel_and_hard_delete(context: ServerContext, alice: Actor, model_files: ModelFiles) -> None:
    space_id, deployment_id = deployment(context, alice, model_files.classifier_named)
    frame, _ = training_data(rows=50)
    job_id, operation_id = create(context, alice, space_id, deployment_id, input_data=inline(frame))
    engine = CancelsAfterFirstChunk(context, alice, job_id)
    job = run(context, operation_id, engine=engine, chunk_rows=10)
    assert (job.state, job.rows_scored, job.result_sha256, engine.calls) == ("canceled", 0, None, 1)
    with context.sessions() as session:
        assert session.get(Operation, operation_id).state == OperationState.SUCCEEDED  # type: ignore[union-attr]
        assert jobs.cancel(session, alice, job_id=job_id).state == "canceled"  # cancelling again changes nothing

    job_id, operation_id = create(context, alice, space_id, deployment_id, input_data=inline(frame))
    with context.sessions() as session:
        assert jobs.cancel(session, alice, job_id=job_id).state == "canceled"
    assert run(context, operation_id).state == "canceled"

    job_id, operation_id = create(context, alice, space_id, deployment_id, input_data=inline(frame))
    digest = run(context, operation_id).result_sha256
    assert digest is not None and context.store.exists(digest)
    with context.sessions() as session:
        assert jobs.cancel(session, alice, job_id=job_id).state == "completed"  # an ended job stays as it ended
        assert digest in blob_references.all_in_use(session)
        jobs.delete(session, alice, context.store, job_id=job_id)
        with pytest.raises(JobNotFound):
            jobs.get(session, alice, job_id=job_id)
    assert not context.store.exists(digest)
    with context.sessions() as session:  # a deployment's jobs go with it
        assert len(jobs.list_jobs(session, alice, space_id=space_id)) == 2
        deployments.delete(session, alice, deployment_id=deployment_id)
        assert jobs.list_jobs(session, alice, space_id=space_id) == []


def test_a_job_left_running_starts_over_after_a_restart(
    context: ServerContext, alice: Actor, model_files: ModelFiles
) -> None:
    space_id, deployment_id = deployment(context, alice, model_files.classifier_named)
    frame, _ = training_data(rows=30)
    job_id, operation_id = create(context, alice, space_id, deployment_id, input_data=inline(frame))
    with context.sessions() as session:  # a server claimed it, scored some rows, and died
        claimed = operations.claim_next(session, runner="a server that then died")
        assert claimed is not None and claimed.id == operation_id
        assert runs.begin(session, job_id=job_id) is not None
        assert runs.advance(session, job_id=job_id, rows_scored=17, rows_total=30)
        assert operations.recover(session) == 1
    with TestClient(create_app(context=context)):
        deadline = time.monotonic() + 20
        while not OperationState(state_of_operation(context, operation_id)).terminal:
            assert time.monotonic() < deadline, "the resumed job never ended"
            time.sleep(0.05)
    job = state_of(context, operation_id)
    assert (job.state, job.rows_scored, job.rows_total) == ("completed", 30, 30)
    result = jobs.result(context.store, job)
    assert result is not None
    assert result.blocks[0].labels == joblib.load(model_files.classifier_named).predict(frame).tolist()


def state_of_operation(context: ServerContext, operation_id: str) -> str:
    with context.sessions() as session:
        operation = session.get(Operation, operation_id)
        assert operation is not None
        return operation.state
