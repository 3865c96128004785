"""The one error hierarchy of champion's domain; each face renders it in its vendor's shape.

    ChampionError
    ├── Unauthenticated    no credentials, or ones that do not check out
    ├── PermissionDenied   a known caller whose role does not allow the action
    ├── NotFound           no such thing, or the caller may not know it exists
    ├── Conflict           the thing is in a state that forbids the action now
    │   └── PreconditionFailed   an If-Match or a JSON Patch `test` did not hold
    ├── InvalidInput       the request names a bad field or value (`field` says which)
    │   └── PayloadTooLarge      an upload over the configured limit
    ├── ValidationFailed   a candidate model failed named checks (carries the report)
    └── Unavailable        the server cannot take this now; retrying later may work

Domain errors carry no HTTP status: faces map each base to their own code and body.
"""

from __future__ import annotations

from typing import Any


class ChampionError(Exception):
    """Base of every error a face renders for the caller."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(ChampionError):
    code = "authentication_failed"


class PermissionDenied(ChampionError):
    code = "forbidden"


class NotFound(ChampionError):
    code = "not_found"


class Conflict(ChampionError):
    code = "conflict"


class PreconditionFailed(Conflict):
    code = "precondition_failed"


class InvalidInput(ChampionError):
    """Bad input. `field` is a dotted path to the offending field, when there is one."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"


class ValidationFailed(ChampionError):
    """A replacement candidate failed validation; `report` holds the named checks."""

    code = "validation_failed"

    def __init__(self, message: str, *, report: Any) -> None:
        super().__init__(message)
        self.report = report


class Unavailable(ChampionError):
    code = "unavailable"
