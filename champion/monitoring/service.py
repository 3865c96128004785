"""Monitoring as a caller asks for it: actuals in; accuracy, service figures and drift out.

Every function checks access first: members of the deployment's space read (viewers too), editors
submit actuals. Figures come from the hourly windows the capture writer keeps (`tables.py`), so a
period is a sum of hours: `period` puts its bounds on the hour. A figure over all model versions is
given when no version is named (the deployment's history through replacements); drift is always
per version, because each version's baseline fixes its own bins, and defaults to the champion.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from champion.db import utcnow
from champion.deployments import service as deployments
from champion.errors import InvalidInput, PayloadTooLarge
from champion.models.tables import ModelVersion
from champion.monitoring import accuracy_metrics, binning, divergence, drift, upserts
from champion.monitoring.tables import Actual, AssociatedPrediction, DriftCount, ServiceWindow
from champion.monitoring.types import (
    Accuracy,
    ActualIn,
    ActualsReceipt,
    Drift,
    Drifted,
    Period,
    ServiceStats,
)
from champion.runtimes import Signature, TargetType
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor

HOUR = dt.timedelta(hours=1)
DEFAULT_SPAN = dt.timedelta(days=7)
MAX_ACTUALS = 10_000
"""Actuals one call may submit, as DataRobot's actuals/fromJSON allows."""
MAX_BUCKETS = 2_000


# --- periods ---------------------------------------------------------------------------------------


def period(start: dt.datetime | None, end: dt.datetime | None, *, now: dt.datetime | None = None) -> Period:
    """The hours a caller asks about: `end` defaults to the end of the current hour, `start` to a week before.

    Bounds are taken as UTC when naive, `start` rounded down and `end` up to the hour.
    """
    end = _ceil_hour(_utc(end) if end is not None else (now or utcnow()))
    start = _floor_hour(_utc(start)) if start is not None else end - DEFAULT_SPAN
    if start >= end:
        raise InvalidInput("the start must come before the end", field="start")
    return Period(start, end)


def buckets(span: Period, size: dt.timedelta) -> list[Period]:
    """`span` cut into buckets of `size`: a whole number of hours, no longer than the span."""
    if size > span.end - span.start:
        raise InvalidInput(f"a bucket of {size} is longer than the period asked about", field="bucket_size")
    if size < HOUR or size % HOUR:
        raise InvalidInput("a bucket is a whole number of hours", field="bucket_size")
    found = span.split(size)
    if len(found) > MAX_BUCKETS:
        raise InvalidInput(
            f"the period holds {len(found)} buckets of that size; ask for at most {MAX_BUCKETS}", field="bucket_size"
        )
    return found


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: dt.datetime) -> dt.datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + HOUR


# --- actuals and accuracy ----------------------------------------------------------------------------


def submit_actuals(
    session: Session, actor: Actor, *, deployment_id: str, actuals: Sequence[ActualIn]
) -> ActualsReceipt:
    """Store actuals (editors); each meets the captured prediction with its association id, now or later.

    All or nothing: one bad actual refuses the call, naming it. A regressor's actual is a number, a
    classifier's a class label (a number is taken as its text, so 1 meets the class "1").
    """
    described = deployments.get(session, actor, deployment_id=deployment_id)
    spaces.require(session, actor, described.deployment.space_id, Role.EDITOR)
    if not actuals:
        raise InvalidInput("give at least one actual", field="actuals")
    if len(actuals) > MAX_ACTUALS:
        raise PayloadTooLarge(f"at most {MAX_ACTUALS} actuals per call, not {len(actuals)}", field="actuals")
    regression = _signature(described.version).target.type is TargetType.REGRESSION
    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for index, actual in enumerate(actuals):
        association_id = _association_id(actual.association_id, f"actuals[{index}].association_id")
        rows[association_id] = {
            "deployment_id": described.deployment.id,
            "association_id": association_id,
            "value": _actual_value(actual.value, regression=regression, field=f"actuals[{index}].value"),
            "was_acted_on": _acted_on(actual.was_acted_on, f"actuals[{index}].was_acted_on"),
            "actual_at": _utc(actual.timestamp) if actual.timestamp is not None else now,
            "received_at": now,
        }
    upserts.put_actuals(session, list(rows.values()))
    session.commit()
    known = set(
        session.scalars(
            select(AssociatedPrediction.association_id).where(
                AssociatedPrediction.deployment_id == described.deployment.id,
                AssociatedPrediction.association_id.in_(list(rows)),
            )
        )
    )
    unmatched = [a for a in rows if a not in known]
    return ActualsReceipt(received=len(rows), matched=len(known), unmatched_ids=unmatched)


