"""Splitting a data asset into the partitions a Dask cluster scores, without reading its data.

champion splits files itself rather than through dask.dataframe: a Parquet file written in one row
group (pyarrow's default holds a million rows in one) is one partition to `read_parquet`, while here
a row group feeds as many partitions as its rows call for; each partition is read on its worker
exactly as an in-process job reads the whole file (`reading.frame_matrix`), so both give the model the
same matrix; and the server imports only `distributed`, not the dataframe machinery.

Parquet: slices of row groups, from the footer. CSV: byte ranges ending at a newline, found by
seeking near each cut and reading to the next line end; like `dask.dataframe.read_csv`, this assumes
one record per line (a quoted value holding a newline may be cut).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from champion.errors import InvalidInput
from champion.jobs import memory, reading
from champion.jobs.dask_worker import Partition
from champion.runtimes import Signature


def of_asset(
    path: Path, signature: Signature, *, field: str, sha256: str, rows_per_partition: int, first_index: int
) -> tuple[list[Partition], int | None]:
    """The asset's partitions, numbered from `first_index`, and its row count when the file says it.

    Refuses, as an in-process job would, a file that lacks a feature or (Parquet) holds no rows.
    """
    if reading.is_parquet(path):
        return _parquet(path, signature, field, sha256, rows_per_partition, first_index)
    return _csv(path, signature, field, sha256, rows_per_partition, first_index), None


def _parquet(
    path: Path, signature: Signature, field: str, sha256: str, rows_per_partition: int, first_index: int
) -> tuple[list[Partition], int]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
        metadata = source.metadata
        columns = _pandas_columns(source.schema_arrow)
    except Exception as exc:
        raise reading.unreadable(exc, parquet=True, field=field) from None
    reading.check_columns(signature, columns, field=field)
    if metadata.num_rows == 0:
        raise InvalidInput("the file holds no rows", field=field)
    parts: list[Partition] = []
    for group in range(metadata.num_row_groups):
        rows = metadata.row_group(group).num_rows
        for start in range(0, rows, rows_per_partition):
            stop = min(rows, start + rows_per_partition)
            index = first_index + len(parts)
            parts.append(Partition(index, field, sha256, True, start, stop, row_group=group))
    return parts, metadata.num_rows


def _pandas_columns(schema: object) -> list[str]:
    """The columns pandas shows for a Parquet schema: a frame's index, stored as columns, is not one."""
    import pyarrow as pa

    assert isinstance(schema, pa.Schema)
    index = {name for name in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(name, str)}
    return [name for name in schema.names if name not in index]


def _csv(
    path: Path, signature: Signature, field: str, sha256: str, rows_per_partition: int, first_index: int
) -> list[Partition]:
    import pandas as pd

    try:
        columns = [str(c) for c in pd.read_csv(path, nrows=0, **reading.csv_options(signature)).columns]
    except Exception as exc:
        raise reading.unreadable(exc, parquet=False, field=field) from None
    reading.check_columns(signature, columns, field=field)
    size = path.stat().st_size
    with path.open("rb") as handle:
        while (line := handle.readline()) and not line.strip(b"\r\n"):
            pass  # pandas skips blank lines before the header too
        header_end = handle.tell()
        rows = memory.estimate(path, features=len(signature.features)).rows
        count = max(1, math.ceil(rows / rows_per_partition))
        block = max(1, math.ceil((size - header_end) / count))
        cuts = [header_end]
        for k in range(1, count):
            handle.seek(max(cuts[-1], header_end + k * block))
            handle.readline()  # to the end of the line the cut fell in
            if handle.tell() >= size:
                break
            cuts.append(handle.tell())
    cuts.append(size)
    ranges = [(start, stop) for start, stop in itertools.pairwise(cuts) if stop > start]
    return [
        Partition(first_index + k, field, sha256, False, start, stop, header_end=header_end)
        for k, (start, stop) in enumerate(ranges)
    ]
