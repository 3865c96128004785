"""Why a model was replaced, and how a replacement ended."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from champion.deployments.types import State


class Reason(enum.StrEnum):
    """DataRobot's reasons for a model replacement; the WML face records OTHER when none is given."""

    ACCURACY = "ACCURACY"
    DATA_DRIFT = "DATA_DRIFT"
    ERRORS = "ERRORS"
    SCHEDULED_REFRESH = "SCHEDULED_REFRESH"
    SCORING_SPEED = "SCORING_SPEED"
    DEPRECATION = "DEPRECATION"
    OTHER = "OTHER"


class Kind(enum.StrEnum):
    REPLACE = "replace"
    ROLLBACK = "rollback"


class Outcome(enum.StrEnum):
    """running → succeeded | failed. A failed replacement left the previous champion serving."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ReplacePayload(BaseModel):
    """What a replace operation swaps in, and what to return to if it cannot."""

    model_config = ConfigDict(frozen=True)

    to_version_id: str
    previous_state: State = State.READY
    """The deployment's state before it turned `updating`: a failed replacement restores it."""
    record_id: str
    runtime_values: dict[str, Any] | None = None
    """The candidate's runtime parameter values, stored with the swap (operations older than them carry none)."""
