"""Operation kinds and the operation state machine."""

from __future__ import annotations

import enum


class OperationKind(enum.StrEnum):
    DEPLOY = "deploy"
    BATCH_JOB = "batch_job"
    REPLACE = "replace"
    CHALLENGER_REPLAY = "challenger_replay"


class OperationState(enum.StrEnum):
    """pending → running → succeeded | failed. Terminal states never change again."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (OperationState.SUCCEEDED, OperationState.FAILED)
