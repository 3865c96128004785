"""The IBM Watson Machine Learning v4 face (and the CAMS /v2 routes its client calls)."""

from starlette.routing import BaseRoute

from champion.api.wml import (
    catalogue,
    challengers,
    data_assets,
    deployments,
    extensions,
    jobs,
    models,
    monitoring,
    probes,
    scoring,
    spaces,
    transfer,
)

# Every route as its module's decorator built it, in matching order, for create_app to mount as they are
# (including routers in routers would have FastAPI analyse each route again per level, at every start).
# data_assets before catalogue: its /v2/assets/{id} routes serve data assets and hand models on.
_MODULES = (
    probes,
    spaces,
    models,
    data_assets,
    catalogue,
    deployments,
    extensions,
    monitoring,
    jobs,
    transfer,
    challengers,
)
routes: list[BaseRoute] = [route for module in _MODULES for route in module.router.routes]

# The prediction route, mounted ahead of every router: it is matched first and costs no
# FastAPI routing or dependency resolution (see scoring.py).
hot_routes = [scoring.route]

__all__ = ["hot_routes", "routes"]
