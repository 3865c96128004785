"""The Open Inference Protocol (KServe V2 REST) face."""

from starlette.routing import BaseRoute

from champion.api.inference.infer import hot_routes


def face_routes() -> list[BaseRoute]:
    """Every route of the face but the prediction route, imported when asked (see `champion.api.wml.face_routes`)."""
    from champion.api.inference.routes import router

    return list(router.routes)


__all__ = ["face_routes", "hot_routes"]
