"""What can be a revision number: the range of the column that stores them, in ASCII digits."""

from __future__ import annotations

import pytest

from champion.errors import InvalidInput
from champion.models import revisions


@pytest.mark.parametrize("text", ["1", "42", str(revisions.LAST)])
def test_revision_numbers_in_range_parse(text: str) -> None:
    assert revisions.parse(text, field="asset.rev") == int(text)


@pytest.mark.parametrize("text", ["", "0", "-1", "+3", " 3", "3.0", "²", "٣", str(revisions.LAST + 1), "9" * 5000])
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        revisions.parse(text, field="asset.rev")
    assert error.value.field == "asset.rev"
    assert "revision number" in error.value.message
