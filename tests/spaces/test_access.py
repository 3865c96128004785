"""The prediction path's in-memory copy of keys: live keys by digest and by id, revoked ones refused."""

from __future__ import annotations

import pytest

from champion.auth import KeyToken
from champion.context import ServerContext
from champion.errors import Unauthenticated
from champion.spaces.access import AccessCache
from champion.users import service as users
from champion.users.service import Actor, IssuedKey


def issued(context: ServerContext, actor: Actor, name: str = "") -> IssuedKey:
    with context.sessions() as session:
        return users.issue_key(session, user_id=actor.user_id, name=name)


def revoked(context: ServerContext, key: IssuedKey) -> None:
    with context.sessions() as session:
        users.revoke_key(session, key_id=key.id)


def reloaded(context: ServerContext, cache: AccessCache) -> AccessCache:
    with context.sessions() as session:
        cache.reload(session)
    return cache


def test_a_live_key_and_its_tokens_are_known_with_the_key_they_use(
    context: ServerContext, alice: Actor, bob: Actor
) -> None:
    key = issued(context, alice)
    cache = reloaded(context, AccessCache())
    by_secret = cache.actor_for_key(key.secret)
    assert by_secret is not None and (by_secret.user_id, by_secret.key_id) == (alice.user_id, key.id)
    assert cache.actor_for_token(KeyToken(user_id=alice.user_id, key_id=key.id)) == by_secret
    # A key the copy has not seen yet is for the database to answer, once.
    assert cache.actor_for_key("chp_unknown.secret") is None
    assert cache.actor_for_token(KeyToken(user_id=alice.user_id, key_id="not-loaded-yet")) is None
    # A token claiming someone else's key is no token of theirs.
    with pytest.raises(Unauthenticated):
        cache.actor_for_token(KeyToken(user_id=bob.user_id, key_id=key.id))


def test_a_revoked_key_and_its_tokens_are_refused_from_memory(context: ServerContext, alice: Actor) -> None:
    key = issued(context, alice)
    cache = reloaded(context, AccessCache())
    revoked(context, key)
    reloaded(context, cache)
    with pytest.raises(Unauthenticated, match="revoked"):
        cache.actor_for_key(key.secret)
    with pytest.raises(Unauthenticated, match="authorize again"):
        cache.actor_for_token(KeyToken(user_id=alice.user_id, key_id=key.id))


def test_a_lookup_that_a_reload_overtook_is_not_remembered(context: ServerContext, alice: Actor) -> None:
    """The prediction path looks an unknown key up in the database off the event loop. If the key is
    revoked and the copy reloaded while that lookup runs, its answer ("live") is stale: remembering it
    would put the revoked key back until the next change. The old `remember(secret, actor)` did."""
    cache = reloaded(context, AccessCache())
    key = issued(context, alice, "made after the last reload")
    seen = cache.generation
    with context.sessions() as session:
        found = users.authenticate_key(session, key.secret)  # the lookup sees the key live ...
    assert found is not None
    revoked(context, key)  # ... then it is revoked, and the follower reloads
    reloaded(context, cache)
    cache.remember(found, secret=key.secret, seen=seen)
    with pytest.raises(Unauthenticated):
        cache.actor_for_key(key.secret)
    with pytest.raises(Unauthenticated):
        cache.actor_for_token(KeyToken(user_id=alice.user_id, key_id=key.id))


def test_a_lookup_no_reload_overtook_is_remembered(context: ServerContext, alice: Actor) -> None:
    cache = reloaded(context, AccessCache())
    key = issued(context, alice)
    seen = cache.generation
    with context.sessions() as session:
        found = users.authenticate_key(session, key.secret)
    assert found is not None
    cache.remember(found, secret=key.secret, seen=seen)
    assert cache.actor_for_key(key.secret) == found
    assert cache.actor_for_token(KeyToken(user_id=alice.user_id, key_id=key.id)) == found
