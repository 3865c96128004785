"""Input tensors to a model's input matrix: one tensor per feature, or one 2-D tensor of whole rows."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy.typing as npt

from champion.api.inference.schemas import RequestInput
from champion.errors import InvalidInput
from champion.runtimes.base import Signature
from champion.serving import inputs

# The Python values orjson yields that each datatype family accepts. JSON has no NaN, so a
# missing number arrives as null; whether the model takes it is the signature's call, not ours.
_NUMBER: frozenset[type] = frozenset({int, float, type(None)})
_ACCEPTS: dict[str, tuple[frozenset[type], str]] = {
    "BOOL": (frozenset({bool}), "true or false"),
    **{f"{t}{b}": (frozenset({int}), "integers") for t in ("INT", "UINT") for b in (8, 16, 32, 64)},
    **{f"FP{b}": (_NUMBER, "numbers") for b in (16, 32, 64)},
    "BYTES": (frozenset({str}), "strings"),
}


def matrix(
    signature: Signature, tensors: Sequence[RequestInput], *, ignore: frozenset[str] = frozenset()
) -> npt.NDArray[Any]:
    """The rows the model predicts on, or an InvalidInput naming the tensor and field at fault."""
    flat = [_values(tensor, f"inputs[{i}]") for i, tensor in enumerate(tensors)]
    names = {f.name for f in signature.features}
    if len(tensors) == 1 and len(tensors[0].shape) == 2 and tensors[0].name not in names:
        return _rows(signature, tensors[0], flat[0])
    columns: dict[str, list[Any]] = {}
    for i, (tensor, values) in enumerate(zip(tensors, flat, strict=True)):
        shape = tensor.shape
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise InvalidInput(
                f"a tensor named after a feature has shape [n] or [n, 1], got {shape}; send all features"
                " in one tensor of shape [n, n_features] instead",
                field=f"inputs[{i}].shape",
            )
        if tensor.name in columns:
            raise InvalidInput(f"'{tensor.name}' is given twice", field=f"inputs[{i}].name")
        columns[tensor.name] = values
    return inputs.from_columns(signature, columns, field="inputs", ignore=ignore)


_PLAIN_REQUEST = frozenset({"id", "parameters", "inputs"})
_TENSOR = operator.itemgetter("name", "shape", "datatype", "data")
_STRINGS, _LISTS, _INTS = frozenset({str}), frozenset({list}), frozenset({int})


def _plain_request(body: Any) -> tuple[list[Any], str | None] | None:
    """The tensors and id of a request with nothing but an id, parameters and inputs, of the
    schema's types; None when in doubt."""
    if type(body) is not dict or not body.keys() <= _PLAIN_REQUEST:
        return None
    request_id, tensors = body.get("id"), body.get("inputs")
    if not (request_id is None or type(request_id) is str) or type(body.get("parameters", {})) is not dict:
        return None
    if type(tensors) is not list or not tensors:
        return None
    return tensors, request_id


def plain_columns(body: Any) -> tuple[dict[str, list[Any]], str | None] | None:
    """The columns and id of the common request, one tensor of shape `[n]` per feature, when it
    passes at a glance every check `schemas.parse` and `matrix` would make; None when in doubt.

    On the hot path: parsing twenty small tensors into pydantic models and checking them one by
    one cost more than the WML face spends on its whole body. The checks here are those same
    rules over plain dicts (orjson's types), each a pass at C speed over all tensors at once: no
    key too many or missing, strings where the schema says StrictStr, each shape `[len(data)]`,
    one datatype family for all, values of its types, no name twice. Anything else (asked-for
    outputs, parameters on a tensor, nested data, a 2-D tensor) goes the long way, which accepts
    it or names what is wrong.
    """
    request = _plain_request(body)
    if request is None:
        return None
    tensors, request_id = request
    try:
        names, shapes, datatypes, data = zip(*map(_TENSOR, tensors), strict=True)
    except (TypeError, KeyError):  # a tensor that is no object, or lacks a field
        return None
    if set(map(len, tensors)) != {4} or not _STRINGS.issuperset(map(type, chain(names, datatypes))):
        return None
    if not _LISTS.issuperset(map(type, chain(data, shapes))) or set(map(len, shapes)) != {1}:
        return None
    # Each shape is one int, the length of its data: [n] == [len(data)], compared as flat lists.
    sizes = list(chain.from_iterable(shapes))
    if not _INTS.issuperset(map(type, sizes)) or sizes != list(map(len, data)):
        return None
    columns = dict(zip(names, data, strict=True))
    if len(columns) != len(names):  # a name given twice
        return None
    try:
        families = {_ACCEPTS[datatype][0] for datatype in set(datatypes)}  # clients send one datatype
    except KeyError:
        return None
    if len(families) != 1 or not families.pop().issuperset(map(type, chain.from_iterable(data))):
        return None
    return columns, request_id


_NAME, _SHAPE, _DATATYPE, _DATA = map(operator.itemgetter, ("name", "shape", "datatype", "data"))


