"""Rich table columns for what the commands list: ids whole, the rest folded rather than cut."""

from __future__ import annotations

from rich.table import Column

ID_WIDTH = 36
"""A UUID's length."""


def id_column(header: str = "id") -> Column:
    """Ids are copied into other commands: never cut, never wrapped."""
    return Column(header, no_wrap=True, min_width=ID_WIDTH)


def folding(*headers: str) -> list[Column]:
    """Columns that fold onto more lines in a narrow terminal rather than lose characters to an ellipsis."""
    return [Column(header, overflow="fold") for header in headers]
