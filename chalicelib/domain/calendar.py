"""Business time: how much of a span the desk was open, and when an amount of open time runs out."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from chalicelib.domain.config import BusinessCalendar

BUSINESS = "business"
CALENDAR = "calendar"
ZERO = timedelta(0)
# How far ahead a deadline is looked for: a calendar open one day a year still finds it, a broken one ends.
SEARCH_DAYS = 366 * 5


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _instant(zone: ZoneInfo, day: date, minute: int) -> datetime:
    """The UTC instant of a local wall time; a time skipped by a clock change counts as if it had not been."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def opening_window(calendar: BusinessCalendar, day: date) -> tuple[datetime, datetime] | None:
    """When the desk opens and closes on a local date, as UTC instants; None on a closed day or holiday."""
    if calendar.is_closed(day):
        return None
    span = calendar.hours.get(day.weekday())
    if span is None:
        return None
    zone = _zone(calendar.timezone)
    opens, closes = _instant(zone, day, span[0]), _instant(zone, day, span[1])
    return (opens, closes) if opens < closes else None


def _local_date(calendar: BusinessCalendar, moment: datetime) -> date:
    return moment.astimezone(_zone(calendar.timezone)).date()


def business_time(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Open time between two instants: the real time elapsed inside opening hours, so a clock change counts."""
    if end <= start:
        return ZERO
    total = ZERO
    day = _local_date(calendar, start)
    last = _local_date(calendar, end)
    while day <= last:
        window = opening_window(calendar, day)
        if window is not None:
            begin, finish = max(window[0], start), min(window[1], end)
            if finish > begin:
                total += finish - begin
        day += timedelta(days=1)
    return total


def add_business_time(calendar: BusinessCalendar, start: datetime, amount: timedelta) -> datetime | None:
    """The instant when `amount` of open time has passed since `start`; None if the desk never opens again."""
    if amount <= ZERO:
        return start
    left = amount
    day = _local_date(calendar, start)
    for _ in range(SEARCH_DAYS):
        window = opening_window(calendar, day)
        if window is not None and window[1] > start:
            begin = max(window[0], start)
            available = window[1] - begin
            if available >= left:
                return begin + left
            left -= available
        day += timedelta(days=1)
    return None


def elapsed(calendar: BusinessCalendar, clock: str, start: datetime, end: datetime) -> timedelta:
    """Time between two instants on a timer's clock: open hours only, or all of it."""
    if clock == BUSINESS:
        return business_time(calendar, start, end)
    return max(end - start, ZERO)


def deadline(calendar: BusinessCalendar, clock: str, start: datetime, amount: timedelta) -> datetime | None:
    """When `amount` on a timer's clock has passed since `start`."""
    if clock == BUSINESS:
        return add_business_time(calendar, start, amount)
    return start + max(amount, ZERO)


def add_business_days(calendar: BusinessCalendar, start: datetime, days: int) -> datetime | None:
    """The same local time `days` opening days later, as people count "in 5 business days".

    A start outside opening hours counts from the next opening; a time past a shorter day's closing is that
    day's closing. None if the desk never opens again.
    """
    day = _local_date(calendar, start)
    begin: datetime | None = None
    for _ in range(SEARCH_DAYS):
        window = opening_window(calendar, day)
        if window is not None and window[1] > start:
            begin = max(window[0], start)
            break
        day += timedelta(days=1)
    if begin is None:
        return None
    zone = _zone(calendar.timezone)
    local = begin.astimezone(zone)
    minute = local.hour * 60 + local.minute
    offset = timedelta(seconds=local.second, microseconds=local.microsecond)
    counted = 0
    for _ in range(SEARCH_DAYS):
        if counted == days:
            window = opening_window(calendar, day)
            if window is not None:
                moment = _instant(zone, day, minute) + offset
                return min(max(moment, window[0]), window[1])
        day += timedelta(days=1)
        if opening_window(calendar, day) is not None:
            counted += 1
    return None


def after(calendar: BusinessCalendar, start: datetime, amount: int, unit: str, clock: str) -> datetime | None:
    """When an amount of minutes, hours or days on a clock has passed since `start` (business days: opening days)."""
    if clock == BUSINESS and unit == "d":
        return add_business_days(calendar, start, amount)
    minutes = amount * {"m": 1, "h": 60, "d": 24 * 60}[unit]
    return deadline(calendar, clock, start, timedelta(minutes=minutes))


def local_text(calendar: BusinessCalendar, moment: datetime) -> str:
    """An instant as the desk's people read it: "Mon 30 Nov 2026, 10:00 GMT"."""
    local = moment.astimezone(_zone(calendar.timezone))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname() or calendar.timezone}"
