"""Revision numbers: which integers can name a model version at all.

Versions are numbered from 1 in `model_versions.number`, an INTEGER column: 4 bytes on PostgreSQL,
so no revision is ever above 2**31 - 1. A number outside that range names no revision, and must not
reach a query: SQLite cannot even bind an integer beyond 64 bits (OverflowError). Documents and
query parameters that carry a revision use `Revision` (or `RevisionText`, the WML spelling as a
string of digits), so the caller hears which field is wrong; the one lookup every path ends in
(`service.get_version`) also treats any other number as missing, whoever calls it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from champion.errors import InvalidInput

FIRST = 1
LAST = 2**31 - 1
"""The largest value of the INTEGER column that stores revision numbers."""

MESSAGE = f"must be a revision number from {FIRST} to {LAST}"


def in_range(number: int) -> bool:
    return FIRST <= number <= LAST


def is_revision_text(text: str) -> bool:
    """Whether `text` spells a revision number: ASCII digits (`isdigit` alone admits "²", which int()
    refuses, and "٣", which it reads as 3) of a number in range."""
    return text.isascii() and text.isdigit() and len(text) <= len(str(LAST)) and in_range(int(text))


def parse(text: str, *, field: str) -> int:
    """The revision number `text` spells, or an InvalidInput naming `field` (for callers outside pydantic)."""
    if not is_revision_text(text):
        raise InvalidInput(MESSAGE, field=field)
    return int(text)


def _in_range(number: int) -> int:
    if not in_range(number):
        raise PydanticCustomError("revision", MESSAGE)
    return number


def _digits_in_range(value: str) -> str:
    if not is_revision_text(value):
        raise PydanticCustomError("revision", MESSAGE)
    return value


Revision = Annotated[int, AfterValidator(_in_range)]
"""A revision number as an integer."""

RevisionText = Annotated[str, AfterValidator(_digits_in_range)]
"""A revision number as WML writes it: a string of digits (`"rev": "3"`)."""
