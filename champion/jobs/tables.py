"""Batch jobs and data assets as stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from champion.db import ID, Base, UTCDateTime, new_id, utcnow


class DataAsset(Base):
    """A file (CSV or Parquet) uploaded into a space for batch jobs to read."""

    __tablename__ = "data_assets"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    mime_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    attachment_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    """The one attachment holding the file (CAMS assets carry their content as attachments)."""
    upload_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the one-time secret in the attachment's upload URL; cleared once used."""
    file_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The content in the artifact store; None until uploaded."""
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BatchJob(Base):
    """One run of a batch deployment over some input; its predictions live in the artifact store."""

    __tablename__ = "batch_jobs"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    input_data: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """Inline input, as sent: [{"fields": [...] | None, "values": [[...], ...]}, ...]."""
    input_assets: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """Ids of the data assets to score, in order (when the input is not inline)."""
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Known up front for inline input; for data assets once they are read."""
    rows_scored: Mapped[int] = mapped_column(Integer, default=0)
    result_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The predictions (a JSON `JobResult`) in the artifact store, once completed."""
    output_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """When asked, the predictions are also written as a CSV data asset of this name."""
    output_asset_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    failure: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """Why the job failed: [{"code", "message"}]."""
    created_by: Mapped[str] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
