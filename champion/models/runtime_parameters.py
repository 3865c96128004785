"""Runtime parameters a model version declares: named, typed values a deployment injects at runtime.

A version declares its parameters once, when it is created (DataRobot's `runtimeParameterDefinitions`);
the deployment serving it keeps the current values (`champion.deployments.settings`). Definitions are
stored on the version as DataRobot spells them (`fieldName`, `defaultValue`, `allowEmpty`, ...), so a
face can hand them out unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from champion.errors import InvalidInput

ParameterType = Literal["string", "numeric", "boolean"]
Value = str | int | float | bool | None


class RuntimeParameterDefinition(BaseModel):
    """One parameter: its name, its type, and what a value must be (`problem_with` says why not)."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=True)

    field_name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: ParameterType
    default_value: Value = None
    allow_empty: bool = True
    min_value: int | float | None = None
    max_value: int | float | None = None
    description: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type != "numeric" and (self.min_value is not None or self.max_value is not None):
            raise ValueError(f"minValue and maxValue apply to numeric parameters, not {self.type} ones")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError(f"minValue {self.min_value} is above maxValue {self.max_value}")
        if self.default_value is not None and (problem := self.problem_with(self.default_value)):
            raise ValueError(f"defaultValue: {problem}")
        return self

    def problem_with(self, value: Any) -> str | None:
        """Why `value` cannot be this parameter's value, or None when it can. None and "" are empty."""
        if value is None or (self.type == "string" and value == ""):
            return None if self.allow_empty else "a value is required (allowEmpty is false)"
        match self.type:
            case "string":
                return None if isinstance(value, str) else f"expected a string, got {value!r}"
            case "boolean":
                return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
            case "numeric":
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    return f"expected a finite number, got {value!r}"
                if self.min_value is not None and value < self.min_value:
                    return f"{value} is below the minimum {self.min_value}"
                if self.max_value is not None and value > self.max_value:
                    return f"{value} is above the maximum {self.max_value}"
        return None

    def to_json(self) -> dict[str, Any]:
        """The stored form, as DataRobot spells it; unset optional keys are left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_definitions(
    raw: Sequence[Mapping[str, Any]], *, field: str = "runtime_parameters"
) -> list[RuntimeParameterDefinition]:
    """Validate definitions given by a caller; the first problem is an InvalidInput naming its place."""
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise InvalidInput("expected a list of runtime parameter definitions", field=field)
    definitions: list[RuntimeParameterDefinition] = []
    for index, item in enumerate(raw):
        try:
            definition = RuntimeParameterDefinition.model_validate(item)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in (field, index, *error["loc"]))
            raise InvalidInput(error["msg"], field=where) from exc
        if any(d.field_name == definition.field_name for d in definitions):
            raise InvalidInput(f"{definition.field_name!r} is declared twice", field=f"{field}.{index}.fieldName")
        definitions.append(definition)
    return definitions


def from_stored(stored: Sequence[Mapping[str, Any]] | None) -> list[RuntimeParameterDefinition]:
    """The definitions a version holds (checked when it was created); none when it declares none."""
    return [RuntimeParameterDefinition.model_validate(item) for item in stored or ()]
