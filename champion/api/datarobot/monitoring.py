"""`/api/v2/deployments/{id}/...`: actuals in, and accuracy, service figures and drift out, as DataRobot's client asks.

Each route reads DataRobot's query (`monitoring_query`, which says what each parameter means),
calls `champion.monitoring.service` and renders with `monitoring_render`. On models:

- `modelId` is a model version id (DataRobot's model id = model package id = version id), one
  the deployment has served. Without it, accuracy and service figures cover every version the
  deployment has served (through replacements), drift and predictions over time the champion
  (drift is per version: each version's baseline fixes its own bins). Several are accepted where
  the client sends a list (accuracy with a `metric`, as DataRobot asks; the over-time routes,
  which answer buckets per model); the others take one.
- `baselineModelId` (accuracy): the baseline figures are that version's over the same period.
- `executionTimeQuantile`: only 1 can be answered (the maximum); `slowRequestsThreshold`: only
  1000 ms (what the capture writer counts at). Other values leave that metric out of
  `serviceStats/` (the client refuses a null count) and are refused by `serviceStatsOverTime/`,
  which asks for that metric alone. `responseTimeQuantile` is accepted; responseTime is null.
- `targetClass` filters the class distribution of predictions over time; `includePercentiles` is
  accepted and percentiles are null (none are kept).

Actuals are stored before the answer: a 202 whose status URL (the deployment's, as the settings
PATCH uses) resolves at once. `keepActualsWithoutPredictions` is accepted and changes nothing: an
actual is always kept, to meet a prediction captured later.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from champion.api.datarobot import lookup, render
from champion.api.datarobot import monitoring_query as query
from champion.api.datarobot import monitoring_render as show
from champion.api.datarobot.deployments import accepted
from champion.api.datarobot.errors import DataRobotRoute
from champion.api.deps import ActorDep, SessionDep
from champion.deployments import service as deployments
from champion.errors import InvalidInput
from champion.monitoring import service as monitoring
from champion.monitoring.accuracy_metrics import (
    DEFAULT_CLASSIFICATION,
    DEFAULT_REGRESSION,
)
from champion.monitoring.types import Accuracy, Period
from champion.runtimes import Signature, TargetType
from champion.users.service import Actor

router = APIRouter(route_class=DataRobotRoute)
DEPLOYMENT = "/api/v2/deployments/{deployment_id}"

FEATURE_PAGE = 25
"""DataRobot's default `limit` for featureDrift/ (the client follows `next`)."""

ModelIds = Annotated[list[str] | None, Query(alias="modelId")]
Segment = Annotated[str | None, Query(alias="segmentAttribute")]
SegmentValue = Annotated[str | None, Query(alias="segmentValue")]
BucketSize = Annotated[str | None, Query(alias="bucketSize")]
TargetClasses = Annotated[list[str] | None, Query(alias="targetClass")]
Quantile = Annotated[float, Query(gt=0, le=1)]
Threshold = Annotated[float, Query(gt=0)]


