"""champion's monitoring extensions of the WML deployment routes: actuals in; accuracy, service figures, drift out.

WML v4 has no monitoring endpoints, so these are champion's own, in the style of the other
extensions (`extensions.py`): snake_case JSON, `space_id` in the query like every WML deployment
route (another space's id is a 404), errors in the WML shape. Each route parses the query, calls
`champion.monitoring.service` and renders what it answers; who may do what is the service's rule
(members read, viewers included; editors submit actuals; a non-member gets 404). The web UI and the
CLI read the same documents.

The query:

- `start`, `end`: ISO 8601 date-times (`2025-01-01T00:00:00Z`, any offset, or a bare date; naive is
  UTC), between 1970 and 3000. The service puts the start down and the end up to the hour, and
  defaults to the week up to the end of the current hour; the period answered is the one used.
  A start not before the end is a 400 naming `start`.
- `model_version_id`: a model version the deployment has served. Without it, accuracy and service
  figures cover every version it has served (through replacements), and drift the champion.
- `bucket` (accuracy, service): PT<n>H, P<n>D or P<n>W, no longer than the period. Without it the
  answer is one figure set over the period; with it, one per bucket (the last may be shorter).
- `metric` (drift): one of `divergence.METRICS` (psi by default).

The answers. Each GET answer starts with `deployment_id`, `model_version_id` (the version asked
about; null for every version; drift names the version it read, the champion unless asked) and
`period` `{"start", "end"}` (timestamps as the WML face writes them, UTC with milliseconds):

    POST .../actuals         {"actuals": [{"association_id", "value", "was_acted_on"?, "timestamp"?}]}
                             -> {"received", "matched", "unmatched_ids"}
         all or nothing (one bad actual refuses the call, naming `actuals[i].<member>`), at most
         10,000 per call (413); an id no prediction carries yet is kept, and listed in unmatched_ids
    GET  .../monitoring/accuracy
         {..., "target_type", <figure set>}  or  {..., "target_type", "bucket", "buckets": [{"period", <figure set>}]}
         figure set: "rows" (predictions in the period that met an actual), "figures" (every figure
         for the model's kind, keyed by the metric's name as `accuracy_metrics` spells it — "AUC",
         "R Squared" — null where the data cannot support it), "mean_actual", "mean_predicted" (a
         regressor's means; a binary classifier's share of the positive class and mean probability)
    GET  .../monitoring/service
         {..., "slow_request_seconds", <figure set>}  or  {..., "slow_request_seconds", "bucket", "buckets": [...]}
         figure set: "requests", "rows", "slow_requests", "mean_latency_seconds",
         "max_latency_seconds", "dropped_rows" (captured rows the buffer could not keep),
         "mean_prediction" (a regressor's)
    GET  .../monitoring/drift
         {..., "metric", "thresholds": {"warning", "failing"}, "baseline_ready", "captured_rows", "features": [drifted],
          "target": drifted | null}
         drifted: "name", "kind" (numeric, categorical), "score", "level" (passing, warning,
         failing), "rows", "baseline_rows", "labels", "counts", "baseline_counts" — one label and two
         counts per bin, the histogram a chart draws. A score (and level) is null where the metric
         has nothing to say: no rows yet, or ks and wasserstein on a categorical feature. "target"
         is the prediction's drift, named after the model's target (null when the model names
         none). Until the version has captured its baseline, "baseline_ready" is false, "features"
         is empty and "target" null.

A float the arithmetic could not keep finite (a model answering infinity) is rendered null:
JSON has no infinity.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from champion.api import moments
from champion.api.deps import ActorDep, SessionDep, StoreDep
from champion.api.wml.errors import WMLRoute
from champion.api.wml.render import timestamp
from champion.deployments import service as deployments
from champion.errors import InvalidInput
from champion.monitoring import baselines, divergence
from champion.monitoring import service as monitoring
from champion.monitoring.capture import SLOW_SECONDS
from champion.monitoring.types import Accuracy, ActualIn, Drifted, Period, ServiceStats

router = APIRouter(route_class=WMLRoute)
DEPLOYMENT = "/ml/v4/deployments/{deployment_id}"
"""Dates outside these are refused: the service's hour arithmetic must stay inside `datetime`'s range."""

Start = Annotated[str | None, Query(description="ISO 8601 date-time (naive = UTC); default: a week before the end")]
End = Annotated[str | None, Query(description="ISO 8601 date-time (naive = UTC); default: the end of this hour")]
VersionId = Annotated[str | None, Query(description="a model version the deployment has served; default: all")]
Bucket = Annotated[str | None, Query(description="PT<n>H, P<n>D or P<n>W: one figure set per bucket")]
Metric = Annotated[str, Query(description=f"one of {', '.join(divergence.METRICS)}")]

ACTUALS_SCHEMA = {
    "type": "object",
    "required": ["actuals"],
    "additionalProperties": False,
    "properties": {
        "actuals": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["association_id", "value"],
                "additionalProperties": False,
                "properties": {
                    "association_id": {"type": ["string", "integer"]},
                    "value": {"type": ["string", "number", "boolean"]},
                    "was_acted_on": {"type": ["boolean", "null"]},
                    "timestamp": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        }
    },
}


# --- reading the query --------------------------------------------------------------------------------------


def bucket_of(text: str) -> dt.timedelta:
    return moments.duration(text, "bucket")


_FIELDS = {"version_id": "model_version_id", "bucket_size": "bucket"}


@contextlib.contextmanager
def wml_fields() -> Iterator[None]:
    """The service's field names as this face's query spells them (`version_id` is `model_version_id`)."""
    try:
        yield
    except InvalidInput as error:
        renamed = _FIELDS.get(error.field or "")
        if renamed is None:
            raise
        raise InvalidInput(error.message.removeprefix(f"{error.field}: "), field=renamed) from None


_ACTUAL_KEYS = ("association_id", "value", "was_acted_on", "timestamp")


def actuals_of(body: Any) -> list[ActualIn]:
    """The body's actuals, their shape checked here; their values are the service's to judge."""
    if not isinstance(body, Mapping) or not isinstance(body.get("actuals"), list):
        raise InvalidInput('give {"actuals": [{"association_id", "value"}, ...]}', field="actuals")
    if unknown := [key for key in body if key != "actuals"]:
        raise InvalidInput("unknown member; the body holds only actuals", field=str(unknown[0]))
    found = []
    for index, item in enumerate(body["actuals"]):
        field = f"actuals[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidInput("an actual is an object", field=field)
        if unknown := [key for key in item if key not in _ACTUAL_KEYS]:
            raise InvalidInput(
                f"unknown member; an actual has {', '.join(_ACTUAL_KEYS)}", field=f"{field}.{unknown[0]}"
            )
        for required in ("association_id", "value"):
            if required not in item:
                raise InvalidInput("is required", field=f"{field}.{required}")
        stamp = item.get("timestamp")
        if stamp is not None and not isinstance(stamp, str):
            raise InvalidInput("a timestamp is an ISO 8601 string", field=f"{field}.timestamp")
        found.append(
            ActualIn(
                association_id=item["association_id"],
                value=finite_sized(item["value"], f"{field}.value"),
                was_acted_on=item.get("was_acted_on"),
                timestamp=moments.moment(stamp, f"{field}.timestamp"),
            )
        )
    return found


def finite_sized(value: Any, field: str) -> Any:
    """The value as given, unless it is an integer too large for a float.

    The service judges a value with `math.isfinite`, which raises OverflowError for such an integer
    (JSON allows any number of digits): it is no actual value, so it is a 400 here, not a 500.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            raise InvalidInput("a number too large to be an actual value", field=field) from None
    return value


