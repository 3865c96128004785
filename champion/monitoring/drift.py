"""Drift as stored: each model version's baseline bins, and every captured row counted into them by hour.

A version's baseline is fixed once, from its first `BASELINE_ROWS` captured rows (the first files
by time until they hold that many, so whichever process makes it, it is made of the same rows);
from then on each flush adds its rows' bin
counts to their hour (`upserts.add_drift`), so any range of hours, from any number of processes,
is a sum. Every capture file is counted exactly once: a conditional UPDATE of its `drift_counted`
flag decides who counts it, in the same commit as the counts, and the files captured before the
baseline existed are counted when it is made. The prediction is tracked as the feature `TARGET`
(target drift): a classifier's labels as categories, a regressor's values as numbers.

At most `MAX_TRACKED_FEATURES` features are tracked, in the model's order: champion knows no
feature importance to choose by (DataRobot tracks its 25 most important).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import typing
from collections.abc import Iterator

import numpy as np
from sqlalchemy import Table, Text, bindparam, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from champion.artifacts import ArtifactStore
from champion.monitoring import binning, files, upserts
from champion.monitoring.tables import CaptureFile, DriftBaseline
from champion.runtimes import FeatureType, Signature, TargetType

logger = logging.getLogger(__name__)

TARGET = ""
"""The `feature` of the prediction's own drift (target drift): no feature has an empty name."""
BASELINE_ROWS = 500
MAX_TRACKED_FEATURES = 50


def tracked(signature: Signature) -> list[tuple[str, binning.Kind]]:
    """The features whose drift is tracked, and the prediction (`TARGET`), each with its kind of bins."""
    features: list[tuple[str, binning.Kind]] = [
        (f.name, "categorical" if f.type is FeatureType.STRING else "numeric")
        for f in signature.features[:MAX_TRACKED_FEATURES]
    ]
    target: binning.Kind = "numeric" if signature.target.type is TargetType.REGRESSION else "categorical"
    return [*features, (TARGET, target)]


def values_of(rows: files.Rows, feature: str) -> np.ndarray:
    return rows.labels if feature == TARGET else rows.features[feature]


def observe(
    sessions: sessionmaker[Session],
    store: ArtifactStore,
    deployment_id: str,
    version_id: str,
    signature: Signature,
    file_id: str,
    rows: files.Rows,
) -> None:
    """Count a freshly written capture file (its rows in hand), fixing the baseline first when it is due.

    Two processes may both find the baseline missing and make it at once: the second's insert fails,
    and it tries again, finding the first's baseline, so its own file is counted all the same (the
    first counted only the files it saw).
    """
    for _ in range(2):
        try:
            with sessions() as session:
                found = _bins_of(session, deployment_id, version_id)
                if not found:
                    made = _make_baseline(session, store, deployment_id, version_id, signature)
                    if not made:
                        return
                    found = {feature: binning.Bins.from_json(b.bins) for feature, b in made.items()}
                _count_into(session, deployment_id, version_id, found, file_id, rows)
                session.commit()
                return
        except IntegrityError:
            logger.info("deployment %s: another process made the drift baseline of %s", deployment_id, version_id)


def captured_rows(session: Session, deployment_id: str, version_id: str) -> int:
    """The rows of `version_id` the deployment's capture files hold."""
    total = session.scalar(
        select(func.coalesce(func.sum(CaptureFile.rows), 0)).where(
            CaptureFile.deployment_id == deployment_id, CaptureFile.version_id == version_id
        )
    )
    return int(total or 0)


def baselines(session: Session, deployment_id: str, version_id: str) -> dict[str, DriftBaseline]:
    found = session.scalars(
        select(DriftBaseline).where(
            DriftBaseline.deployment_id == deployment_id, DriftBaseline.version_id == version_id
        )
    )
    return {b.feature: b for b in found}


_BASELINES = typing.cast(Table, DriftBaseline.__table__)
_BINS = select(_BASELINES.c.feature, cast(_BASELINES.c.bins, Text)).where(
    _BASELINES.c.deployment_id == bindparam("deployment_id"), _BASELINES.c.version_id == bindparam("version_id")
)


def _bins_of(session: Session, deployment_id: str, version_id: str) -> dict[str, binning.Bins]:
    """`baselines`' bins, parsed: what a flush counts into, read as (feature, JSON text) rows, not ORM objects."""
    found = session.execute(_BINS, {"deployment_id": deployment_id, "version_id": version_id})
    return {feature: _parsed(text) for feature, text in found}


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> binning.Bins:
    """The Bins a stored document holds, parsed once per distinct text.

    Keyed by the text itself, never by deployment and version: a baseline replaced (`baselines._replace`)
    has other text, so the next flush parses it afresh; a Bins is immutable, so sharing one is safe.
    """
    return binning.Bins.from_json(json.loads(text))


