"""The Open Inference Protocol (KServe V2 REST) face."""

from starlette.routing import BaseRoute

from champion.api.inference.infer import hot_routes
from champion.api.inference.routes import router

routes: list[BaseRoute] = list(router.routes)
"""As the decorators built them, for create_app to mount as they are (see champion/api/wml/__init__.py)."""

__all__ = ["hot_routes", "routes"]
