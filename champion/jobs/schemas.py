"""What a new job and a new data asset are made of, once a face has parsed its wire format."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class InputBlock(BaseModel):
    """Rows given inline; without `fields` the values are in the model's feature order."""

    model_config = ConfigDict(extra="ignore")

    fields: list[str] | None = None
    values: list[Any]


class NewJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    deployment_id: str
    input_data: list[InputBlock] = Field(default_factory=list)
    input_assets: list[str] = Field(default_factory=list)
    """Ids of data assets in the job's space, each scored as one block."""
    output_name: str | None = Field(default=None, min_length=1, max_length=255)
    """Also write the predictions as a CSV data asset of this name."""


class NewDataAsset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    mime_type: str = Field(default="application/octet-stream", max_length=255)
