"""What the registry accepts: a new model's details, and the details a patch may change."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from champion.models.signature import DeclaredField
from champion.patch import JsonObject


class ModelDetails(BaseModel):
    """The editable details of a registered model."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list)
    software_spec: dict[str, str]
    # A plain dict, not `JsonObject`: built from what is stored too (see deployments.patch.DeploymentDocument).
    custom: dict[str, Any] = Field(default_factory=dict)


class NewModel(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str = Field(min_length=1, max_length=255)
    type: str
    software_spec_id: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    label_column: str | None = None
    declared_input: list[DeclaredField] | None = None
    custom: JsonObject = Field(default_factory=dict)
