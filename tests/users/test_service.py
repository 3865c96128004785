import pytest
from sqlalchemy import select

from champion.context import ServerContext
from champion.errors import InvalidInput
from champion.users import service as users
from champion.users.errors import UserExists
from champion.users.tables import ApiKey


def test_keys_are_stored_only_as_digests(context: ServerContext) -> None:
    with context.sessions() as session:
        user = users.create_user(session, name="carol")
        issued = users.issue_key(session, user_id=user.id)
        stored = session.scalar(select(ApiKey).where(ApiKey.user_id == user.id))
        assert stored is not None
        assert issued.secret not in (stored.digest, stored.prefix)
        assert stored.digest == users.digest(issued.secret)
        assert "." in issued.secret


def test_a_key_authenticates_its_user(context: ServerContext) -> None:
    with context.sessions() as session:
        user = users.create_user(session, name="carol")
        issued = users.issue_key(session, user_id=user.id)
        actor = users.authenticate_key(session, issued.secret)
        assert actor is not None and actor.user_id == user.id
        assert users.authenticate_key(session, issued.secret + "x") is None
        assert users.authenticate_user_key(session, user_name="carol", secret=issued.secret) == actor
        assert users.authenticate_user_key(session, user_name="dave", secret=issued.secret) is None


def test_a_revoked_key_stops_working(context: ServerContext) -> None:
    with context.sessions() as session:
        user = users.create_user(session, name="carol")
        issued = users.issue_key(session, user_id=user.id)
        users.revoke_key(session, key_id=issued.id)
        assert users.authenticate_key(session, issued.secret) is None


def test_user_names_are_unique_and_non_empty(context: ServerContext) -> None:
    with context.sessions() as session:
        users.create_user(session, name="carol")
        with pytest.raises(UserExists):
            users.create_user(session, name="carol")
        with pytest.raises(InvalidInput) as error:
            users.create_user(session, name="  ")
        assert error.value.field == "name"


def test_a_given_key_needs_a_dot(context: ServerContext) -> None:
    with context.sessions() as session:
        user = users.create_user(session, name="carol")
        with pytest.raises(InvalidInput):
            users.issue_key(session, user_id=user.id, secret="nodotsecretvalue")


def test_first_admin_is_created_once(context: ServerContext) -> None:
    with context.sessions() as session:
        first = users.ensure_first_admin(session, name="root", api_key=None)
        assert first is not None
        assert users.ensure_first_admin(session, name="root", api_key=None) is None
        actor = users.authenticate_key(session, first.secret)
        assert actor is not None and actor.is_admin and actor.name == "root"


def test_first_admin_key_from_the_environment(context: ServerContext) -> None:
    with context.sessions() as session:
        given = "chp_scripted.setup-key-0123456789"
        first = users.ensure_first_admin(session, name="ops", api_key=given)
        assert first is not None and first.secret == given
        actor = users.authenticate_user_key(session, user_name="ops", secret=given)
        assert actor is not None and actor.is_admin


def test_a_key_holder_lasts_while_the_key_is_live_and_theirs(context: ServerContext) -> None:
    with context.sessions() as session:
        carol = users.create_user(session, name="carol")
        dave = users.create_user(session, name="dave")
        issued = users.issue_key(session, user_id=carol.id)
        held = users.identify_user_key(session, user_name="carol", secret=issued.secret)
        assert held is not None and held.key_id == issued.id and held.actor.user_id == carol.id
        assert users.identify_user_key(session, user_name="dave", secret=issued.secret) is None
        assert users.live_key_holder(session, key_id=issued.id, user_id=carol.id) == held.actor
        assert users.live_key_holder(session, key_id=issued.id, user_id=dave.id) is None
        assert users.live_key_holder(session, key_id="no-such-key", user_id=carol.id) is None
        users.revoke_key(session, key_id=issued.id)
        assert users.live_key_holder(session, key_id=issued.id, user_id=carol.id) is None
        assert users.identify_user_key(session, user_name="carol", secret=issued.secret) is None


def test_a_deleted_users_key_holds_nothing(context: ServerContext) -> None:
    with context.sessions() as session:
        carol = users.create_user(session, name="carol")
        issued = users.issue_key(session, user_id=carol.id)
        session.delete(carol)
        session.commit()
        assert users.live_key_holder(session, key_id=issued.id, user_id=carol.id) is None
