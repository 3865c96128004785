"""/v2: the Open Inference Protocol (KServe V2 REST) over champion's online deployments.

Inference itself is a plain Starlette route, matched ahead of these (`infer.py`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from champion.api.deps import AccessDep, EngineDep, HotActorDep
from champion.api.inference import render
from champion.api.inference.errors import InferenceRoute
from champion.deployments import scoring

router = APIRouter(route_class=InferenceRoute)


# The server probes need no credentials and reveal nothing but the version: orchestrators and
# clients call them before they hold a key.
@router.get("/v2")
async def server_metadata() -> dict[str, Any]:
    return render.server()


@router.get("/v2/health/live")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/v2/health/ready")
async def ready(request: Request) -> Response:
    """Ready once start-up loaded every served model, and while each is still served (strict, as
    Triton's default): a deployment whose model served before and can no longer be loaded (its file
    is missing or damaged) makes the server unready until it is repaired or deleted. Unauthenticated,
    so it says how many, never which."""
    follower = getattr(request.app.state, "follower", None)  # put there once start-up loaded the models
    if follower is None:
        return JSONResponse({"ready": False, "reason": "starting"}, status_code=503)
    if unavailable := follower.unavailable():
        reason = f"{unavailable} deployment(s) cannot load their model; see their status.failure"
        return JSONResponse({"ready": False, "reason": reason}, status_code=503)
    return JSONResponse({"ready": True})


@router.get("/v2/models/{model_name}")
async def model_metadata(model_name: str, actor: HotActorDep, engine: EngineDep, access: AccessDep) -> dict[str, Any]:
    return render.model(scoring.visible(engine, access, actor, model_name))


@router.get("/v2/models/{model_name}/ready")
async def model_ready(model_name: str, actor: HotActorDep, engine: EngineDep, access: AccessDep) -> dict[str, Any]:
    # Not ready is an answer, not an error: probes poll this while a deployment loads.
    view = scoring.visible(engine, access, actor, model_name)
    return {"name": model_name, "ready": scoring.answering(engine, view)}


# The protocol's optional version segment names the version the deployment serves (its metadata's
# `versions`, the `Champion-Model-Version` header); any other version is a 404.
@router.get("/v2/models/{model_name}/versions/{model_version}")
async def version_metadata(
    model_name: str, model_version: str, actor: HotActorDep, engine: EngineDep, access: AccessDep
) -> dict[str, Any]:
    view = scoring.visible(engine, access, actor, model_name)
    scoring.require_version(view, view.champion, model_version)
    return render.model(view)


@router.get("/v2/models/{model_name}/versions/{model_version}/ready")
async def version_ready(
    model_name: str, model_version: str, actor: HotActorDep, engine: EngineDep, access: AccessDep
) -> dict[str, Any]:
    view = scoring.visible(engine, access, actor, model_name)
    scoring.require_version(view, view.champion, model_version)
    return {"name": model_name, "version": model_version, "ready": scoring.answering(engine, view)}
