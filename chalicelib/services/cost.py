"""The cost estimate of a period: the meter's daily counters (a key read per month touched) at the configured prices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, timedelta
from typing import Any, Protocol

from chalicelib.domain import cost
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.cost import FunctionDay, StorageDay
from chalicelib.domain.errors import MalformedRequestError, ValidationError
from chalicelib.domain.reports import Row
from chalicelib.domain.stats import ALL, OPENED
from chalicelib.domain.tickets import DATE_PATTERN
from chalicelib.services.ports import Clock

DEFAULT_DAYS = 30
MAX_DAYS = 366
PARAMETERS = {"from", "to"}


class MeterReadings(Protocol):
    def readings(self, first: date, last: date) -> tuple[list[FunctionDay], list[StorageDay]]: ...

    def first_day(self) -> date | None:
        """The desk's first metered day, if recorded."""
        ...


class DayCells(Protocol):
    """The reports' daily counters (the StatsStore's reading side)."""

    def cells(self, dim: str, first_day: str, last_day: str) -> list[Row]: ...


class CostReport:
    def __init__(self, meter: MeterReadings, stats: DayCells, config: Callable[[], DeskConfig], clock: Clock) -> None:
        self.meter = meter
        self.stats = stats
        self.config = config
        self.clock = clock

    def estimate(self, params: Mapping[str, str]) -> dict[str, Any]:
        """`from` and `to` are UTC days, both in (the meter counts by UTC day); by default the 30 days up to today.

        Tickets opened come from the reports' counters (`stats#all`), which count by the desk's local day: at the
        period's two ends a few hours of tickets may fall on the other side.
        """
        unknown = sorted(set(params) - PARAMETERS)
        if unknown:
            raise MalformedRequestError(
                "unknown parameters", errors=dict.fromkeys(unknown, "is not a parameter; use from and to")
            )
        today = self.clock.now().astimezone(UTC).date()
        first, last = self.period(params, today)
        functions, storage = self.meter.readings(first, last)
        opened = sum(
            int(row.counts.get(OPENED, 0)) for row in self.stats.cells(ALL, first.isoformat(), last.isoformat())
        )
        since = self.meter.first_day()
        return cost.estimate(first, last, today, functions, storage, opened, self.config().prices, since=since)

    @staticmethod
    def period(params: Mapping[str, str], today: date) -> tuple[date, date]:
        errors: dict[str, str] = {}
        last = _day(params.get("to"), "to", errors) or today
        first = _day(params.get("from"), "from", errors)
        if first is None and not errors:
            first = last - timedelta(days=DEFAULT_DAYS - 1) if last > date.min + timedelta(days=DEFAULT_DAYS) else None
            if first is None:
                errors["to"] = "is too early"
        if errors or first is None:
            raise ValidationError("the dates are not valid", errors)
        if first > last:
            raise ValidationError("the period ends before it starts", {"from": "must not be after to"})
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError("the period is too long", {"from": f"a cost estimate covers at most {MAX_DAYS} days"})
        return first, last


def _day(raw: str | None, name: str, errors: dict[str, str]) -> date | None:
    if raw is None or raw == "":
        return None
    if not DATE_PATTERN.match(raw):
        errors[name] = "must be a date as YYYY-MM-DD"
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "is not a real date"
        return None