def signature_of(session: Session, actor: Actor, deployment_id: str, model_id: str | None) -> Signature:
    """The signature of the model a question names (the champion's when none): it fixes the metrics and classes."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    version = described.version if model_id in (None, described.version.id) else None
    if version is None:
        assert model_id is not None
        version = lookup.package(session, actor, package_id=model_id).version
    return Signature.from_dict(version.signature)


# --- actuals -------------------------------------------------------------------------------------------------


@router.post(f"{DEPLOYMENT}/actuals/fromJSON/", status_code=202)
def submit_actuals(
    deployment_id: str, request: Request, session: SessionDep, actor: ActorDep, body: Any = Body()
) -> JSONResponse:
    deployments.get(session, actor, deployment_id=deployment_id)  # unknown or invisible: 404 before the body
    with query.vendor_fields():
        receipt = monitoring.submit_actuals(session, actor, deployment_id=deployment_id, actuals=query.actuals_of(body))
    answer = {"received": receipt.received, "matched": receipt.matched, "unmatched": len(receipt.unmatched_ids)}
    return accepted(request, answer, deployment_id)


# --- accuracy ------------------------------------------------------------------------------------------------


@router.get(f"{DEPLOYMENT}/accuracy/")
def get_accuracy(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    model_ids: ModelIds = None,
    start: str | None = None,
    end: str | None = None,
    metric: str | None = None,
    baseline_model_id: Annotated[str | None, Query(alias="baselineModelId")] = None,
    target_classes: TargetClasses = None,
    segment_attribute: Segment = None,
    segment_value: SegmentValue = None,
) -> dict[str, Any]:
    query.no_segments(segment_attribute, segment_value)
    query.no_target_classes(target_classes)
    if model_ids and len(model_ids) > 1 and metric is None:
        raise InvalidInput("name the metric when asking about several models", field="metric")
    with query.vendor_fields():
        span = query.span_of(start, end)
        asked: list[str | None] = list(model_ids) if model_ids else [None]
        found = [
            (m, monitoring.accuracy(session, actor, deployment_id=deployment_id, span=span, version_id=m))
            for m in asked
        ]
        baseline = None
        if baseline_model_id is not None:
            with query.vendor_fields(model="baselineModelId"):
                baseline = monitoring.accuracy(
                    session, actor, deployment_id=deployment_id, span=span, version_id=baseline_model_id
                )
        names = query.accuracy_names(signature_of(session, actor, deployment_id, asked[0]), metric)
    return show.accuracy(span, found, names, baseline)


@router.get(f"{DEPLOYMENT}/accuracyOverTime/")
def get_accuracy_over_time(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    model_ids: ModelIds = None,
    start: str | None = None,
    end: str | None = None,
    metric: str | None = None,
    bucket: BucketSize = None,
    target_classes: TargetClasses = None,
    segment_attribute: Segment = None,
    segment_value: SegmentValue = None,
) -> dict[str, Any]:
    query.no_segments(segment_attribute, segment_value)
    query.no_target_classes(target_classes)
    with query.vendor_fields():
        span = query.span_of(start, end)
        size = query.bucket_size(bucket, span)
        asked: list[str | None] = list(model_ids) if model_ids else [None]
        over_time = [
            (
                m,
                monitoring.accuracy_over_time(
                    session, actor, deployment_id=deployment_id, span=span, size=size, version_id=m
                ),
            )
            for m in asked
        ]
        summary: Accuracy | None = None
        if len(asked) == 1:
            summary = monitoring.accuracy(session, actor, deployment_id=deployment_id, span=span, version_id=asked[0])
        signature = signature_of(session, actor, deployment_id, asked[0])  # after the domain checked the models
        regression = signature.target.type is TargetType.REGRESSION
        name = query.accuracy_names(
            signature, metric or (DEFAULT_REGRESSION if regression else DEFAULT_CLASSIFICATION)[0]
        )[0]
    return show.accuracy_over_time(name, over_time, summary)


@router.get(f"{DEPLOYMENT}/predictionsVsActualsOverTime/")
def get_predictions_vs_actuals_over_time(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    model_ids: ModelIds = None,
    start: str | None = None,
    end: str | None = None,
    bucket: BucketSize = None,
    target_classes: TargetClasses = None,
    segment_attribute: Segment = None,
    segment_value: SegmentValue = None,
) -> dict[str, Any]:
    query.no_segments(segment_attribute, segment_value)
    query.no_target_classes(target_classes)
    with query.vendor_fields():
        span = query.span_of(start, end)
        size = query.bucket_size(bucket, span)
        per_model = []
        for m in list(model_ids) if model_ids else [None]:
            served = monitoring.service_stats_over_time(
                session, actor, deployment_id=deployment_id, span=span, size=size, version_id=m
            )
            matched = monitoring.accuracy_over_time(
                session, actor, deployment_id=deployment_id, span=span, size=size, version_id=m
            )
            per_model.append((m, served, matched))
    return show.predictions_vs_actuals(per_model)


# --- service figures -----------------------------------------------------------------------------------------


@router.get(f"{DEPLOYMENT}/serviceStats/")
def get_service_stats(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    model_ids: ModelIds = None,
    start: str | None = None,
    end: str | None = None,
    execution_time_quantile: Annotated[Quantile, Query(alias="executionTimeQuantile")] = 0.5,
    response_time_quantile: Annotated[Quantile, Query(alias="responseTimeQuantile")] = 0.5,
    slow_requests_threshold: Annotated[Threshold, Query(alias="slowRequestsThreshold")] = 1000.0,
    segment_attribute: Segment = None,
    segment_value: SegmentValue = None,
) -> dict[str, Any]:
    query.no_segments(segment_attribute, segment_value)
    model_id = query.one_model(model_ids)
    with query.vendor_fields():
        span = query.span_of(start, end)
        stats = monitoring.service_stats(session, actor, deployment_id=deployment_id, span=span, version_id=model_id)
    return show.service_stats(stats, model_id, quantile=execution_time_quantile, threshold=slow_requests_threshold)


@router.get(f"{DEPLOYMENT}/serviceStatsOverTime/")
def get_service_stats_over_time(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    model_ids: ModelIds = None,
    start: str | None = None,
    end: str | None = None,
    metric: str = "totalPredictions",
    bucket: BucketSize = None,
    quantile: Quantile = 0.5,
    threshold: Threshold = 1000.0,
    segment_attribute: Segment = None,
    segment_value: SegmentValue = None,
) -> dict[str, Any]:
    query.no_segments(segment_attribute, segment_value)
    query.service_metric(metric, quantile=quantile, threshold=threshold)
    with query.vendor_fields():
        span = query.span_of(start, end)
        size = query.bucket_size(bucket, span)
        asked: list[str | None] = list(model_ids) if model_ids else [None]
        over_time = [
            (
                m,
                monitoring.service_stats_over_time(
                    session, actor, deployment_id=deployment_id, span=span, size=size, version_id=m
                ),
            )
            for m in asked
        ]
        summary = None
        if len(asked) == 1:
            summary = monitoring.service_stats(
                session, actor, deployment_id=deployment_id, span=span, version_id=asked[0]
            )
    return show.service_over_time(metric, over_time, summary, quantile=quantile, threshold=threshold)


# --- drift ---------------------------------------------------------------------------------------------------


@router.get(f"{DEPLOYMENT}/featureDrift/")
def get_feature_drift(
    deployment_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    model_ids: ModelIds = None,
    start: str | None = None,
    end: str | None = None,
    metric: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = FEATURE_PAGE,
    segment_attribute: Segment = None,
    segment_value: SegmentValue = None,
) -> dict[str, Any]:
    query.no_segments(segment_attribute, segment_value)
    model_id = query.one_model(model_ids)
    with query.vendor_fields():
        drift = monitoring.drift_of(
            session,
            actor,
            deployment_id=deployment_id,
            span=query.span_of(start, end),
            version_id=model_id,
            metric=query.drift_metric(metric),
        )
    items = [show.feature_drift_item(f) for f in drift.features]
    page = render.page(items[offset : offset + limit], total=len(items), offset=offset, limit=limit, url=request.url)
    return show.feature_drift(drift, page)


@router.get(f"{DEPLOYMENT}/targetDrift/")
def get_target_drift(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    model_ids: ModelIds = None,
    start: str | None = None,
    end: str | None = None,
    metric: str | None = None,
    segment_attribute: Segment = None,
    segment_value: SegmentValue = None,
) -> dict[str, Any]:
    query.no_segments(segment_attribute, segment_value)
    model_id = query.one_model(model_ids)
    with query.vendor_fields():
        drift = monitoring.drift_of(
            session,
            actor,
            deployment_id=deployment_id,
            span=query.span_of(start, end),
            version_id=model_id,
            metric=query.drift_metric(metric),
        )
    return show.target_drift(drift)


# --- predictions over time -----------------------------------------------------------------------------------


@router.get(f"{DEPLOYMENT}/predictionsOverTime/")
def get_predictions_over_time(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    model_ids: ModelIds = None,
    start: str | None = None,
    end: str | None = None,
    bucket: BucketSize = None,
    target_classes: TargetClasses = None,
    include_percentiles: Annotated[bool, Query(alias="includePercentiles")] = False,
    segment_attribute: Segment = None,
    segment_value: SegmentValue = None,
) -> dict[str, Any]:
    """Rows and the mean prediction (regressors) or the class distribution (classifiers) per bucket.

    A classifier's distribution is its target drift counts, so it appears once the version's drift
    baseline exists; the baseline answered is that drift baseline.
    """
    query.no_segments(segment_attribute, segment_value)
    with query.vendor_fields():
        span = query.span_of(start, end)
        size = query.bucket_size(bucket, span)
        champion_id = deployments.get(session, actor, deployment_id=deployment_id).version.id
        buckets: list[dict[str, Any]] = []
        baselines: list[dict[str, Any]] = []
        for model_id in list(model_ids) if model_ids else [champion_id]:
            found, baseline = _predictions_of(session, actor, deployment_id, model_id, span, size, target_classes)
            buckets.extend(found)
            baselines.append(baseline)
    return {"baselines": baselines, "buckets": buckets}


def _predictions_of(
    session: Session,
    actor: Actor,
    deployment_id: str,
    model_id: str,
    span: Period,
    size: dt.timedelta,
    wanted: list[str] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One model's buckets and baseline: service figures per bucket, and a classifier's drift counts per bucket."""
    served = monitoring.service_stats_over_time(
        session, actor, deployment_id=deployment_id, span=span, size=size, version_id=model_id
    )
    signature = signature_of(session, actor, deployment_id, model_id)
    regression = signature.target.type is TargetType.REGRESSION
    classes = [str(c) for c in signature.target.classes]
    buckets = []
    for stats in served:
        distribution = None
        if not regression:
            found = monitoring.drift_of(
                session, actor, deployment_id=deployment_id, span=stats.period, version_id=model_id
            )
            distribution = show.class_distribution(found.target, classes, wanted)
        buckets.append(show.predictions_bucket(stats, model_id, distribution, regression=regression))
    target = monitoring.drift_of(session, actor, deployment_id=deployment_id, span=span, version_id=model_id).target
    base = show.class_distribution(target, classes, wanted, baseline=True)
    return buckets, show.predictions_baseline(model_id, target, base, regression=regression)
