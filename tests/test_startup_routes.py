"""The app mounts every face's routes as their decorators built them, once each, in one flat list.

Including a router in a router has FastAPI build each of its routes again per level of inclusion (its
dependencies analysed, its handler made): with about 130 routes that was over a second of every start,
and as much again on the first request that walked the included routers. Not a timing test: it fails
when a face is mounted as a router again, or a route goes missing, is doubled or changes its place
within its module.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import APIRouter
from fastapi.routing import APIRoute

from champion.api import datarobot, inference, wml
from champion.app import create_app
from champion.config import Settings


def _module_routers() -> list[APIRouter]:
    """Every router a champion module declares (`router = APIRouter(...)`), the app once imported."""
    found = []
    for name, module in list(sys.modules.items()):
        router = getattr(module, "router", None) if name.startswith("champion.") else None
        if isinstance(router, APIRouter) and router not in found:
            found.append(router)
    return found


def test_every_route_is_mounted_once_as_built_in_its_modules_order(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path))
    hot = [*wml.hot_routes, *inference.hot_routes, *datarobot.hot_routes]
    mounted = app.router.routes[len(hot) :]
    assert all(isinstance(route, APIRoute) for route in mounted)  # no router included as a route
    declared = [route for router in _module_routers() for route in router.routes]
    assert len(declared) > 100
    assert sorted(map(id, mounted)) == sorted(map(id, declared))  # the same objects, each once
    place = {id(route): index for index, route in enumerate(mounted)}
    for router in _module_routers():
        places = [place[id(route)] for route in router.routes]
        assert places == sorted(places), "a module's routes keep their order (the first match wins)"
