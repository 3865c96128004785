"""What validating a replacement produces: each named check's status and message, and the report over them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class CheckStatus(enum.StrEnum):
    PASSING = "passing"
    WARNING = "warning"  # the replacement may go ahead, but the user should look first
    FAILING = "failing"  # the replacement must not go ahead

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {CheckStatus.PASSING: 0, CheckStatus.WARNING: 1, CheckStatus.FAILING: 2}

PASSING, WARNING, FAILING = CheckStatus.PASSING, CheckStatus.WARNING, CheckStatus.FAILING


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: CheckStatus
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(name=str(data["name"]), status=CheckStatus(data["status"]), message=str(data["message"]))


# The seed's words for a schema mismatch: WML warns with them, and still proceeds, when the input
# schemas differ. Every face that shows `ValidationReport.schema_mismatch` shows this sentence.
SCHEMA_MISMATCH_WARNING = (
    "The input schema of the asset being patched does not match with the currently deployed asset. "
    "Please ensure that the score payloads are up to date as per the asset being patched."
)

# The checks that compare input schemas. Each passes only when the two models take the same
# features, in the same order, with the same types, so any other status is a schema mismatch.
SCHEMA_CHECKS = frozenset({"features", "featureDataTypes"})


@dataclass(frozen=True)
class ValidationReport:
    """The checks' results in registry order; status and message are derived, so they cannot drift."""

    checks: tuple[CheckResult, ...]

    @property
    def status(self) -> CheckStatus:
        """The worst status of any check; passing when there are none."""
        return max((c.status for c in self.checks), key=lambda s: s.severity, default=PASSING)

    @property
    def message(self) -> str:
        """One sentence naming what blocks the replacement, else what deserves a look."""
        if failing := self.failing():
            return f"Failed: {', '.join(c.name for c in failing)}."
        if warnings := self.warnings():
            return f"Warnings: {', '.join(c.name for c in warnings)}."
        return "All checks passed."

    @property
    def schema_mismatch(self) -> bool:
        """The input schemas differ in names, order, types or count (WML then warns in its patch response)."""
        return any(c.name in SCHEMA_CHECKS and c.status is not PASSING for c in self.checks)

    def failing(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is FAILING)

    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is WARNING)

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored with a replacement record."""
        return {
            "status": self.status.value,
            "message": self.message,
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        # status and message are derived from the checks, so only the checks are read back.
        return cls(checks=tuple(CheckResult.from_dict(c) for c in data["checks"]))
