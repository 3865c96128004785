"""The web UI: server-rendered pages over the same services as the API faces.

Signed-in users browse their spaces, edit deployments, replace and roll back models, test them,
watch how they serve (`monitoring.py`) and compare challengers with the champion (`challengers.py`).
Every route is a `UIRoute` (`render.py`): without a session it redirects to sign-in.
"""

from starlette.routing import BaseRoute


def face_routes() -> list[BaseRoute]:
    """Every page's route, imported when asked (see `champion.api.wml.face_routes`)."""
    from champion.ui import challengers, deployments, monitoring, predict, replace, signin, spaces

    parts = (signin, spaces, deployments, replace, predict, monitoring, challengers)
    return [route for part in parts for route in part.router.routes]


__all__ = ["face_routes"]
