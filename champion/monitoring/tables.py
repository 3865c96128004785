"""Monitoring as stored: captured files, the predictions actuals can meet, actuals, and window figures.

Captured rows themselves live in columnar files in the artifact store (`files.py`); the database
keeps what must be found or summed quickly: which files hold a deployment's rows (`capture_files`),
the predictions that carry an association id (`associated_predictions`, so an actual meets its
prediction by key), the actuals, and per-hour figures that add up across windows and server
processes (`service_windows`, `drift_counts`). Every row names its model version, so each figure
can be read per version (what a progressive rollout compares).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from champion.db import ID, Base, UTCDateTime, new_id, utcnow


class CaptureFile(Base):
    """One columnar file of captured rows: one deployment, one model version, one writer's flush."""

    __tablename__ = "capture_files"
    __table_args__ = (Index("ix_capture_files_deployment_first", "deployment_id", "first_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    version_id: Mapped[str] = mapped_column(ID)
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    drift_counted: Mapped[bool] = mapped_column(Boolean, default=False)
    """Its rows are in `drift_counts` (set by a conditional UPDATE, so no two processes count a file twice)."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssociatedPrediction(Base):
    """A captured prediction with an association id: what an actual submitted later is matched to.

    The first prediction of an id is kept: a retried request does not move it to another model.
    """

    __tablename__ = "associated_predictions"
    __table_args__ = (Index("ix_associated_predictions_deployment_at", "deployment_id", "predicted_at"),)

    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    association_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version_id: Mapped[str] = mapped_column(ID)
    predicted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """A classifier's label, as text."""
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    """A regressor's value."""
    probabilities: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    """A classifier's probabilities, in the order of its classes."""


class Actual(Base):
    """What really happened for an association id; a second submission for the id replaces the first."""

    __tablename__ = "actuals"

    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    association_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    """A number for a regressor, a class label (text) for a classifier."""
    was_acted_on: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    actual_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceWindow(Base):
    """Requests one model version answered in one hour, summed over flushes and processes (an upsert adds)."""

    __tablename__ = "service_windows"

    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[str] = mapped_column(ID, primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    latency_sum: Mapped[float] = mapped_column(Float)
    """Seconds, summed over the requests."""
    latency_max: Mapped[float] = mapped_column(Float)
    slow_requests: Mapped[int] = mapped_column(Integer)
    prediction_sum: Mapped[float] = mapped_column(Float)
    """A regressor's predicted values summed (0 for a classifier): the mean prediction over time."""
    dropped_rows: Mapped[int] = mapped_column(Integer)
    """Rows answered but not captured because the buffer was full (counted under the champion)."""


class DriftBaseline(Base):
    """The bins a feature's (or the prediction's) drift is measured in, fixed from the version's baseline."""

    __tablename__ = "drift_baselines"

    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[str] = mapped_column(ID, primary_key=True)
    feature: Mapped[str] = mapped_column(String(255), primary_key=True)
    """A feature's name, or `drift.TARGET` for the prediction."""
    bins: Mapped[dict[str, Any]] = mapped_column(JSON)
    """`binning.Bins.to_json()`."""
    counts: Mapped[list[int]] = mapped_column(JSON)
    """The baseline's own counts in those bins."""
    source: Mapped[str] = mapped_column(String(16))
    """`captured` (the version's first captured rows) or `asset` (a data asset the user named)."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DriftCount(Base):
    """How many rows of one hour fell in one bin of a feature, for one model version (an upsert adds)."""

    __tablename__ = "drift_counts"

    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[str] = mapped_column(ID, primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    feature: Mapped[str] = mapped_column(String(255), primary_key=True)
    bin: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
