"""DataRobot's monitoring query and actuals body, read into champion's terms; champion's field names read back.

What each parameter means here (the routes in `monitoring.py` say which takes which):

- `start`, `end`: RFC 3339 with any offset and fractional seconds (the client sends `+00:00`,
  never `Z`); a naive value is UTC, and a `+` that an unencoded URL turned into a space is read
  as `+`. The domain rounds the start down and the end up to the hour (DataRobot refuses other
  values; rounding is friendlier) and defaults to the week up to the end of the current hour;
  the period actually used is the one answered. Dates outside 1970 to 3000 are refused, before
  rounding them could overflow.
- `bucketSize`: an ISO 8601 duration of whole hours (PT1H, P1D, P7D; P1M is read as 30 days),
  no longer than the period. Without it: hours up to a two-day period, days up to sixty days,
  else weeks.
- `metric` (drift): DataRobot's psi, kl_divergence, dissimilarity, hellinger and js_divergence,
  where the domain computes them (its ks and wasserstein are not offered: the client refuses a
  drift answer naming them). `metric` (accuracy): a DataRobot name champion computes for the
  model's kind. `metric` (service over time): one champion measures, or one of its own
  (`monitoring_render`), with the quantile or threshold it can answer.
- `segmentAttribute`/`segmentValue`: refused, champion does not segment; `targetClass` on
  accuracy: refused, champion computes no per-class figures.

Domain errors name champion's fields (`actuals[3].association_id`, `version_id`); `vendor_fields`
renames them to what the DataRobot caller sent (`data[3].associationId`, `modelId`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

from champion.api import moments
from champion.api.datarobot import render
from champion.api.datarobot.monitoring_render import SLOW_THRESHOLD_MS
from champion.errors import InvalidInput
from champion.monitoring import divergence
from champion.monitoring import service as monitoring
from champion.monitoring.accuracy_metrics import ALL_METRICS, CLASSIFICATION_METRICS, REGRESSION_METRICS
from champion.monitoring.types import ActualIn, Period
from champion.runtimes import Signature, TargetType

DRIFT_METRICS = ("psi", "kl_divergence", "dissimilarity", "hellinger", "js_divergence")
"""DataRobot's drift metrics (`DATA_DRIFT_METRIC.ALL`): the client refuses an answer naming any other."""
SERVICE_METRICS = ("totalPredictions", "totalRequests", "slowRequests", "executionTime", "cacheHitRatio")
CHAMPION_SERVICE_METRICS = ("meanExecutionTime", "maxExecutionTime", "droppedPredictions")
UNMEASURED = ("responseTime", "userErrorRate", "serverErrorRate", "numConsumers", "medianLoad", "peakLoad")
"""DataRobot's service metrics champion does not measure (failed requests are not captured)."""


# --- dates and buckets -------------------------------------------------------------------------------------


def span_of(start: str | None, end: str | None) -> Period:
    return monitoring.period(moments.moment(start, "start"), moments.moment(end, "end"))


def bucket_size(text: str | None, span: Period) -> dt.timedelta:
    length = span.end - span.start
    if text is None:
        if length <= dt.timedelta(days=2):
            return dt.timedelta(hours=1)
        return dt.timedelta(days=1) if length <= dt.timedelta(days=60) else dt.timedelta(days=7)
    return moments.duration(text, "bucketSize")


def no_segments(attribute: str | None, value: str | None) -> None:
    if attribute is not None or value is not None:
        raise InvalidInput("champion does not segment monitoring figures", field="segmentAttribute")


def one_model(model_ids: list[str] | None) -> str | None:
    if model_ids and len(model_ids) > 1:
        raise InvalidInput("give one modelId", field="modelId")
    return model_ids[0] if model_ids else None


def drift_metric(name: str | None) -> str:
    offered = [m for m in DRIFT_METRICS if m in divergence.METRICS]
    if not name:
        return divergence.DEFAULT_METRIC
    if name not in offered:
        raise InvalidInput(f"unknown drift metric {name!r}; champion offers {', '.join(offered)}", field="metric")
    return name


