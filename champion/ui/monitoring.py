"""A deployment's Monitoring page: service health, accuracy and drift over a chosen period.

Every figure is `champion.monitoring.service`'s: this module picks the question (which period, in
which buckets, which drift metric, which accuracy metrics a target type shows) and lays the
answers out, drawing the charts on the server (`charts.py`). The periods are the last 24 hours in
hours, the last 7 days in 6-hour buckets (a bad afternoon stays visible, which daily points would
hide) and the last 30 days in days, each ending with the current hour. Service figures and
accuracy cover every model the deployment served in the period (its history through
replacements); drift is the serving model's, measured against that model's own baseline. The
challengers section (`challengers.py`) compares other models with the champion on its captured traffic.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from champion.api.deps import SessionDep
from champion.deployments import service as deployments
from champion.deployments.service import Described
from champion.deployments.settings import DeploymentSettings
from champion.errors import InvalidInput
from champion.models import service as models
from champion.monitoring import accuracy_metrics, divergence
from champion.monitoring import service as monitoring
from champion.monitoring.drift import BASELINE_ROWS, TARGET
from champion.monitoring.types import Accuracy, Drift, Drifted, Period, ServiceStats
from champion.runtimes import TargetType
from champion.spaces import service as spaces
from champion.ui import challengers, charts
from champion.ui.render import UIRoute, page, templates
from champion.ui.session import ViewerSession
from champion.users.service import Actor

router = APIRouter(route_class=UIRoute)

SIDE_BY_SIDE = 370
"""Pixels wide of a chart drawn two to a row (a card's width is about 760): drawn at the size it is
shown, so its text is not scaled down."""


@dataclass(frozen=True)
class Window:
    """A period the page offers: how far back, in which buckets, and how a bucket is named on an axis."""

    key: str
    label: str
    length: dt.timedelta
    bucket: dt.timedelta
    tick: str
    """strftime of a bucket's start (UTC)."""
    axis: str


WINDOWS = (
    Window("24h", "Last 24 hours", dt.timedelta(days=1), dt.timedelta(hours=1), "%H:%M", "Hour (UTC)"),
    Window("7d", "Last 7 days", dt.timedelta(days=7), dt.timedelta(hours=6), "%m-%d %H:%M", "6 hours from (UTC)"),
    Window("30d", "Last 30 days", dt.timedelta(days=30), dt.timedelta(days=1), "%m-%d", "Day (UTC)"),
)
DEFAULT_WINDOW = "7d"


def window(key: str) -> Window:
    for found in WINDOWS:
        if found.key == key:
            return found
    offered = ", ".join(w.key for w in WINDOWS)
    raise InvalidInput(f"unknown period {key!r}; choose one of {offered}", field="period")


def accuracy_names(target_type: str) -> tuple[str, ...]:
    """The accuracy figures shown: the target type's default tiles, and Accuracy first for a classifier."""
    if target_type == TargetType.REGRESSION.value:
        return tuple(accuracy_metrics.DEFAULT_REGRESSION)
    return (accuracy_metrics.ACCURACY, *accuracy_metrics.DEFAULT_CLASSIFICATION)


@dataclass(frozen=True)
class Done:
    """What the page's query says was just done to the challengers (`challengers.page_url`)."""

    replay: str | None = None
    challenger: str | None = None
    removed: str | None = None


@dataclass
class MonitoringView:
    described: Described
    space_name: str
    model_name: str
    window: Window
    metric: str
    span: Period
    capture: DeploymentSettings
    service: ServiceStats
    accuracy: Accuracy
    accuracy_names: tuple[str, ...]
    drift: Drift
    captured_rows: int | None
    """Rows the serving model has captured, while it has no drift baseline yet (None once it has)."""
    chosen: Drifted | None
    challengers: challengers.ChallengersView
    charts: dict[str, Markup] = field(default_factory=dict)
    accuracy_charts: list[Markup] = field(default_factory=list)
    windows: tuple[Window, ...] = WINDOWS
    metrics: tuple[str, ...] = divergence.METRICS
    baseline_rows: int = BASELINE_ROWS

    @property
    def drifted(self) -> list[Drifted]:
        """The drift table's rows: the features, then the prediction (target drift)."""
        return [*self.drift.features, *([self.drift.target] if self.drift.target is not None else [])]

    def url(self, *, feature: str | None = None) -> str:
        query = {"period": self.window.key, "metric": self.metric}
        if feature is not None:
            query["feature"] = feature
        return f"/ui/deployments/{self.described.deployment.id}/monitoring?{urlencode(query)}"


def gather(
    session: Session,
    actor: Actor,
    deployment_id: str,
    *,
    period: str,
    metric: str,
    feature: str | None,
    done: Done | None = None,
) -> MonitoringView:
    """Everything the page shows; a non-member learns nothing, not even that a period is unknown."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    d = described.deployment
    chosen_window = window(period)
    end = monitoring.period(None, None).end
    span = monitoring.period(end - chosen_window.length, end)
    found_drift = monitoring.drift_of(session, actor, deployment_id=d.id, span=span, metric=metric)
    service = monitoring.service_stats(session, actor, deployment_id=d.id, span=span)
    accuracy = monitoring.accuracy(session, actor, deployment_id=d.id, span=span)
    done = done or Done()
    shown = accuracy_names(accuracy.target_type)
    view = MonitoringView(
        described=described,
        space_name=spaces.get_space(session, actor, space_id=d.space_id).name,
        model_name=models.get_model(session, actor, model_id=described.version.model_id).name,
        window=chosen_window,
        metric=found_drift.metric,
        span=span,
        capture=deployments.get_settings(session, actor, deployment_id=d.id),
        service=service,
        accuracy=accuracy,
        accuracy_names=shown,
        drift=found_drift,
        captured_rows=None if found_drift.baseline_ready else found_drift.captured_rows,
        chosen=None,
        challengers=challengers.section(
            session, actor, described, metrics=shown, replay=done.replay, added=done.challenger, removed=done.removed
        ),
    )
    view.chosen = _chosen(view.drifted, view.drift.features, feature)
    _draw(session, actor, view)
    return view


def _chosen(rows: list[Drifted], features: list[Drifted], wanted: str | None) -> Drifted | None:
    """The row whose histogram is shown: the one asked for, else the feature that drifted most."""
    for row in rows:
        if row.name == wanted:
            return row
    scored = [f for f in features if f.score is not None]
    if scored:
        return max(scored, key=lambda f: f.score if f.score is not None else 0.0)
    return features[0] if features else None


def _draw(session: Session, actor: Actor, view: MonitoringView) -> None:
    d, w = view.described.deployment, view.window
    over_time = monitoring.service_stats_over_time(session, actor, deployment_id=d.id, span=view.span, size=w.bucket)
    labels = [_tick(s.period, w) for s in over_time]
    view.charts["requests"] = charts.bar_chart(
        labels,
        [charts.Series("requests", [s.requests for s in over_time])],
        title="Requests",
        x_label=w.axis,
        y_label="requests",
        whole=True,
        width=SIDE_BY_SIDE,
    )
    view.charts["latency"] = charts.line_chart(
        labels,
        [charts.Series("mean latency", [s.mean_latency for s in over_time])],
        title="Mean latency",
        x_label=w.axis,
        y_label="milliseconds",
        value_format=_milliseconds,
        include_zero=True,
        width=SIDE_BY_SIDE,
    )
    if view.accuracy.rows:
        accuracy = monitoring.accuracy_over_time(session, actor, deployment_id=d.id, span=view.span, size=w.bucket)
        for name in view.accuracy_names:
            values = [a.figures.get(name) for a in accuracy]
            view.accuracy_charts.append(
                charts.line_chart(
                    labels,
                    [charts.Series(name, values)],
                    title=name,
                    x_label=w.axis,
                    y_label=name,
                    width=SIDE_BY_SIDE,
                    height=200,
                )
            )
    if view.chosen is not None:
        chosen = view.chosen
        what = _name_of(chosen, view.drift)
        view.charts["histogram"] = charts.bar_chart(
            chosen.labels,
            [charts.Series("baseline", chosen.baseline_counts), charts.Series("this period", chosen.counts)],
            title=f"{what}: baseline and this period",
            x_label="bin",
            y_label="% of rows",
            as_share=True,
        )


def _name_of(row: Drifted, found: Drift) -> str:
    if row.name == TARGET:
        return f"Prediction ({found.target_name})" if found.target_name else "Prediction"
    return row.name


def _tick(bucket: Period, w: Window) -> str:
    return bucket.start.astimezone(dt.UTC).strftime(w.tick)


def _milliseconds(seconds: float) -> str:
    return charts.number(seconds * 1000)


def figure(value: float | None) -> str:
    """A figure in a table: four significant digits, or a dash when there is none (or none finite)."""
    return "—" if value is None or not math.isfinite(value) else f"{value:.4g}"


def milliseconds(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.4g} ms"


templates.env.filters["figure"] = figure
templates.env.filters["milliseconds"] = milliseconds


@router.get("/ui/deployments/{deployment_id}/monitoring", response_class=HTMLResponse)
def show(
    deployment_id: str,
    request: Request,
    ui: ViewerSession,
    session: SessionDep,
    period: str = DEFAULT_WINDOW,
    metric: str = divergence.DEFAULT_METRIC,
    feature: str | None = None,
    replay: str | None = None,
    challenger: str | None = None,
    removed: str | None = None,
) -> Response:
    done = Done(replay=replay, challenger=challenger, removed=removed)
    view = gather(session, ui.actor, deployment_id, period=period, metric=metric, feature=feature, done=done)
    context = {"ui": ui, "view": view, "d": view.described.deployment, "name_of": _name_of}
    return page(request, "monitoring.html", context)
