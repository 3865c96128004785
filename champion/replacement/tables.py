"""Replacement records as stored: the append-only history of a deployment's champions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from champion.db import ID, Base, UTCDateTime, new_id, utcnow


class ReplacementRecord(Base):
    __tablename__ = "replacement_records"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_version_id: Mapped[str] = mapped_column(ID)
    to_version_id: Mapped[str] = mapped_column(ID)
    reason: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(ID)
    operation_id: Mapped[str] = mapped_column(ID)
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The validation report the replacement was started with."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
