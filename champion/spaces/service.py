"""Spaces and membership: who may see a space, and who may do what in it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from champion import changes, patch
from champion.errors import InvalidInput, PermissionDenied
from champion.spaces.errors import LastAdmin, MemberNotFound, SpaceNotFound
from champion.spaces.schemas import MemberDetails, SpaceDetails
from champion.spaces.tables import Space, SpaceMember
from champion.spaces.types import Role
from champion.users.service import Actor
from champion.users.tables import User

PATCHABLE = ("/name", "/description", "/tags")


def role_of(session: Session, actor: Actor, space_id: str) -> Role:
    """The caller's role in the space; a non-member is told the space does not exist."""
    member = session.get(SpaceMember, (space_id, actor.user_id))
    if member is None or member.state != "active":
        raise SpaceNotFound(f"no space with id {space_id!r}")
    return Role(member.role)


def sees(session: Session, actor: Actor, space_id: str, *, within: str | None = None) -> bool:
    """Whether the caller may see something kept in `space_id` (and it is in `within`, when asked).

    Anything in a space the caller is not a member of is reported as not found, not forbidden.
    """
    if within is not None and within != space_id:
        return False
    member = session.get(SpaceMember, (space_id, actor.user_id))
    return member is not None and member.state == "active"


def require(session: Session, actor: Actor, space_id: str, needed: Role) -> Role:
    role = role_of(session, actor, space_id)
    if not role.allows(needed):
        raise PermissionDenied(f"this needs the {needed.value} role in the space; you are a {role.value}")
    return role


def create_space(session: Session, actor: Actor, *, details: SpaceDetails) -> Space:
    space = Space(name=details.name, description=details.description, tags=details.tags, creator_id=actor.user_id)
    session.add(space)
    session.flush()
    session.add(SpaceMember(space_id=space.id, user_id=actor.user_id, role=Role.ADMIN.value))
    changes.bump(session, changes.Topic.AUTH)
    session.commit()
    return space


def get_space(session: Session, actor: Actor, *, space_id: str) -> Space:
    role_of(session, actor, space_id)
    space = session.get(Space, space_id)
    if space is None:
        raise SpaceNotFound(f"no space with id {space_id!r}")
    return space


def list_spaces(session: Session, actor: Actor, *, name: str | None = None) -> list[Space]:
    query = (
        select(Space)
        .join(SpaceMember, SpaceMember.space_id == Space.id)
        .where(SpaceMember.user_id == actor.user_id, SpaceMember.state == "active")
        .order_by(Space.created_at)
    )
    if name is not None:
        query = query.where(Space.name == name)
    return list(session.scalars(query))


def update_space(session: Session, actor: Actor, *, space_id: str, operations: Any) -> Space:
    space = get_space(session, actor, space_id=space_id)
    require(session, actor, space_id, Role.ADMIN)
    current = SpaceDetails(name=space.name, description=space.description, tags=space.tags)
    changed = patch.apply_to(current, operations, allowed=PATCHABLE)
    space.name, space.description, space.tags = changed.name, changed.description, changed.tags
    changes.bump(session, changes.Topic.AUTH)
    session.commit()
    return space


def delete_space(session: Session, actor: Actor, *, space_id: str) -> None:
    space = get_space(session, actor, space_id=space_id)
    require(session, actor, space_id, Role.ADMIN)
    session.delete(space)
    changes.bump(session, changes.Topic.AUTH)
    session.commit()


def list_members(session: Session, actor: Actor, *, space_id: str, role: Role | None = None) -> list[SpaceMember]:
    role_of(session, actor, space_id)
    query = select(SpaceMember).where(SpaceMember.space_id == space_id).order_by(SpaceMember.created_at)
    if role is not None:
        query = query.where(SpaceMember.role == role.value)
    return list(session.scalars(query))


def get_member(session: Session, actor: Actor, *, space_id: str, user_id: str) -> SpaceMember:
    role_of(session, actor, space_id)
    member = session.get(SpaceMember, (space_id, user_id))
    if member is None:
        raise MemberNotFound(f"user {user_id!r} is not a member of the space")
    return member


def add_members(session: Session, actor: Actor, *, space_id: str, members: list[tuple[str, Role]]) -> list[SpaceMember]:
    """Add users with roles, all or none; adding an existing member changes their role."""
    require(session, actor, space_id, Role.ADMIN)
    added = []
    for index, (user_id, role) in enumerate(members):
        if session.get(User, user_id) is None:
            session.rollback()
            raise InvalidInput(f"no user with id {user_id!r}", field=f"members[{index}].id")
        member = session.get(SpaceMember, (space_id, user_id))
        if member is None:
            member = SpaceMember(space_id=space_id, user_id=user_id, role=role.value)
            session.add(member)
        else:
            member.role, member.state = role.value, "active"
        added.append(member)
    changes.bump(session, changes.Topic.AUTH)
    session.commit()
    return added


def update_member(session: Session, actor: Actor, *, space_id: str, user_id: str, operations: Any) -> SpaceMember:
    """Change a member's role or state with a JSON Patch on `/role` and `/state`."""
    require(session, actor, space_id, Role.ADMIN)
    member = get_member(session, actor, space_id=space_id, user_id=user_id)
    current = MemberDetails.model_validate({"role": member.role, "state": member.state})
    changed = patch.apply_to(current, operations, allowed=("/role", "/state"))
    if member.role == Role.ADMIN and (changed.role != Role.ADMIN or changed.state != "active"):
        _keep_an_admin(session, space_id)
    member.role, member.state = changed.role.value, changed.state
    changes.bump(session, changes.Topic.AUTH)
    session.commit()
    return member


def remove_member(session: Session, actor: Actor, *, space_id: str, user_id: str) -> None:
    require(session, actor, space_id, Role.ADMIN)
    member = get_member(session, actor, space_id=space_id, user_id=user_id)
    if member.role == Role.ADMIN:
        _keep_an_admin(session, space_id)
    session.delete(member)
    changes.bump(session, changes.Topic.AUTH)
    session.commit()


def _keep_an_admin(session: Session, space_id: str) -> None:
    admins = session.scalar(
        select(func.count())
        .select_from(SpaceMember)
        .where(SpaceMember.space_id == space_id, SpaceMember.role == Role.ADMIN.value, SpaceMember.state == "active")
    )
    if (admins or 0) <= 1:
        raise LastAdmin("a space must keep at least one active admin")
