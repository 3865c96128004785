"""Errors of the jobs domain."""

from champion.errors import Conflict, NotFound


class JobNotFound(NotFound):
    pass


class DataAssetNotFound(NotFound):
    pass


class DeploymentNotReady(Conflict):
    """The batch deployment cannot score yet (initializing) or any more (failed)."""
