"""The IBM Watson Machine Learning v4 face (and the CAMS /v2 routes its client calls)."""

from fastapi import APIRouter

from champion.api.wml import catalogue, models, probes, spaces

router = APIRouter()
for module in (probes, spaces, models, catalogue):
    router.include_router(module.router)

__all__ = ["router"]
