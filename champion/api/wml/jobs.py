"""/ml/v4/deployment_jobs: create, read, list, cancel and delete batch scoring jobs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from champion import patch
from champion.api.deps import ActorDep, RunnerDep, SessionDep, SettingsDep, StoreDep
from champion.api.wml import render
from champion.api.wml.errors import WMLRoute
from champion.api.wml.schemas import PageLimit
from champion.errors import InvalidInput
from champion.jobs import memory
from champion.jobs import service as jobs
from champion.jobs.schemas import NewJob

router = APIRouter(route_class=WMLRoute)


class _Loose(BaseModel):
    # The client sends more than champion reads (connection, schema, hardware_spec...).
    model_config = ConfigDict(extra="ignore")


class _InputBlock(_Loose):
    fields: list[str] | None = None
    values: list[Any]


class _Location(_Loose):
    href: str | None = None
    id: str | None = None
    name: str | None = None


class _Reference(_Loose):
    type: str
    location: _Location


class _Scoring(_Loose):
    input_data: list[_InputBlock] | None = None
    input_data_references: list[_Reference] | None = None
    output_data_reference: _Reference | None = None


class _Target(_Loose):
    id: str


class NewJobBody(_Loose):
    name: str | None = None
    space_id: str | None = None
    deployment: _Target
    scoring: _Scoring


def _space(space_id: str | None) -> str:
    if not space_id:
        raise InvalidInput("is required", field="space_id")
    return space_id


def _asset_id(reference: _Reference, field: str) -> str:
    """The data asset a reference names: `location.href` is `/v2/assets/<id>?space_id=...`."""
    if reference.type != "data_asset":
        raise InvalidInput(f"only data_asset references are supported, not {reference.type!r}", field=f"{field}.type")
    if reference.location.id:
        return reference.location.id
    parts = urlsplit(reference.location.href or "").path.strip("/").split("/")
    if len(parts) != 3 or parts[:2] != ["v2", "assets"]:
        raise InvalidInput("expected /v2/assets/<id>", field=f"{field}.location.href")
    return parts[2]


def _output_name(reference: _Reference | None) -> str | None:
    field = "scoring.output_data_reference"
    if reference is None:
        return None
    if reference.type != "data_asset":
        raise InvalidInput(f"only data_asset outputs are supported, not {reference.type!r}", field=f"{field}.type")
    if not reference.location.name:
        raise InvalidInput("name the data asset to create", field=f"{field}.location.name")
    return reference.location.name


@router.post("/ml/v4/deployment_jobs", status_code=202)
def create_job(
    body: NewJobBody,
    session: SessionDep,
    actor: ActorDep,
    runner: RunnerDep,
    store: StoreDep,
    settings: SettingsDep,
    space_id: str | None = None,
) -> dict[str, Any]:
    references = body.scoring.input_data_references or []
    new = patch.validated(
        NewJob,
        {
            "name": body.name or "job",
            "deployment_id": body.deployment.id,
            "input_data": [block.model_dump() for block in body.scoring.input_data or []],
            "input_assets": [_asset_id(ref, f"scoring.input_data_references[{i}]") for i, ref in enumerate(references)],
            "output_name": _output_name(body.scoring.output_data_reference),
        },
    )
    # Without a Dask scheduler the job will run in a server process: a data set too large for it is refused now.
    limit = memory.limit(settings.job_memory_bytes) if settings.dask_scheduler is None else None
    space = _space(body.space_id or space_id)
    job, _ = jobs.create(session, actor, space_id=space, new=new, store=store, memory_limit=limit)
    runner.wake()
    return render.job(job, None)


@router.get("/ml/v4/deployment_jobs")
def list_jobs(
    session: SessionDep,
    actor: ActorDep,
    space_id: str | None = None,
    deployment_id: str | None = None,
    limit: PageLimit = None,
) -> dict[str, Any]:
    rows = jobs.list_jobs(session, actor, space_id=_space(space_id), deployment_id=deployment_id)
    return render.page([render.job(row, None) for row in rows], limit=limit)


@router.get("/ml/v4/deployment_jobs/{job_id}")
def get_job(
    job_id: str, session: SessionDep, actor: ActorDep, store: StoreDep, space_id: str | None = None
) -> dict[str, Any]:
    job = jobs.get(session, actor, job_id=job_id, space_id=space_id)
    result = jobs.result(store, job)
    body = render.job(job, result)
    if result is not None and not result.blocks:
        # A job scored on Dask keeps its predictions in its output data asset only: none inline.
        body["entity"]["scoring"].pop("predictions", None)
    return body


@router.delete("/ml/v4/deployment_jobs/{job_id}", status_code=204)
def delete_job(
    job_id: str,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    space_id: str | None = None,
    hard_delete: bool = False,
) -> Response:
    # WML's one DELETE means two things: cancel the run, or (hard_delete) forget the job.
    if hard_delete:
        jobs.delete(session, actor, store, job_id=job_id, space_id=space_id)
    else:
        jobs.cancel(session, actor, job_id=job_id, space_id=space_id)
    return Response(status_code=204)
