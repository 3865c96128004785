"""Prometheus meters for serving: what each deployment answered, how fast, what failed, what is loaded.

One `ServingMetrics` per app, on a registry of its own rather than prometheus_client's
global one, so tests and several apps in one process never share (or collide on) a series.
`create_app` builds it, hands it to the serving engine (which counts the models it loads
and releases) and exposes it at /metrics; the scoring functions record through the
engine. This package imports nothing else from champion, so the engine and the services
may both use it without an import pointing up.

/metrics asks for a credential like every route but the version probes: a server admin's key
or token, or `CHAMPION_METRICS_KEY` (which reads /metrics and nothing else). A Prometheus scrape
config passes it as a bearer token:

    scrape_configs:
      - job_name: champion
        scheme: https
        authorization:
          credentials: <api key>
        static_configs:
          - targets: ["champion.example.com:8443"]

With `champion serve --workers N` each worker is a process of its own; the meters then
live in files shared by the workers and /metrics sums them, so every scrape reports the
whole server (`workers.py` tells how, and what it costs).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from champion.meters import workers

# From a tenth of a millisecond (a small model on warm data) to ten seconds (a big batch
# waiting behind others): latency is spread over four orders of magnitude.
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class ErrorKind(enum.StrEnum):
    """Why a scoring call got no answer: the `kind` label of the errors counter."""

    INVALID_INPUT = "invalid_input"
    """The request was malformed, or asked something of the wrong kind of deployment."""
    NOT_READY = "not_ready"
    """The deployment exists but cannot answer yet (initializing) or any more (failed)."""
    UNAVAILABLE = "unavailable"
    """The server could not take the request now (queue full, model not loaded here yet)."""
    MODEL_ERROR = "model_error"
    """The model itself raised while predicting."""
    REFUSED = "refused"
    """A humility rule with the throw_error action refused the request."""


@dataclass(frozen=True, slots=True)
class _Bound:
    """The label children of one deployment and model version, bound once and reused."""

    predictions: Counter
    rows: Counter
    latency: Histogram


class ServingMetrics:
    """The serving meters of one app, registered on `registry`.

    With several workers (`workers.shared_directory()`), values live in per-process files,
    keyed by name and labels: one app per process, as uvicorn runs it.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        # This process's meters; in one worker of several, its own share only.
        self.registry = registry if registry is not None else CollectorRegistry()
        self._shared = workers.shared_directory()
        if self._shared is not None:
            self._exposed = workers.exposition_registry(self._shared, platform=process)
        else:
            self._exposed = self.registry
        if process and self._shared is None:
            # What the global registry would have offered: CPU, memory, open files, GC, Python version.
            # With several workers only the Python version is (`workers.py` says why).
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        by_version = ("deployment", "model_version")
        self._predictions = Counter(
            "champion_predictions",
            "Scoring calls answered (one per block of rows; a WML request usually holds one).",
            by_version,
            registry=self.registry,
        )
        self._rows = Counter("champion_prediction_rows", "Rows answered.", by_version, registry=self.registry)
        self._latency = Histogram(
            "champion_prediction_latency_seconds",
            "Time to answer a scoring call, queueing for the model included.",
            by_version,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter(
            "champion_prediction_errors",
            "Scoring calls that got no answer, by why.",
            ("deployment", "kind"),
            registry=self.registry,
        )
        self._humility = Counter(
            "champion_humility_triggered",
            "Rows a humility rule triggered on (the first matching rule of each row), by rule and its action.",
            ("deployment", "rule", "action"),
            registry=self.registry,
        )
        self._capture_dropped = Counter(
            "champion_capture_dropped_rows",
            "Answered rows prediction capture dropped because its buffer was full (the writer fell behind).",
            ("deployment",),
            registry=self.registry,
        )
        self._loaded = Gauge(
            "champion_models_loaded",
            "Models in memory, summed over the server's live workers: serving, or draining after a swap.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        # Keyed by (deployment id, model version): `labels()` hashes and locks on every call,
        # a plain dict lookup does not. Series of deleted deployments stay until restart.
        self._bound: dict[tuple[str, str], _Bound] = {}

    def exposition(self) -> bytes:
        """The Prometheus text for /metrics: the whole server's meters, however many workers."""
        if self._shared is not None:
            workers.forget_dead_workers(self._shared)
        return generate_latest(self._exposed)

    def close(self) -> None:
        """This process stops serving (the app's shutdown); with several workers its models leave the sum."""
        if self._shared is not None:
            workers.leave(self._shared)

    def answered(self, deployment_id: str, model_version: str, rows: int, seconds: float) -> None:
        """Count one answered scoring call; this runs on every prediction."""
        bound = self._bound.get((deployment_id, model_version))
        if bound is None:
            bound = self._bind(deployment_id, model_version)
        bound.predictions.inc()
        bound.rows.inc(rows)
        bound.latency.observe(seconds)

    def failed(self, deployment_id: str, kind: ErrorKind) -> None:
        self._errors.labels(deployment_id, kind.value).inc()

    def humility_triggered(self, deployment_id: str, rule: str, action: str, rows: int) -> None:
        """Count rows a humility rule decided; runs only for deployments with rules in force."""
        self._humility.labels(deployment_id, rule, action).inc(rows)

    def capture_dropped(self, deployment_id: str, rows: int) -> None:
        self._capture_dropped.labels(deployment_id).inc(rows)

    def model_loaded(self) -> None:
        self._loaded.inc()

    def model_released(self) -> None:
        self._loaded.dec()

    def _bind(self, deployment_id: str, model_version: str) -> _Bound:
        bound = _Bound(
            predictions=self._predictions.labels(deployment_id, model_version),
            rows=self._rows.labels(deployment_id, model_version),
            latency=self._latency.labels(deployment_id, model_version),
        )
        self._bound[(deployment_id, model_version)] = bound
        return bound
