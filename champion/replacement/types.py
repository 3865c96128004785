"""Why a model was replaced, and how a replacement ended."""

from __future__ import annotations

import enum


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
