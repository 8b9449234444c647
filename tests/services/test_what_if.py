"""What-if SLA through the services with in-memory stores: each write goes through the real stream pipeline (as the
tickets stream would carry it), which keeps the trackers and the report counters; the what-if then replays the
recorded histories.

* Under the unchanged policy the replay equals the live figures: every stored tracker, and the SLA report's
  met, breached and median figures for the same tickets (property test over random histories).
* A hand-computed case: tightening the first-response target turns exactly the named tickets into breaches.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import sla, stats, what_if
from chalicelib.domain.agents import Agent
from chalicelib.domain.config import DeskConfig, default_config
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.reports import Row
from chalicelib.domain.tickets import Comment, Ticket
from chalicelib.services.desk import Desk
from chalicelib.services.pipeline import CommentWritten, Pipeline, TicketWritten
from chalicelib.services.ports import IdempotencyClaim, StoredContribution
from chalicelib.services.reports import Reports
from chalicelib.services.what_if import PeriodTicket, PeriodTooLargeError, WhatIf
from tests.clocks import START, ManualClock

from .fakes import TICKET_SK, FakeDeskStore, FakeEventStore, FakeTicketStore, SequentialIds

ZONE = ZoneInfo("Europe/London")  # the default configuration's calendar
ADA = Agent("agent-ada", "Ada", "ada@example.org", "admin", START)
PRIORITIES = ("critical", "high", "medium", "low")
WAITS = (0, 5, 45, 130, 300, 600, 24 * 60, 3 * 24 * 60)  # minutes: within an hour, a day, across nights and weekends


class StreamedTickets(FakeTicketStore):
    """The tickets table whose every write the stream pipeline processes at once, old and new images as stored."""

    pipeline: Pipeline

    def create(self, ticket: Ticket, claim: IdempotencyClaim | None) -> None:
        super().create(ticket, claim)
        self.pipeline.apply(TicketWritten(None, self.tickets[(ticket.id, TICKET_SK)]))

    def save(self, ticket: Ticket, expected_version: int, comment: Comment | None = None) -> Ticket:
        old = self.tickets[(ticket.id, TICKET_SK)]
        saved = super().save(ticket, expected_version, comment)
        self.pipeline.apply(TicketWritten(old, self.tickets[(ticket.id, TICKET_SK)]))
        if comment is not None:
            self.pipeline.apply(CommentWritten(comment))
        return saved

    def add_comment(self, ticket: Ticket, comment: Comment) -> None:
        super().add_comment(ticket, comment)
        self.pipeline.apply(CommentWritten(comment))


class MemoryStats:
    """The report aggregates: each ticket's stored contribution; the cells are their sums."""

    def __init__(self) -> None:
        self.stored_by_ticket: dict[str, StoredContribution] = {}

    def stored(self, ticket_id: str) -> StoredContribution | None:
        return self.stored_by_ticket.get(ticket_id)

    def apply(
        self, ticket_id: str, event_count: int, stored: StoredContribution | None, new: stats.Contribution
    ) -> bool:
        if self.stored_by_ticket.get(ticket_id) != stored:
            return False
        revision = stored.revision + 1 if stored else 1
        self.stored_by_ticket[ticket_id] = StoredContribution(revision, event_count, new)
        return True

    def cells(self, dim: str, first_day: str, last_day: str) -> list[Row]:
        summed: dict[tuple[str, str], dict[str, int]] = {}
        for held in self.stored_by_ticket.values():
            for cell, counts in held.contribution.counters.items():
                if cell.dim == dim and cell.day and first_day <= cell.day <= last_day:
                    into = summed.setdefault((cell.day, cell.value), {})
                    for name, count in counts.items():
                        into[name] = into.get(name, 0) + count
        return [Row(day, value, counts) for (day, value), counts in sorted(summed.items())]

    def open_counts(self) -> dict[tuple[str, str], int]:
        return {}

    def comments(
        self, first_day: str, last_day: str, limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return [], None


class CreatedFromStore:
    """The by_state index's key range, over the fake table: open or done, one stored rank, created in [first, last]."""

    def __init__(self, tickets: FakeTicketStore) -> None:
        self.source = tickets
        self.reads: list[tuple[str, int, int]] = []

    def created_between(self, state: str, rank: int, first: datetime, last: datetime, limit: int) -> list[PeriodTicket]:
        self.reads.append((state, rank, limit))
        found = sorted(
            (t for t in self.source.tickets.values() if t.is_open == (state == "open") and t.priority_rank == rank),
            key=lambda t: (t.created_at, t.id),
        )
        return [PeriodTicket(t.id, t.ref, t.subject, t.created_at) for t in found if first <= t.created_at <= last][
            :limit
        ]


class Harness:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.store = FakeDeskStore()
        self.tickets = StreamedTickets(desk_table=self.store.items)
        self.events = FakeEventStore()
        self.stats = MemoryStats()
        self.desk = Desk(self.tickets, self.store, clock, SequentialIds(), self.events)
        self.pipeline = Pipeline(self.events, self.desk.config, self.tickets, stats=self.stats, clock=clock)
        self.tickets.pipeline = self.pipeline
        self.created = CreatedFromStore(self.tickets)

    @property
    def config(self) -> DeskConfig:
        return self.desk.config()

    def open(self, subject: str, priority: str) -> Ticket:
        opened = self.desk.open_ticket(
            {
                "type": "question",
                "subject": subject,
                "description": "It does not work.",
                "requester_name": "Rosa Diaz",
                "requester_email": "rosa@example.org",
            },
            from_form=False,
            idempotency_key=None,
        ).ticket
        if opened.priority != priority:
            return self.desk.change(opened.id, {"priority": priority, "version": opened.version}, ADA)
        return opened

    def reply(self, ticket_id: str, public: bool = True) -> None:
        self.desk.comment(ticket_id, {"body": "On it.", "public": public}, ADA)

    def move(self, ticket_id: str, to: str) -> None:
        ticket = self.tickets.get(ticket_id)
        assert ticket is not None
        self.desk.transition(ticket_id, {"to": to, "version": ticket.version}, ADA)

    def wait(self, minutes: int) -> None:
        self.clock.current += timedelta(minutes=minutes)

    def sweep(self) -> None:
        """What the SLA sweep does for a timer that went over its target unchanged: refresh the ticket now."""
        for (ticket_id, _), _ticket in list(self.tickets.tickets.items()):
            self.pipeline.refresh(ticket_id, self.config)

    def what_if(self, policy: Mapping[str, Any], first: str, last: str, limit: int = 1000) -> dict[str, Any]:
        return WhatIf(self.desk, self.created, limit).compare({"from": first, "to": last, "sla": policy})


def local_day(moment: datetime) -> str:
    return moment.astimezone(ZONE).date().isoformat()


def targets_with(first_response: Mapping[str, str]) -> dict[str, Any]:
    policy = copy.deepcopy(default_config().document["sla"])
    for key, value in first_response.items():
        policy["targets"][key]["first_response"] = value
    return policy


# the replay under the unchanged policy is the live figures ---------------------------------------------------

STEP = st.tuples(
    st.sampled_from(("move", "move", "reply", "note", "priority")),
    st.integers(0, 3),  # which ticket (modulo how many there are)
    st.integers(0, 9),  # which transition or priority
    st.sampled_from(WAITS),
)


@settings(max_examples=25, deadline=None)
@given(
    opened=st.lists(st.tuples(st.sampled_from(PRIORITIES), st.sampled_from(WAITS)), min_size=1, max_size=4),
    steps=st.lists(STEP, max_size=14),
    last_wait=st.sampled_from(WAITS),
)
def test_replaying_under_the_unchanged_policy_gives_the_live_trackers_and_the_sla_report(
    opened: list[tuple[str, int]], steps: list[tuple[str, int, int, int]], last_wait: int
) -> None:
    desk = Harness(ManualClock(START))
    ids: list[str] = []
    for n, (priority, wait) in enumerate(opened):
        desk.wait(wait)
        ids.append(desk.open(f"Ticket {n}", priority).id)
    for action, which, choice, wait in steps:
        desk.wait(wait)
        ticket = desk.tickets.get(ids[which % len(ids)])
        assert ticket is not None
        if action == "move":
            moves = [t.to_status for t in desk.config.workflow_of(ticket.type).transitions_from(ticket.status, "agent")]
            desk.move(ticket.id, moves[choice % len(moves)])
        elif action in ("reply", "note"):
            desk.reply(ticket.id, public=action == "reply")
        else:
            desk.desk.change(ticket.id, {"priority": PRIORITIES[choice % 4], "version": ticket.version}, ADA)
    desk.wait(last_wait)
    desk.sweep()
    config, now = desk.config, desk.clock.now()
    first, last = local_day(START), local_day(now)

    answer = desk.what_if(config.document["sla"], first, last)

    for ticket_id in ids:  # the live tracker is the history replayed, so the current column is the replay
        line = sla.timeline(ticket_id, desk.events.all_events(ticket_id))
        assert line is not None
        assert what_if.replay(config, line, now)[0] == desk.events.tracker(ticket_id)
    assert (answer["tickets"], answer["live_differs"], answer["not_yet_recorded"]) == (len(ids), 0, 0)
    assert answer["flips"] == []
    for group in answer["groups"]:
        assert group["current"] == group["proposed"]

    report = Reports(desk.stats, desk.desk.config, desk.store, desk.clock).sla(
        {"from": first, "to": last, "group_by": "priority"}
    )
    live = {g["key"]: g for g in report["groups"]} | {"all": report["total"]}
    for group in answer["groups"]:
        for timer in what_if.TIMERS:
            replayed = group["current"][timer]
            counted = live[group["key"]][timer] if group["key"] in live else None
            if counted is None:  # the report leaves out a group with nothing met, breached or measured
                assert (replayed["met"], replayed["breached"], replayed["measured"]) == (0, 0, 0)
                continue
            assert (replayed["met"], replayed["breached"], replayed["measured"]) == (
                counted["met"],
                counted["breached"],
                counted["measured"],
            )
            assert replayed["compliance_percent"] == counted["compliance_percent"]
            if counted["median_seconds"] is None:
                assert replayed["median_seconds"] is None
            else:  # the report keeps durations to three significant figures of a second
                assert (
                    abs(replayed["median_seconds"] - counted["median_seconds"]) <= 1 + counted["median_seconds"] / 200
                )


# tightening a target, computed by hand -------------------------------------------------------------------------


def test_a_tighter_first_response_target_breaches_exactly_the_tickets_answered_later_than_it(
    clock: ManualClock,
) -> None:
    """Monday 23 Nov 2026, 09:00 London: four medium tickets (first response 8 business hours) and one low one,
    answered 1, 3 and 5 hours later, one not at all, the low one after 3 hours. At 17:00 under a 2-hour medium
    target: the 3- and 5-hour ones are breached, the 1-hour one still met, the unanswered one breached (8 business
    hours without a reply, where 8 were allowed: running before), the low one untouched."""
    desk = Harness(clock)
    quick, slower, slowest, silent = (desk.open(name, "medium") for name in ("Quick", "Slower", "Slowest", "Silent"))
    low = desk.open("Low", "low")
    for hours, ticket in ((1, quick), (2, slower), (2, slowest)):
        desk.wait(hours * 60)
        desk.reply(ticket.id)
        if ticket is slower:
            desk.reply(low.id)
    desk.wait(3 * 60)  # 17:00, closing time
    assert desk.clock.now() == START + timedelta(hours=8)
    day = local_day(START)

    answer = desk.what_if(targets_with({"medium": "2h"}), day, day)

    flipped = sorted((f["ref"], f["timer"], f["current"], f["proposed"]) for f in answer["flips"])
    assert flipped == sorted(
        [
            (slower.ref, "first_response", "met", "breached"),
            (slowest.ref, "first_response", "met", "breached"),
            (silent.ref, "first_response", "running", "breached"),
        ]
    )
    medium = next(g for g in answer["groups"] if g["key"] == "medium")
    assert {k: medium["current"]["first_response"][k] for k in ("met", "breached", "running")} == {
        "met": 3,
        "breached": 0,
        "running": 1,
    }
    assert {k: medium["proposed"]["first_response"][k] for k in ("met", "breached", "running")} == {
        "met": 1,
        "breached": 3,
        "running": 0,
    }
    assert medium["current"]["first_response"]["compliance_percent"] == 100.0
    assert medium["proposed"]["first_response"]["compliance_percent"] == 25.0
    assert medium["proposed"]["first_response"]["median_seconds"] == 3 * 3600  # 1h, 3h, 5h met (late or not)
    assert medium["current"]["resolution"] == medium["proposed"]["resolution"]
    low_group = next(g for g in answer["groups"] if g["key"] == "low")
    assert low_group["current"] == low_group["proposed"]
    assert low_group["proposed"]["first_response"]["met"] == 1
    everyone = answer["groups"][0]
    assert (everyone["key"], everyone["current"]["tickets"]) == ("all", 5)
    assert (everyone["current"]["first_response"]["breached"], everyone["proposed"]["first_response"]["breached"]) == (
        0,
        3,
    )
    assert answer["flip_counts"] == {"met_to_breached": 2, "running_to_breached": 1}
    target = next(t for t in answer["targets"] if t["priority"] == "medium")
    assert (target["current"]["first_response_text"], target["proposed"]["first_response_text"]) == ("8h", "2h")


def test_a_looser_target_turns_a_breach_back_into_met(clock: ManualClock) -> None:
    desk = Harness(clock)
    late = desk.open("Late", "high")  # 4 business hours
    desk.wait(5 * 60)
    desk.reply(late.id)
    day = local_day(START)

    answer = desk.what_if(targets_with({"high": "6h"}), day, day)

    assert [(f["ref"], f["current"], f["proposed"]) for f in answer["flips"]] == [(late.ref, "breached", "met")]


# the period and its limits ---------------------------------------------------------------------------------------


def test_only_the_tickets_created_in_the_local_days_of_the_period_are_replayed(clock: ManualClock) -> None:
    """London is on GMT in November: a ticket at 23:59:59 UTC belongs to that day, one at 00:00 to the next."""
    desk = Harness(clock)
    clock.current = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    inside = desk.open("Inside", "medium")
    clock.current = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    desk.open("Next day", "medium")
    clock.current = datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC)  # the day before (the store is not ordered)
    before = replace(inside, id="before", ref="HD-0", created_at=clock.current)
    desk.tickets.tickets[(before.id, TICKET_SK)] = before
    clock.current = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    answer = desk.what_if(default_config().document["sla"], "2026-11-23", "2026-11-23")

    assert answer["tickets"] == 1
    assert answer["groups"][0]["current"]["tickets"] == 1
    assert next(g for g in answer["groups"] if g["key"] == "medium")["current"]["tickets"] == 1