_ACTUAL_FIELDS = {"association_id": "associationId", "value": "actualValue", "was_acted_on": "wasActedOn"}
_FIELDS = {"version_id": "modelId", "bucket_size": "bucketSize", "actuals": "data"}


def vendor_field(field: str) -> str:
    """The domain's field (`actuals[3].association_id`, `version_id`) as the DataRobot caller spelled it."""
    if match := re.fullmatch(r"actuals\[(\d+)\]\.(\w+)", field):
        return f"data[{match[1]}].{_ACTUAL_FIELDS.get(match[2], match[2])}"
    return _FIELDS.get(field, field)


@contextlib.contextmanager
def vendor_fields(model: str = "modelId") -> Iterator[None]:
    """Rename the field of an InvalidInput (or PayloadTooLarge) raised inside to the caller's spelling.

    `model` is the parameter that named the model version, when it is not `modelId`.
    """
    try:
        yield
    except InvalidInput as exc:
        renamed = (model if exc.field == "version_id" else vendor_field(exc.field)) if exc.field else None
        if renamed is None or renamed == exc.field:
            raise
        raise type(exc)(exc.message.removeprefix(f"{exc.field}: "), field=renamed) from None


def accuracy_names(signature: Signature, metric: str | None) -> list[str]:
    """The metrics to answer: all champion computes for the model's kind, or the one asked (if it is one)."""
    regression = signature.target.type is TargetType.REGRESSION
    computed = list(REGRESSION_METRICS if regression else CLASSIFICATION_METRICS)
    if metric is None:
        return computed
    if metric not in computed:
        kind = render.TARGET_TYPES[signature.target.type]
        known = (
            "is not one of DataRobot's accuracy metrics" if metric not in ALL_METRICS else f"is not for a {kind} model"
        )
        raise InvalidInput(f"{metric!r} {known}; use one of {', '.join(computed)}", field="metric")
    return [metric]


def no_target_classes(classes: list[str] | None) -> None:
    if classes:
        raise InvalidInput("champion computes accuracy over all classes, not per class", field="targetClass")


def service_metric(metric: str, *, quantile: float, threshold: float) -> None:
    """Refuse a metric champion cannot give over time, saying why (null buckets would read as no traffic)."""
    if metric in UNMEASURED:
        raise InvalidInput(
            f"champion does not measure {metric}; it gives {', '.join(SERVICE_METRICS + CHAMPION_SERVICE_METRICS)}",
            field="metric",
        )
    if metric not in SERVICE_METRICS + CHAMPION_SERVICE_METRICS:
        raise InvalidInput(f"unknown service metric {metric!r}", field="metric")
    if metric == "executionTime" and quantile != 1.0:
        raise InvalidInput(
            "champion keeps each hour's mean and maximum execution time, not its quantiles: ask quantile=1 "
            "for the maximum, or meanExecutionTime",
            field="quantile",
        )
    if metric == "slowRequests" and threshold != SLOW_THRESHOLD_MS:
        raise InvalidInput(
            f"champion counts requests slower than {SLOW_THRESHOLD_MS:g} ms, no other threshold", field="threshold"
        )


# --- actuals --------------------------------------------------------------------------------------------------

_ACTUAL_KEYS = ("associationId", "actualValue", "wasActedOn", "timestamp")


def actuals_of(body: Any) -> list[ActualIn]:
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise InvalidInput('expected {"data": [{"associationId", "actualValue", ...}, ...]}', field="data")
    found = []
    for index, item in enumerate(body["data"]):
        field = f"data[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidInput("an actual is an object", field=field)
        if unknown := [k for k in item if k not in _ACTUAL_KEYS]:
            raise InvalidInput(f"unknown key {unknown[0]!r}; an actual has {', '.join(_ACTUAL_KEYS)}", field=field)
        stamp = item.get("timestamp")
        if stamp is not None and not isinstance(stamp, str):
            raise InvalidInput("a timestamp is an RFC 3339 string", field=f"{field}.timestamp")
        found.append(
            ActualIn(
                association_id=item.get("associationId"),
                value=item.get("actualValue"),
                was_acted_on=item.get("wasActedOn"),
                timestamp=moments.moment(stamp, f"{field}.timestamp"),
            )
        )
    return found
