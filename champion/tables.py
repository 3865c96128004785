"""Every domain's tables in one import, for Alembic and for create-time checks."""

from champion.models.tables import ModelVersion, RegisteredModel
from champion.spaces.tables import Space, SpaceMember
from champion.users.tables import ApiKey, User

__all__ = ["ApiKey", "ModelVersion", "RegisteredModel", "Space", "SpaceMember", "User"]
