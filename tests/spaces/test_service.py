import pytest

from champion.context import ServerContext
from champion.errors import InvalidInput, PermissionDenied
from champion.spaces import service as spaces
from champion.spaces.errors import LastAdmin, SpaceNotFound
from champion.spaces.schemas import SpaceDetails
from champion.spaces.tables import Space
from champion.spaces.types import Role
from champion.users.service import Actor
from tests.conftest import make_actor


def new_space(context: ServerContext, owner: Actor, name: str = "research") -> Space:
    with context.sessions() as session:
        return spaces.create_space(session, owner, details=SpaceDetails(name=name))


def add(context: ServerContext, admin: Actor, space: Space, member: Actor, role: Role) -> None:
    with context.sessions() as session:
        spaces.add_members(session, admin, space_id=space.id, members=[(member.user_id, role)])


def test_the_creator_is_the_admin(context: ServerContext, alice: Actor) -> None:
    space = new_space(context, alice)
    with context.sessions() as session:
        assert spaces.role_of(session, alice, space.id) is Role.ADMIN


def test_non_members_do_not_see_a_space(context: ServerContext, alice: Actor, bob: Actor) -> None:
    space = new_space(context, alice)
    new_space(context, bob, name="bob's")
    with context.sessions() as session:
        with pytest.raises(SpaceNotFound):
            spaces.get_space(session, bob, space_id=space.id)
        with pytest.raises(SpaceNotFound):
            spaces.list_members(session, bob, space_id=space.id)
        assert [s.name for s in spaces.list_spaces(session, bob)] == ["bob's"]


@pytest.mark.parametrize(("role", "allowed"), [(Role.VIEWER, False), (Role.EDITOR, False), (Role.ADMIN, True)])
def test_only_admins_manage_members_and_details(
    context: ServerContext, alice: Actor, bob: Actor, role: Role, allowed: bool
) -> None:
    space = new_space(context, alice)
    add(context, alice, space, bob, role)
    carol = make_actor(context, "carol")
    rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
    with context.sessions() as session:
        if allowed:
            spaces.add_members(session, bob, space_id=space.id, members=[(carol.user_id, Role.VIEWER)])
            assert spaces.update_space(session, bob, space_id=space.id, operations=rename).name == "renamed"
        else:
            with pytest.raises(PermissionDenied):
                spaces.add_members(session, bob, space_id=space.id, members=[(carol.user_id, Role.VIEWER)])
            with pytest.raises(PermissionDenied):
                spaces.update_space(session, bob, space_id=space.id, operations=rename)
            with pytest.raises(PermissionDenied):
                spaces.delete_space(session, bob, space_id=space.id)
            assert spaces.get_space(session, alice, space_id=space.id).name == "research"


def test_role_changes_by_patch(context: ServerContext, alice: Actor, bob: Actor) -> None:
    space = new_space(context, alice)
    add(context, alice, space, bob, Role.EDITOR)
    body = [
        {"op": "replace", "path": "/role", "value": "viewer"},
        {"op": "replace", "path": "/state", "value": "active"},
    ]
    with context.sessions() as session:
        member = spaces.update_member(session, alice, space_id=space.id, user_id=bob.user_id, operations=body)
        assert member.role == "viewer"
        with pytest.raises(InvalidInput) as error:
            spaces.update_member(
                session,
                alice,
                space_id=space.id,
                user_id=bob.user_id,
                operations=[{"op": "replace", "path": "/role", "value": "owner"}],
            )
        assert error.value.field == "/role"


def test_a_space_keeps_an_admin(context: ServerContext, alice: Actor) -> None:
    space = new_space(context, alice)
    with context.sessions() as session:
        with pytest.raises(LastAdmin):
            spaces.remove_member(session, alice, space_id=space.id, user_id=alice.user_id)
        with pytest.raises(LastAdmin):
            spaces.update_member(
                session,
                alice,
                space_id=space.id,
                user_id=alice.user_id,
                operations=[{"op": "replace", "path": "/role", "value": "editor"}],
            )


def test_a_removed_member_loses_the_space(context: ServerContext, alice: Actor, bob: Actor) -> None:
    space = new_space(context, alice)
    add(context, alice, space, bob, Role.EDITOR)
    with context.sessions() as session:
        spaces.remove_member(session, alice, space_id=space.id, user_id=bob.user_id)
        with pytest.raises(SpaceNotFound):
            spaces.get_space(session, bob, space_id=space.id)


def test_adding_an_unknown_user_names_the_field_and_adds_nobody(
    context: ServerContext, alice: Actor, bob: Actor
) -> None:
    space = new_space(context, alice)
    with context.sessions() as session:
        with pytest.raises(InvalidInput) as error:
            spaces.add_members(
                session, alice, space_id=space.id, members=[(bob.user_id, Role.EDITOR), ("nobody", Role.VIEWER)]
            )
        assert error.value.field == "members[1].id"
    with context.sessions() as session:
        assert [m.user_id for m in spaces.list_members(session, alice, space_id=space.id)] == [alice.user_id]


def test_deleting_a_space_removes_it(context: ServerContext, alice: Actor) -> None:
    space = new_space(context, alice)
    with context.sessions() as session:
        spaces.delete_space(session, alice, space_id=space.id)
        with pytest.raises(SpaceNotFound):
            spaces.get_space(session, alice, space_id=space.id)
