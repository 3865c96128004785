"""Errors of the jobs domain."""

from champion.errors import Conflict, NotFound, Unauthenticated


class JobNotFound(NotFound):
    pass


class DataAssetNotFound(NotFound):
    pass


class DeploymentNotReady(Conflict):
    """The batch deployment cannot score yet (initializing) or any more (failed)."""


class UploadUrlUsed(Unauthenticated):
    """An upload URL's one-time secret was spent by an upload that succeeded: the URL opens nothing any more."""
