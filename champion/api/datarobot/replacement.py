"""Replacing a deployment's model: `model/validation/` (the checks) and `PATCH model/` (the replacement).

Both call champion's one validation engine (`replacement.service.check` / `start`), the same the
WML asset patch and the CLI use, so the faces can never disagree. A validation answers 200 even
when a check fails (DataRobot's contract); a replacement a check refuses answers 400 with the
same checks and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from champion.api.datarobot import lookup, render
from champion.api.datarobot.deployments import accepted
from champion.api.datarobot.errors import DataRobotRoute
from champion.api.datarobot.schemas import Candidate, ModelReplacement
from champion.api.deps import ActorDep, RunnerDep, SessionDep, StoreDep
from champion.deployments import service as deployments
from champion.deployments.runtime_values import RuntimeValue
from champion.errors import InvalidInput
from champion.replacement import service as replacement

router = APIRouter(route_class=DataRobotRoute)


def _fields(body: Candidate) -> dict[str, str]:
    """The replacement service names the candidate `asset.*`; the caller sent modelId or modelPackageId."""
    sent = "modelId" if body.model_id is not None else "modelPackageId"
    return {"asset.id": sent, "asset.rev": sent}


def runtime_values(given: str | list[Any] | None) -> list[RuntimeValue]:
    """DataRobot's `runtimeParameterValues`, JSON text or a list of `{"fieldName", "type", "value"}`;
    the service checks each value against what the model declares."""
    if given is None:
        return []
    if isinstance(given, str):
        try:
            given = orjson.loads(given)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"not valid JSON: {exc}", field="runtimeParameterValues") from None
    if not isinstance(given, list) or not all(isinstance(item, Mapping) for item in given):
        raise InvalidInput('expected a list of {"fieldName", "type", "value"}', field="runtimeParameterValues")
    values = []
    for index, item in enumerate(given):
        name, declared = item.get("fieldName"), item.get("type")
        if not isinstance(name, str):
            raise InvalidInput("each value needs its fieldName", field=f"runtimeParameterValues.{index}")
        if "value" not in item:
            raise InvalidInput("no value given", field=f"runtimeParameterValues.{name}")
        if declared is not None and not isinstance(declared, str):
            raise InvalidInput("type is a string", field=f"runtimeParameterValues.{name}")
        values.append(RuntimeValue(name, item["value"], declared))
    return values


@router.post("/api/v2/deployments/{deployment_id}/model/validation/")
def validate_replacement(
    deployment_id: str, body: Candidate, session: SessionDep, actor: ActorDep, store: StoreDep
) -> dict[str, Any]:
    deployments.get(session, actor, deployment_id=deployment_id)
    found = lookup.candidate(session, actor, model_id=body.model_id, model_package_id=body.model_package_id)
    with lookup.renamed_fields(_fields(body)):
        report = replacement.check(
            session,
            actor,
            store,
            deployment_id=deployment_id,
            model_id=found.model.id,
            rev=found.version.number,
        )
    return render.validation(report)


@router.patch("/api/v2/deployments/{deployment_id}/model/", status_code=202)
def replace_model(
    deployment_id: str,
    body: ModelReplacement,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    runner: RunnerDep,
) -> JSONResponse:
    deployments.get(session, actor, deployment_id=deployment_id)
    found = lookup.candidate(session, actor, model_id=body.model_id, model_package_id=body.model_package_id)
    with lookup.renamed_fields(_fields(body)):
        started = replacement.start(
            session,
            actor,
            store,
            deployment_id=deployment_id,
            model_id=found.model.id,
            rev=found.version.number,
            reason=body.reason,
            runtime_parameter_values=runtime_values(body.runtime_parameter_values),
        )
    runner.wake()
    return accepted(request, render.validation(started.report), started.operation.id)
