"""SLA timers and time in status, computed from a ticket's whole history so that any order of arrival agrees."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.calendar import ZERO, business_time, deadline, elapsed
from chalicelib.domain.config import BusinessCalendar, DeskConfig
from chalicelib.domain.history import CREATED, PRIORITY_CHANGED, REPLY, STATUS_CHANGED, HistoryEvent
from chalicelib.domain.tickets import Ticket

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
RUNNING_CATEGORIES = frozenset({"new", "active"})  # "waiting" pauses the clocks, "done" stops them
DONE = "done"


@dataclass(frozen=True)
class Period:
    """A stretch of time a ticket spent in one status; the current one has no end."""

    status: str
    category: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class Timeline:
    ticket_id: str
    opened_at: datetime
    priority: str
    periods: tuple[Period, ...]
    first_response_at: datetime | None
    event_count: int

    @property
    def current(self) -> Period:
        return self.periods[-1]


def timeline(ticket_id: str, events: Iterable[HistoryEvent]) -> Timeline | None:
    """A ticket's periods in each status, from its events in key order; None until its creation is known."""
    ordered = sorted(events, key=lambda e: e.key)
    created = next((e for e in ordered if e.kind == CREATED), None)
    if created is None:
        return None
    opened_at = created.at
    status, category, start = str(created.data["status"]), str(created.data["category"]), created.at
    priority = str(created.data["priority"])
    periods: list[Period] = []
    first_response: datetime | None = None
    for event in ordered:
        if event.kind == STATUS_CHANGED and event.at >= start:
            periods.append(Period(status, category, start, event.at))
            status, category, start = str(event.data["to"]), str(event.data["to_category"]), event.at
        elif event.kind == PRIORITY_CHANGED:
            priority = str(event.data["to"])
        elif event.kind == REPLY and first_response is None:
            first_response = event.at
    periods.append(Period(status, category, start, None))
    return Timeline(ticket_id, opened_at, priority, tuple(periods), first_response, len(ordered))


def unchanged_timeline(ticket: Ticket, category: str) -> Timeline:
    """The timeline of a ticket never changed since it was opened (comments aside), from the ticket alone."""
    return Timeline(
        ticket_id=ticket.id,
        opened_at=ticket.created_at,
        priority=ticket.priority,
        periods=(Period(ticket.status, category, ticket.status_since, None),),
        first_response_at=ticket.first_response_at,
        event_count=0,
    )


@dataclass(frozen=True)
class StatusTime:
    status: str
    visits: int
    wall: timedelta
    business: timedelta


@dataclass(frozen=True)
class Timer:
    """One SLA clock as of the ticket's last change; `view` brings it up to a given moment.

    `elapsed` is the clock time used in the finished running stretches; while running, time since
    `running_since` adds to it. `at_risk_at` and `breached_at` are when the used time reaches the at-risk
    share and the target: already past, or projected for the current stretch. A breach is the moment the
    used time goes beyond the target, so a timer met exactly on its due time is met in time.
    """

    kind: str
    target: timedelta
    clock: str
    elapsed: timedelta
    running_since: datetime | None
    met_at: datetime | None
    stopped: bool
    at_risk_at: datetime | None
    breached_at: datetime | None


@dataclass(frozen=True)
class Tracker:
    """What the stream pipeline keeps per ticket, apart from the ticket item."""

    ticket_id: str
    opened_at: datetime
    priority: str
    status: str
    category: str
    status_since: datetime
    event_count: int
    time_in_status: tuple[StatusTime, ...]  # finished stays only; the current one is `status` since `status_since`
    timers: tuple[Timer, ...]

    @property
    def next_due_at(self) -> datetime | None:
        """The earliest at-risk or breach moment of a running timer: what the SLA sweep looks for."""
        moments = [
            moment
            for timer in self.timers
            if timer.running_since is not None
            for moment in (timer.at_risk_at, timer.breached_at)
            if moment is not None
        ]
        return min(moments) if moments else None


def _running(periods: Iterable[Period], until: datetime | None = None) -> list[tuple[datetime, datetime | None]]:
    """The stretches in which the SLA clocks ran ("new" and "active" statuses), cut off at `until`."""
    stretches: list[tuple[datetime, datetime | None]] = []
    for period in periods:
        if period.category not in RUNNING_CATEGORIES:
            continue
        start, end = period.start, period.end
        if until is not None:
            if start >= until:
                continue
            end = until if end is None else min(end, until)
        stretches.append((start, end))
    return stretches


