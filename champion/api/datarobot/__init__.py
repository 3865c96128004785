"""The DataRobot v2 face (`/api/v2`) and its prediction API (`/predApi/v1.0`)."""

from starlette.routing import BaseRoute

from champion.api.datarobot import predictions


def face_routes() -> list[BaseRoute]:
    """Every route of the face but the prediction routes, imported when asked (see `champion.api.wml.face_routes`)."""
    from champion.api.datarobot import (
        challengers,
        deployments,
        model_packages,
        monitoring,
        operations,
        replacement,
        settings,
    )

    modules = (deployments, replacement, model_packages, operations, settings, monitoring, challengers)
    return [route for module in modules for route in module.router.routes]


# The prediction routes, mounted ahead of every router by create_app (see predictions.py).
hot_routes = predictions.hot_routes

__all__ = ["face_routes", "hot_routes"]
