"""Batch jobs on a Dask cluster: partitions scored on the workers answer exactly as an in-process job.

One local cluster (two worker processes on 127.0.0.1) serves the module. The one large job, a
million-row Parquet asset, runs once on the cluster and once in-process; the other tests use small
assets cut into small partitions.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from champion.api.wml import jobs as wml_jobs
from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.deployments import service as deployments
from champion.jobs import dask_worker, runs
from champion.jobs import service as jobs
from champion.jobs.dask_client import DaskScheduler
from champion.jobs.dask_scoring import DaskScoring
from champion.jobs.dask_worker import StoreLocation
from champion.jobs.errors import DataTooLarge
from champion.jobs.schemas import NewJob
from champion.jobs.scoring_job import BatchJobHandler
from champion.jobs.tables import BatchJob, DataAsset
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.serving.engine import ServingEngine
from champion.serving_views import ServingViews
from champion.users.service import Actor
from tests.conftest import make_actor
from tests.jobs.test_service import create, data_asset, deployment, state_of
from tests.model_files import ModelFiles
from tests.servers import free_port
from tests.test_imports import loaded

distributed = pytest.importorskip("distributed")

MILLION = 1_000_000
SMALL = 30_000
SMALL_CELLS = 30_000
"""Partitions of the small assets: 10,000 rows of the 3-feature model, so 3 or more per asset."""


@dataclass(frozen=True)
class World:
    context: ServerContext
    settings: Settings
    scheduler: DaskScheduler
    client: Any
    alice: Actor
    space: str
    deployment: str
    humble: tuple[str, str]
    """(space, deployment) of the same model with humility rules: override when x1 > 2, refuse when x1 > 4.5."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles) -> Iterator[World]:
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        home = tmp_path_factory.mktemp("dask-jobs")
        settings = Settings(home=home / "home", max_upload_bytes=10**9, dask_scheduler=cluster.scheduler_address)
        context = open_context(settings)
        alice = make_actor(context, "alice")
        space, deployment_id = deployment(context, alice, model_files.classifier_named)
        humble = deployment(context, alice, model_files.classifier_named)
        rules = [
            {"name": "stop", "trigger": "outlying_input", "feature": "x1", "upper": 4.5, "action": "throw_error"},
            {"name": "far", "trigger": "outlying_input", "feature": "x1", "upper": 2.0}
            | {"action": "override_prediction", "override_value": 7},
        ]
        with context.sessions() as session:
            changes = {"humility": {"enabled": True, "rules": rules}}
            deployments.update_settings(session, alice, deployment_id=humble[1], changes=changes)
        scheduler = DaskScheduler(cluster.scheduler_address)
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            yield World(context, settings, scheduler, client, alice, space, deployment_id, humble)
        scheduler.close()
        context.close()


