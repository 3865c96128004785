"""RFC 6902 JSON Patch applied to an editable document, restricted to allowed paths.

jsonpatch does the pointer work; this module adds what a server needs on top: a clear
error per operation, a path allowlist, `move`/`copy` refused, and `add`/`replace`
treated alike on object members (the official clients send either).
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any, TypeVar

import jsonpatch
import jsonpointer
from pydantic import BaseModel, ValidationError

from champion.errors import InvalidInput, PreconditionFailed

SUPPORTED_OPS = ("add", "replace", "remove", "test")

Details = TypeVar("Details", bound=BaseModel)


def parse_operations(body: Any) -> list[dict[str, Any]]:
    """Check the shape of a patch document before anything is applied."""
    if not isinstance(body, list):
        raise InvalidInput("a JSON Patch must be a list of operations", field="body")
    operations = []
    for index, item in enumerate(body):
        where = f"[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput("each operation must be an object", field=where)
        op = item.get("op")
        if op not in SUPPORTED_OPS:
            raise InvalidInput(
                f"operation {op!r} is not supported; use one of {', '.join(SUPPORTED_OPS)}", field=f"{where}.op"
            )
        path = item.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidInput("must be a JSON pointer starting with '/'", field=f"{where}.path")
        if op != "remove" and "value" not in item:
            raise InvalidInput(f"a {op!r} operation needs a value", field=f"{where}.value")
        unknown = set(item) - {"op", "path", "value"}
        if unknown:
            raise InvalidInput(f"unknown member {sorted(unknown)[0]!r}", field=where)
        operations.append({k: item[k] for k in ("op", "path", "value") if k in item})
    return operations


def check_paths(operations: list[dict[str, Any]], allowed: Collection[str]) -> None:
    for index, operation in enumerate(operations):
        path = operation["path"]
        if not any(path == prefix or path.startswith(prefix + "/") for prefix in allowed):
            raise InvalidInput(
                f"path {path!r} cannot be patched; patchable paths are {', '.join(sorted(allowed))}",
                field=f"[{index}].path",
            )


def apply(document: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply all operations to a copy of `document`, or raise and leave it untouched."""
    result = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        operation = _replace_missing_as_add(result, operation)
        try:
            result = jsonpatch.JsonPatch([operation]).apply(result)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise PreconditionFailed(f"[{index}]: test of {operation['path']!r} failed: {exc}") from exc
        except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException, jsonpatch.JsonPatchException) as exc:
            raise InvalidInput(str(exc), field=f"[{index}].path") from exc
    return result


def _replace_missing_as_add(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    if operation["op"] != "replace":
        return operation
    try:
        jsonpointer.resolve_pointer(document, operation["path"])
    except jsonpointer.JsonPointerException:
        return {**operation, "op": "add"}
    return operation


def apply_to(details: Details, body: Any, *, allowed: Collection[str]) -> Details:
    """Patch a pydantic document and validate the result with the same model."""
    operations = parse_operations(body)
    check_paths(operations, allowed)
    patched = apply(details.model_dump(mode="json"), operations)
    return validated(type(details), patched, prefix="/", separator="/")


def validated(kind: type[Details], data: Any, *, prefix: str = "", separator: str = ".") -> Details:
    """Build a domain document, turning pydantic's first complaint into an InvalidInput."""
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = prefix + separator.join(str(part) for part in error["loc"])
        raise InvalidInput(error["msg"], field=field) from exc
