"""Deployment kinds and states."""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    ONLINE = "online"
    BATCH = "batch"


class State(enum.StrEnum):
    """initializing → ready | failed; ready → updating → ready (replacement);
    ready → inactive (deactivated: refuses predictions) → initializing → ready (activated)."""

    INITIALIZING = "initializing"
    READY = "ready"
    UPDATING = "updating"
    FAILED = "failed"
    INACTIVE = "inactive"