def _timer(
    kind: str,
    target: timedelta,
    clock: str,
    share: float,
    calendar: BusinessCalendar,
    stretches: list[tuple[datetime, datetime | None]],
    met_at: datetime | None,
    stopped: bool,
) -> Timer:
    used = ZERO
    running_since: datetime | None = None
    at_risk_at: datetime | None = None
    breached_at: datetime | None = None
    risk = target * share
    for start, end in stretches:
        if at_risk_at is None:
            # At risk once the share is reached, so a stretch ending right on that moment leaves the timer at risk.
            moment = deadline(calendar, clock, start, risk - used)
            if moment is not None and (end is None or moment <= end):
                at_risk_at = moment
        if breached_at is None:
            moment = deadline(calendar, clock, start, target - used)
            if moment is not None and (end is None or moment < end):
                breached_at = moment
        if end is None:
            running_since = start
        else:
            used += elapsed(calendar, clock, start, end)
    return Timer(kind, target, clock, used, running_since, met_at, stopped, at_risk_at, breached_at)


def track(config: DeskConfig, line: Timeline) -> Tracker:
    """Time in each status and the SLA timers under the target for the ticket's current priority.

    A priority change therefore recomputes the due times from the ticket's start under the new target.
    """
    calendar = config.sla.calendar
    totals: dict[str, StatusTime] = {}
    for period in line.periods[:-1]:
        _add_stay(totals, calendar, period.status, period.start, period.end or period.start)
    current = line.current
    timers: list[Timer] = []
    target = config.sla.targets.get(line.priority)
    if target is not None:
        share = config.sla.at_risk_share
        done = current.category == DONE
        first = line.first_response_at
        timers.append(
            _timer(
                FIRST_RESPONSE,
                timedelta(minutes=target.first_response_minutes),
                target.clock,
                share,
                calendar,
                _running(line.periods, until=first),
                first,
                first is None and done,
            )
        )
        timers.append(
            _timer(
                RESOLUTION,
                timedelta(minutes=target.resolution_minutes),
                target.clock,
                share,
                calendar,
                _running(line.periods),
                current.start if done else None,
                False,
            )
        )
    return Tracker(
        ticket_id=line.ticket_id,
        opened_at=line.opened_at,
        priority=line.priority,
        status=current.status,
        category=current.category,
        status_since=current.start,
        event_count=line.event_count,
        time_in_status=tuple(totals.values()),
        timers=tuple(timers),
    )


@dataclass(frozen=True)
class TimerView:
    """A timer as it stands at one moment."""

    kind: str
    state: str  # "running", "paused", "met" or "stopped" (closed without a reply)
    target: timedelta
    clock: str
    elapsed: timedelta
    remaining: timedelta
    due_at: datetime | None
    at_risk: bool
    breached: bool
    met_at: datetime | None


def view(calendar: BusinessCalendar, timer: Timer, now: datetime) -> TimerView:
    used = timer.elapsed
    if timer.running_since is not None and now > timer.running_since:
        used += elapsed(calendar, timer.clock, timer.running_since, now)
    if timer.met_at is not None:
        state = "met"
    elif timer.stopped:
        state = "stopped"
    elif timer.running_since is not None:
        state = "running"
    else:
        state = "paused"
    breached = timer.breached_at is not None and timer.breached_at < now
    at_risk = (
        not breached and state in ("running", "paused") and timer.at_risk_at is not None and timer.at_risk_at <= now
    )
    return TimerView(
        kind=timer.kind,
        state=state,
        target=timer.target,
        clock=timer.clock,
        elapsed=used,
        remaining=timer.target - used,
        due_at=timer.breached_at if state == "running" else None,
        at_risk=at_risk,
        breached=breached,
        met_at=timer.met_at,
    )


def time_in_status(calendar: BusinessCalendar, tracker: Tracker, now: datetime) -> list[StatusTime]:
    """Accumulated time per status, the current stay counted up to `now`; in order of first visit."""
    totals = {s.status: s for s in tracker.time_in_status}
    _add_stay(totals, calendar, tracker.status, tracker.status_since, max(now, tracker.status_since))
    return list(totals.values())


def _add_stay(
    totals: dict[str, StatusTime], calendar: BusinessCalendar, status: str, start: datetime, end: datetime
) -> None:
    known = totals.get(status, StatusTime(status, 0, ZERO, ZERO))
    totals[status] = StatusTime(
        status,
        known.visits + 1,
        known.wall + (end - start),
        known.business + business_time(calendar, start, end),
    )
