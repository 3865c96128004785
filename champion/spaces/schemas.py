"""The editable details of a space, as validated after a change."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from champion.spaces.types import Role


class SpaceDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list)


class MemberDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    state: Literal["active", "inactive"] = "active"
