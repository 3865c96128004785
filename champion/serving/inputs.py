"""Turn request rows or columns into a model's input matrix, or an InvalidInput naming the bad field."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from champion.errors import InvalidInput, PayloadTooLarge
from champion.runtimes.base import Feature, FeatureType, Signature

# The exact types the fast path lets np.asarray convert (None too when missing is allowed).
_FAST: dict[bool, frozenset[type]] = {False: frozenset({float, int}), True: frozenset({float, int, type(None)})}
_ROW_TYPES = frozenset({list, tuple})
_FEW_ROWS = 16


class _Bad(Exception):
    """One value is wrong; the caller knows where it is and raises the InvalidInput."""


@dataclasses.dataclass
class _Plan:
    """What a signature asks of its input, worked out once: per call it would cost more than the conversion."""

    as_float: bool
    integers: list[int]
    booleans: list[int]
    names: tuple[str, ...]
    known: frozenset[str]
    orders: dict[tuple[tuple[str, ...], frozenset[str]], list[int] | None] = dataclasses.field(default_factory=dict)


# By id, holding the signature so the id cannot be reused: hashing a Signature walks every
# Feature through Python-level __hash__ methods, which costs more than a small conversion.
_PLANS: dict[int, tuple[Signature, _Plan]] = {}
_MAX_CACHED = 256


def _plan(signature: Signature) -> _Plan:
    entry = _PLANS.get(id(signature))
    if entry is not None and entry[0] is signature:
        return entry[1]
    kinds = [f.type for f in signature.features]
    names = tuple(f.name for f in signature.features)
    plan = _Plan(
        as_float=FeatureType.STRING not in kinds,
        integers=[k for k, t in enumerate(kinds) if t is FeatureType.INTEGER],
        booleans=[k for k, t in enumerate(kinds) if t is FeatureType.BOOLEAN],
        names=names,
        known=frozenset(names),
    )
    if len(_PLANS) >= _MAX_CACHED:
        _PLANS.clear()  # models come and go; a rare rebuild is cheaper than tracking use
    _PLANS[id(signature)] = (signature, plan)
    return plan


def numeric(signature: Signature) -> bool:
    """Whether every feature is numeric, so that the model takes a float64 matrix."""
    return _plan(signature).as_float


def names(signature: Signature) -> frozenset[str]:
    """The signature's feature names (worked out once per signature)."""
    return _plan(signature).known


def check_row_count(count: int, *, limit: int, field: str | None) -> None:
    """Refuse a prediction request of more than `limit` rows (`Settings.max_rows_per_request`).

    Up to the limit the model answers any number of rows (the batcher feeds them in chunks); past it
    a request is refused whole, before any row is converted, rather than tie the model up.
    """
    if count > limit:
        raise PayloadTooLarge(
            f"{count} rows is more than one request may score ({limit}): send them in several requests,"
            " or score them with a batch job",
            field=field,
        )


def column(fields: Sequence[str] | None, values: Sequence[Sequence[Any]], name: str | None) -> list[Any] | None:
    """The values of the field `name` in WML-style records, or None when the records do not carry it.

    Call after `from_records` accepted the rows, so every row has a value per field.
    """
    if name is None or fields is None or name not in fields:
        return None
    index = list(fields).index(name)
    return [row[index] for row in values]


def from_records(
    signature: Signature,
    fields: Sequence[str] | None,
    values: Sequence[Sequence[Any]],
    *,
    field: str = "input_data[0]",
    ignore: frozenset[str] = frozenset(),
) -> npt.NDArray[Any]:
    """The matrix for WML `{"fields": [...], "values": [[...], ...]}`; without fields, rows are positional.

    Fields named in `ignore` are accepted and dropped: a deployment passes the fields its
    earlier champions took, so clients keep working after a model that needs fewer features
    replaced them.
    """
    features, plan = signature.features, _plan(signature)
    order = None if fields is None else _order(signature, plan, fields, f"{field}.fields", ignore)
    width = len(features) if fields is None else len(fields)
    if not isinstance(values, list | tuple):
        raise InvalidInput("expected a list of rows", field=f"{field}.values")
    if not values:
        raise InvalidInput("must hold at least one row", field=f"{field}.values")
    as_float = plan.as_float
    if as_float and _ROW_TYPES.issuperset(map(type, values)) and _plain(signature, values):
        try:
            matrix = np.asarray(values, dtype=np.float64)
        except (ValueError, OverflowError):  # ragged rows, or an int too large for a float
            matrix = None
        if matrix is not None and (quick := _in_order(signature, plan, matrix, width, order)) is not None:
            return quick
    # Slow path: find the first bad value (row by row) and name it, or build the matrix.
    take = order if order is not None else range(width)
    rows: list[list[Any]] = []
    for i, row in enumerate(values):
        if type(row) not in _ROW_TYPES:
            raise InvalidInput(f"expected a list of {width} values, got {_show(row)}", field=f"{field}.values[{i}]")
        if len(row) != width:
            raise InvalidInput(f"expected {width} values, got {len(row)}", field=f"{field}.values[{i}]")
        out = []
        for feature, j in zip(features, take, strict=True):
            try:
                out.append(_convert(feature, row[j], signature.allows_missing, as_float))
            except _Bad as bad:
                raise InvalidInput(str(bad), field=f"{field}.values[{i}][{j}]") from None
        rows.append(out)
    return _matrix(rows, len(features), as_float)


