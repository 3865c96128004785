"""The Open Inference Protocol (KServe V2 REST) face."""

from champion.api.inference.infer import hot_routes
from champion.api.inference.routes import router

__all__ = ["hot_routes", "router"]