# --- rendering ---------------------------------------------------------------------------------------------


def number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def period(span: Period) -> dict[str, str]:
    return {"start": timestamp(span.start), "end": timestamp(span.end)}


def header(deployment_id: str, version_id: str | None, span: Period) -> dict[str, Any]:
    return {"deployment_id": deployment_id, "model_version_id": version_id, "period": period(span)}


def accuracy_figures(found: Accuracy) -> dict[str, Any]:
    return {
        "rows": found.rows,
        "figures": {name: number(value) for name, value in found.figures.items()},
        "mean_actual": number(found.mean_actual),
        "mean_predicted": number(found.mean_predicted),
    }


def service_figures(found: ServiceStats) -> dict[str, Any]:
    return {
        "requests": found.requests,
        "rows": found.rows,
        "slow_requests": found.slow_requests,
        "mean_latency_seconds": number(found.mean_latency),
        "max_latency_seconds": number(found.max_latency),
        "dropped_rows": found.dropped_rows,
        "mean_prediction": number(found.mean_prediction),
    }


def drifted(found: Drifted, name: str | None) -> dict[str, Any]:
    return {
        "name": name,
        "kind": found.kind,
        "score": number(found.score),
        "level": found.level,
        "rows": found.rows,
        "baseline_rows": found.baseline_rows,
        "labels": found.labels,
        "counts": found.counts,
        "baseline_counts": found.baseline_counts,
    }


def bucketed(text: str, buckets: Sequence[tuple[Period, dict[str, Any]]]) -> dict[str, Any]:
    return {"bucket": text, "buckets": [{"period": period(span), **figures} for span, figures in buckets]}


# --- routes --------------------------------------------------------------------------------------------------


@router.post(
    f"{DEPLOYMENT}/actuals",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": ACTUALS_SCHEMA}}}},
)
def submit_actuals(
    deployment_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None, body: Any = Body()
) -> dict[str, Any]:
    """champion's extension: what really happened, by association id; each meets its prediction now or later."""
    deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)  # invisible: 404 first
    receipt = monitoring.submit_actuals(session, actor, deployment_id=deployment_id, actuals=actuals_of(body))
    return {"received": receipt.received, "matched": receipt.matched, "unmatched_ids": receipt.unmatched_ids}