def feature_matrix(signature: Signature, body: Any) -> tuple[npt.NDArray[Any], str | None] | None:
    """The matrix and id of the commonest request, one tensor of shape `[n]` per feature in the
    signature's order, when it passes at a glance every check `schemas.parse`, `matrix` and
    `inputs.from_columns` would make; None when in doubt (then `plain_columns` or the long way
    accepts it or names what is wrong).

    `plain_columns` takes the tensors in any order, by name; here the names are compared with the
    features' in one go, and no dict of columns is built. Each check is one pass over all tensors
    at C speed: each tensor exactly name, shape, datatype and data (`parameters` goes the long way);
    the names the features', in order (so strings, none twice, none unknown); one datatype; each
    data a list of n values, of the datatype's types and plain numbers; each shape `[n]`.
    """
    request = _plain_request(body)
    if request is None:
        return None
    tensors, request_id = request
    try:
        if tuple(map(_NAME, tensors)) != inputs.feature_order(signature) or set(map(len, tensors)) != {4}:
            return None
        datatypes, shapes, data = set(map(_DATATYPE, tensors)), list(map(_SHAPE, tensors)), list(map(_DATA, tensors))
    except (TypeError, KeyError):  # a tensor that is no object, lacks a field, or has an unhashable datatype
        return None
    accepts = _ACCEPTS.get(datatypes.pop()) if len(datatypes) == 1 else None
    if accepts is None:
        return None
    rows = inputs.quick_matrix(signature, data, types=accepts[0])  # each data a list, all n long, values typed
    # Each shape is [n] with n an int: 1.0 and true equal 1, hence the types.
    if rows is None or shapes != [[len(rows)]] * len(shapes):
        return None
    return (rows, request_id) if _INTS.issuperset(map(type, chain.from_iterable(shapes))) else None


def columns_matrix(
    signature: Signature, columns: dict[str, list[Any]], *, ignore: frozenset[str] = frozenset()
) -> npt.NDArray[Any]:
    """`inputs.from_columns`' matrix for `plain_columns`' columns (its quick way takes them whole)."""
    return inputs.from_columns(signature, columns, field="inputs", ignore=ignore)


def plain_rows(signature: Signature, body: Any) -> tuple[list[Any], str | None] | None:
    """The rows and id of the other common request, one 2-D tensor `[n, n_features]` not named
    after a feature, its data flat (row-major) or one list per row, when it passes at a glance
    every check `schemas.parse` and `matrix` would make; None when in doubt (the long way then
    accepts it or names what is wrong). The rows are those `matrix` hands `inputs.from_records`.
    """
    request = _plain_request(body)
    if request is None or len(request[0]) != 1:
        return None
    (tensor,), request_id = request
    if type(tensor) is not dict or len(tensor) != 4:
        return None
    try:
        name, shape, datatype, data = _TENSOR(tensor)
    except KeyError:
        return None
    if type(name) is not str or type(datatype) is not str or type(shape) is not list or type(data) is not list:
        return None
    if len(shape) != 2 or not _INTS.issuperset(map(type, shape)):
        return None
    count, width = shape
    accepts = _ACCEPTS.get(datatype)
    if accepts is None or count < 0 or width != len(signature.features) or name in inputs.names(signature):
        return None
    allowed = accepts[0]
    if len(data) == count * width and allowed.issuperset(map(type, data)):
        return ([data] if count == 1 else [data[k * width : (k + 1) * width] for k in range(count)]), request_id
    nested = len(data) == count and _LISTS.issuperset(map(type, data)) and set(map(len, data)) <= {width}
    if nested and allowed.issuperset(map(type, chain.from_iterable(data))):
        return data, request_id
    return None


def _rows(signature: Signature, tensor: RequestInput, values: list[Any]) -> npt.NDArray[Any]:
    """Layout (b): columns in signature order, whatever the tensor is named."""
    count, width = tensor.shape
    if width != len(signature.features):
        names = ", ".join(f.name for f in signature.features)
        raise InvalidInput(
            f"a single 2-D tensor needs one column per feature ({len(signature.features)}: {names}), got {width}",
            field="inputs[0].shape",
        )
    rows = [values[k * width : (k + 1) * width] for k in range(count)]
    return inputs.from_records(signature, None, rows, field="inputs[0]")


def _values(tensor: RequestInput, where: str) -> list[Any]:
    """The tensor's data, flattened row-major, once its shape and datatype agree with it."""
    if any(size < 0 for size in tensor.shape):
        raise InvalidInput(f"sizes must not be negative, got {tensor.shape}", field=f"{where}.shape")
    accepts = _ACCEPTS.get(tensor.datatype)
    if accepts is None:
        raise InvalidInput(
            f"unknown datatype '{tensor.datatype}'; expected one of {', '.join(_ACCEPTS)}", field=f"{where}.datatype"
        )
    values = _flatten(tensor.data)
    expected = math.prod(tensor.shape)
    if len(values) != expected:
        raise InvalidInput(
            f"shape {tensor.shape} holds {expected} values but data has {len(values)}", field=f"{where}.shape"
        )
    allowed, described = accepts
    # One pass over the types at C speed; the slow search for the culprit runs only on failure.
    if not allowed.issuperset(map(type, values)):
        k, bad = next((k, v) for k, v in enumerate(values) if type(v) not in allowed)
        raise InvalidInput(
            f"datatype {tensor.datatype} holds {described}, got {_show(bad)} at position {k}", field=f"{where}.data"
        )
    return values


def _flatten(data: list[Any]) -> list[Any]:
    """Nested lists' values in row-major order; with its own stack, as JSON may nest past Python's recursion limit."""
    if list not in set(map(type, data)):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if type(value) is list:
                stack.append(iter(value))  # this list's values first, then the rest of the one holding it
                break
            out.append(value)
        else:
            stack.pop()
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
