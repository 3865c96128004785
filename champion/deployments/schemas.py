"""What a new deployment is made of, once a face has parsed its wire format."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from champion.deployments.types import Kind
from champion.patch import JsonObject


class NewDeployment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    kind: Kind
    model_id: str
    rev: int | None = None
    """The model version to serve; the newest when omitted."""
    description: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list)
    custom: JsonObject = Field(default_factory=dict)
    serving_name: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,36}$")
    hardware_spec: JsonObject = Field(default_factory=dict)
