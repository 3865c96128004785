"""A job's input as model matrices: inline rows, or a data asset's CSV or Parquet file matched by column name.

A data file is read the same way whole (in-process jobs) or a partition at a time (jobs on Dask,
`jobs/dask_worker.py`): the same column check, the same CSV options and the same conversion, so
both give the model the same matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy.typing as npt

from champion.errors import InvalidInput
from champion.runtimes import Signature
from champion.runtimes.base import FeatureType
from champion.serving import inputs

PARQUET_MAGIC = b"PAR1"
NUMERIC = frozenset({FeatureType.DOUBLE, FeatureType.INTEGER})


def inline_matrix(signature: Signature, block: dict[str, Any], index: int) -> npt.NDArray[Any]:
    """The matrix for one inline block; errors name `scoring.input_data[<index>]...`."""
    return inputs.from_records(signature, block.get("fields"), block["values"], field=f"scoring.input_data[{index}]")


def file_matrix(signature: Signature, path: Path, *, field: str) -> npt.NDArray[Any]:
    """The matrix for a data file: the model's columns picked by name, other columns ignored.

    Files usually carry more than the features (an id, the label), so extra columns are
    fine; a missing one fails with its name.
    """
    frame = _read_frame(path, signature, field=field)
    check_columns(signature, [str(column) for column in frame.columns], field=field)
    if frame.empty:
        raise InvalidInput("the file holds no rows", field=field)
    return frame_matrix(signature, frame, field=field)


def is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == PARQUET_MAGIC


def check_columns(signature: Signature, columns: Sequence[str], *, field: str) -> None:
    """Refuse a file that lacks one of the model's features, naming every missing one."""
    present = set(columns)
    missing = [f"'{f.name}'" for f in signature.features if f.name not in present]
    if missing:
        shown = ", ".join(columns[:20])
        plural = "s" if len(missing) > 1 else ""
        raise InvalidInput(f"missing column{plural} {', '.join(missing)}; the file has {shown}", field=field)


def csv_options(signature: Signature) -> dict[str, Any]:
    """How pandas reads a CSV for `signature`: string features stay text.

    Type inference would turn a string feature whose values look numeric ("02139") into numbers,
    which the model must not get; and it runs per block of the file, so a partition holding only
    such values would read differently from the whole file. Numeric columns are inferred (a
    non-number there is named by `from_records`, row and column).
    """
    text = {f.name: str for f in signature.features if f.type is FeatureType.STRING}
    return {"dtype": text} if text else {}


def frame_matrix(signature: Signature, frame: Any, *, field: str) -> npt.NDArray[Any]:
    """The matrix for a pandas frame holding the model's columns (checked already); errors name
    `<field>.values[<row>][<feature>]`, the row counted in the frame."""
    names = [feature.name for feature in signature.features]
    frame.columns = [str(column) for column in frame.columns]
    # object dtype hands from_records plain Python values (float, int, str, bool), which
    # it checks per feature type exactly as it checks JSON rows; NaN counts as missing.
    cells = frame[names].to_numpy(dtype=object)
    for j, feature in enumerate(signature.features):
        if feature.type in NUMERIC and frame[feature.name].dtype == object:
            cells[:, j] = [_number_or_text(value) for value in cells[:, j].tolist()]
    values = cells.tolist()
    return inputs.from_records(signature, names, values, field=field)


def _number_or_text(value: Any) -> Any:
    """A number written as text read as the number; any other value as it is.

    One value that is no number makes a reader keep a whole column as text (pandas, per block of a
    CSV; a Parquet string column always): its numbers are read here, so the job fails naming the
    value that is no number, in whichever part of the file it lies, not the column's first row.
    """
    if not isinstance(value, str):
        return value
    try:
        return float(value)
    except ValueError:
        return value


def renumbered(exc: InvalidInput, field: str, first_row: int) -> InvalidInput:
    """`exc` from a part of the file starting at row `first_row`, naming the row counted in the whole file.

    from_records names `<field>.values[<i>][<j>]` with i counted in the rows it was given.
    """
    prefix = f"{field}.values["
    if not first_row or exc.field is None or not exc.field.startswith(prefix):
        return exc
    message = exc.message.removeprefix(f"{exc.field}: ")
    row, _, rest = exc.field[len(prefix) :].partition("]")
    if not row.isdigit():
        return exc
    return InvalidInput(message, field=f"{prefix}{int(row) + first_row}]{rest}")


def _read_frame(path: Path, signature: Signature, *, field: str) -> Any:
    import pandas as pd  # here, not at the top: a server loads pandas only when a job reads a file

    parquet = is_parquet(path)
    try:
        return pd.read_parquet(path) if parquet else pd.read_csv(path, **csv_options(signature))
    except Exception as exc:
        raise unreadable(exc, parquet=parquet, field=field) from None


def unreadable(exc: Exception, *, parquet: bool, field: str) -> InvalidInput:
    kind = "Parquet" if parquet else "CSV"
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return InvalidInput(f"the data asset is not a readable {kind} file: {first}", field=field)