def quick_records(
    signature: Signature,
    fields: Sequence[Any] | None,
    matrix: npt.NDArray[np.float64],
    *,
    ignore: frozenset[str] = frozenset(),
) -> npt.NDArray[np.float64] | None:
    """`from_records`' matrix for rows already read into a float64 matrix, one column per field (per
    feature without fields), from plain JSON numbers only (no true or false, null or strings); None
    when `from_records` must look at the rows itself, which accepts them or names the fault."""
    plan = _plan(signature)
    if not plan.as_float or not len(matrix):
        return None
    try:
        order = None if fields is None else _order(signature, plan, fields, "fields", ignore)
    except InvalidInput:
        return None
    return _in_order(signature, plan, matrix, len(signature.features) if fields is None else len(fields), order)


def _in_order(
    signature: Signature, plan: _Plan, matrix: npt.NDArray[np.float64], width: int, order: list[int] | None
) -> npt.NDArray[np.float64] | None:
    """A matrix of `width` columns in the caller's order as the model takes it, when it passes `_valid`."""
    if matrix.ndim != 2 or matrix.shape[1] != width:
        return None
    if order is not None:
        matrix = matrix[:, order]
    return matrix if _valid(signature, plan, matrix) else None


def from_columns(
    signature: Signature,
    columns: Mapping[str, Sequence[Any]],
    *,
    field: str = "inputs",
    ignore: frozenset[str] = frozenset(),
) -> npt.NDArray[Any]:
    """The matrix for named columns (Open Inference Protocol tensors), one value per row in each.

    Errors name `{field}.{column}[{row}]`, or `{column}[{row}]` when `field` is empty (DataRobot's
    tables, whose columns are the top-level names).
    """
    features, plan = signature.features, _plan(signature)
    if not isinstance(columns, Mapping):
        raise InvalidInput("expected an object of named columns", field=field)
    data = _quick_columns(columns, plan)
    if data is None:
        data = _columns(features, columns, field, ignore, plan)
    matrix = _quick_matrix(signature, plan, data, _FAST[signature.allows_missing])
    if matrix is not None:
        return matrix
    as_float = plan.as_float
    converted: list[list[Any]] = []
    for feature, column in zip(features, data, strict=True):
        out = []
        for i, value in enumerate(column):
            try:
                out.append(_convert(feature, value, signature.allows_missing, as_float))
            except _Bad as bad:
                raise InvalidInput(str(bad), field=f"{_within(field, feature.name)}[{i}]") from None
        converted.append(out)
    return _matrix(list(zip(*converted, strict=True)), len(features), as_float)


def feature_order(signature: Signature) -> tuple[str, ...]:
    """The signature's feature names in order (worked out once per signature)."""
    return _plan(signature).names


def quick_matrix(
    signature: Signature, data: Sequence[Sequence[Any]], *, types: frozenset[type]
) -> npt.NDArray[Any] | None:
    """`from_columns`' matrix for columns already in feature order, one list per feature, all of
    one non-zero length, when every value's type is one of `types` (the caller's format's own rule)
    and the matrix passes at a glance; None for anything else, which `from_columns` looks at closely
    (accepting it or naming the fault in an InvalidInput).
    """
    plan = _plan(signature)
    if len(data) != len(plan.names) or not _ROW_TYPES.issuperset(map(type, data)):
        return None
    lengths = set(map(len, data))
    if len(lengths) != 1 or 0 in lengths:
        return None
    return _quick_matrix(signature, plan, data, types & _FAST[signature.allows_missing])


