"""Errors of the spaces domain."""

from champion.errors import Conflict, NotFound


class SpaceNotFound(NotFound):
    """Also raised for spaces the caller is not a member of: their existence is not disclosed."""


class MemberNotFound(NotFound):
    pass


class LastAdmin(Conflict):
    """A space must keep at least one admin."""
