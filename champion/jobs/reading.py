"""A job's input as model matrices: inline rows, or a data asset's CSV or Parquet file matched by column name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy.typing as npt

from champion.errors import InvalidInput
from champion.runtimes import Signature
from champion.serving import inputs

PARQUET_MAGIC = b"PAR1"


def inline_matrix(signature: Signature, block: dict[str, Any], index: int) -> npt.NDArray[Any]:
    """The matrix for one inline block; errors name `scoring.input_data[<index>]...`."""
    return inputs.from_records(signature, block.get("fields"), block["values"], field=f"scoring.input_data[{index}]")


def file_matrix(signature: Signature, path: Path, *, field: str) -> npt.NDArray[Any]:
    """The matrix for a data file: the model's columns picked by name, other columns ignored.

    Files usually carry more than the features (an id, the label), so extra columns are
    fine; a missing one fails with its name.
    """
    frame = _read_frame(path, field=field)
    names = [feature.name for feature in signature.features]
    present = {str(column) for column in frame.columns}
    missing = [f"'{name}'" for name in names if name not in present]
    if missing:
        columns = ", ".join(str(c) for c in frame.columns[:20])
        plural = "s" if len(missing) > 1 else ""
        raise InvalidInput(f"missing column{plural} {', '.join(missing)}; the file has {columns}", field=field)
    if frame.empty:
        raise InvalidInput("the file holds no rows", field=field)
    frame.columns = [str(column) for column in frame.columns]
    # object dtype hands from_records plain Python values (float, int, str, bool), which
    # it checks per feature type exactly as it checks JSON rows; NaN counts as missing.
    values = frame[names].to_numpy(dtype=object).tolist()
    return inputs.from_records(signature, names, values, field=field)


def _read_frame(path: Path, *, field: str) -> Any:
    import pandas as pd  # here, not at the top: a server loads pandas only when a job reads a file

    with path.open("rb") as handle:
        parquet = handle.read(4) == PARQUET_MAGIC
    try:
        return pd.read_parquet(path) if parquet else pd.read_csv(path)
    except Exception as exc:
        kind = "Parquet" if parquet else "CSV"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InvalidInput(f"the data asset is not a readable {kind} file: {first}", field=field) from None
