"""The web UI: server-rendered pages over the same services as the API faces."""

from fastapi import APIRouter

router = APIRouter()

__all__ = ["router"]