def test_a_period_with_more_tickets_than_the_limit_is_refused_after_reading_one_more(clock: ManualClock) -> None:
    desk = Harness(clock)
    for n in range(4):
        desk.open(f"Ticket {n}", PRIORITIES[n % 2])
    day = local_day(START)

    with pytest.raises(PeriodTooLargeError, match="more than 3 tickets; choose a shorter period"):
        desk.what_if(default_config().document["sla"], day, day, limit=3)
    # critical (rank 0) holds two, high (rank 1) two: asked for limit + 1, then for what is left of it, then stopped
    assert desk.created.reads == [("open", 0, 4), ("open", 1, 2)]
    assert desk.what_if(default_config().document["sla"], day, day, limit=4)["tickets"] == 4


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "tomorrow"}, "to"),
        ({"from": "2026-11-24", "to": "2026-11-23"}, "from"),
        ({"from": "2025-01-01", "to": "2026-11-23"}, "from"),
        ({"sla": {"calendar": {}, "targets": {}}}, "sla.calendar.timezone"),
        ({"sla": "fast"}, "sla"),
        ({"extra": 1}, "extra"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),  # no UTC instant for its local midnight east of UTC
    ],
)
def test_bad_requests_name_the_field(clock: ManualClock, body: dict[str, Any], path: str) -> None:
    desk = Harness(clock)
    request = {"from": "2026-11-01", "to": "2026-11-23", "sla": default_config().document["sla"], **body}

    with pytest.raises(ValidationError) as refused:
        WhatIf(desk.desk, desk.created).compare(request)

    assert path in refused.value.errors


def test_a_proposal_is_validated_as_the_configuration_s_sla_section(clock: ManualClock) -> None:
    desk = Harness(clock)
    policy = targets_with({"high": "20h"})  # longer than its 16h resolution
    del policy["targets"]["low"]

    with pytest.raises(ValidationError) as refused:
        desk.what_if(policy, "2026-11-23", "2026-11-23")

    assert refused.value.errors == {
        "sla.targets.high.first_response": "cannot be longer than the resolution target",
        "sla.targets.low": "priority 'low' has no SLA targets",
    }
