"""Space roles and what each allows."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """Viewers read; editors change models and deployments; admins also manage members."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}
