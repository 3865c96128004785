"""Challengers as stored: who they are, and what each replay of captured traffic found."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from champion.db import ID, Base, UTCDateTime, new_id, utcnow


class Challenger(Base):
    """A model version compared with the deployment's champion (at most `service.MAX_CHALLENGERS`)."""

    __tablename__ = "challengers"
    __table_args__ = (UniqueConstraint("deployment_id", "version_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChallengerReplay(Base):
    """One replay of a deployment's captured traffic through its challengers (an operation runs it)."""

    __tablename__ = "challenger_replays"
    __table_args__ = (UniqueConstraint("deployment_id", "scheduled_for"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[str] = mapped_column(ID)
    champion_version_id: Mapped[str] = mapped_column(ID)
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """The scheduled time it stands for; None for a replay asked on demand."""
    state: Mapped[str] = mapped_column(String(16))
    """running, succeeded or failed."""
    rows: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChallengerResult(Base):
    """How one challenger answered a replay's rows, against the champion's captured answers."""

    __tablename__ = "challenger_results"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    replay_id: Mapped[str] = mapped_column(ForeignKey("challenger_replays.id", ondelete="CASCADE"), index=True)
    challenger_id: Mapped[str] = mapped_column(ForeignKey("challengers.id", ondelete="CASCADE"), index=True)
    rows: Mapped[int] = mapped_column(Integer)
    failed_rows: Mapped[int] = mapped_column(Integer)
    first_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    agreement: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Classifiers: the share of rows labelled as the champion did. Regressors: None (see `difference`)."""
    difference: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Regressors: mean absolute difference over the spread of the champion's answers; classifiers: the
    mean absolute difference of probabilities."""
    seconds_per_row: Mapped[float | None] = mapped_column(Float, nullable=True)
    actual_rows: Mapped[int] = mapped_column(Integer, default=0)
    """Replayed rows that have an actual: the accuracy figures are over these."""
    accuracy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    champion_accuracy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The champion's figures on the same rows, so the two compare like for like."""
