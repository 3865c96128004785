"""Errors of the users domain."""

from champion.errors import Conflict, NotFound


class UserNotFound(NotFound):
    pass


class UserExists(Conflict):
    pass
