"""The runtime parameter values a deployment's champion runs with: what was given, kept, or declared.

A model version declares its parameters (`models/runtime_parameters.py`); a deployment holds a
value for each, chosen when it is created and again when a replacement brings a new champion.
Faces parse their own wire format (DataRobot's `runtimeParameterValues`, an archive's map) into
`RuntimeValue`s; errors name the field `runtime_parameter_values.<name>` and each face renames it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from champion.errors import InvalidInput
from champion.models.runtime_parameters import RuntimeParameterDefinition

FIELD = "runtime_parameter_values"


@dataclass(frozen=True)
class RuntimeValue:
    """A value given for the parameter `name`; `type`, when the caller states it, must be the declared one."""

    name: str
    value: Any
    type: str | None = None


def merge(
    definitions: Sequence[RuntimeParameterDefinition], existing: Mapping[str, Any], given: Sequence[RuntimeValue]
) -> dict[str, Any]:
    """The values a model with `definitions` will run with.

    `given` values win; then the deployment's `existing` value, for a parameter the model still
    declares; then the declared default. A given name the model does not declare, a value of the
    wrong type or out of range, or no value where one is required is an InvalidInput naming
    `runtime_parameter_values.<name>`.
    """
    declared = {d.field_name: d for d in definitions}
    chosen: dict[str, Any] = {}
    for item in given:
        field = f"{FIELD}.{item.name}"
        definition = declared.get(item.name)
        if definition is None:
            names = ", ".join(declared) or "none"
            raise InvalidInput(
                f"the model declares no runtime parameter {item.name!r} (it declares: {names})", field=field
            )
        if item.name in chosen:
            raise InvalidInput("the parameter is given twice", field=field)
        if item.type is not None and item.type != definition.type:
            raise InvalidInput(f"the parameter is {definition.type}, not {item.type}", field=field)
        if problem := definition.problem_with(item.value):
            raise InvalidInput(problem, field=field)
        chosen[item.name] = item.value
    merged: dict[str, Any] = {}
    for name, definition in declared.items():
        if name in chosen:
            merged[name] = chosen[name]
        elif existing.get(name) is not None:
            if problem := definition.problem_with(existing[name]):
                raise InvalidInput(
                    f"the deployment's value {existing[name]!r} does not fit the new model ({problem}); give a value",
                    field=f"{FIELD}.{name}",
                )
            merged[name] = existing[name]
        elif definition.default_value is None and not definition.allow_empty:
            raise InvalidInput("the model requires a value and declares no default", field=f"{FIELD}.{name}")
        else:
            merged[name] = definition.default_value
    return merged
