"""What the challengers domain refuses."""

from champion.errors import Conflict, InvalidInput, NotFound


class ChallengerNotFound(NotFound):
    pass


class TooManyChallengers(InvalidInput):
    pass


class ReplayRunning(Conflict):
    """A replay of this deployment's traffic is already under way."""


class ReplayNotFound(NotFound):
    """No replay with that operation id of this deployment."""
