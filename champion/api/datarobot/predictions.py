"""DataRobot's prediction API: `/predApi/v1.0/deployments/{id}/predictions` (and its /api/v2 twin)."""

from __future__ import annotations

from fastapi import APIRouter

from champion.api.datarobot.errors import DataRobotRoute

router = APIRouter(route_class=DataRobotRoute)
