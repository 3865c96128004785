"""Request bodies of the WML face, as the official client sends them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from champion.models.revisions import RevisionText
from champion.replacement.types import Reason


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Authorize(Strict):
    username: str
    api_key: str | None = None
    password: str | None = None
    account_id: str | None = None


class NewSpace(Strict):
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    type: str | None = None
    stage: dict[str, Any] | None = None
    generator: str | None = None


class NewMember(Strict):
    id: str
    type: Literal["user"] = "user"
    role: Literal["admin", "editor", "viewer"]
    state: Literal["active", "inactive"] | None = None


class NewMembers(Strict):
    members: list[NewMember] = Field(min_length=1)


class SoftwareSpecRef(Strict):
    id: str | None = None
    name: str | None = None


class SchemaField(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    type: str


class StructSchema(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    type: str | None = None
    fields: list[SchemaField]


class Schemas(Strict):
    input: list[StructSchema] = Field(default_factory=list)
    output: list[StructSchema] = Field(default_factory=list)


class NewModel(Strict):
    name: str
    type: str
    software_spec: SoftwareSpecRef
    space_id: str | None = None
    project_id: str | None = None
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    schemas: Schemas | None = None
    label_column: str | None = None
    custom: dict[str, Any] = Field(default_factory=dict)
    size: dict[str, Any] | None = None
    domain: str | None = None


class NewRevision(Strict):
    space_id: str | None = None
    project_id: str | None = None
    commit_message: str | None = Field(default=None, max_length=1000)


class AssetRef(Strict):
    id: str
    rev: RevisionText | None = None
    href: str | None = None


class OnlineParameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    serving_name: str | None = None


class Online(Strict):
    parameters: OnlineParameters | None = None


class NewDeployment(Strict):
    name: str
    asset: AssetRef
    space_id: str | None = None
    online: Online | None = None
    batch: dict[str, Any] | None = None
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)
    hardware_spec: dict[str, Any] = Field(default_factory=dict)
    hardware_request: dict[str, Any] | None = None
    serving_name: str | None = None


class InputBlock(BaseModel):
    model_config = ConfigDict(extra="allow")

    fields: list[str] | None = None
    values: list[Any]


class ScoringRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_data: list[InputBlock] = Field(min_length=1)
    scoring_parameters: dict[str, Any] | None = None


class RollbackAsset(Strict):
    id: str | None = Field(default=None, min_length=1)
    """The model; the one the deployment serves now when omitted."""
    rev: RevisionText
    href: str | None = None


class RollbackRequest(Strict):
    """champion's rollback: with neither target, back to the champion before the last successful replacement."""

    reason: Reason = Reason.OTHER
    replacement_id: str | None = Field(default=None, min_length=1)
    """Back to the model this recorded replacement replaced (its `from`): an id from `.../replacements`."""
    asset: RollbackAsset | None = None
    """Back to this revision, which must have been the deployment's champion before."""


PageLimit = Annotated[int | None, Query(ge=1, description="at most this many resources in the page")]
"""The `limit` query parameter of WML's list routes: a positive count, or none for all."""
