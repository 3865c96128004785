"""An in-memory copy of who holds which key and which role, for the prediction path.

Predictions must not wait on the database (invariant 5), so each process keeps this copy
and reloads it when the AUTH change counter moves. A key the copy does not know yet (made
a moment ago, on another worker) is looked up once and remembered.

A token is good only while the API key it was issued for is live, so the copy keeps live keys
by id as well as by digest. It also knows every revoked key (ids and digests): revocation is
final, so those are refused from memory without asking the database again.
"""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from champion.auth import KeyToken
from champion.errors import Unauthenticated
from champion.spaces.tables import SpaceMember
from champion.spaces.types import Role
from champion.users import service as users
from champion.users.service import Actor
from champion.users.tables import ApiKey, User

REVOKED = "the API key is revoked"


class AccessCache:
    def __init__(self) -> None:
        self._by_digest: dict[str, Actor] = {}
        self._by_key_id: dict[str, Actor] = {}
        self._revoked: frozenset[str] = frozenset()
        self._roles: dict[tuple[str, str], Role] = {}
        self._generation = 0
        # Taken only to swap the maps in and to remember a key, never to read: readers see
        # one map or the other, each whole.
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        """How many reloads this copy has had; `remember` needs the value read before the lookup."""
        return self._generation

    def reload(self, session: Session) -> None:
        """Replace the whole copy in one assignment per map, so readers never see half of it."""
        holders = {user.id: user for user in session.scalars(select(User))}
        keys = session.execute(select(ApiKey.id, ApiKey.digest, ApiKey.user_id, ApiKey.revoked_at)).all()
        members = session.execute(
            select(SpaceMember.user_id, SpaceMember.space_id, SpaceMember.role).where(SpaceMember.state == "active")
        ).all()
        by_digest: dict[str, Actor] = {}
        by_key_id: dict[str, Actor] = {}
        revoked: set[str] = set()
        for key_id, digest, user_id, revoked_at in keys:
            if revoked_at is not None:
                revoked.update((key_id, digest))
            elif user_id in holders:
                by_digest[digest] = by_key_id[key_id] = users.actor_of(holders[user_id], key_id=key_id)
        roles = {(user_id, space_id): Role(role) for user_id, space_id, role in members}
        with self._lock:
            self._by_digest, self._by_key_id, self._revoked, self._roles = (
                by_digest,
                by_key_id,
                frozenset(revoked),
                roles,
            )
            self._generation += 1

    def actor_for_key(self, secret: str) -> Actor | None:
        """The holder of a live key; None if this copy does not know the key; Unauthenticated if revoked."""
        digest = users.digest(secret)
        actor = self._by_digest.get(digest)
        if actor is None and digest in self._revoked:
            raise Unauthenticated(REVOKED)
        return actor

    def actor_for_token(self, token: KeyToken) -> Actor | None:
        """The user a token was issued to, while its key is live and theirs; None if this copy does
        not know the key; Unauthenticated if the key is revoked or someone else's."""
        actor = self._by_key_id.get(token.key_id)
        if actor is None:
            if token.key_id in self._revoked:
                raise Unauthenticated(f"{REVOKED}: authorize again")
            return None
        if actor.user_id != token.user_id:
            raise Unauthenticated("the access token is not valid")
        return actor

    def remember(self, actor: Actor, *, secret: str | None, seen: int) -> None:
        """Keep the key `actor` was just found to hold (and its digest, given the secret).

        `seen` is `generation` as read before the database lookup. If the copy was reloaded
        since, that reload may have seen the key revoked after the lookup saw it live: then
        the answer is dropped, not remembered over the reload (the next use looks it up again).
        """
        if actor.key_id is None:
            return
        with self._lock:
            if self._generation != seen or actor.key_id in self._revoked:
                return
            self._by_key_id[actor.key_id] = actor
            if secret is not None:
                self._by_digest[users.digest(secret)] = actor

    def role(self, actor: Actor, space_id: str) -> Role | None:
        return self._roles.get((actor.user_id, space_id))