def _quick_matrix(
    signature: Signature, plan: _Plan, data: Sequence[Sequence[Any]], types: frozenset[type]
) -> npt.NDArray[Any] | None:
    """The float matrix of columns in feature order, all of one length, when every value is exactly
    of `types` (plain numbers: see `_plain`) and valid; None for anything else."""
    if not (plan.as_float and data):
        return None
    count = len(data[0])
    try:
        # A few rows are quicker to build from one flat list, many as columns turned round.
        if count < _FEW_ROWS:
            values = list(chain.from_iterable(data))
            if not types.issuperset(map(type, values)):
                return None
            flat = np.array(values, dtype=np.float64)
            matrix = flat.reshape(1, -1) if count == 1 else np.ascontiguousarray(flat.reshape(len(data), count).T)
            finite = not signature.allows_missing and _finite_sum(values)
        else:
            if not types.issuperset(map(type, chain.from_iterable(data))):
                return None
            matrix = np.ascontiguousarray(np.asarray(data, dtype=np.float64).T)
            finite = False
    except OverflowError:  # an int too large for a float
        return None
    return matrix if _valid(signature, plan, matrix, finite=finite) else None


def _finite_sum(values: list[Any]) -> bool:
    """True only when every value (plain ints and floats) is finite, judged by their sum: an infinity
    or NaN makes the sum infinite or NaN. For a few values, about a tenth of np.isfinite's cost (two
    numpy calls on a tiny array). False says nothing: a sum of finite values may overflow, and then
    `_valid` looks at each value itself."""
    try:
        return math.isfinite(sum(values))
    except OverflowError:  # ints whose sum is past a float's range
        return False


def _quick_columns(columns: Mapping[str, Any], plan: _Plan) -> list[Any] | None:
    """`_columns`' answer in the common case, in a few passes at C speed: exactly the features, each a
    list, all of one (non-zero) length. None for anything else, which `_columns` looks at one by one."""
    data: list[Any] = list(map(columns.get, plan.names))
    if not columns.keys() <= plan.known or not _ROW_TYPES.issuperset(map(type, data)):
        return None
    lengths = set(map(len, data))
    return data if len(lengths) == 1 and 0 not in lengths else None


def _columns(
    features: Sequence[Feature], columns: Mapping[str, Any], field: str, ignore: frozenset[str], plan: _Plan
) -> list[Any]:
    """The features' columns in order, once every name is known (or ignored) and every column a
    non-empty list as long as the first; else the InvalidInput naming the first fault."""
    known = plan.known
    for name in columns:
        if name not in known and name not in ignore:
            problem = f"unknown input '{name}'; the model takes {_names(features)}"
            raise InvalidInput(problem, field=_within(field, name))
    data: list[Sequence[Any]] = []
    for feature in features:
        column = columns.get(feature.name)
        if column is None or type(column) not in _ROW_TYPES or not column or (data and len(column) != len(data[0])):
            if feature.name not in columns:
                problem = f"missing input '{feature.name}'"
            elif type(column) not in _ROW_TYPES:
                problem = f"expected a list of values, one per row, got {_show(column)}"
            elif not column:
                problem = "must hold at least one value"
            else:
                problem = f"has {len(column)} values but {features[0].name} has {len(data[0])}"
            raise InvalidInput(problem, field=_within(field, feature.name))
        data.append(column)
    return data


def _order(
    signature: Signature, plan: _Plan, fields: Sequence[str], where: str, ignore: frozenset[str]
) -> list[int] | None:
    """Where each feature sits in the caller's rows, or None when they are already in order."""
    if not isinstance(fields, list | tuple):
        raise InvalidInput("expected a list of field names", field=where)
    key = (tuple(fields), ignore)
    try:  # remembered: a client sends the same fields in the same order call after call
        return plan.orders[key]
    except (KeyError, TypeError):  # not seen yet, or a name is not even hashable: check them
        pass
    features = signature.features
    index = {f.name: k for k, f in enumerate(features)}
    seen: dict[str, int] = {}
    for j, name in enumerate(fields):
        if not isinstance(name, str):
            raise InvalidInput(f"expected a field name, got {_show(name)}", field=f"{where}[{j}]")
        if name not in index:
            if name in ignore:
                continue
            raise InvalidInput(f"unknown field '{name}'; the model takes {_names(features)}", field=f"{where}[{j}]")
        if name in seen:
            raise InvalidInput(f"duplicate field '{name}' (also at {seen[name]})", field=f"{where}[{j}]")
        seen[name] = j
    missing = [f"'{f.name}'" for f in features if f.name not in seen]
    if missing:
        raise InvalidInput(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}", field=where)
    order: list[int] | None = [seen[f.name] for f in features]
    if order == list(range(len(fields))):
        order = None
    if len(plan.orders) < _MAX_CACHED:
        plan.orders[key] = order
    return order


