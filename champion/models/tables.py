"""Registered models and model versions as stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from champion.db import ID, Base, UTCDateTime, new_id, utcnow


class RegisteredModel(Base):
    __tablename__ = "registered_models"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    type: Mapped[str] = mapped_column(String(64))
    software_spec_id: Mapped[str] = mapped_column(ID)
    label_column: Mapped[str | None] = mapped_column(String(255), nullable=True)
    declared_input: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_id: Mapped[str] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelVersion(Base):
    """One revision of a model, numbered from 1; never changed once written.

    A revision is the model's content (a file, named by its SHA-256 in the content-addressed store,
    so revisions of the same file share one blob) and a snapshot of the model's editable metadata
    when it was made: an upload makes one, and so does `create_revision` with the newest content.
    The model's type, label column and declared input are fixed when it is created, so the model's
    row is their one source; what a patch can change is kept here.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "number"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    framework: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    signature: Mapped[dict[str, Any]] = mapped_column(JSON)
    runtime_parameters: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """The runtime parameters it declares (`models/runtime_parameters.py`, as DataRobot spells them), or None."""
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(JSON)
    software_spec_id: Mapped[str] = mapped_column(ID)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON)
    commit_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    """What its maker said of it (WML's `commit_message` when creating a revision); None for an upload."""
    created_by: Mapped[str] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
