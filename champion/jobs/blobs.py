"""The artifact-store blobs the jobs domain owns: data asset files and job results.

Blobs are content-addressed and shared: a CSV uploaded twice, two jobs with the same
predictions, even a data asset identical to a model file, are one blob. So a blob is
removed only once no model version, data asset or job refers to it any more.
"""

from __future__ import annotations

import shutil

import orjson

from champion.artifacts import ArtifactStore
from champion.artifacts.store import StagedFile
from champion.jobs import output
from champion.jobs.types import JobResult


def write_result(store: ArtifactStore, result: JobResult) -> str:
    """Keep a job's predictions as a JSON blob; returns its digest."""
    folder = store.stage_dir()
    try:
        path = folder / "result.json"
        # orjson writes NaN as null, so a model answering NaN still gives valid JSON.
        path.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY))
        return store.keep(store.stage(path))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_output(store: ArtifactStore, result: JobResult, name: str) -> StagedFile:
    """Keep a job's predictions as the file of its output data asset `name` (CSV, or Parquet by its suffix)."""
    folder = store.stage_dir()
    try:
        file = output.PredictionsFile(folder / "predictions", parquet=output.is_parquet_name(name))
        for block in result.blocks:
            file.append(block.labels, block.probabilities)
        file.close()
        staged = store.stage(file.path)
        store.keep(staged)
        return staged
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_result(store: ArtifactStore, digest: str) -> JobResult:
    return JobResult.from_dict(orjson.loads(store.open_path(digest).read_bytes()))
