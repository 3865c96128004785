"""The DataRobot v2 face (`/api/v2`) and its prediction API (`/predApi/v1.0`)."""

from starlette.routing import BaseRoute

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

# Every route as its module's decorator built it, in matching order, for create_app to mount as they are
# (see champion/api/wml/__init__.py).
_MODULES = (deployments, replacement, model_packages, operations, settings, monitoring, challengers)
routes: list[BaseRoute] = [route for module in _MODULES for route in module.router.routes]

# The prediction routes, mounted ahead of every router by create_app (see predictions.py).
hot_routes = predictions.hot_routes

__all__ = ["hot_routes", "routes"]
