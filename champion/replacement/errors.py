"""Errors of model replacement."""

from champion.errors import Conflict, NotFound


class ReplacementInProgress(Conflict):
    """A deployment takes one replacement at a time."""


class NothingToRollBack(NotFound):
    """The deployment has no earlier champion to return to."""
