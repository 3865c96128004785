"""Job states and the framework-neutral shape of a job's predictions."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class JobState(enum.StrEnum):
    """queued → running → completed | failed | canceled. Terminal states never change again."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELED)


ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)


@dataclass(frozen=True)
class ResultBlock:
    """The answers for one input block, one per row in input order.

    `probabilities` rows follow the model's class order; None for regressors and for
    classifiers that give no probabilities.
    """

    labels: list[Any]
    probabilities: list[list[float]] | None

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "probabilities": self.probabilities}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultBlock:
        return cls(labels=list(data["labels"]), probabilities=data.get("probabilities"))


@dataclass(frozen=True)
class JobResult:
    """What a completed job predicted, one block per input (inline block or data asset)."""

    blocks: tuple[ResultBlock, ...]
    served_by: str
    """The model version that answered every row, as `<model id>:<rev>`."""

    def to_dict(self) -> dict[str, Any]:
        return {"blocks": [b.to_dict() for b in self.blocks], "served_by": self.served_by}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        return cls(blocks=tuple(ResultBlock.from_dict(b) for b in data["blocks"]), served_by=data["served_by"])