def _within(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name


def _plain(signature: Signature, data: Sequence[Sequence[Any]]) -> bool:
    """Whether every value is exactly an int or a float (or None, when missing is allowed).

    np.asarray(dtype=float64) would also take bools and numeric strings ("1.5"), which must
    be rejected: this one pass over the types is the cheap way to rule them out.
    """
    return _FAST[signature.allows_missing].issuperset(map(type, chain.from_iterable(data)))


def _valid(signature: Signature, plan: _Plan, matrix: npt.NDArray[np.float64], *, finite: bool = False) -> bool:
    """Vectorised checks of a float64 matrix in feature order; False sends it to the slow path.
    `finite`: the caller knows every value is finite (`_finite_sum`), so that look is skipped."""
    missing = signature.allows_missing
    if not finite and (np.isinf(matrix).any() if missing else not np.isfinite(matrix).all()):
        return False
    for columns, integral in ((plan.integers, True), (plan.booleans, False)):
        if not columns:
            continue
        part = matrix[:, columns]
        # BOOLEAN given as numbers may only be 0 or 1 (true and false take the slow path).
        ok = part == np.trunc(part) if integral else (part == 0.0) | (part == 1.0)
        if missing:
            ok |= np.isnan(part)
        if not ok.all():
            return False
    return True


def _convert(feature: Feature, value: Any, allows_missing: bool, as_float: bool) -> Any:
    """One value, checked against its feature's type; raises _Bad with a message naming the feature."""
    name, kind, cls = feature.name, feature.type, type(value)
    if cls is float and kind is FeatureType.DOUBLE and math.isfinite(value):
        return value  # the common cases first: isinstance checks cost more than the rest
    if cls is str and kind is FeatureType.STRING:
        return value
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        if not allows_missing:
            raise _Bad(f"{name} is missing, and this model cannot take missing values")
        # NaN, not None, even in string columns: pandas and scikit-learn's imputers and
        # encoders treat NaN as missing in object columns, and not always None.
        return math.nan
    if kind is FeatureType.STRING:
        # Numbers are rejected rather than converted with str(): 1.0 would become "1.0"
        # where the model learned "1", an unseen category and a silently wrong answer.
        if isinstance(value, str):
            return str(value)
        raise _Bad(f"{name}: expected a string, got {_show(value)}")
    is_bool = isinstance(value, bool | np.bool_)
    is_number = not is_bool and isinstance(value, int | float | np.integer | np.floating)
    if kind is FeatureType.BOOLEAN:
        if is_bool or (is_number and value in (0, 1)):
            return float(value) if as_float else bool(value)
        raise _Bad(f"{name}: expected true or false (or 0 or 1), got {_show(value)}")
    if not is_number:
        # Numeric strings ("1.5") are not parsed: a client sending them has a bug to see.
        raise _Bad(f"{name}: expected a number, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if math.isinf(number):
        raise _Bad(f"{name}: expected a finite number, got {_show(value)}")
    if kind is FeatureType.INTEGER:
        if not number.is_integer():
            raise _Bad(f"{name}: expected an integer, got {_show(value)}")
        return number if as_float else int(value)
    return number


def _matrix(rows: Sequence[Sequence[Any]], width: int, as_float: bool) -> npt.NDArray[Any]:
    # reshape keeps the shape 2-D for a signature without features.
    return np.array(rows, dtype=np.float64 if as_float else object).reshape(len(rows), width)


def _names(features: Sequence[Feature], limit: int = 20) -> str:
    names = ", ".join(f.name for f in features[:limit])
    return names + (f", ... ({len(features)} in all)" if len(features) > limit else "")


def _show(value: Any) -> str:
    """A value as the caller wrote it in JSON, short enough for an error message."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
