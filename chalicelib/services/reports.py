"""The reports agents read: each one Query of the aggregate cells for its range and grouping (plus the
open-now gauges or a page of survey comments), whatever the number of tickets behind them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain import reports
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.reports import Period
from chalicelib.domain.stats import ALL, DIMENSIONS
from chalicelib.domain.tickets import DATE_PATTERN
from chalicelib.services.desk import is_whole_number
from chalicelib.services.ports import Clock, DeskStore, StatsStore

DEFAULT_DAYS = 30
MAX_DAYS = 366
DEFAULT_COMMENTS = 50
MAX_COMMENTS = 200
COMMENT_CURSOR = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\.[0-9A-Za-z]{1,64}$")  # "<day>.<ticket id>", URL-safe
GROUPINGS = DIMENSIONS  # type, priority, team, assignee


class Reports:
    def __init__(self, stats: StatsStore, config: Callable[[], DeskConfig], store: DeskStore, clock: Clock) -> None:
        self.stats = stats
        self.config = config
        self.store = store
        self.clock = clock

    # the reports -----------------------------------------------------------------------------------

    def sla(self, params: Mapping[str, str]) -> dict[str, Any]:
        config = self.config()
        period = self.period(config, params)
        group_by = _group_by(params)
        rows = self._rows(group_by or ALL, period)
        return reports.sla_report(config, period, group_by, rows, self._names(group_by))

    def time_in_status(self, params: Mapping[str, str]) -> dict[str, Any]:
        config = self.config()
        period = self.period(config, params)
        ticket_type = params.get("type") or None
        if ticket_type is not None and ticket_type not in config.types:
            raise ValidationError(
                "the type is not known", {"type": f"must be one of {', '.join(sorted(config.types))}"}
            )
        if ticket_type is None:
            rows = self._rows(ALL, period)
        else:
            rows = [row for row in self._rows("type", period) if row.value == ticket_type]
        return reports.time_in_status_report(config, period, ticket_type, rows)

    def workload(self, params: Mapping[str, str]) -> dict[str, Any]:
        config = self.config()
        period = self.period(config, params)
        rows = self._rows(ALL, period)
        return reports.workload_report(config, period, rows, self.stats.open_counts(), self._names("assignee"))

    def satisfaction(self, params: Mapping[str, str]) -> dict[str, Any]:
        config = self.config()
        period = self.period(config, params)
        group_by = _group_by(params)
        limit = DEFAULT_COMMENTS
        raw_limit = params.get("comments_limit")
        if raw_limit is not None:
            if not is_whole_number(raw_limit) or not 0 <= int(raw_limit) <= MAX_COMMENTS:
                raise ValidationError(
                    "the comments limit is not valid",
                    {"comments_limit": f"must be a whole number from 0 to {MAX_COMMENTS}"},
                )
            limit = int(raw_limit)
        cursor = params.get("comments_after") or None
        if cursor is not None and not COMMENT_CURSOR.match(cursor):
            raise ValidationError(
                "the comments cursor is not valid", {"comments_after": "must be a comments_next from a report"}
            )
        rows = self._rows(group_by or ALL, period)
        comments: list[dict[str, Any]] = []
        next_cursor = None
        if limit:
            before = cursor.replace(".", "#", 1) if cursor else None
            comments, next_key = self.stats.comments(period.first.isoformat(), period.last.isoformat(), limit, before)
            next_cursor = next_key.replace("#", ".", 1) if next_key else None
        return reports.satisfaction_report(config, period, group_by, rows, comments, next_cursor, self._names(group_by))

    # parameters ------------------------------------------------------------------------------------

    def period(self, config: DeskConfig, params: Mapping[str, str]) -> Period:
        """`from` and `to` are local dates, both included; by default the 30 days up to today."""
        today = self.clock.now().astimezone(ZoneInfo(config.sla.calendar.timezone)).date()
        errors: dict[str, str] = {}
        last = _date(params.get("to"), "to", errors) or today
        first = _date(params.get("from"), "from", errors)
        if first is None and not errors:
            if last < date.min + timedelta(days=DEFAULT_DAYS):
                errors["to"] = "is too early"
            else:
                first = last - timedelta(days=DEFAULT_DAYS - 1)
        if errors or first is None:
            raise ValidationError("the dates are not valid", errors)
        if first > last:
            raise ValidationError("the period ends before it starts", {"from": "must not be after to"})
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError("the period is too long", {"from": f"a report covers at most {MAX_DAYS} days"})
        return Period(first, last)

    # reading ---------------------------------------------------------------------------------------

    def _rows(self, dim: str, period: Period) -> list[reports.Row]:
        return self.stats.cells(dim, period.first.isoformat(), period.last.isoformat())

    def _names(self, dim: str | None) -> dict[str, str]:
        """Agents' names, only when a report shows assignees."""
        if dim != "assignee":
            return {}
        return {agent.id: agent.name for agent in self.store.list_agents()}


def _group_by(params: Mapping[str, str]) -> str | None:
    value = params.get("group_by") or None
    if value is not None and value not in GROUPINGS:
        raise ValidationError("the grouping is not known", {"group_by": f"must be one of {', '.join(GROUPINGS)}"})
    return value


def _date(raw: str | None, name: str, errors: dict[str, str]) -> date | None:
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
