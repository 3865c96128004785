"""Errors of the model registry."""

from champion.errors import Conflict, InvalidInput, NotFound


class ModelNotFound(NotFound):
    pass


class VersionNotFound(NotFound):
    pass


class NoContent(Conflict):
    """The model has no uploaded artifact yet."""


class NotAModel(InvalidInput):
    """The upload is not a loadable model of the declared type."""


class ModelInUse(Conflict):
    """A deployed model cannot be deleted."""
