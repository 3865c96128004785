"""The web UI: server-rendered pages over the same services as the API faces.

Signed-in users browse their spaces, edit deployments, replace and roll back models, test them,
watch how they serve (`monitoring.py`) and compare challengers with the champion (`challengers.py`).
Every route is a `UIRoute` (`render.py`): without a session it redirects to sign-in.
"""

from starlette.routing import BaseRoute

from champion.ui import challengers, deployments, monitoring, predict, replace, signin, spaces

# Every route as its module's decorator built it, in matching order (see champion/api/wml/__init__.py).
_PARTS = (signin, spaces, deployments, replace, predict, monitoring, challengers)
routes: list[BaseRoute] = [route for part in _PARTS for route in part.router.routes]

__all__ = ["routes"]
