"""Watching a running server: Prometheus meters for scoring and the models in memory."""

from champion.meters.metrics import ErrorKind, ServingMetrics

__all__ = ["ErrorKind", "ServingMetrics"]
