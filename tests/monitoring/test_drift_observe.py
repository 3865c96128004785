"""Drift as a flush stores it, on both databases: every capture file counted once into the bins `binning.count`
would give, by whichever process gets to it first, and against the baseline stored at that moment.

`drift.observe` reads the bins as text and parses each distinct text once; these check that a baseline
replaced (`baselines._replace`) is counted in its new bins from the next flush on, and that the counts
stored are exactly the plain way's, hour by hour.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.monitoring import baselines, binning, drift, files
from champion.monitoring.capture import CaptureBuffer, CapturePolicy
from champion.monitoring.tables import CaptureFile, DriftBaseline, DriftCount
from champion.runtimes import Prediction
from tests.monitoring.conftest import Deployed

HOUR = 3600.0


def flushed(deployed: Deployed, seed: int, n: int, *, shift: float = 0.0, at: float | None = None) -> files.Rows:
    """`n` rows as a flush gathers them (labels coded), at `at` (one second apart) when given."""
    rng = np.random.default_rng(seed)
    signature = deployed.signature
    classes = np.asarray(signature.target.classes)
    buffer = CaptureBuffer(capacity_cells=10**8)
    for _ in range(0, n, 50):
        values = np.round(rng.normal(size=(50, len(signature.features))) + shift, 3)
        values[rng.random(values.shape) < 0.02] = np.nan
        probabilities = rng.dirichlet(np.ones(len(classes)), size=50)
        prediction = Prediction(labels=classes[np.argmax(probabilities, axis=1)], probabilities=probabilities)
        buffer.offer(
            CapturePolicy(sampling=1.0),
            deployment_id=deployed.deployment_id,
            version_id=deployed.version_id,
            signature=signature,
            rows=values,
            prediction=prediction,
            association_ids=None,
            latency=0.001,
        )
    (pending,) = buffer.drain().pending.values()
    rows = files.gather(pending)
    assert rows.codes is not None
    if at is not None:
        rows = dataclasses.replace(rows, at=at + np.arange(len(rows), dtype=np.float64))
    return rows


def captured(context: ServerContext, deployed: Deployed, rows: files.Rows, folder: Path) -> str:
    """The rows written and recorded as the writer does before it calls `drift.observe`; the file's id."""
    folder.mkdir(exist_ok=True)
    path = folder / "captured.parquet"
    files.write(path, deployed.signature, rows)
    digest = context.store.keep(context.store.stage(path))
    with context.sessions() as session:
        record = CaptureFile(
            deployment_id=deployed.deployment_id,
            version_id=deployed.version_id,
            sha256=digest,
            rows=len(rows),
            first_at=files.moment(float(rows.at.min())),
            last_at=files.moment(float(rows.at.max())),
        )
        session.add(record)
        session.commit()
        return record.id


def observe(context: ServerContext, deployed: Deployed, file_id: str, rows: files.Rows) -> None:
    drift.observe(
        context.sessions, context.store, deployed.deployment_id, deployed.version_id, deployed.signature, file_id, rows
    )


def stored(context: ServerContext, deployed: Deployed) -> Counter[tuple[float, str, int]]:
    """The drift counts stored, by (hour, feature, bin)."""
    with context.sessions() as session:
        found = session.scalars(select(DriftCount).filter_by(deployment_id=deployed.deployment_id))
        return Counter({(c.window_start.timestamp(), c.feature, c.bin): c.count for c in found})


def plain(context: ServerContext, deployed: Deployed, all_rows: list[files.Rows]) -> Counter[tuple[float, str, int]]:
    """What counting every file's rows with `binning.count`, hour by hour, against the stored baseline gives."""
    with context.sessions() as session:
        found = drift.baselines(session, deployed.deployment_id, deployed.version_id)
        all_bins = {feature: binning.Bins.from_json(b.bins) for feature, b in found.items()}
    expected: Counter[tuple[float, str, int]] = Counter()
    for rows in all_rows:
        hours = rows.at - rows.at % HOUR
        for start in np.unique(hours):
            for feature, bins in all_bins.items():
                values = drift.values_of(rows, feature)[hours == start]
                for index, count in enumerate(binning.count(bins, values)):
                    if count:
                        expected[(float(start), feature, index)] += count
    return expected


