"""The IBM Watson Machine Learning v4 face (and the CAMS /v2 routes its client calls)."""

from fastapi import APIRouter

from champion.api.wml import catalogue, data_assets, deployments, jobs, models, probes, spaces, transfer

router = APIRouter()
# data_assets before catalogue: its /v2/assets/{id} routes serve data assets and hand models on.
for module in (probes, spaces, models, data_assets, catalogue, deployments, jobs, transfer):
    router.include_router(module.router)

__all__ = ["router"]
