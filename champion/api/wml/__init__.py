"""The IBM Watson Machine Learning v4 face (and the CAMS /v2 routes its client calls)."""

from fastapi import APIRouter

from champion.api.wml import (
    catalogue,
    challengers,
    data_assets,
    deployments,
    extensions,
    jobs,
    models,
    monitoring,
    probes,
    scoring,
    spaces,
    transfer,
)

router = APIRouter()
# data_assets before catalogue: its /v2/assets/{id} routes serve data assets and hand models on.
for module in (probes, spaces, models, data_assets, catalogue, deployments, extensions, monitoring, jobs, transfer):
    router.include_router(module.router)
router.include_router(challengers.router)

# The prediction route, mounted ahead of every router: it is matched first and costs no
# FastAPI routing or dependency resolution (see scoring.py).
hot_routes = [scoring.route]

__all__ = ["hot_routes", "router"]
