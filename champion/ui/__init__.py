"""The web UI: server-rendered pages over the same services as the API faces.

Signed-in users browse their spaces, edit deployments, replace and roll back models, test them,
watch how they serve (`monitoring.py`) and compare challengers with the champion (`challengers.py`).
Every route is a `UIRoute` (`render.py`): without a session it redirects to sign-in.
"""

from fastapi import APIRouter

from champion.ui import challengers, deployments, monitoring, predict, replace, signin, spaces

router = APIRouter()
for _part in (signin, spaces, deployments, replace, predict, monitoring, challengers):
    router.include_router(_part.router)

__all__ = ["router"]
