"""RFC 6902 JSON Patch applied to an editable document, restricted to allowed paths, and the
check that client JSON can be stored and given back as it was sent.

jsonpatch does the pointer work; this module adds what a server needs on top: a clear
error per operation, a path allowlist, `move`/`copy` refused, and `add`/`replace`
treated alike on object members (the official clients send either).

Every domain document built from client JSON goes through `validated`, which first refuses what
JSON or the database cannot carry back unchanged (`unportable`): a value stored once is read by
every later GET, so one that cannot be rendered or stored would break the resource for good.
The free-form members of creation documents (`custom`, `hardware_spec` of a new model or
deployment) are also typed `JsonObject`, so one built another way (an import) refuses the same
values. Documents also built from stored rows (the patchable details) are not: a value stored
before these rules must stay readable, and removable by a patch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Collection
from typing import Annotated, Any, TypeVar

import jsonpatch
import jsonpointer
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from champion.errors import InvalidInput, PreconditionFailed

SUPPORTED_OPS = ("add", "replace", "remove", "test")

Details = TypeVar("Details", bound=BaseModel)

JSON_INTEGER_LIMIT = 2**53 - 1
"""The largest integer magnitude champion stores: what every JSON reader gets back exactly.

RFC 8259 (section 6) and I-JSON (RFC 7493, section 2.2) name this range as the one that
interoperates: many readers hold JSON numbers as IEEE doubles, JavaScript (the web UI) among
them, and would silently round anything larger. Signed 64-bit would be the most SQLite and
orjson (the renderer) can hold, but a value some clients read back altered is not stored
faithfully; refusing it names the problem instead.
"""

JSON_DEPTH_LIMIT = 64
"""How deeply client JSON may nest. orjson, which writes the faces' answers, refuses past 255 levels,
so a stored value nested deeper would break every later read of its resource; 64 leaves room for the
envelope around it and is far more than metadata needs."""

Location = tuple[str | int, ...]
"""Where a value sits inside a document: its keys and list indexes, outermost first."""


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
        # Checked before anything is applied: copying a value nested past Python's recursion limit would fail.
        if (found := unportable(item.get("value"))) is not None:
            at, problem = found
            raise InvalidInput(problem, field=path + "".join(f"/{part}" for part in at))
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
    """Build a domain document, turning the first unportable value or pydantic complaint into an InvalidInput."""
    found = unportable(data)
    if found is not None:
        at, problem = found
        raise InvalidInput(problem, field=prefix + separator.join(str(part) for part in at))
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = prefix + separator.join(str(part) for part in error["loc"])
        raise InvalidInput(error["msg"], field=field) from exc


def unportable(value: Any) -> tuple[Location, str] | None:
    """The first place in `value` (as a path of keys and indexes) holding what champion cannot store and
    give back exactly as sent, and why; None when there is none.

    That is an integer beyond ±JSON_INTEGER_LIMIT; a NaN or an infinity (Python's JSON reader
    accepts `NaN` and turns `1e400` into one, but JSON has neither and PostgreSQL refuses them);
    text that is not Unicode (a lone surrogate, which no UTF-8 encoder writes) or holds NUL
    (PostgreSQL text cannot), in values and in object keys alike; and a non-empty array or object
    nested deeper than JSON_DEPTH_LIMIT. A walk with its own stack, so nesting as deep as the JSON
    reader allowed cannot exhaust Python's.
    """
    # Each entry knows its place as a link to its parent's, so the walk stays linear however deep.
    stack: list[tuple[Any, _Link, int]] = [(value, None, 0)]
    while stack:
        item, link, depth = stack.pop()
        problem = None
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not -JSON_INTEGER_LIMIT <= item <= JSON_INTEGER_LIMIT:
                problem = f"an integer beyond ±{JSON_INTEGER_LIMIT} (2^53 - 1), the most JSON carries exactly"
        elif isinstance(item, float):
            if not math.isfinite(item):
                problem = "must be a finite number: JSON has no NaN or Infinity"
        elif isinstance(item, str):
            problem = _text_problem(item)
        elif depth == JSON_DEPTH_LIMIT and isinstance(item, dict | list | tuple) and item:
            problem = f"nests deeper than {JSON_DEPTH_LIMIT} levels"
        elif isinstance(item, dict):
            for key in item:
                if isinstance(key, str) and (key_problem := _text_problem(key)) is not None:
                    return _location((_printable(key), link)), f"the key {key_problem}"
            stack.extend((member, (key, link), depth + 1) for key, member in reversed(item.items()))
        elif isinstance(item, list | tuple):
            stack.extend((member, (index, link), depth + 1) for index, member in reversed(list(enumerate(item))))
        if problem is not None:
            return _location(link), problem
    return None


_Link = tuple[str | int, "_Link"] | None
"""A place in a document as its last key and the place of its parent."""


def _location(link: _Link) -> Location:
    parts: list[str | int] = []
    while link is not None:
        part, link = link
        parts.append(part)
    return tuple(reversed(parts))


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains the NUL character (U+0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (an unpaired \\uD800-\\uDFFF escape), which is not Unicode text"
    return None


def _printable(key: str) -> str:
    """A key as an error can name it: a lone surrogate written as its escape (an error body is UTF-8 too)."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _portable_object(value: dict[str, Any]) -> dict[str, Any]:
    found = unportable(value)
    if found is not None:
        at, problem = found
        where = "/".join(str(part) for part in at)
        raise PydanticCustomError(
            "unportable_json", "{where}: {problem}" if at else "{problem}", {"where": where, "problem": problem}
        )
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_portable_object)]
"""A free-form JSON object a client gives and later reads back (`custom`, `hardware_spec`): refuses
what `unportable` finds, naming where inside it."""
