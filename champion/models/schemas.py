"""What the registry accepts: a new model's details, and the details a patch may change."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from champion.models.signature import DeclaredField
from champion.patch import JsonObject


class SoftwareSpecRef(BaseModel):
    """A model's software specification as a patch may set it: its id, and its name if the caller
    repeats it (a GET shows both); any other member would be dropped, so it is refused."""

    model_config = ConfigDict(extra="forbid")

    id: str
    # Left out of the patch document unless given: the document holds what the model stores, the id.
    name: str | None = Field(default=None, exclude_if=lambda name: name is None)


class ModelDetails(BaseModel):
    """The editable details of a registered model."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list)
    software_spec: SoftwareSpecRef
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
