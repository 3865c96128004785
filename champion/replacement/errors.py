"""Errors of model replacement."""

from typing import Any

from champion.errors import Conflict, NotFound, PermissionDenied


class ReplacementInProgress(Conflict):
    """A deployment takes one replacement at a time."""


class NothingToRollBack(NotFound):
    """The deployment has no earlier champion to return to."""


class ReplacementForbidden(PermissionDenied):
    """The caller's role does not allow replacing the model; `report` holds the checks that said so."""

    def __init__(self, message: str, *, report: Any) -> None:
        super().__init__(message)
        self.report = report
