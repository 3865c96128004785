"""The IBM Watson Machine Learning v4 face (and the CAMS /v2 routes its client calls)."""

from starlette.routing import BaseRoute

from champion.api.wml import scoring


def face_routes() -> list[BaseRoute]:
    """Every route of the face but the prediction route, as its module's decorator built it, in matching
    order, for create_app to mount as they are (including routers in routers would have FastAPI analyse
    each route again per level). The modules are imported here, when asked: a server asks only once it
    serves predictions (`champion.api.deferred`)."""
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
        spaces,
        transfer,
    )

    # data_assets before catalogue: its /v2/assets/{id} routes serve data assets and hand models on.
    modules = (probes, spaces, models, data_assets, catalogue, deployments, extensions, monitoring, jobs, transfer)
    return [route for module in (*modules, challengers) for route in module.router.routes]


# The prediction route, mounted ahead of every router: it is matched first and costs no
# FastAPI routing or dependency resolution (see scoring.py).
hot_routes = [scoring.route]

__all__ = ["face_routes", "hot_routes"]
