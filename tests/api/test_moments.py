"""Dates and durations as both vendor faces read them from a query (champion/api/moments.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from champion.api.moments import duration, moment
from champion.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "hours"),
    [("PT1H", 1), ("PT36H", 36), ("P1D", 24), ("P30D", 720), ("P1W", 168), ("P2W", 336), ("P1M", 720)],
)
def test_iso_durations(text: str, hours: int) -> None:
    assert duration(text, "bucket") == dt.timedelta(hours=hours)


@pytest.mark.parametrize("text", ["PT1H ", " PT1H", "PT-1H", "P-1D", "PT\u0663H", "1H", "3600", "p1d", "P", "", "PT0H"])
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        duration(text, "bucketSize")
    assert refused.value.field == "bucketSize"


@pytest.mark.parametrize(
    "text",
    ["2025-03-01T12:30:00", "2025-03-01T12:30:00Z", "2025-03-01T14:30:00+02:00", "2025-03-01T14:30:00 02:00"],
)
def test_moments_are_utc_and_naive_means_utc(text: str) -> None:
    assert moment(text, "start") == dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "text", ["yesterday", "2025-13-01T00:00:00Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_other_dates_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        moment(text, "end")
    assert refused.value.field == "end"


def test_no_date_is_none() -> None:
    assert moment(None, "start") is None
