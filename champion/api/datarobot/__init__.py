"""The DataRobot v2 face (`/api/v2`) and its prediction API (`/predApi/v1.0`)."""

from fastapi import APIRouter

from champion.api.datarobot import predictions

router = APIRouter()
router.include_router(predictions.router)

__all__ = ["router"]