def _make_baseline(
    session: Session, store: ArtifactStore, deployment_id: str, version_id: str, signature: Signature
) -> dict[str, DriftBaseline]:
    """Fix the bins from the version's first captured rows once there are enough, and count every file so far."""
    captured = list(_files(session, deployment_id, version_id))
    if sum(f.rows for f in captured) < BASELINE_ROWS:
        return {}
    first: list[files.Rows] = []
    loaded: dict[str, files.Rows] = {}
    for record in captured:
        if sum(len(r) for r in first) >= BASELINE_ROWS:
            break
        loaded[record.id] = files.read(store.open_path(record.sha256), signature)
        first.append(loaded[record.id])
    made = {}
    classes = tuple(dict.fromkeys(str(c) for c in signature.target.classes))
    for feature, kind in tracked(signature):
        values = np.concatenate([values_of(r, feature) for r in first])
        if feature == TARGET and classes:
            # A classifier's prediction drifts over its own classes, each its own bin, even one the
            # first rows never predicted (a class appearing later is the drift to see).
            bins = binning.Bins(kind="categorical", categories=classes)
        else:
            bins = binning.fit(values, kind)
        made[feature] = DriftBaseline(
            deployment_id=deployment_id,
            version_id=version_id,
            feature=feature,
            bins=bins.to_json(),
            counts=binning.count(bins, values),
            source="captured",
        )
    session.add_all(made.values())
    session.flush()  # a second process making the same baseline fails here, before counting anything
    for record in captured:
        if not record.drift_counted:
            rows = loaded.get(record.id) or files.read(store.open_path(record.sha256), signature)
            count_file(session, deployment_id, version_id, made, record.id, rows)
    return made


def count_file(
    session: Session,
    deployment_id: str,
    version_id: str,
    baselines: dict[str, DriftBaseline],
    file_id: str,
    rows: files.Rows,
) -> None:
    all_bins = {feature: binning.Bins.from_json(baseline.bins) for feature, baseline in baselines.items()}
    _count_into(session, deployment_id, version_id, all_bins, file_id, rows)


_CAPTURE_FILES = typing.cast(Table, CaptureFile.__table__)
_CLAIM = (
    update(_CAPTURE_FILES)
    .where(_CAPTURE_FILES.c.id == bindparam("file_id"), _CAPTURE_FILES.c.drift_counted.is_(False))
    .values(drift_counted=True)
)
"""Whoever sets the flag counts the file. A Core statement on the table, made once: a flush runs it
several times a second, and the ORM's update path costs more than the update itself."""


def _count_into(
    session: Session,
    deployment_id: str,
    version_id: str,
    all_bins: dict[str, binning.Bins],
    file_id: str,
    rows: files.Rows,
) -> None:
    claimed = session.execute(_CLAIM, {"file_id": file_id})
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return  # counted already, by another process's baseline
    for start, in_hour in _hours(rows.at):
        counted = [
            (feature, index, count)
            for feature, bins in all_bins.items()
            for index, count in enumerate(_counts(bins, rows, feature, in_hour))
            if count
        ]
        upserts.add_drift(session, deployment_id, version_id, files.hour_of(start), counted)


def _hours(at: np.ndarray) -> list[tuple[float, slice | np.ndarray]]:
    """The start of each hour the rows fall in (as `files.hour_of` takes it), and which rows are in it.

    A flush's rows nearly always fall in one hour: then all of them, with no copy of each column. The
    hour only grows with the time, so the first and last rows' hours tell; the hour of every row (a
    float remainder each, 0.4 ms for 21,700 rows) is computed only when they differ.
    """
    if not len(at):
        return []
    first, last = float(at.min()), float(at.max())
    if first - first % 3600 == last - last % 3600:
        return [(first - first % 3600, slice(None))]
    hours = at - at % 3600
    return [(float(start), hours == start) for start in np.unique(hours)]


def _counts(bins: binning.Bins, rows: files.Rows, feature: str, in_hour: slice | np.ndarray) -> list[int]:
    """`binning.count(bins, values_of(rows, feature)[in_hour])`, the cheap way where there is one.

    A flush counts tens of thousands of rows per feature while holding the GIL beside the serving event
    loop: numbers are counted against each edge (a comparison per edge, where `binning.count` searches the
    edges value by value), and a classifier's prediction, coded by `files.gather`, by its few distinct
    labels, each put in its bin once.
    """
    codes = rows.codes
    if feature == TARGET and bins.kind == "categorical" and codes is not None:
        per_label = np.bincount(codes.positions[in_hour], minlength=len(codes.texts))
        counts = np.zeros(bins.size(), dtype=np.int64)
        for label, n in zip(codes.texts.tolist(), per_label.tolist(), strict=True):
            if n:
                counts += n * np.asarray(binning.count(bins, np.asarray([label], dtype=object)))
        return [int(c) for c in counts]
    values = values_of(rows, feature)[in_hour]
    if bins.kind == "numeric" and values.dtype == np.float64:
        return _numeric_counts(bins.edges, values)
    return binning.count(bins, values)


def _numeric_counts(edges: tuple[float, ...], numbers: np.ndarray) -> list[int]:
    """`binning.count` for float64 values: bin i is [edge i-1, edge i), so it holds the values at or above
    edge i-1 less those at or above edge i; NaN is at or above nothing and counts as missing."""
    missing = int(np.count_nonzero(np.isnan(numbers)))
    at_or_above = [len(numbers) - missing, *(int(np.count_nonzero(numbers >= edge)) for edge in edges), 0]
    return [a - b for a, b in itertools.pairwise(at_or_above)] + [missing]


def _files(session: Session, deployment_id: str, version_id: str) -> Iterator[CaptureFile]:
    yield from session.scalars(
        select(CaptureFile)
        .where(CaptureFile.deployment_id == deployment_id, CaptureFile.version_id == version_id)
        .order_by(CaptureFile.first_at)
    )