def test_each_file_is_counted_once_into_the_bins_binning_would_give(
    context: ServerContext, settings: Settings, deployed: Deployed, tmp_path: Path
) -> None:
    start = 1_800_000_000.0  # an hour's start
    all_rows = [
        flushed(deployed, 1, 300, at=start),
        flushed(deployed, 2, 300, at=start + 400),  # the baseline is made here, from 600 rows
        flushed(deployed, 3, 300, shift=1.0, at=start + HOUR - 100),  # over two hours
        flushed(deployed, 4, 200, shift=-1.0, at=start + HOUR + 500),
    ]
    ids = [captured(context, deployed, rows, tmp_path / "stage") for rows in all_rows]
    for file_id, rows in zip(ids, all_rows, strict=True):
        observe(context, deployed, file_id, rows)
    # The same files offered again, here and in another process (its own engine): nothing is counted twice.
    other = open_context(settings)
    try:
        for file_id, rows in zip(ids, all_rows, strict=True):
            observe(context, deployed, file_id, rows)
            observe(other, deployed, file_id, rows)
    finally:
        other.close()
    expected = plain(context, deployed, all_rows)
    assert {hour for hour, _, _ in expected} == {start, start + HOUR}
    assert stored(context, deployed) == expected
    with context.sessions() as session:
        assert all(session.scalars(select(CaptureFile.drift_counted)))


def test_a_replaced_baseline_is_counted_in_its_new_bins_from_the_next_flush(
    context: ServerContext, deployed: Deployed, tmp_path: Path
) -> None:
    all_rows = [flushed(deployed, seed, 300) for seed in (1, 2, 3)]
    for rows in all_rows:  # the third is counted in bins parsed by the flush itself
        observe(context, deployed, captured(context, deployed, rows, tmp_path / "stage"), rows)
    with context.sessions() as session:
        before = {
            b.feature: b.bins for b in drift.baselines(session, deployed.deployment_id, deployed.version_id).values()
        }
    # A baseline from other rows (other edges, the same number of bins), as `baselines.from_data_asset` makes it.
    source = flushed(deployed, 9, 400, shift=2.0)
    matrix = np.column_stack([source.features[f.name] for f in deployed.signature.features])
    made = baselines._baselines(
        deployed.deployment_id, deployed.version_id, deployed.signature, matrix, np.asarray(source.labels)
    )
    with context.sessions() as session:
        baselines._replace(
            session, context.store, deployed.deployment_id, deployed.version_id, deployed.signature, made
        )
        session.commit()
        after = {b.feature: b.bins for b in session.scalars(select(DriftBaseline))}
    assert all(after[f] != before[f] for f in before if f != drift.TARGET)
    later = flushed(deployed, 4, 300)
    observe(context, deployed, captured(context, deployed, later, tmp_path / "stage"), later)
    assert stored(context, deployed) == plain(context, deployed, [*all_rows, later])


numeric_bins = st.builds(
    lambda edges: binning.Bins(kind="numeric", edges=tuple(sorted(set(edges)))),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=12),
)
categorical_bins = st.builds(
    lambda categories: binning.Bins(kind="categorical", categories=tuple(dict.fromkeys(categories))),
    st.lists(st.text(), max_size=8),
)


@settings(max_examples=200, deadline=None, database=None)
@given(bins=st.one_of(numeric_bins, categorical_bins))
def test_bins_parsed_from_their_stored_text_are_the_bins_stored(bins: binning.Bins) -> None:
    text = json.dumps(bins.to_json())
    assert drift._parsed(text) == bins == binning.Bins.from_json(json.loads(text))
    assert drift._parsed(text) is drift._parsed(text)  # parsed once


def plain_hours(at: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """Each row's hour, and the rows of each distinct one: what `drift._hours` gives the cheap way."""
    hours = at - at % HOUR
    return [(float(start), hours == start) for start in np.unique(hours)]


capture_times = st.floats(min_value=0.0, max_value=4e9, allow_nan=False)  # seconds since the epoch


@settings(max_examples=300, deadline=None, database=None)
@given(
    first=capture_times,
    offsets=st.lists(
        st.one_of(st.floats(min_value=0.0, max_value=2 * HOUR), st.sampled_from([0.0, HOUR])), max_size=40
    ),
)
def test_the_hours_of_a_flush_are_each_rows_hour(first: float, offsets: list[float]) -> None:
    at = np.asarray([first + offset for offset in offsets], dtype=np.float64)
    cheap = drift._hours(at)
    assert [start for start, _ in cheap] == [start for start, _ in plain_hours(at)]
    for (_, rows), (_, plain_rows) in zip(cheap, plain_hours(at), strict=True):
        assert np.array_equal(np.arange(len(at))[rows], np.flatnonzero(plain_rows))
