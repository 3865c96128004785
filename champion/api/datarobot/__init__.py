"""The DataRobot v2 face (`/api/v2`) and its prediction API (`/predApi/v1.0`)."""

from fastapi import APIRouter

router = APIRouter()

__all__ = ["router"]
