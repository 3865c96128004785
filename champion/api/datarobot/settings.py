"""`/api/v2/deployments/{id}/settings/`: a deployment's settings in DataRobot's camelCase shape.

champion keeps the settings in `champion.deployments.settings` (snake_case, one document per
deployment); this module only translates: every other section is the camelCase of champion's, field
by field (`associationId.columnNames`, `predictionsDataCollection.samplingPercent`, `retentionDays`,
`maxRows` beside DataRobot's own `enabled`). DataRobot spreads drift tracking over two keys
(`targetDrift`, `featureDrift`) and calls challengers `challengerModels`. The client reads
`predictionIntervals.percentiles` after every replacement, so it is always sent (as `[]` when
empty). A PATCH is applied at once, but the client waits on a status URL, so it answers 202 with
one that resolves to a 303 immediately.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic.alias_generators import to_camel, to_snake

from champion.api.datarobot.deployments import accepted
from champion.api.datarobot.errors import DataRobotRoute
from champion.api.deps import ActorDep, SessionDep
from champion.deployments import service as deployments
from champion.deployments.settings import DeploymentSettings
from champion.errors import InvalidInput

router = APIRouter(route_class=DataRobotRoute)

# DataRobot's key → champion's section, and for the drift keys the one field each stands for.
SECTIONS = {
    "predictionIntervals": "prediction_intervals",
    "segmentAnalysis": "segment_analysis",
    "challengerModels": "challengers",
    "humility": "humility",
    "associationId": "association_id",
    "predictionsDataCollection": "predictions_data_collection",
}
DRIFT = {"targetDrift": "target_drift_enabled", "featureDrift": "feature_drift_enabled"}

# champion's field names in an error → the DataRobot key the caller sent.
ERROR_PREFIXES = {
    "prediction_intervals": "predictionIntervals",
    "segment_analysis": "segmentAnalysis",
    "challengers": "challengerModels",
    "humility": "humility",
    "association_id": "associationId",
    "predictions_data_collection": "predictionsDataCollection",
    "drift_tracking.target_drift_enabled": "targetDrift.enabled",
    "drift_tracking.feature_drift_enabled": "featureDrift.enabled",
}


def _camel(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {to_camel(str(k)): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _snake(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {to_snake(str(k)): _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def render(settings: DeploymentSettings) -> dict[str, Any]:
    plain = settings.model_dump(mode="json")
    drift = plain["drift_tracking"]
    return {
        **{wire: _camel(plain[section]) for wire, section in SECTIONS.items()},
        "targetDrift": {"enabled": drift["target_drift_enabled"]},
        "featureDrift": {"enabled": drift["feature_drift_enabled"]},
    }


def changes_of(body: Any) -> dict[str, Any]:
    """DataRobot's partial settings document as champion's partial one; an unknown key is named."""
    if not isinstance(body, Mapping) or not body:
        raise InvalidInput("give the settings to change as an object", field="body")
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key in SECTIONS:
            changes[SECTIONS[key]] = _snake(value)
        elif key in DRIFT:
            if not isinstance(value, Mapping) or set(value) - {"enabled"}:
                raise InvalidInput('expected {"enabled": true or false}', field=key)
            if "enabled" in value:
                changes.setdefault("drift_tracking", {})[DRIFT[key]] = value["enabled"]
        else:
            known = ", ".join([*SECTIONS, *DRIFT])
            raise InvalidInput(f"champion does not keep the setting {key!r}; it keeps {known}", field=key)
    return changes


def _renamed(error: InvalidInput) -> InvalidInput:
    field = error.field or ""
    for prefix, wire in ERROR_PREFIXES.items():
        if field == prefix or field.startswith(prefix + "."):
            plain = error.message.removeprefix(f"{field}: ")
            return InvalidInput(plain, field=wire + _camel_path(field[len(prefix) :]))
    return error


def _camel_path(rest: str) -> str:
    return ".".join(to_camel(part) for part in rest.split("."))


@router.get("/api/v2/deployments/{deployment_id}/settings/")
def get_settings(deployment_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    return render(deployments.get_settings(session, actor, deployment_id=deployment_id))


@router.patch("/api/v2/deployments/{deployment_id}/settings/", status_code=202)
def update_settings(
    deployment_id: str, request: Request, session: SessionDep, actor: ActorDep, body: Any = Body()
) -> JSONResponse:
    deployments.get_settings(session, actor, deployment_id=deployment_id)  # unknown or invisible: 404 first
    try:
        changed = deployments.update_settings(session, actor, deployment_id=deployment_id, changes=changes_of(body))
    except InvalidInput as error:
        raise _renamed(error) from None
    return accepted(request, render(changed), deployment_id)
