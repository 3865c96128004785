"""/v2/spaces and their members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from champion import patch
from champion.api.deps import ActorDep, SessionDep
from champion.api.wml import render
from champion.api.wml.errors import WMLRoute
from champion.api.wml.schemas import NewMembers, NewSpace, PageLimit
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.spaces.types import Role

router = APIRouter(route_class=WMLRoute)


@router.post("/v2/spaces", status_code=202)
def create_space(body: NewSpace, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    details = patch.validated(SpaceDetails, {"name": body.name, "description": body.description, "tags": body.tags})
    space = spaces.create_space(session, actor, details=details)
    return render.space(space, spaces.list_members(session, actor, space_id=space.id))


@router.get("/v2/spaces")
def list_spaces(
    session: SessionDep, actor: ActorDep, name: str | None = None, limit: PageLimit = None
) -> dict[str, Any]:
    rows = spaces.list_spaces(session, actor, name=name)
    return render.page([render.space(row) for row in rows], limit=limit)


@router.get("/v2/spaces/{space_id}")
def get_space(space_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    space = spaces.get_space(session, actor, space_id=space_id)
    return render.space(space, spaces.list_members(session, actor, space_id=space_id))


@router.patch("/v2/spaces/{space_id}")
def update_space(space_id: str, session: SessionDep, actor: ActorDep, body: Any = Body()) -> dict[str, Any]:
    space = spaces.update_space(session, actor, space_id=space_id, operations=body)
    return render.space(space)


@router.delete("/v2/spaces/{space_id}", status_code=202, response_class=Response)
def delete_space(space_id: str, session: SessionDep, actor: ActorDep) -> Response:
    spaces.delete_space(session, actor, space_id=space_id)
    return Response(status_code=202)


@router.post("/v2/spaces/{space_id}/members")
def add_members(space_id: str, body: NewMembers, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    pairs = [(m.id, Role(m.role)) for m in body.members]
    added = spaces.add_members(session, actor, space_id=space_id, members=pairs)
    return {"members": [render.member(m) for m in added]}


@router.get("/v2/spaces/{space_id}/members")
def list_members(
    space_id: str, session: SessionDep, actor: ActorDep, role: Role | None = None, limit: PageLimit = None
) -> dict[str, Any]:
    rows = spaces.list_members(session, actor, space_id=space_id, role=role)
    return render.page([render.member(m) for m in rows], limit=limit)


@router.get("/v2/spaces/{space_id}/members/{user_id}")
def get_member(space_id: str, user_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    return render.member(spaces.get_member(session, actor, space_id=space_id, user_id=user_id))


@router.patch("/v2/spaces/{space_id}/members/{user_id}")
def update_member(
    space_id: str, user_id: str, session: SessionDep, actor: ActorDep, body: Any = Body()
) -> dict[str, Any]:
    member = spaces.update_member(session, actor, space_id=space_id, user_id=user_id, operations=body)
    return render.member(member)


@router.delete("/v2/spaces/{space_id}/members/{user_id}", status_code=204)
def remove_member(space_id: str, user_id: str, session: SessionDep, actor: ActorDep) -> Response:
    spaces.remove_member(session, actor, space_id=space_id, user_id=user_id)
    return Response(status_code=204)
