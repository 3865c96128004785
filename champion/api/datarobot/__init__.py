"""The DataRobot v2 face (`/api/v2`) and its prediction API (`/predApi/v1.0`)."""

from fastapi import APIRouter

from champion.api.datarobot import (
    challengers,
    deployments,
    model_packages,
    monitoring,
    operations,
    predictions,
    replacement,
    settings,
)

router = APIRouter()
router.include_router(deployments.router)
router.include_router(replacement.router)
router.include_router(model_packages.router)
router.include_router(operations.router)
router.include_router(settings.router)
router.include_router(monitoring.router)
router.include_router(challengers.router)

# The prediction routes, mounted ahead of every router by create_app (see predictions.py).
hot_routes = predictions.hot_routes

__all__ = ["hot_routes", "router"]
