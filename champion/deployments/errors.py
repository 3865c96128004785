"""Errors of the deployments domain."""

from champion.errors import Conflict, NotFound


class DeploymentNotFound(NotFound):
    pass


class VersionNotServed(NotFound):
    """A request named a model version (`<model id>:<revision>`) the deployment does not serve."""


class NotReady(Conflict):
    """The deployment cannot answer predictions (or be activated, deactivated) in its current state."""


class ServingNameTaken(Conflict):
    pass
