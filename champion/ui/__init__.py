"""The web UI: server-rendered pages over the same services as the API faces.

Signed-in users browse their spaces, edit deployments, replace and roll back models, test them
and watch how they serve (`monitoring.py`). Every route is a `UIRoute` (`render.py`): without a
session it redirects to sign-in.
"""

from fastapi import APIRouter

from champion.ui import deployments, monitoring, predict, replace, signin, spaces

router = APIRouter()
for _part in (signin, spaces, deployments, replace, predict, monitoring):
    router.include_router(_part.router)

__all__ = ["router"]
