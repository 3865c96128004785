"""Request bodies of the Open Inference Protocol (KServe V2 REST), and their parsing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from champion.errors import InvalidInput


class RequestInput(BaseModel):
    """One input tensor; `data` is flat (row-major) or nested as `shape` says."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    shape: list[StrictInt]
    datatype: StrictStr
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


def parse(body: Any) -> InferenceRequest:
    """The request, or an InvalidInput naming the first bad field as `inputs[0].shape`."""
    try:
        return InferenceRequest.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InvalidInput(error["msg"], field=_path(error["loc"])) from None


def _path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "body"