def accuracy(
    session: Session, actor: Actor, *, deployment_id: str, span: Period, version_id: str | None = None
) -> Accuracy:
    """Accuracy over the predictions made in `span` that met an actual (of one version, or all)."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    signature = _signature(_version_of(session, described, version_id))
    pairs = _pairs(session, described.deployment.id, span, version_id)
    return _accuracy(span, version_id, signature, pairs)


def accuracy_over_time(
    session: Session,
    actor: Actor,
    *,
    deployment_id: str,
    span: Period,
    size: dt.timedelta,
    version_id: str | None = None,
) -> list[Accuracy]:
    described = deployments.get(session, actor, deployment_id=deployment_id)
    signature = _signature(_version_of(session, described, version_id))
    pairs = _pairs(session, described.deployment.id, span, version_id)
    found = []
    for bucket in buckets(span, size):
        inside = [p for p in pairs if p[0].predicted_at in bucket]
        found.append(_accuracy(bucket, version_id, signature, inside))
    return found


def _pairs(
    session: Session, deployment_id: str, span: Period, version_id: str | None
) -> list[tuple[AssociatedPrediction, Actual]]:
    query = (
        select(AssociatedPrediction, Actual)
        .join(
            Actual,
            (Actual.deployment_id == AssociatedPrediction.deployment_id)
            & (Actual.association_id == AssociatedPrediction.association_id),
        )
        .where(
            AssociatedPrediction.deployment_id == deployment_id,
            AssociatedPrediction.predicted_at >= span.start,
            AssociatedPrediction.predicted_at < span.end,
        )
    )
    if version_id is not None:
        query = query.where(AssociatedPrediction.version_id == version_id)
    return [(prediction, actual) for prediction, actual in session.execute(query)]


def _accuracy(
    span: Period, version_id: str | None, signature: Signature, pairs: Sequence[tuple[AssociatedPrediction, Actual]]
) -> Accuracy:
    target = signature.target
    if target.type is TargetType.REGRESSION:
        actual = [float(a.value) for _, a in pairs]
        predicted = [float(p.value) for p, _ in pairs if p.value is not None]
        if len(predicted) != len(actual):  # a classifier's rows, from before a replacement changed the kind
            pairs = [(p, a) for p, a in pairs if p.value is not None]
            actual = [float(a.value) for _, a in pairs]
        figures = accuracy_metrics.regression(actual, predicted)
        return Accuracy(
            span,
            version_id,
            target.type.value,
            len(pairs),
            figures,
            mean_actual=_mean(actual),
            mean_predicted=_mean(predicted),
        )
    classes = [str(c) for c in target.classes]
    pairs = [(p, a) for p, a in pairs if p.label is not None]
    probabilities = None
    if pairs and all(p.probabilities is not None and len(p.probabilities) == len(classes) for p, _ in pairs):
        probabilities = np.asarray([p.probabilities for p, _ in pairs], dtype=np.float64)
    figures = accuracy_metrics.classification(
        [str(a.value) for _, a in pairs], [str(p.label) for p, _ in pairs], probabilities, classes
    )
    positive = None if probabilities is None or len(classes) != 2 else _mean(list(probabilities[:, 1]))
    share = _mean([float(str(a.value) == classes[-1]) for _, a in pairs]) if len(classes) == 2 else None
    return Accuracy(
        span, version_id, target.type.value, len(pairs), figures, mean_actual=share, mean_predicted=positive
    )


def _association_id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput("an association id is a string (or an integer)", field=field)
    text = str(value)
    if not 1 <= len(text) <= 128 or "\x00" in text:
        raise InvalidInput("an association id is 1 to 128 characters", field=field)
    return text


def _actual_value(value: Any, *, regression: bool, field: str) -> Any:
    if regression:
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise InvalidInput("a regression deployment's actual value is a finite number", field=field)
        return float(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) and abs(value) < 2**63:
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, str) and 0 < len(value) <= 255 and "\x00" not in value:
        return value
    raise InvalidInput("a classification deployment's actual value is a class label", field=field)


def _finite(value: int | float) -> bool:
    """A finite number a float holds (an integer past float's range is not one: 10**400)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _acted_on(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidInput("was it acted on: true or false", field=field)


# --- service figures ----------------------------------------------------------------------------------


def service_stats(
    session: Session, actor: Actor, *, deployment_id: str, span: Period, version_id: str | None = None
) -> ServiceStats:
    described = deployments.get(session, actor, deployment_id=deployment_id)
    regression = _signature(_version_of(session, described, version_id)).target.type is TargetType.REGRESSION
    windows = _service_windows(session, described.deployment.id, span, version_id)
    return _service(span, version_id, windows, regression=regression)


def service_stats_over_time(
    session: Session,
    actor: Actor,
    *,
    deployment_id: str,
    span: Period,
    size: dt.timedelta,
    version_id: str | None = None,
) -> list[ServiceStats]:
    described = deployments.get(session, actor, deployment_id=deployment_id)
    regression = _signature(_version_of(session, described, version_id)).target.type is TargetType.REGRESSION
    windows = _service_windows(session, described.deployment.id, span, version_id)
    return [
        _service(bucket, version_id, [w for w in windows if w.window_start in bucket], regression=regression)
        for bucket in buckets(span, size)
    ]


def _service_windows(session: Session, deployment_id: str, span: Period, version_id: str | None) -> list[ServiceWindow]:
    query = select(ServiceWindow).where(
        ServiceWindow.deployment_id == deployment_id,
        ServiceWindow.window_start >= span.start,
        ServiceWindow.window_start < span.end,
    )
    if version_id is not None:
        query = query.where(ServiceWindow.version_id == version_id)
    return list(session.scalars(query))


def _service(
    span: Period, version_id: str | None, windows: Sequence[ServiceWindow], *, regression: bool
) -> ServiceStats:
    requests = sum(w.requests for w in windows)
    rows = sum(w.rows for w in windows)
    return ServiceStats(
        period=span,
        version_id=version_id,
        requests=requests,
        rows=rows,
        slow_requests=sum(w.slow_requests for w in windows),
        mean_latency=sum(w.latency_sum for w in windows) / requests if requests else None,
        max_latency=max((w.latency_max for w in windows if w.requests), default=None),
        dropped_rows=sum(w.dropped_rows for w in windows),
        mean_prediction=(sum(w.prediction_sum for w in windows) / rows if rows and regression else None),
    )


# --- drift ---------------------------------------------------------------------------------------------


def drift_of(
    session: Session,
    actor: Actor,
    *,
    deployment_id: str,
    span: Period,
    version_id: str | None = None,
    metric: str = divergence.DEFAULT_METRIC,
) -> Drift:
    """Each tracked feature's drift, and the prediction's, over `span` against the version's baseline."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    version = _version_of(session, described, version_id)
    chosen = _metric(metric)
    signature = _signature(version)
    baselines = drift.baselines(session, described.deployment.id, version.id)
    if not baselines:
        captured = drift.captured_rows(session, described.deployment.id, version.id)
        return Drift(span, chosen, version.id, False, captured, target_name=signature.target.name)
    counts = _drift_counts(session, described.deployment.id, version.id, span)
    found = []
    for name, kind in drift.tracked(signature):
        baseline = baselines.get(name)
        if baseline is None:
            continue
        bins = binning.Bins.from_json(baseline.bins)
        current = [counts[name].get(i, 0) for i in range(bins.size())]
        if kind == "categorical" and chosen in divergence.ORDERED_METRICS:
            score = None  # ks and wasserstein need ordered values: a categorical feature has no such score
        else:
            score = divergence.score(chosen, baseline.counts, current, bins)
        found.append(
            Drifted(
                name=name,
                kind=kind,
                score=score,
                level=divergence.level(chosen, score),
                rows=sum(current),
                baseline_rows=sum(baseline.counts),
                labels=bins.labels(),
                counts=current,
                baseline_counts=list(baseline.counts),
            )
        )
    target = next((d for d in found if d.name == drift.TARGET), None)
    features = [d for d in found if d.name != drift.TARGET]
    captured = drift.captured_rows(session, described.deployment.id, version.id)
    return Drift(span, chosen, version.id, True, captured, features, target, signature.target.name)


def _drift_counts(session: Session, deployment_id: str, version_id: str, span: Period) -> dict[str, dict[int, int]]:
    query = (
        select(DriftCount.feature, DriftCount.bin, func.sum(DriftCount.count))
        .where(
            DriftCount.deployment_id == deployment_id,
            DriftCount.version_id == version_id,
            DriftCount.window_start >= span.start,
            DriftCount.window_start < span.end,
        )
        .group_by(DriftCount.feature, DriftCount.bin)
    )
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for feature, index, total in session.execute(query):
        counts[feature][index] = int(total)
    return counts


def _metric(name: str) -> divergence.Metric:
    for metric in divergence.METRICS:
        if metric == name:
            return metric
    raise InvalidInput(
        f"unknown drift metric {name!r}; champion computes {', '.join(divergence.METRICS)}", field="metric"
    )


# --- shared --------------------------------------------------------------------------------------------


def _version_of(session: Session, described: deployments.Described, version_id: str | None) -> ModelVersion:
    """The model version a question names (the champion when none): one this deployment has served."""
    if version_id is None or version_id == described.version.id:
        champion: ModelVersion = described.version
        return champion
    version = session.get(ModelVersion, version_id)
    served = session.scalar(
        select(ServiceWindow.version_id)
        .where(ServiceWindow.deployment_id == described.deployment.id, ServiceWindow.version_id == version_id)
        .limit(1)
    )
    if version is None or served is None:
        raise InvalidInput(f"this deployment has no monitoring data for the model {version_id!r}", field="version_id")
    return version


def _signature(version: ModelVersion) -> Signature:
    return Signature.from_dict(version.signature)


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None
