"""/api/v2/modelPackages: registered model versions, which are champion's model versions.

DataRobot builds a package from a leaderboard model (`fromLeaderboard/`); champion keeps every
upload as an immutable, numbered version already, so "registering" a model returns the version
it names (a registered model id names its newest version) and creates nothing, as the WML
face's `POST /revisions` does. Uploading a model file goes through the WML face or the CLI:
DataRobot has no upload route for champion's formats.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from champion.api.datarobot import lookup, render
from champion.api.datarobot.errors import DataRobotRoute
from champion.api.datarobot.schemas import FromLeaderboard
from champion.api.deps import ActorDep, SessionDep
from champion.errors import InvalidInput
from champion.models import service as models
from champion.spaces import service as spaces
from champion.spaces.types import Role

router = APIRouter(route_class=DataRobotRoute)


def _rendered(session: SessionDep, actor: ActorDep, found: lookup.Package) -> dict[str, Any]:
    role = spaces.role_of(session, actor, found.model.space_id)
    return render.model_package(found, role=role, deployments=lookup.deployment_count(session, actor, found))


@router.post("/api/v2/modelPackages/fromLeaderboard/", status_code=201)
def from_leaderboard(body: FromLeaderboard, session: SessionDep, actor: ActorDep) -> JSONResponse:
    with lookup.renamed_not_found("modelId"):
        found = lookup.learning_model(session, actor, model_id=body.model_id)
    if body.registered_model_id is not None and body.registered_model_id != found.model.id:
        raise InvalidInput(
            f"the model belongs to registered model {found.model.id!r}, not {body.registered_model_id!r}",
            field="registeredModelId",
        )
    # Registering is a change to the registry: editors only, as for a WML revision.
    spaces.require(session, actor, found.model.space_id, Role.EDITOR)
    return JSONResponse(_rendered(session, actor, found), status_code=201)


@router.get("/api/v2/modelPackages/")
def list_model_packages(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    model_id: Annotated[str | None, Query(alias="modelId")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Every version the caller sees; `modelId` narrows to one version, or to a registered model's versions."""
    found: list[lookup.Package] = []
    for space in spaces.list_spaces(session, actor):
        for model in models.list_models(session, actor, space_id=space.id):
            versions = models.list_versions(session, actor, model_id=model.id)
            found.extend(lookup.Package(v, model) for v in versions if model_id in (None, model.id, v.id))
    shown = found[offset : offset + limit]
    return render.page(
        [_rendered(session, actor, p) for p in shown], total=len(found), offset=offset, limit=limit, url=request.url
    )


@router.get("/api/v2/modelPackages/{package_id}/")
def get_model_package(package_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    return _rendered(session, actor, lookup.package(session, actor, package_id=package_id))
