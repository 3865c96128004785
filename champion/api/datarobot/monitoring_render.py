"""champion's monitoring figures in the JSON shapes the `datarobot` client (3.20.0) parses.

The client reads these answers with nulls kept and strict trafarets (notes: dr-monitoring-shapes.md,
dr-accuracy-shapes.md), so every shape here follows three rules: keys the client requires are
always present, `null` only where its converter takes `t.Null` (never `segmentAttribute`, never a
rate or count in `serviceStats` metrics: an unknown one is left out), and no top-level key beyond
what `predictionsOverTime/` and `predictionsVsActualsOverTime/` allow. Periods are sent as `…Z`
strings, which dateutil reads as aware UTC datetimes.

What champion does not know is null (or absent where null is refused), never a guess:

- `featureImpact`: champion computes no feature importance;
- `percentiles`, `meanProbabilities` (predictions over time): no per-window quantiles or
  probability sums are kept;
- `executionTime` is the maximum when the quantile asked is 1 (the only quantile the hourly
  windows keep exactly: their mean and maximum), else null; `responseTime` is null (champion times
  the model, queueing included, not the whole HTTP exchange); error rates, consumers and loads
  are left out (failed requests are not captured);
- class distributions list a class's count only where the target's drift bins keep it apart (a
  class the baseline never saw falls in its "other" bin, so its count is null).

champion's own additions ride along where the client ignores extra keys: `level` (passing,
warning, failing: `divergence.level`) and `baselineReady` on drift, `meanExecutionTime`,
`maxExecutionTime` and `droppedPredictions` among the service metrics.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from champion.monitoring.types import Accuracy, Drift, Drifted, Period, ServiceStats

SLOW_THRESHOLD_MS = 1000.0
"""The slowRequests threshold the capture writer counts at (`capture.SLOW_SECONDS`), DataRobot's default."""


