"""When a scheduled replay is due: DataRobot's schedule fields matched against a UTC minute.

Written by hand: the five-field matching is a few lines, and croniter's own grammar (strings such
as "0 2 * * *") is not the shape DataRobot's clients send.
"""

from __future__ import annotations

import datetime as dt

from champion.deployments.settings import MONTHS, WEEKDAYS, Schedule, ScheduleValue

LOOK_BACK = dt.timedelta(days=1)
"""How far back a missed scheduled minute is still run (a server that was down longer skips it)."""


def matches(schedule: Schedule, moment: dt.datetime) -> bool:
    """Whether `moment`'s minute (UTC) is one the schedule names."""
    weekday = (moment.weekday() + 1) % 7  # Sunday is 0, as cron counts
    days_restricted = schedule.day_of_month != ["*"], schedule.day_of_week != ["*"]
    by_month_day = _has(schedule.day_of_month, moment.day, ())
    by_weekday = _has(schedule.day_of_week, weekday, WEEKDAYS)
    day = (by_month_day or by_weekday) if all(days_restricted) else (by_month_day and by_weekday)
    return (
        day
        and _has(schedule.minute, moment.minute, ())
        and _has(schedule.hour, moment.hour, ())
        and _has(schedule.month, moment.month, MONTHS, first=1)
    )


def latest(schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The newest scheduled minute at or before `now`, within `LOOK_BACK`; None when there is none."""
    moment = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    earliest = moment - LOOK_BACK
    while moment > earliest:
        if matches(schedule, moment):
            return moment
        moment -= dt.timedelta(minutes=1)
    return None


def _has(values: list[ScheduleValue], value: int, names: tuple[str, ...], *, first: int = 0) -> bool:
    for item in values:
        if item == "*" or item == value:
            return True
        if isinstance(item, str) and names and names.index(item[:3].lower()) + first == value:
            return True
    return False
