"""Batch jobs on a Dask cluster when the artifact store is a bucket: the workers read it themselves.

moto's S3 server and a local cluster of two worker processes, started after the server's fixture put
the AWS_* variables in this process's environment, so the workers inherit them as workers given their
own credentials would: nothing secret travels in a task. The server's settings name the bucket, so its
`<home>/cache` is a folder of the server's; each worker keeps a cache of its own in its local directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from champion.artifacts.s3 import S3ArtifactStore
from champion.config import Settings
from champion.context import open_context
from champion.deployments import service as deployments
from champion.jobs import dask_worker
from champion.jobs import service as jobs
from champion.jobs.dask_client import DaskScheduler
from champion.jobs.dask_worker import StoreLocation
from champion.jobs.errors import DataTooLarge
from champion.jobs.schemas import NewJob
from champion.jobs.scoring_job import BatchJobHandler
from champion.jobs.tables import BatchJob, DataAsset
from champion.serving.engine import ServingEngine
from tests import s3_server
from tests.conftest import make_actor
from tests.jobs.test_dask_jobs import World, failure_of, frame_of, in_process, on_dask, parquet_bytes, run
from tests.jobs.test_service import create, data_asset, deployment
from tests.model_files import ModelFiles
from tests.s3_server import S3Server

distributed = pytest.importorskip("distributed")

s3 = s3_server.s3

ROWS = 200_000
ROW_GROUP = 100_000
CELLS = 75_000
"""25,000 rows of the 3-feature model a partition: 8 partitions, 4 per row group."""


@pytest.fixture(scope="module")
def world(s3: S3Server, tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles) -> Iterator[World]:
    # Started here, after `s3` set the AWS_* variables: the worker processes inherit them.
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        home = tmp_path_factory.mktemp("dask-s3") / "home"
        settings = Settings(
            home=home, max_upload_bytes=10**9, dask_scheduler=cluster.scheduler_address, artifacts_url=s3.url
        )
        context = open_context(settings)
        alice = make_actor(context, "alice")
        space, deployment_id = deployment(context, alice, model_files.classifier_named)
        scheduler = DaskScheduler(cluster.scheduler_address)
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            yield World(context, settings, scheduler, client, alice, space, deployment_id, (space, deployment_id))
        scheduler.close()
        context.close()


@pytest.fixture(scope="module")
def asset(world: World) -> str:
    content = parquet_bytes(frame_of(ROWS, 11), ROW_GROUP)
    return data_asset(world.context, world.alice, world.space, content, name="in.parquet")


@pytest.fixture(scope="module")
def on_cluster(world: World, asset: str) -> BatchJob:
    _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[asset])
    return run(world, operation_id, on_dask(world, partition_cells=CELLS))


def sha256_of(world: World, asset_id: str) -> str:
    with world.context.sessions() as session:
        asset = session.get(DataAsset, asset_id)
        assert asset is not None and asset.sha256 is not None
        return asset.sha256


def model_sha256(world: World) -> str:
    with world.context.sessions() as session:
        return deployments.get(session, world.alice, deployment_id=world.deployment).version.sha256


def worker_caches(world: World) -> dict[str, tuple[str, str, dict[str, int]]]:
    """Per worker: its local directory, its store's cache folder, and the blobs there (name: inode)."""
    location, store_of = StoreLocation.of(world.settings), dask_worker._worker_store

    def cached(dask_worker: Any) -> tuple[str, str, dict[str, int]]:  # client.run passes the Worker so named
        store = store_of(location)  # the store the tasks opened in this process
        assert isinstance(store, S3ArtifactStore)
        blobs = {path.name: path.stat().st_ino for path in store.cache.blobs.glob("*/*") if path.is_file()}
        return dask_worker.local_directory, str(store.cache.root), blobs

    answers: dict[str, tuple[str, str, dict[str, int]]] = world.client.run(cached)
    return answers


