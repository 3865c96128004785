"""Errors of the jobs domain."""

from champion.errors import Conflict, InvalidInput, NotFound, Unauthenticated, Unavailable


class JobNotFound(NotFound):
    pass


class DataAssetNotFound(NotFound):
    pass


class DeploymentNotReady(Conflict):
    """The batch deployment cannot score yet (initializing) or any more (failed)."""


class UploadUrlUsed(Unauthenticated):
    """An upload URL's one-time secret was spent by an upload that succeeded: the URL opens nothing any more."""


class DataTooLarge(InvalidInput):
    """A data asset would not fit in the memory a job may take inside the server."""

    code = "data_too_large"


class SchedulerUnavailable(Unavailable):
    """The Dask scheduler named by CHAMPION_DASK_SCHEDULER cannot be reached, or has no workers."""
