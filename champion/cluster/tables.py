"""One row per live server process: its heartbeat and the model versions it holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from champion.db import Base, UTCDateTime, utcnow


class ProcessReport(Base):
    __tablename__ = "process_reports"

    process: Mapped[str] = mapped_column(String(128), primary_key=True)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    serving: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """deployment id → the version id this process answers with."""
    prepared: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """deployment id → a candidate version loaded and warmed beside the champion."""
    errors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """deployment id → {"version": id, "message": why it could not be loaded here}."""