def test_a_job_over_an_asset_in_the_bucket_scores_on_the_workers_as_in_process(
    s3: S3Server, world: World, asset: str, on_cluster: BatchJob
) -> None:
    assert (on_cluster.state, on_cluster.rows_scored, on_cluster.rows_total) == ("completed", ROWS, ROWS)
    with world.context.sessions() as session:
        output = session.get(DataAsset, on_cluster.output_asset_id)
        assert output is not None and output.sha256 is not None
    # The output data asset is in the bucket, under its digest.
    assert f"{s3_server.PREFIX}/sha256/{output.sha256[:2]}/{output.sha256}" in s3.object_keys()
    scored = pq.read_table(world.context.store.open_path(output.sha256))
    _, operation_id = create(world.context, world.alice, world.space, world.deployment, input_assets=[asset])
    reference = run(world, operation_id, in_process(world, chunk_rows=100_000))
    expected = jobs.result(world.context.store, reference)
    assert expected is not None
    (block,) = expected.blocks
    assert np.array_equal(scored["prediction"].to_numpy(), np.asarray(block.labels))
    probabilities = scored["probability"].combine_chunks().flatten().to_numpy().reshape(ROWS, 2)
    assert np.array_equal(probabilities, np.asarray(block.probabilities))
    # Nothing went to a local store of the server's.
    artifacts = world.settings.resolved_artifacts_dir
    assert not artifacts.exists() or not any(artifacts.iterdir())


def test_each_worker_fetches_the_model_and_the_asset_once_into_a_cache_of_its_own(
    world: World, asset: str, on_cluster: BatchJob
) -> None:
    assert on_cluster.state == "completed"
    model, data = model_sha256(world), sha256_of(world, asset)
    before = worker_caches(world)
    assert len(before) == 2
    server_cache = world.settings.cache_dir.resolve()
    for local_directory, cache, blobs in before.values():
        # In the worker's own scratch space, never the server's <home>/cache.
        assert Path(cache).resolve().is_relative_to(Path(local_directory).resolve()), (cache, local_directory)
        assert not Path(cache).resolve().is_relative_to(server_cache)
        assert set(blobs) == {model, data}
    # A second job on the same asset (CSV output, rendered on the workers) downloads and loads nothing again.
    kwargs: dict[str, Any] = {"input_assets": [asset], "output_name": "scored.csv"}
    _, operation_id = create(world.context, world.alice, world.space, world.deployment, **kwargs)
    job = run(world, operation_id, on_dask(world, partition_cells=CELLS))
    assert (job.state, job.rows_scored) == ("completed", ROWS), job.failure
    assert worker_caches(world) == before  # the same files: not fetched again
    loads = world.client.run(dask_worker.loads)
    assert all(counts == {model: 1} for counts in loads.values()), loads


def test_a_too_large_asset_is_refused_when_created_if_cached_and_when_run_otherwise(
    world: World, tmp_path: Path
) -> None:
    content = frame_of(30_000, 12).to_csv(index=False).encode()
    asset_id = data_asset(world.context, world.alice, world.space, content, name="big.csv")
    digest = sha256_of(world, asset_id)
    new = NewJob(name="j", deployment_id=world.deployment, input_assets=[asset_id])
    # The server that received the upload holds it in its cache: refused at once, from the file.
    with world.context.sessions() as session, pytest.raises(DataTooLarge) as refused:
        jobs.create(session, world.alice, space_id=world.space, new=new, store=world.context.store, memory_limit=10**6)
    assert refused.value.field == "scoring.input_data_references[0]"
    # A replica that never read it does not download it inside the request: the job is created...
    replica = S3ArtifactStore(world.settings.artifacts_url or "", tmp_path / "replica-cache")
    with world.context.sessions() as session:
        job, operation = jobs.create(
            session, world.alice, space_id=world.space, new=new, store=replica, memory_limit=10**6
        )
    assert job.state == "queued" and replica.cached_path(digest) is None
    # ...and its run refuses it before reading it, with the same message.
    limited = Settings(home=world.settings.home, job_memory_bytes=10**6, artifacts_url=world.settings.artifacts_url)
    handler: Callable[[ServingEngine], BatchJobHandler] = lambda engine: BatchJobHandler.configured(  # noqa: E731
        world.context.sessions, replica, engine, limited
    )
    message = failure_of(run(world, operation.id, handler))
    assert message == refused.value.message
