"""What-if SLA (`POST /reports/sla/what-if`): replay the timers of a period's tickets under a proposed policy.

Reads only, through keys and indexes: the period's tickets from the tickets' `by_state` index (one Query per open or
done state and priority rank, a key range of creation times), each ticket's history (one Query), and the live
trackers (one BatchGetItem per hundred). Its cost grows with the tickets of the period, so a period holding more
than `max_tickets` is refused (the reading stops at one more than the limit). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain import sla, what_if
from chalicelib.domain.config import DeskConfig, SlaPolicy, parse_sla_policy
from chalicelib.domain.errors import MalformedRequestError, ValidationError
from chalicelib.domain.tickets import DATE_PATTERN
from chalicelib.services.desk import Desk
from chalicelib.services.ports import StoredConfig

# Measured under moto (the local run's store, one 2-core machine): 1,000 tickets with three changes each replay in
# 4.4 s, nearly all of it the one history Query per ticket; on DynamoDB those Queries take a few milliseconds each,
# so some 5-10 s, within the API function's 20 s timeout with room for longer histories.
MAX_TICKETS = 1000
MAX_DAYS = 366  # as the reports: the ticket limit bounds the work, this only a mistyped year
DEFAULT_DAYS = 30
STATES = ("open", "done")
# Done tickets keep the priority rank they closed with: the ranks of the versions in force since the period began
# are looked in too, from at most this many stored versions (newest first).
VERSIONS_READ = 50
BODY_KEYS = {"from", "to", "sla"}
FIRST_YEAR, LAST_YEAR = 1970, 9998


class PeriodTooLargeError(MalformedRequestError):
    """More tickets (or days) than one request replays; the message names the limit."""

    code = "period_too_large"


@dataclass(frozen=True)
class PeriodTicket:
    """What the answer shows of a ticket, from the index item."""

    ticket_id: str
    ref: str
    title: str
    created_at: datetime


class CreatedTickets(Protocol):
    def created_between(self, state: str, rank: int, first: datetime, last: datetime, limit: int) -> list[PeriodTicket]:
        """Open or done tickets stored with a priority rank, created from `first` to `last` (both included),
        oldest first, at most `limit` of them."""


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # included


class WhatIf:
    def __init__(self, desk: Desk, created: CreatedTickets, max_tickets: int | None = None) -> None:
        self.desk = desk
        self.created = created
        self.max_tickets = MAX_TICKETS if max_tickets is None else max_tickets

    def compare(self, body: Any) -> dict[str, Any]:
        """Both columns for the period's tickets: `{"from", "to", "sla"}` (see the README)."""
        config = self.desk.config()
        period, proposed = self.request(config, body)
        now = self.desk.clock.now()
        tickets = self.tickets(config, period)
        replays, differing, unrecorded = self.replay(config, proposed, tickets, now)
        return what_if.answer(
            config,
            proposed,
            period.first,
            period.last,
            now,
            replays,
            {
                "limits": {"max_tickets": self.max_tickets, "max_days": MAX_DAYS},
                # Live timers computed before a change of the SLA policy (they follow it from their ticket's next
                # change), or not yet brought up to date by the stream: the current column shows them as they are.
                "live_differs": differing,
                "not_yet_recorded": unrecorded,
            },
        )

    # the request -------------------------------------------------------------------------------------

    def request(self, config: DeskConfig, body: Any) -> tuple[Period, SlaPolicy]:
        if not isinstance(body, dict):
            raise MalformedRequestError('send {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "sla": {...}}')
        errors = dict.fromkeys(sorted(set(body) - BODY_KEYS), "is not a known field; send from, to and sla")
        period: Period | None = None
        try:
            period = self.period(config, body)
        except ValidationError as failure:
            errors.update(failure.errors)
        policy: SlaPolicy | None = None
        if "sla" not in body:
            errors["sla"] = "is required: the proposed SLA policy, shaped as the configuration's sla"
        elif not isinstance(body["sla"], dict):
            errors["sla"] = "must be an object: the proposed SLA policy, shaped as the configuration's sla"
        else:
            try:
                policy = parse_sla_policy(body["sla"], config.priorities, self.desk.public_holidays)
            except ValidationError as failure:
                errors.update(failure.errors)
        if errors or period is None or policy is None:
            raise ValidationError("the what-if request is not valid", errors)
        return period, policy

    def period(self, config: DeskConfig, body: Mapping[str, Any]) -> Period:
        """Local days of the desk's calendar, both included; by default the 30 days up to today."""
        today = self.desk.clock.now().astimezone(ZoneInfo(config.sla.calendar.timezone)).date()
        errors: dict[str, str] = {}
        last = _date(body.get("to"), "to", errors) or today
        first = _date(body.get("from"), "from", errors)
        if errors:
            raise ValidationError("the dates are not valid", errors)
        if first is None:
            first = last - timedelta(days=DEFAULT_DAYS - 1) if last > date.min + timedelta(days=DEFAULT_DAYS) else last
        if first > last:
            raise ValidationError("the period ends before it starts", {"from": "must not be after to"})
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError("the period is too long", {"from": f"a what-if covers at most {MAX_DAYS} days"})
        return Period(first, last)

    # reading -----------------------------------------------------------------------------------------

    def tickets(self, config: DeskConfig, period: Period) -> list[PeriodTicket]:
        """The tickets created in the period, read until one more than the limit."""
        zone = ZoneInfo(config.sla.calendar.timezone)
        start = datetime.combine(period.first, time(), zone).astimezone(UTC)
        after = datetime.combine(period.last + timedelta(days=1), time(), zone).astimezone(UTC)
        end = after - timedelta(microseconds=1)
        open_ranks = {p.rank for p in config.priorities.values()}
        ranks = {"open": open_ranks, "done": open_ranks | self._past_ranks(start)}
        found: list[PeriodTicket] = []
        for state in STATES:
            for rank in sorted(ranks[state]):
                found += self.created.created_between(state, rank, start, end, self.max_tickets - len(found) + 1)
                if len(found) > self.max_tickets:
                    raise PeriodTooLargeError(
                        f"the period holds more than {self.max_tickets} tickets; choose a shorter period",
                        limit=self.max_tickets,
                    )
        return sorted(found, key=lambda t: (t.created_at, t.ticket_id))

    def _past_ranks(self, start: datetime) -> set[int]:
        """The priority ranks of the configuration versions in force at some time since `start`."""
        ranks: set[int] = set()
        for stored in self.desk.store.config_versions(VERSIONS_READ):
            ranks |= _ranks(stored)
            if stored.updated_at <= start:
                break  # the version in force when the period began; older ones ended before it
        return ranks

    def replay(
        self, config: DeskConfig, policy: SlaPolicy, tickets: list[PeriodTicket], now: datetime
    ) -> tuple[list[what_if.TicketReplay], int, int]:
        """Each ticket's timers: the live ones (the current column) and its history replayed under the proposal;
        with how many live trackers differ from their history replayed under the current configuration, and how
        many tickets the stream has not recorded yet (left out)."""
        proposed = what_if.with_policy(config, policy)
        live = self.desk.events.trackers([t.ticket_id for t in tickets])
        replays: list[what_if.TicketReplay] = []
        differing = unrecorded = 0
        for ticket in tickets:
            line = sla.timeline(ticket.ticket_id, self.desk.events.all_events(ticket.ticket_id))
            if line is None:
                unrecorded += 1
                continue
            replayed, current = what_if.replay(config, line, now)
            stored = live.get(ticket.ticket_id)
            if stored is None or stored != replayed:
                differing += 1
            if stored is not None:
                current = what_if.judge(config.sla.calendar, stored, now)
            _, outcomes = what_if.replay(proposed, line, now)
            replays.append(
                what_if.TicketReplay(ticket.ticket_id, ticket.ref, ticket.title, line.priority, current, outcomes)
            )
        return replays, differing, unrecorded


def _ranks(stored: StoredConfig) -> set[int]:
    priorities = stored.document.get("priorities")
    if not isinstance(priorities, list):
        return set()
    return {
        p["rank"]
        for p in priorities
        if isinstance(p, dict) and isinstance(p.get("rank"), int) and not isinstance(p["rank"], bool)
        if 0 <= p["rank"] <= 99
    }


def _date(raw: Any, name: str, errors: dict[str, str]) -> date | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not DATE_PATTERN.match(raw):
        errors[name] = "must be a date as YYYY-MM-DD"
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors[name] = "is not a real date"
        return None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # its local midnight must be a UTC instant too
        errors[name] = f"must be a date from {FIRST_YEAR} to {LAST_YEAR}"
        return None
    return day
