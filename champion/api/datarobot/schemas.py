"""The request bodies of the DataRobot face, in DataRobot's camelCase (the client drops null keys)."""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from champion.replacement.types import Reason


class Importance(enum.StrEnum):
    """DataRobot's deployment importance; champion keeps it in the deployment's `custom` metadata."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MODERATE = "MODERATE"
    LOW = "LOW"


class Body(BaseModel):
    # Unknown keys are ignored: the client sends options champion has no use for
    # (defaultPredictionServerId, predictionThreshold, ...), and refusing them would break it.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


Label = Field(min_length=1, max_length=255)
Description = Field(default=None, max_length=10_000)


class DeploymentUpdate(Body):
    label: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Description
    importance: Importance | None = None


class FromModelPackage(Body):
    model_package_id: str = Field(min_length=1)
    label: str = Label
    description: str | None = Description
    importance: Importance | None = None


class FromLearningModel(Body):
    model_id: str = Field(min_length=1)
    label: str = Label
    description: str | None = Description
    importance: Importance | None = None


class Candidate(Body):
    """A replacement candidate: exactly one of `modelId` and `modelPackageId` (checked by the route)."""

    model_id: str | None = Field(default=None, min_length=1)
    model_package_id: str | None = Field(default=None, min_length=1)


class ModelReplacement(Candidate):
    reason: Reason
    runtime_parameter_values: str | list[Any] | None = None
    """`[{"fieldName", "type", "value"}]`, as JSON text (the seed types it as a string) or as a list."""


class StatusChange(Body):
    status: Literal["active", "inactive"]


class FromLeaderboard(Body):
    model_id: str = Field(min_length=1)
    registered_model_id: str | None = None
