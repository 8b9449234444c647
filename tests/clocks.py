"""A clock that only moves when the test says so; tests never read the real one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


class ManualClock:
    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current
