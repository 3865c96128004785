"""An in-memory copy of who holds which key and which role, for the prediction path.

Predictions must not wait on the database (invariant 5), so each process keeps this copy
and reloads it when the AUTH change counter moves. A key the copy does not know yet (made
a moment ago, on another worker) is looked up once and remembered.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from champion.spaces.tables import SpaceMember
from champion.spaces.types import Role
from champion.users import service as users
from champion.users.service import Actor
from champion.users.tables import ApiKey, User


class AccessCache:
    def __init__(self) -> None:
        self._by_digest: dict[str, Actor] = {}
        self._by_user: dict[str, Actor] = {}
        self._roles: dict[tuple[str, str], Role] = {}

    def reload(self, session: Session) -> None:
        """Replace the whole copy in one assignment per map, so readers never see half of it."""
        by_user = {user.id: users.actor_of(user) for user in session.scalars(select(User))}
        keys = session.execute(select(ApiKey.digest, ApiKey.user_id).where(ApiKey.revoked_at.is_(None))).all()
        members = session.execute(
            select(SpaceMember.user_id, SpaceMember.space_id, SpaceMember.role).where(SpaceMember.state == "active")
        ).all()
        self._by_digest = {digest: by_user[user_id] for digest, user_id in keys if user_id in by_user}
        self._by_user = by_user
        self._roles = {(user_id, space_id): Role(role) for user_id, space_id, role in members}

    def actor_for_key(self, secret: str) -> Actor | None:
        return self._by_digest.get(users.digest(secret))

    def actor_for_user(self, user_id: str) -> Actor | None:
        return self._by_user.get(user_id)

    def remember(self, secret: str, actor: Actor) -> None:
        self._by_digest[users.digest(secret)] = actor
        self._by_user[actor.user_id] = actor

    def role(self, actor: Actor, space_id: str) -> Role | None:
        return self._roles.get((actor.user_id, space_id))
