"""The desk's working hours (its SLA calendar), for deciding when people work: not the product's SLA arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Hours:
    zone: ZoneInfo
    open_hours: dict[int, tuple[time, time]]  # weekday -> (opens, closes)
    holidays: frozenset[date]

    @classmethod
    def of(cls, calendar: dict[str, Any]) -> Hours:
        hours = {}
        for number, name in enumerate(DAYS):
            if name in calendar.get("hours", {}):
                opens, closes = calendar["hours"][name]
                hours[number] = (time.fromisoformat(opens), time.fromisoformat(closes))
        holidays = frozenset(date.fromisoformat(d) for d in calendar.get("holidays", []))
        return cls(ZoneInfo(calendar["timezone"]), hours, holidays)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def at(self, day: date, clock: time) -> datetime:
        """`clock` on `day` in the desk's timezone, as UTC."""
        return datetime.combine(day, clock, self.zone).astimezone(UTC)

    def working(self, day: date) -> bool:
        return day.weekday() in self.open_hours and day not in self.holidays

    def span(self, day: date) -> tuple[datetime, datetime] | None:
        """When the desk opens and closes on `day` (UTC), or None on a day off."""
        if not self.working(day):
            return None
        opens, closes = self.open_hours[day.weekday()]
        return self.at(day, opens), self.at(day, closes)

    def is_open(self, moment: datetime) -> bool:
        span = self.span(self.local(moment).date())
        return span is not None and span[0] <= moment < span[1]

    def next_open(self, moment: datetime) -> datetime:
        """`moment` if the desk is open then, else when it next opens."""
        day = self.local(moment).date()
        for _ in range(400):
            span = self.span(day)
            if span is not None and moment < span[1]:
                return max(moment, span[0])
            day += timedelta(days=1)
        raise ValueError("the calendar has no working hours")

    def add(self, moment: datetime, working: timedelta) -> datetime:
        """`moment` moved on by `working` time counted in working hours only."""
        current = self.next_open(moment)
        left = working
        while True:
            span = self.span(self.local(current).date())
            if span is None:  # pragma: no cover - next_open lands on a working day
                raise ValueError("not a working day")
            room = span[1] - current
            if left < room:
                return current + left
            left -= room
            current = self.next_open(span[1])