def frame_of(rows: int, seed: int) -> pd.DataFrame:
    """Columns in another order than the model's, and one it does not take."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(rows), **{name: rng.normal(size=rows) for name in ("x3", "x1", "x2")}})


def parquet_bytes(frame: pd.DataFrame, row_group_size: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, row_group_size=row_group_size)
    return sink.getvalue()


def on_dask(world: World, partition_cells: int = SMALL_CELLS) -> Callable[[ServingEngine], BatchJobHandler]:
    location = StoreLocation.of(world.settings)
    scoring = DaskScoring(world.scheduler, location, partition_cells=partition_cells, poll_seconds=0.1)
    return lambda engine: BatchJobHandler(world.context.sessions, world.context.store, engine, dask=scoring)


def in_process(world: World, chunk_rows: int = 1000) -> Callable[[ServingEngine], BatchJobHandler]:
    return lambda engine: BatchJobHandler(world.context.sessions, world.context.store, engine, chunk_rows=chunk_rows)


def run(world: World, operation_id: str, handler: Callable[[ServingEngine], BatchJobHandler]) -> BatchJob:
    """Claim the job's operation and run it with `handler`, the engine following the deployments as a server's."""

    async def scenario() -> None:
        engine = ServingEngine()
        with world.context.sessions() as session:
            engine.follow(ServingViews().read(session)[0])  # humility rules act in-process through the views
            operation = operations.claim_next(session, runner="test")
        assert operation is not None and operation.id == operation_id
        await handler(engine)(operation)
        await engine.close()

    asyncio.run(scenario())
    return state_of(world.context, operation_id)


def output_of(world: World, job: BatchJob) -> tuple[DataAsset, Path]:
    with world.context.sessions() as session:
        asset = session.get(DataAsset, job.output_asset_id)
        assert asset is not None and asset.sha256 is not None
        return asset, world.context.store.open_path(asset.sha256)


def failure_of(job: BatchJob) -> str:
    assert job.state == "failed" and job.failure, (job.state, job.failure)
    message: str = job.failure[0]["message"]
    return message


@pytest.fixture(scope="module")
def million(world: World) -> str:
    # Row groups of 300,000 rows and partitions of 100,000: most partitions are slices of a row group.
    return data_asset(
        world.context, world.alice, world.space, parquet_bytes(frame_of(MILLION, 1), 300_000), name="m.parquet"
    )


@pytest.fixture(scope="module")
def million_on_dask(world: World, million: str) -> tuple[BatchJob, list[tuple[int, int | None]]]:
    """The million-row job on the cluster, with every progress record it made."""
    recorded: list[tuple[int, int | None]] = []
    advance = runs.advance

    def recording(session: Any, *, job_id: str, rows_scored: int, rows_total: int | None) -> bool:
        recorded.append((rows_scored, rows_total))
        return advance(session, job_id=job_id, rows_scored=rows_scored, rows_total=rows_total)

    _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[million])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "advance", recording)
        job = run(world, operation_id, on_dask(world, partition_cells=300_000))
    return job, recorded


def test_a_million_rows_on_the_cluster_answer_as_in_process(
    world: World, million: str, million_on_dask: tuple[BatchJob, list[tuple[int, int | None]]]
) -> None:
    job, _ = million_on_dask
    assert (job.state, job.rows_scored, job.rows_total) == ("completed", MILLION, MILLION)
    asset, path = output_of(world, job)
    assert (asset.name, asset.mime_type) == ("j.predictions.parquet", "application/vnd.apache.parquet")
    assert job.output_name == asset.name
    scored = pq.read_table(path)
    # The job's own result names who answered and holds no rows inline: they are in the output asset.
    result = jobs.result(world.context.store, job)
    assert result is not None and result.blocks == () and result.served_by
    with world.context.sessions() as session:
        shown = wml_jobs.get_job(job.id, session, world.alice, world.context.store)["entity"]["scoring"]
    assert "predictions" not in shown and shown["status"]["served_by"] == result.served_by
    assert shown["output_data_reference"]["location"]["href"] == f"/v2/assets/{asset.id}?space_id={world.space}"
    _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[million])
    reference = run(world, operation_id, in_process(world, chunk_rows=100_000))
    expected = jobs.result(world.context.store, reference)
    assert expected is not None and expected.served_by == result.served_by
    (block,) = expected.blocks
    assert np.array_equal(scored["prediction"].to_numpy(), np.asarray(block.labels))
    probabilities = scored["probability"].combine_chunks().flatten().to_numpy().reshape(MILLION, 2)
    assert np.array_equal(probabilities, np.asarray(block.probabilities))


def test_progress_moves_partition_by_partition(
    million_on_dask: tuple[BatchJob, list[tuple[int, int | None]]],
) -> None:
    _, recorded = million_on_dask
    # Row groups of 300,000 rows cut into partitions of 100,000 rows: 3 + 3 + 3 + 1.
    assert [rows for rows, _ in recorded] == [0, *range(100_000, MILLION + 1, 100_000)]
    assert {total for _, total in recorded} == {MILLION}


def test_each_worker_loads_the_model_once(
    world: World, million_on_dask: tuple[BatchJob, list[tuple[int, int | None]]]
) -> None:
    job, _ = million_on_dask
    with world.context.sessions() as session:
        sha256 = deployments.get(session, world.alice, deployment_id=job.deployment_id).version.sha256
    csv = data_asset(world.context, world.alice, world.space, frame_of(SMALL, 3).to_csv(index=False).encode())
    _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[csv])
    assert run(world, operation_id, on_dask(world)).state == "completed"
    loads = world.client.run(dask_worker.loads)
    assert len(loads) == 2 and all(counts == {sha256: 1} for counts in loads.values()), loads


def test_a_csv_asset_gives_the_file_an_in_process_job_writes(world: World) -> None:
    csv = frame_of(SMALL, 4).to_csv(index=False).encode()
    asset_id = data_asset(world.context, world.alice, world.space, csv)
    outputs = []
    for handler in (on_dask(world), in_process(world)):
        kwargs = {"input_assets": [asset_id], "output_name": "scored.csv"}
        _, operation_id = create(world.context, world.alice, world.space, world.deployment, **kwargs)
        job = run(world, operation_id, handler)
        assert (job.state, job.rows_scored, job.rows_total) == ("completed", SMALL, SMALL)
        asset, path = output_of(world, job)
        assert (asset.name, asset.mime_type) == ("scored.csv", "text/csv")
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(b"prediction,probability\n") and outputs[0].count(b"\n") == SMALL + 1


def test_humility_rules_act_on_the_workers_as_in_process(world: World) -> None:
    frame = frame_of(SMALL, 5)
    frame.loc[frame["x1"] > 4.5, "x1"] = 4.0  # no row refused here...
    asset_id = data_asset(world.context, world.alice, world.humble[0], frame.to_csv(index=False).encode())
    outputs = []
    for handler in (on_dask(world), in_process(world)):
        kwargs: dict[str, Any] = {"input_assets": [asset_id], "output_name": "humble.csv"}
        _, operation_id = create(world.context, world.alice, *world.humble, **kwargs)
        job = run(world, operation_id, handler)
        assert job.state == "completed", job.failure
        outputs.append(pd.read_csv(output_of(world, job)[1]))
    assert outputs[0].equals(outputs[1])
    overridden = (frame["x1"] > 2.0).to_numpy()
    assert overridden.any() and (outputs[0]["prediction"].to_numpy()[overridden] == 7).all()
    frame.loc[25_123, "x1"] = 9.0  # ...and here the row the throw_error rule refuses, in the third partition
    asset_id = data_asset(world.context, world.alice, world.humble[0], frame.to_csv(index=False).encode())
    failures = []
    for handler in (on_dask(world), in_process(world)):
        _, operation_id = create(world.context, world.alice, *world.humble, input_assets=[asset_id])
        failures.append(failure_of(run(world, operation_id, handler)))
    assert failures[0] == failures[1] == "humility rule 'stop' (outlying_input) refused row 25123"


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_bad_value_or_a_missing_column_fails_as_in_process(world: World, kind: str) -> None:
    frame = frame_of(SMALL, 6)
    # A text in a number column, which only one partition sees; in Parquet the column is text throughout.
    bad = frame.astype({"x2": object if kind == "csv" else str})
    bad.loc[21_000, "x2"] = "oops"
    missing = frame.drop(columns=["x2"])
    for broken, expected in (
        (bad, "scoring.input_data_references[0].values[21000][1]: x2: expected a number, got 'oops'"),
        (missing, "scoring.input_data_references[0]: missing column 'x2'; the file has id, x3, x1"),
    ):
        content = broken.to_csv(index=False).encode() if kind == "csv" else parquet_bytes(broken, 8_000)
        asset_id = data_asset(world.context, world.alice, world.space, content, name=f"bad.{kind}")
        failures = []
        for handler in (on_dask(world), in_process(world)):
            _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[asset_id])
            failures.append(failure_of(run(world, operation_id, handler)))
        assert failures == [expected, expected]


def test_canceling_a_job_cancels_its_partitions(world: World) -> None:
    asset_id = data_asset(world.context, world.alice, world.space, frame_of(SMALL, 7).to_csv(index=False).encode())
    job_id, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[asset_id])
    advance = runs.advance

    def cancel_after_the_first_partition(
        session: Any, *, job_id: str, rows_scored: int, rows_total: int | None
    ) -> bool:
        going = advance(session, job_id=job_id, rows_scored=rows_scored, rows_total=rows_total)
        if rows_scored > 0:
            jobs.cancel(session, world.alice, job_id=job_id)
        return going

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "advance", cancel_after_the_first_partition)
        job = run(world, operation_id, on_dask(world))
    assert (job.state, job.output_asset_id) == ("canceled", None) and 0 < job.rows_scored < SMALL
    with world.context.sessions() as session:
        operation = session.get(Operation, operation_id)
        assert operation is not None and operation.state == "succeeded"
    # The partitions still queued or running were canceled: the scheduler forgets every task of the job.
    assert forgotten(world, job_id)


def forgotten(world: World, job_id: str, seconds: float = 10.0) -> bool:
    """Whether the scheduler holds no task of the job (it drops cancelled ones within moments)."""
    pause = threading.Event()
    for _ in range(int(seconds / 0.1)):
        held = world.client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
        if not any(job_id in key for key in held):
            return True
        pause.wait(0.1)
    return False


def test_in_process_a_data_set_larger_than_the_limit_is_refused(world: World) -> None:
    content = frame_of(SMALL, 8).to_csv(index=False).encode()
    asset_id = data_asset(world.context, world.alice, world.space, content, name="big.csv")
    limited = Settings(home=world.settings.home, job_memory_bytes=1_000_000)
    _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[asset_id])
    job = run(
        world,
        operation_id,
        lambda engine: BatchJobHandler.configured(world.context.sessions, world.context.store, engine, limited),
    )
    message = failure_of(job)
    assert message.startswith("scoring.input_data_references[0]: data asset 'big.csv' needs about ")
    assert "more than the 976.6 KiB a job may take here" in message and "CHAMPION_DASK_SCHEDULER" in message
    assert " rows x 4 columns, estimated from its size" in message
    # Refused when the job is created already, once it is certain to run in a server process.
    with world.context.sessions() as session, pytest.raises(DataTooLarge) as refused:
        new = NewJob(name="j", deployment_id=world.deployment, input_assets=[asset_id])
        jobs.create(session, world.alice, space_id=world.space, new=new, store=world.context.store, memory_limit=10**6)
    assert refused.value.field == "scoring.input_data_references[0]"


def test_a_scheduler_that_cannot_be_reached_fails_the_job_saying_so(world: World) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    scoring = DaskScoring(DaskScheduler(address, connect_seconds=1), StoreLocation.of(world.settings))
    asset_id = data_asset(world.context, world.alice, world.space, frame_of(100, 9).to_csv(index=False).encode())
    _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[asset_id])
    job = run(
        world,
        operation_id,
        lambda engine: BatchJobHandler(world.context.sessions, world.context.store, engine, dask=scoring),
    )
    assert failure_of(job).startswith(f"the Dask scheduler at {address} (CHAMPION_DASK_SCHEDULER) cannot be reached")


def test_a_lost_connection_is_made_again(world: World) -> None:
    world.scheduler.client().close()  # as when the scheduler went away and the client gave up
    asset_id = data_asset(world.context, world.alice, world.space, frame_of(100, 10).to_csv(index=False).encode())
    _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[asset_id])
    assert run(world, operation_id, on_dask(world)).state == "completed"


def test_a_server_connects_to_dask_only_for_a_job(tmp_path: Path) -> None:
    names = loaded(
        f"""
        from champion.config import Settings
        from champion.jobs.scoring_job import BatchJobHandler

        settings = Settings(home={str(tmp_path)!r}, dask_scheduler="tcp://127.0.0.1:9")
        handler = BatchJobHandler.configured(None, None, None, settings)
        assert handler.dask is not None
        """
    )
    assert names & {"dask", "distributed", "psutil", "pandas", "pyarrow"} == set()
