"""A server stopped mid-operation: the next start finishes the work, nothing stays in between."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import time
from pathlib import Path

from fastapi.testclient import TestClient

from champion.app import create_app
from champion.cluster import service as cluster
from champion.context import ServerContext, bootstrap
from champion.db import utcnow
from champion.deployments import service as deployments
from champion.deployments.schemas import NewDeployment
from champion.deployments.tables import Deployment
from champion.deployments.types import Kind
from champion.models import service as models
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor
from tests.model_files import ModelFiles


def deployment_left_running(
    context: ServerContext, actor: Actor, model_files: ModelFiles, tmp_path: Path
) -> tuple[str, str]:
    with context.sessions() as session:
        space = spaces.create_space(session, actor, details=SpaceDetails(name="s"))
        model = models.create_model(
            session,
            actor,
            space_id=space.id,
            new=NewModel(name="m", type="scikit-learn_1.3", software_spec_id=CATALOGUE[0].id),
        )
        upload = tmp_path / "upload"
        shutil.copy(model_files.classifier_named, upload)
        models.add_version(session, actor, context.store, model_id=model.id, upload=upload, limit=10**8)
        described, operation = deployments.create(
            session, actor, space_id=space.id, new=NewDeployment(name="d", kind=Kind.ONLINE, model_id=model.id)
        )
        claimed = operations.claim_next(session, runner="a server that then died")
        assert claimed is not None and claimed.id == operation.id
        return described.deployment.id, operation.id


def test_an_operation_left_running_is_resumed_after_a_restart(
    context: ServerContext, alice: Actor, model_files: ModelFiles, tmp_path: Path
) -> None:
    deployment_id, operation_id = deployment_left_running(context, alice, model_files, tmp_path)
    bootstrap(context)
    with context.sessions() as session:
        assert session.get(Operation, operation_id).state == OperationState.PENDING  # type: ignore[union-attr]
    with TestClient(create_app(context=context)):
        deadline = time.monotonic() + 20
        while True:
            with context.sessions() as session:
                operation = session.get(Operation, operation_id)
                deployment = session.get(Deployment, deployment_id)
                assert operation is not None and deployment is not None
                if OperationState(operation.state).terminal:
                    break
            assert time.monotonic() < deadline, "the resumed operation never ended"
            time.sleep(0.05)
    assert operation.state == OperationState.SUCCEEDED
    assert deployment.state == "ready"
    assert operation.runner != "a server that then died"


def _age(context: ServerContext, operation_id: str, seconds: float) -> None:
    """Pretend the operation was claimed `seconds` ago."""
    with context.sessions() as session:
        operation = session.get(Operation, operation_id)
        assert operation is not None
        operation.started_at = utcnow() - dt.timedelta(seconds=seconds)
        session.commit()


def _state(context: ServerContext, operation_id: str) -> OperationState:
    with context.sessions() as session:
        operation = session.get(Operation, operation_id)
        assert operation is not None
        return OperationState(operation.state)


def test_only_operations_of_runners_that_stopped_reporting_go_back_in_the_queue(
    context: ServerContext, alice: Actor, model_files: ModelFiles, tmp_path: Path
) -> None:
    _, operation_id = deployment_left_running(context, alice, model_files, tmp_path)
    with context.sessions() as session:
        # Just claimed: even a runner nobody has heard of keeps it for the grace period.
        assert operations.recover(session, live_runners={"another process"}) == 0
    _age(context, operation_id, seconds=60)
    with context.sessions() as session:
        # Its runner still reports: it keeps the operation however long it takes.
        assert operations.recover(session, live_runners={"a server that then died"}) == 0
        assert _state(context, operation_id) is OperationState.RUNNING
        assert operations.recover(session, live_runners={"another process"}) == 1
    assert _state(context, operation_id) is OperationState.PENDING


def test_a_running_server_resumes_what_a_dead_worker_left(
    context: ServerContext, alice: Actor, model_files: ModelFiles, tmp_path: Path
) -> None:
    """No restart: a live server's runner notices the dead worker's operation and finishes it."""
    deployment_id, operation_id = deployment_left_running(context, alice, model_files, tmp_path)
    _age(context, operation_id, seconds=60)
    with TestClient(create_app(context=context)):
        deadline = time.monotonic() + 20
        while not _state(context, operation_id).terminal:
            assert time.monotonic() < deadline, "the orphaned operation was never resumed"
            time.sleep(0.05)
    assert _state(context, operation_id) is OperationState.SUCCEEDED
    with context.sessions() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None and deployment.state == "ready"


def test_with_replicas_a_start_leaves_a_live_runners_operation_alone(
    context: ServerContext, alice: Actor, model_files: ModelFiles, tmp_path: Path
) -> None:
    _, operation_id = deployment_left_running(context, alice, model_files, tmp_path)
    _age(context, operation_id, seconds=60)
    with context.sessions() as session:
        cluster.publish(session, process="a server that then died", report=cluster.Report())
    # model_copy skips the check that replicas need PostgreSQL: this test is about the bootstrap's choice.
    replicas = dataclasses.replace(context, settings=context.settings.model_copy(update={"replicas": 2}))
    orphan = tmp_path / "uploaded by another replica, not yet committed"
    orphan.write_bytes(b"model bytes")
    digest = context.store.keep(context.store.stage(orphan))
    bootstrap(replicas)
    assert _state(context, operation_id) is OperationState.RUNNING
    assert context.store.exists(digest)
    bootstrap(context)  # alone on the database: every running row and unreferenced blob is a leftover
    assert _state(context, operation_id) is OperationState.PENDING
    assert not context.store.exists(digest)