BASELINE_SCHEMA = {
    "type": "object",
    "required": ["data_asset_id"],
    "additionalProperties": False,
    "properties": {"data_asset_id": {"type": "string"}, "model_version_id": {"type": ["string", "null"]}},
}


@router.post(
    f"{DEPLOYMENT}/monitoring/baseline",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": BASELINE_SCHEMA}}}},
)
def set_baseline(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    space_id: str | None = None,
    body: Any = Body(),
) -> dict[str, Any]:
    """champion's extension: measure drift against a data asset (the training data), not the first captured rows."""
    deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)  # invisible: 404 first
    if not isinstance(body, dict) or set(body) - {"data_asset_id", "model_version_id"}:
        raise InvalidInput('expected {"data_asset_id", "model_version_id"?}', field="body")
    asset_id, version_id = body.get("data_asset_id"), body.get("model_version_id")
    if not isinstance(asset_id, str) or not (version_id is None or isinstance(version_id, str)):
        raise InvalidInput("data_asset_id (and model_version_id) are ids", field="data_asset_id")
    with wml_fields():
        rows = baselines.from_data_asset(
            session, actor, store, deployment_id=deployment_id, data_asset_id=asset_id, version_id=version_id
        )
    return {"data_asset_id": asset_id, "rows": rows}


@router.get(f"{DEPLOYMENT}/monitoring/accuracy")
def get_accuracy(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    space_id: str | None = None,
    start: Start = None,
    end: End = None,
    model_version_id: VersionId = None,
    bucket: Bucket = None,
) -> dict[str, Any]:
    """champion's extension: accuracy of the predictions that met an actual, over the period or per bucket."""
    deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)
    with wml_fields():
        span = monitoring.period(moments.moment(start, "start"), moments.moment(end, "end"))
        answer = header(deployment_id, model_version_id, span)
        if bucket is None:
            found = monitoring.accuracy(
                session, actor, deployment_id=deployment_id, span=span, version_id=model_version_id
            )
            return {**answer, "target_type": found.target_type, **accuracy_figures(found)}
        over_time = monitoring.accuracy_over_time(
            session,
            actor,
            deployment_id=deployment_id,
            span=span,
            size=bucket_of(bucket),
            version_id=model_version_id,
        )
    figures = [(found.period, accuracy_figures(found)) for found in over_time]
    # A period holds at least one bucket, and every bucket is of the one model kind asked about.
    return {**answer, "target_type": over_time[0].target_type, **bucketed(bucket, figures)}


@router.get(f"{DEPLOYMENT}/monitoring/service")
def get_service_stats(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    space_id: str | None = None,
    start: Start = None,
    end: End = None,
    model_version_id: VersionId = None,
    bucket: Bucket = None,
) -> dict[str, Any]:
    """champion's extension: requests, rows, latency and dropped rows, over the period or per bucket."""
    deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)
    with wml_fields():
        span = monitoring.period(moments.moment(start, "start"), moments.moment(end, "end"))
        answer = {**header(deployment_id, model_version_id, span), "slow_request_seconds": SLOW_SECONDS}
        if bucket is None:
            found = monitoring.service_stats(
                session, actor, deployment_id=deployment_id, span=span, version_id=model_version_id
            )
            return {**answer, **service_figures(found)}
        over_time = monitoring.service_stats_over_time(
            session,
            actor,
            deployment_id=deployment_id,
            span=span,
            size=bucket_of(bucket),
            version_id=model_version_id,
        )
    return {**answer, **bucketed(bucket, [(found.period, service_figures(found)) for found in over_time])}


@router.get(f"{DEPLOYMENT}/monitoring/drift")
def get_drift(
    deployment_id: str,
    session: SessionDep,
    actor: ActorDep,
    space_id: str | None = None,
    start: Start = None,
    end: End = None,
    model_version_id: VersionId = None,
    metric: Metric = divergence.DEFAULT_METRIC,
) -> dict[str, Any]:
    """champion's extension: each tracked feature's drift, and the prediction's, against the version's baseline."""
    deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)
    with wml_fields():
        span = monitoring.period(moments.moment(start, "start"), moments.moment(end, "end"))
        found = monitoring.drift_of(
            session, actor, deployment_id=deployment_id, span=span, version_id=model_version_id, metric=metric
        )
    warning, failing = divergence.DEFAULT_THRESHOLDS[found.metric]
    return {
        **header(deployment_id, found.version_id, span),
        "metric": found.metric,
        "thresholds": {"warning": warning, "failing": failing},
        "baseline_ready": found.baseline_ready,
        "captured_rows": found.captured_rows,
        "features": [drifted(feature, feature.name) for feature in found.features],
        "target": drifted(found.target, found.target_name) if found.target is not None else None,
    }
