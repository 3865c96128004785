"""The HTTP status of each kind of domain error, shared by every face.

Domain errors carry no HTTP; faces agree on the status and differ only in the body.
Subclasses come before their bases: the first match wins.
"""

from __future__ import annotations

from champion import errors

STATUS: tuple[tuple[type[errors.ChampionError], int], ...] = (
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.PreconditionFailed, 412),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.InvalidInput, 400),
    (errors.ValidationFailed, 400),
    (errors.Unavailable, 503),
)


def status_of(error: errors.ChampionError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500
