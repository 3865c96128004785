"""Errors of the transfer domain."""

from champion.errors import InvalidInput


class BadArchive(InvalidInput):
    """The archive (or the space read as one) cannot be imported; `field` names the item, nothing was written."""

    code = "bad_archive"
