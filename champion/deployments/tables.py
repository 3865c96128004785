"""Deployments as stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from champion.db import ID, Base, UTCDateTime, new_id, utcnow


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    kind: Mapped[str] = mapped_column(String(16))
    serving_name: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    hardware_spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_id: Mapped[str] = mapped_column(ID)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"))
    """The champion: the one model version this deployment serves."""
    candidate_version_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"), nullable=True)
    """A replacement being prepared: every process loads and warms it beside the champion."""
    state: Mapped[str] = mapped_column(String(16))
    failure: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """Why the last operation failed: [{"code", "message"}], cleared by the next success."""
    earlier_features: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Every feature name its earlier champions took, added to when a swap commits: a request may still
    carry those the current champion does not take (`replacement.service.retired_fields`)."""
    generation: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped on every change the serving engine must follow."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeploymentSettingsRow(Base):
    """A deployment's settings and runtime parameter values; no row means every default."""

    __tablename__ = "deployment_settings"

    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """`champion.deployments.settings.DeploymentSettings` as JSON."""
    runtime_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The champion's runtime parameter values by name, set when a replacement swaps it in."""
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
