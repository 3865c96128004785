"""The Open Inference Protocol (KServe V2 REST) face."""

from champion.api.inference.routes import router

__all__ = ["router"]
