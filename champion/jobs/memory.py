"""Will a data asset fit in this server's memory? Estimated before an in-process job reads it.

An in-process job holds the whole file as a pandas frame, its features as Python objects on the
way to the model's matrix, the matrix, and every answer until the job ends (`scoring_job.py`). So
the estimate is per row of the file:

    bytes = rows x (COLUMN_BYTES x columns + FEATURE_BYTES x features + ROW_BYTES)

Measured peaks over the server's baseline (numeric data, a 3-feature classifier): 330 bytes a row
with 4 columns, 990 with 34 (Parquet; CSV about a third less); the formula says 544 and 1,264, a margin
of 1.3 to 1.7. Parquet gives rows and columns from its footer without reading data. A CSV's rows are
estimated from its size and the mean length of its first lines (a sample of `SAMPLE_BYTES`), its
columns from the header. Long text values cost more than this says; the limit leaves the other half
of the machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from champion.jobs.errors import DataTooLarge
from champion.jobs.reading import is_parquet

COLUMN_BYTES = 24
"""Per row and column of the file: the frame pandas reads (every column), and the reader's buffers."""
FEATURE_BYTES = 64
"""Per row and feature: the object array, the Python values and lists from_records takes, the matrix."""
ROW_BYTES = 256
"""Per row: the row's list, and the answer kept until the job ends (label, probabilities, JSON)."""
SAMPLE_BYTES = 1 << 16


@dataclass(frozen=True)
class Estimate:
    rows: int
    columns: int
    bytes: int
    basis: str
    """How rows and columns were found, for the message."""


def limit(configured: int | None) -> int:
    """`CHAMPION_JOB_MEMORY_BYTES`, or half the machine's physical memory.

    psutil reads the machine's memory, not a container's limit: in a container, set the variable.
    """
    if configured is not None:
        return configured
    import psutil  # type: ignore[import-untyped]  # here: only a job over a data asset asks

    return int(psutil.virtual_memory().total) // 2


def estimate(path: Path, *, features: int) -> Estimate:
    if is_parquet(path):
        return _parquet(path, features)
    return _csv(path, features)


def check(path: Path, *, features: int, limit: int, name: str, field: str) -> None:
    """Refuse to score `path` in this process when it would need more than `limit` bytes."""
    found = estimate(path, features=features)
    if found.bytes <= limit:
        return
    raise DataTooLarge(
        f"data asset {name!r} needs about {_size(found.bytes)} of memory to score in the server "
        f"({found.rows:,} rows x {found.columns} columns, {found.basis}), more than the {_size(limit)} a job "
        "may take here (CHAMPION_JOB_MEMORY_BYTES, by default half the machine's memory): run it on a "
        "Dask cluster (set CHAMPION_DASK_SCHEDULER)",
        field=field,
    )


def _bytes(rows: int, columns: int, features: int) -> int:
    return rows * (COLUMN_BYTES * columns + FEATURE_BYTES * features + ROW_BYTES)


def _parquet(path: Path, features: int) -> Estimate:
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception:  # unreadable: the job's read names the problem
        return Estimate(0, 0, 0, "unreadable")
    rows, columns = metadata.num_rows, metadata.num_columns
    return Estimate(rows, columns, _bytes(rows, columns, features), "from its Parquet metadata")


def _csv(path: Path, features: int) -> Estimate:
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    header = sample.split(b"\n", 1)[0]
    columns = header.count(b",") + 1 if header.strip() else 0
    if len(sample) == size:  # the whole file is in the sample: count its lines
        rows = max(0, len(sample.splitlines()) - 1)
    else:
        complete = sample[: sample.rfind(b"\n") + 1]  # the sample's last line is cut
        lines = complete.count(b"\n") - 1
        per_row = (len(complete) - len(header) - 1) / lines if lines > 0 else float(len(sample))
        rows = math.ceil((size - len(header) - 1) / max(1.0, per_row))
    basis = f"estimated from its size, {_size(size)}, and the length of its first lines"
    return Estimate(rows, columns, _bytes(rows, columns, features), basis)


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
