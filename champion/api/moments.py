"""Reading dates and durations from a query string, as both vendor faces take them.

A date-time is ISO 8601 (RFC 3339), read as UTC when it has no offset; a '+' that an unencoded URL
turned into a space is read back as '+'. It must fall between 1970 and 3000: the periods built from
it are rounded to the hour, which must not overflow. A duration is ISO 8601 (`PT1H`, `P1D`, `P7D`,
`P1M` read as 30 days), parsed by pydantic; whether it is a whole number of hours and fits the
period is the domain's rule (`monitoring.service.buckets`).
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import TypeAdapter, ValidationError

from champion.errors import InvalidInput

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
_DURATION = TypeAdapter(dt.timedelta)


def moment(text: str | None, field: str) -> dt.datetime | None:
    """The date-time `text` names, in UTC; None when not given; InvalidInput naming `field` otherwise."""
    if text is None:
        return None
    written = re.sub(r"(T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$", r"\1+\2", text.strip())
    try:
        parsed = dt.datetime.fromisoformat(written)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date-time such as 2025-01-01T00:00:00Z", field=field) from None
    try:
        utc = parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    except OverflowError:  # year 1 at +05:00 is before year 1 in UTC
        utc = EARLIEST - dt.timedelta(days=1)
    if not EARLIEST <= utc < LATEST:
        raise InvalidInput("a date between 1970 and 3000, please", field=field)
    return utc


def duration(text: str, field: str) -> dt.timedelta:
    """The ISO 8601 duration `text` names; the leading P keeps out bare numbers pydantic would take as seconds."""
    try:
        size = _DURATION.validate_python(text) if text.startswith("P") else None
    except ValidationError:
        size = None
    if size is None or size <= dt.timedelta(0):
        raise InvalidInput(f"{text!r} is not an ISO 8601 duration such as PT1H, P1D or P7D", field=field)
    return size