def moment(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def period(span: Period) -> dict[str, str]:
    return {"start": moment(span.start), "end": moment(span.end)}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


# --- accuracy ------------------------------------------------------------------------------------------


def _percent_change(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0:
        return None
    return (value - baseline) / abs(baseline) * 100.0


def accuracy_entry(found: Accuracy, name: str, baseline: Accuracy | None) -> dict[str, Any]:
    """One metric's figure; the baseline is another model's figure over the same period, if one was named."""
    value = found.figures.get(name)
    base = baseline.figures.get(name) if baseline is not None else None
    return {
        "value": value,
        "sampleSize": found.rows,
        "baselineValue": base,
        "baselineSampleSize": baseline.rows if baseline is not None else None,
        "percentChange": _percent_change(value, base),
    }


def accuracy(
    span: Period, found: list[tuple[str | None, Accuracy]], names: list[str], baseline: Accuracy | None
) -> dict[str, Any]:
    """`accuracy/`: `data` per model and metric; the `metrics` map (older clients) when one model is asked."""
    body: dict[str, Any] = {
        "period": period(span),
        "modelId": found[0][0] if len(found) == 1 else None,
        "data": [
            {"metricName": name, "modelId": model_id, **accuracy_entry(figures, name, baseline)}
            for model_id, figures in found
            for name in names
        ],
    }
    if len(found) == 1:
        body["metrics"] = {name: accuracy_entry(found[0][1], name, baseline) for name in names}
    return body


def accuracy_over_time(
    metric: str, over_time: list[tuple[str | None, list[Accuracy]]], summary: Accuracy | None
) -> dict[str, Any]:
    """`accuracyOverTime/`: one bucket per model and period, each with `modelId` (get_as_dataframe indexes by it)."""
    body: dict[str, Any] = {
        "metric": metric,
        "modelId": over_time[0][0] if len(over_time) == 1 else None,
        "buckets": [
            {"period": period(a.period), "modelId": model_id, "value": a.figures.get(metric), "sampleSize": a.rows}
            for model_id, found in over_time
            for a in found
        ],
        "baselines": [],  # champion has no training-time (holdout) figures to compare with
    }
    if summary is not None:
        body["summary"] = {
            "period": period(summary.period),
            "modelId": over_time[0][0],
            "value": summary.figures.get(metric),
            "sampleSize": summary.rows,
        }
    return body


def predictions_vs_actuals(
    per_model: list[tuple[str | None, list[ServiceStats], list[Accuracy]]],
) -> dict[str, Any]:
    """`predictionsVsActualsOverTime/`: only summary, baselines and buckets (the client refuses more).

    The means are the regressor's predicted and actual values, or a binary classifier's mean
    probability of its positive class and the share of actuals that are that class; champion keeps
    no class counts of the matched pairs, so the distributions are null.
    """
    buckets: list[dict[str, Any]] = []
    total = with_actual = 0
    for model_id, served, matched in per_model:
        for stats, found in zip(served, matched, strict=True):
            total, with_actual = total + stats.rows, with_actual + found.rows
            buckets.append(
                {
                    "period": period(stats.period),
                    "modelId": model_id,
                    "rowCountTotal": stats.rows,
                    "rowCountWithActual": found.rows,
                    "meanPredictedValue": found.mean_predicted,
                    "meanActualValue": found.mean_actual,
                    "predictedClassDistribution": None,
                    "actualClassDistribution": None,
                }
            )
    summary = {"rowCountTotal": total, "rowCountWithActual": with_actual}
    return {"summary": summary, "baselines": [], "buckets": buckets}


# --- service figures -----------------------------------------------------------------------------------


def service_metrics(stats: ServiceStats, *, quantile: float, threshold: float) -> dict[str, int | float | None]:
    """DataRobot's metrics champion can stand behind; a metric it cannot is left out (the client refuses null)."""
    metrics: dict[str, int | float | None] = {
        "totalPredictions": stats.rows,
        "totalRequests": stats.requests,
        "executionTime": _ms(stats.max_latency) if quantile == 1.0 else None,
        "responseTime": None,
        "meanExecutionTime": _ms(stats.mean_latency),
        "maxExecutionTime": _ms(stats.max_latency),
        "droppedPredictions": stats.dropped_rows,
    }
    if threshold == SLOW_THRESHOLD_MS:
        metrics["slowRequests"] = stats.slow_requests
    if stats.requests:
        metrics["cacheHitRatio"] = 1.0  # a deployment answers only once its model is in memory
    return metrics


def service_stats(stats: ServiceStats, model_id: str | None, *, quantile: float, threshold: float) -> dict[str, Any]:
    return {
        "period": period(stats.period),
        "modelId": model_id,
        "metrics": service_metrics(stats, quantile=quantile, threshold=threshold),
    }


def service_over_time(
    metric: str,
    over_time: list[tuple[str | None, list[ServiceStats]]],
    summary: ServiceStats | None,
    *,
    quantile: float,
    threshold: float,
) -> dict[str, Any]:
    def value(stats: ServiceStats) -> int | float | None:
        return service_metrics(stats, quantile=quantile, threshold=threshold).get(metric)

    body: dict[str, Any] = {
        "metric": metric,
        "modelId": over_time[0][0] if len(over_time) == 1 else None,
        "buckets": [
            {"period": period(s.period), "modelId": model_id, "value": value(s)}
            for model_id, found in over_time
            for s in found
        ],
    }
    if summary is not None:
        body["summary"] = {"period": period(summary.period), "modelId": over_time[0][0], "value": value(summary)}
    return body


# --- drift -----------------------------------------------------------------------------------------------


def _level(found: Drifted | None) -> str | None:
    return found.level if found is not None else None


def feature_drift_item(found: Drifted) -> dict[str, Any]:
    return {
        "name": found.name,
        "driftScore": found.score,
        "featureImpact": None,
        "sampleSize": found.rows,
        "baselineSampleSize": found.baseline_rows,
        "level": found.level,
    }


def feature_drift(drift: Drift, page: dict[str, Any]) -> dict[str, Any]:
    """`featureDrift/`: the page envelope (`data`, `next`, ...) with the period, metric and model."""
    return {
        "period": period(drift.period),
        "metric": drift.metric,
        "modelId": drift.version_id,
        "baselineReady": drift.baseline_ready,
        **page,
    }


def target_drift(drift: Drift) -> dict[str, Any]:
    target = drift.target
    return {
        "period": period(drift.period),
        "metric": drift.metric,
        "modelId": drift.version_id,
        "targetName": drift.target_name or None,
        "driftScore": target.score if target is not None else None,
        "sampleSize": target.rows if target is not None else None,
        "baselineSampleSize": target.baseline_rows if target is not None else None,
        "segmentValue": None,
        "level": _level(target),
        "baselineReady": drift.baseline_ready,
    }


# --- predictions over time -------------------------------------------------------------------------------


def class_distribution(
    found: Drifted | None, classes: list[str], wanted: list[str] | None, *, baseline: bool = False
) -> list[dict[str, Any]] | None:
    """Each class's count and percent (0 to 100) from the target's drift bins (of the window, or of the
    baseline); null before the baseline exists."""
    if found is None:
        return None
    counts = found.baseline_counts if baseline else found.counts
    kept = dict(zip(found.labels[:-2], counts, strict=False))  # the last two bins: "other", "missing"
    total = sum(counts)
    shown = []
    for name in classes:
        if wanted is not None and name not in wanted:
            continue
        count = kept.get(name)
        percent = None if count is None or not total else 100.0 * count / total
        shown.append({"className": name, "count": count, "percent": percent})
    return shown


def predictions_bucket(
    stats: ServiceStats, model_id: str, distribution: list[dict[str, Any]] | None, *, regression: bool
) -> dict[str, Any]:
    return {
        "period": period(stats.period),
        "modelId": model_id,
        "rowCount": stats.rows,
        "meanPredictedValue": stats.mean_prediction if regression else None,
        "percentiles": None,
        "meanProbabilities": None,
        "classDistribution": None if regression else distribution,
    }


def predictions_baseline(
    model_id: str, target: Drifted | None, distribution: list[dict[str, Any]] | None, *, regression: bool
) -> dict[str, Any]:
    """The version's drift baseline (its first captured rows): champion's stand-in for DataRobot's holdout."""
    return {
        "modelId": model_id,
        "rowCount": target.baseline_rows if target is not None else None,
        "meanPredictedValue": None,
        "percentiles": None,
        "meanProbabilities": None,
        "classDistribution": None if regression else distribution,
    }
