"""The IBM Watson Machine Learning v4 face (and the CAMS /v2 routes its client calls)."""

from fastapi import APIRouter

from champion.api.wml import catalogue, deployments, models, probes, spaces

router = APIRouter()
for module in (probes, spaces, models, catalogue, deployments):
    router.include_router(module.router)

__all__ = ["router"]
