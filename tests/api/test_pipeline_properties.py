"""The stream pipeline under random work and Lambda-like delivery, checked against a minute-by-minute reference.

Each hypothesis example opens a new ticket, drives a random sequence of waits, transitions (with or without a
comment), replies, internal notes, requester comments and priority changes through the real API, then hands the
tickets stream's real records to the real handler the way Lambda may: split into batches, records duplicated within a
batch, batches redelivered at once or after later ones (or all out of order), one transient store failure with
Lambda's redelivery from the failed record on, and finally a suffix of the stream again. Then:

* the history lists exactly one event per change the example made, in the order it made them;
* the stays in each status (history and the ticket's time in status) add up to the ticket's whole life;
* the SLA timers equal a straightforward computation written here: step minute by minute from the ticket's creation,
  count a minute as business time if that local minute is inside the desk's opening hours.

The reference never calls chalicelib.domain.calendar or sla; it only knows the default configuration's opening
hours, holidays, status categories and targets, written out below.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from chalicelib import wiring
from chalicelib.adapters import images
from tests.api.conftest import DEFECT_FIELDS, Api
from tests.clocks import ManualClock
from tests.streams import Stream

# The default configuration, written out independently of the code under test -----------------------------------

ZONE = ZoneInfo("Europe/London")
HOLIDAYS = frozenset({date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)})
OPENS, CLOSES = 9 * 60, 17 * 60  # minutes after local midnight, Monday to Friday
CATEGORY = {
    "submitted": "new",
    "in_review": "active",
    "approved": "active",
    "in_progress": "active",
    "ready_to_test": "active",
    "in_testing": "active",
    "ready_to_install": "active",
    "client_testing": "waiting",
    "completed": "done",
    "cannot_replicate": "done",
    "waiting_on_requester": "waiting",
    "resolved": "done",
}
RUNNING = frozenset({"new", "active"})
# priority: (clock, first response minutes, resolution minutes)
TARGETS = {
    "critical": ("calendar", 60, 8 * 60),
    "high": ("business", 4 * 60, 16 * 60),
    "medium": ("business", 8 * 60, 40 * 60),
    "low": ("business", 16 * 60, 80 * 60),
}
AT_RISK_PERCENT = 80
PRIORITIES = tuple(TARGETS)
MINUTE = timedelta(minutes=1)
WINTER = datetime(2026, 11, 23, tzinfo=UTC)  # Monday 00:00; London is on GMT until 2027-03-28, holidays ahead
SPRING = datetime(2027, 3, 15, tzinfo=UTC)  # Monday 00:00; London moves to BST (UTC+1) on Sunday 2027-03-28
FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"


def stamp(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def is_open(minute: datetime) -> bool:
    """Whether the minute that starts at `minute` is inside opening hours, read on the desk's local clock."""
    local = minute.astimezone(ZONE)
    of_day = local.hour * 60 + local.minute
    return local.weekday() < 5 and local.date() not in HOLIDAYS and OPENS <= of_day < CLOSES


def open_minutes(start: datetime, end: datetime) -> int:
    count, minute = 0, start
    while minute < end:
        count += is_open(minute)
        minute += MINUTE
    return count


# What the test did to its ticket, recorded by the test ---------------------------------------------------------


@dataclass
class Life:
    ticket_id: str
    portal_token: str
    created: datetime
    priority: str
    stays: list[tuple[str, datetime]]  # (status, since), oldest first; the last is the current one
    expected: list[dict[str, Any]] = field(default_factory=list)  # the history events, in the order made
    first_reply: datetime | None = None

    @property
    def status(self) -> str:
        return self.stays[-1][0]

    def status_at(self, minute: datetime) -> str:
        """The status during the minute starting at `minute` (a stay of no length never holds a minute)."""
        current = self.stays[0][0]
        for status, since in self.stays:
            if since > minute:
                break
            current = status
        return current


def reference_timer(life: Life, kind: str, now: datetime) -> dict[str, Any]:
    """One SLA timer as the API shows it, by stepping minute by minute through the ticket's life (and beyond `now`
    while it runs, to find when it falls due)."""
    clock, first_response, resolution = TARGETS[life.priority]
    target = first_response if kind == FIRST_RESPONSE else resolution
    risk = target * AT_RISK_PERCENT // 100  # every target is a whole multiple of 5 minutes
    stop = life.first_reply if kind == FIRST_RESPONSE else None
    current = CATEGORY[life.status]
    runs_now = current in RUNNING and stop is None

    used = 0  # minutes on the timer's clock before `minute`
    due: datetime | None = None  # the first running instant at which the used time has reached the target
    minute = life.created
    while minute < now:
        if CATEGORY[life.status_at(minute)] in RUNNING and (stop is None or minute < stop):
            if due is None and used >= target:
                due = minute
            used += clock == "calendar" or is_open(minute)
        minute += MINUTE
    used_now = used
    if runs_now:
        while due is None:  # the current stay goes on: when does the target run out?
            if used >= target:
                due = minute
            used += clock == "calendar" or is_open(minute)
            minute += MINUTE

    met_at: datetime | None = None
    if kind == FIRST_RESPONSE:
        met_at = life.first_reply
        state = "met" if met_at else "stopped" if current == "done" else "running" if runs_now else "paused"
    else:
        met_at = life.stays[-1][1] if current == "done" else None
        state = "met" if met_at else "running" if runs_now else "paused"
    breached = due is not None and due < now  # a timer met exactly on its due instant is met in time
    return {
        "state": state,
        "clock": clock,
        "target_seconds": target * 60,
        "elapsed_seconds": used_now * 60,
        "remaining_seconds": (target - used_now) * 60,
        "due_at": stamp(due) if state == "running" else None,
        "at_risk": not breached and state in ("running", "paused") and used_now >= risk,
        "breached": breached,
        "met_at": stamp(met_at),
    }


def reference_time_in_status(life: Life, now: datetime) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    ends = [since for _, since in life.stays[1:]] + [now]
    for (status, since), end in zip(life.stays, ends, strict=True):
        total = totals.setdefault(
            status, {"key": status, "category": CATEGORY[status], "visits": 0, "wall_seconds": 0, "business_seconds": 0}
        )
        total["visits"] += 1
        total["wall_seconds"] += int((end - since).total_seconds())
        total["business_seconds"] += open_minutes(since, end) * 60
    return list(totals.values())


# Actions ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wait:
    minutes: int


@dataclass(frozen=True)
class Move:
    choice: int  # index into the ticket's allowed transitions, modulo their number
    comment: str | None = None  # None, "reply" or "note": a comment made with the transition


@dataclass(frozen=True)
class Comment:
    kind: str  # "reply", "note" or "requester_comment"


@dataclass(frozen=True)
class Prioritise:
    priority: str


Action = Wait | Move | Comment | Prioritise

waits = st.one_of(
    st.integers(0, 90),
    st.integers(1, 30).map(lambda hours: hours * 60),
    st.integers(1, 3).map(lambda days: days * 24 * 60),
).map(Wait)
moves = st.builds(Move, st.integers(0, 3), st.sampled_from([None, None, "reply", "note"]))
comments = st.sampled_from(["reply", "note", "requester_comment"]).map(Comment)
priorities = st.sampled_from(PRIORITIES).map(Prioritise)
actions = st.lists(st.one_of(waits, waits, moves, moves, moves, comments, priorities), max_size=12)
starts = st.builds(
    lambda base, minutes: base + timedelta(minutes=minutes),
    st.sampled_from([WINTER, SPRING]),
    st.integers(0, 40 * 24 * 60 - 1),
)


# Delivery as Lambda may do it --------------------------------------------------------------------------------------

FAULTS = ("add", "add_after_write", "save_tracker")


@dataclass(frozen=True)
class Delivery:
    """How the example's records reach the handler. Indices are taken modulo what exists, so any plan fits any run."""

    cuts: frozenset[int] = frozenset()  # split the records into consecutive batches before these positions
    duplicates: tuple[tuple[int, int], ...] = ()  # (record, position): a copy of a record put into its batch again
    order: tuple[int, ...] | None = None  # deliver the batches in this order (a permutation) instead of the stream's
    repeats: frozenset[int] = frozenset()  # batches redelivered at once
    late: tuple[int, ...] = ()  # batches redelivered after all the others
    fault: tuple[str, int] | None = None  # the store's n-th call of this kind fails once
    suffix: int = 0  # at the end, everything from this record on comes again


deliveries = st.builds(
    Delivery,
    cuts=st.frozensets(st.integers(1, 15), max_size=5),
    duplicates=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=3).map(tuple),
    order=st.none() | st.permutations(range(6)).map(tuple),
    repeats=st.frozensets(st.integers(0, 5), max_size=3),
    late=st.lists(st.integers(0, 5), max_size=3).map(tuple),
    fault=st.none() | st.tuples(st.sampled_from(FAULTS), st.integers(0, 10)),
    suffix=st.integers(0, 40),
)


class InjectedFaultError(RuntimeError):
    """A store call failing as a throttled or timed-out DynamoDB request would."""


@dataclass
class Faults:
    kind: str | None
    nth: int
    calls: int = 0
    decoding: dict[str, Any] | None = None  # the record the handler is working on
    failed: list[dict[str, Any]] = field(default_factory=list)  # the records during which a fault fired

    def fires(self, kind: str) -> bool:
        if kind != self.kind:
            return False
        self.calls += 1
        if self.calls - 1 != self.nth:
            return False
        assert self.decoding is not None, "the handler no longer decodes through chalicelib.adapters.images"
        self.failed.append(self.decoding)
        return True


@contextmanager
def injected(fault: tuple[str, int] | None) -> Iterator[Faults]:
    faults = Faults(*(fault or (None, 0)))
    store = wiring.pipeline().events
    real_decode, real_add, real_save = images.decode_record, store.add, store.save_tracker

    def decode(raw: dict[str, Any]) -> Any:
        faults.decoding = raw
        return real_decode(raw)

    def add(events: list[Any]) -> int:
        if faults.fires("add"):
            raise InjectedFaultError("events not written")
        if faults.fires("add_after_write"):
            real_add(events[:1])
            raise InjectedFaultError("the first event was written, then the call failed")
        return real_add(events)

    def save_tracker(tracker: Any) -> bool:
        if faults.fires("save_tracker"):
            raise InjectedFaultError("tracker not saved")
        return real_save(tracker)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(images, "decode_record", decode)
        patch.setattr(store, "add", add)
        patch.setattr(store, "save_tracker", save_tracker)
        yield faults


def sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def deliver_until_done(stream: Stream, batch: list[dict[str, Any]], faults: Faults) -> None:
    """One batch, and Lambda's redelivery from the first failed record on while the handler reports failures."""
    pending = batch
    for _ in range(3):
        faults.failed.clear()
        failed = stream.deliver(pending)
        assert failed == [sequence(r) for r in faults.failed], "only the record that met the fault may be reported"
        if not failed:
            return
        numbers = [sequence(r) for r in pending]
        pending = pending[min(numbers.index(n) for n in failed) :]
    pytest.fail(f"records kept failing: {failed}")


def deliver(stream: Stream, records: list[dict[str, Any]], plan: Delivery) -> str:
    """Deliver the records as `plan` says; what was done, for hypothesis's statistics."""
    count = len(records)
    cuts = sorted({c % count for c in plan.cuts} - {0}) if count else []
    batches = [records[a:b] for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
    for record, position in plan.duplicates:
        source = record % count
        home = next(i for i, b in enumerate(batches) if records[source] in b)
        batch = batches[home]
        batches[home] = [
            *batch[: position % (len(batch) + 1)],
            copy.deepcopy(records[source]),
            *batch[position % (len(batch) + 1) :],
        ]
    order = [i for i in plan.order or range(len(batches)) if i < len(batches)]
    schedule: list[int] = []
    for index in order:
        schedule.append(index)
        if index in plan.repeats:
            schedule.append(index)
    schedule.extend(i % len(batches) for i in plan.late)
    with injected(plan.fault) as faults:
        for index in schedule:
            deliver_until_done(stream, batches[index], faults)
    if count:
        assert stream.deliver(records[plan.suffix % count :]) == []
    return (
        f"{len(batches)} batches, {len(schedule)} deliveries, fault {'fired' if faults.calls > faults.nth else 'none'}"
    )


# The desk: one moto and one app for the module, a new ticket per example -------------------------------------------


@dataclass
class Desk:
    api: Api
    stream: Stream
    clock: ManualClock
    opened: int = 0


TABLE_VARIABLES = {
    "HELPDESK_TICKETS_TABLE": "TicketsTableName",
    "HELPDESK_DESK_TABLE": "DeskTableName",
    "HELPDESK_EVENTS_TABLE": "EventsTableName",
}


@pytest.fixture(scope="module")
def desk() -> Iterator[Desk]:
    """What tests/conftest.py's `aws` and tests/api/conftest.py's `api` and `stream` build, once for the module:
    hypothesis runs many examples in one test function, each on a ticket of its own."""
    import boto3

    from infra.tables import create_stack

    saved = {name: os.environ.get(name) for name in TABLE_VARIABLES}
    clock = ManualClock()
    with mock_aws():
        outputs = create_stack(boto3.client("cloudformation", region_name="us-east-1"))
        os.environ.update({name: outputs[output] for name, output in TABLE_VARIABLES.items()})
        wiring.reset(clock=clock)
        try:
            _, token = wiring.desk().create_agent({"name": "Ada Admin", "email": "ada@example.org", "role": "admin"})
            from app import app

            with Client(app) as client:
                yield Desk(Api(client, token), Stream(client, outputs["TicketsTableStreamArn"]), clock)
        finally:
            wiring.reset()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def open_ticket(desk: Desk, start: datetime, ticket_type: str) -> Life:
    desk.stream.records()  # whatever an earlier (failed) example left unread belongs to another ticket
    desk.clock.current = start
    desk.opened += 1
    extra = {"fields": DEFECT_FIELDS} if ticket_type == "defect" else {}
    opened = desk.api.open(type=ticket_type, requester_email=f"requester{desk.opened}@example.org", **extra)
    priority = "medium"  # the desk's default: neither type sets one, and a requester cannot choose
    life = Life(
        ticket_id=opened["id"],
        portal_token=parse_qs(urlsplit(opened["portal_url"]).query)["token"][0],
        created=start,
        priority=priority,
        stays=[("submitted", start)],
    )
    life.expected.append({"kind": "created", "at": stamp(start), "status": "submitted", "priority": priority})
    return life


def comment_event(kind: str, comment: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"kind": kind, "at": stamp(at), "comment_id": comment["id"]}


def act(desk: Desk, life: Life, action: Action) -> None:
    api, now, path = desk.api, desk.clock.now(), f"/tickets/{life.ticket_id}"
    if isinstance(action, Wait):
        desk.clock.advance(minutes=action.minutes)
        return
    if isinstance(action, Move):
        detail = api.ticket(life.ticket_id)
        allowed = [t["to"] for t in detail["allowed_transitions"]]
        assert allowed, f"{life.status} has no way out"
        to = allowed[action.choice % len(allowed)]
        body: dict[str, Any] = {"to": to, "version": detail["version"]}
        if action.comment:
            body.update(comment=f"Moving to {to}", public=action.comment == "reply")
        code, moved = api.json("POST", f"{path}/transitions", body)
        assert code == 200, moved
        assert moved["status"] == {"key": to, "label": moved["status"]["label"], "category": CATEGORY[to]}
        life.expected.append({"kind": "status_changed", "at": stamp(now), "from": life.status, "to": to})
        life.stays.append((to, now))
        if action.comment:
            life.expected.append(comment_event(action.comment, moved["comments"][-1], now))
            if action.comment == "reply" and life.first_reply is None:
                life.first_reply = now
    elif isinstance(action, Comment):
        if action.kind == "requester_comment":
            code, made = api.json("POST", f"/portal{path}/comments", {"body": "Any news?"}, token=life.portal_token)
        else:
            code, made = api.json("POST", f"{path}/comments", {"body": "Noted", "public": action.kind == "reply"})
        assert code == 201, made
        life.expected.append(comment_event(action.kind, made, now))
        if action.kind == "reply" and life.first_reply is None:
            life.first_reply = now
    else:
        version = api.ticket(life.ticket_id)["version"]
        code, changed = api.json("PATCH", path, {"priority": action.priority, "version": version})
        assert code == 200, changed
        if action.priority != life.priority:
            life.expected.append(
                {"kind": "priority_changed", "at": stamp(now), "from": life.priority, "to": action.priority}
            )
            life.priority = action.priority
    if isinstance(action, Comment) or (isinstance(action, Move) and action.comment):
        # Requests never share an instant on a real clock. The history orders a comment after the ticket writes of
        # its instant (so one made with a transition follows it) and comments among themselves by their ids.
        desk.clock.advance(minutes=1)


def shown(item: dict[str, Any]) -> dict[str, Any]:
    """The parts of a history event the test predicts."""
    kind = item["kind"]
    seen = {"kind": kind, "at": item["at"]}
    if kind == "created":
        seen.update(status=item["status"], priority=item["priority"])
    elif kind == "status_changed":
        seen.update({"from": item["from"]["key"], "to": item["to"]["key"]})
    elif kind == "priority_changed":
        seen.update({"from": item["from"], "to": item["to"]})
    elif kind in ("reply", "note", "requester_comment"):
        seen["comment_id"] = item["comment_id"]
    return seen


def check(desk: Desk, life: Life) -> list[str]:
    """Assert the three properties; the timers' states, for hypothesis's statistics."""
    api, now = desk.api, desk.clock.now()
    code, answer = api.json("GET", f"/tickets/{life.ticket_id}/history")
    assert code == 200, answer
    events = answer["events"]
    assert answer["next_cursor"] is None

    # exactly one event per change, in the order made
    assert [shown(e) for e in events] == life.expected

    # the stays in each status add up to the ticket's whole life
    life_seconds = int((now - life.created).total_seconds())
    moves = [e for e in events if e["kind"] == "status_changed"]
    since = moves[-1]["at"] if moves else stamp(life.created)
    current_stay = now - datetime.strptime(str(since), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert sum(e["time_in_previous"]["wall_seconds"] for e in moves) + current_stay.total_seconds() == life_seconds
    for move, ((before, start), (_, end)) in zip(moves, pairwise(life.stays), strict=True):
        assert move["from"]["key"] == before
        assert move["time_in_previous"] == {
            "wall_seconds": int((end - start).total_seconds()),
            "business_seconds": open_minutes(start, end) * 60,
            "since": stamp(start),
        }

    detail = api.ticket(life.ticket_id)
    assert detail["status"]["key"] == life.status
    assert detail["priority"]["key"] == life.priority
    times = detail["time_in_status"]
    assert times is not None, "the pipeline has no state for the ticket"
    assert sum(t["wall_seconds"] for t in times) == life_seconds
    assert [
        {k: t[k] for k in ("key", "category", "visits", "wall_seconds", "business_seconds")} for t in times
    ] == reference_time_in_status(life, now)

    # the SLA timers equal the minute-by-minute reference
    assert detail["sla"] is not None, "the pipeline has no SLA state for the ticket"
    assert sorted(detail["sla"]) == [FIRST_RESPONSE, RESOLUTION]
    for kind in (FIRST_RESPONSE, RESOLUTION):
        assert detail["sla"][kind] == reference_timer(life, kind, now), f"the {kind} timer"
    # what the ticket added to the report figures, after every split, repeat, reordering and fault, is what its
    # final history gives when computed once
    from chalicelib.adapters.stats import DynamoStatsStore
    from chalicelib.domain import sla, stats

    config = wiring.desk().config()
    history = wiring.desk().events.all_events(life.ticket_id)
    line = sla.timeline(life.ticket_id, history)
    assert line is not None
    stored = DynamoStatsStore().stored(life.ticket_id)
    assert stored is not None, "the pipeline counted nothing for the ticket"
    assert stored.contribution == stats.contributions(config, sla.track(config, line), history, now)
    return [
        " ".join([kind, timer["state"], *(flag for flag in ("at_risk", "breached") if timer[flag])])
        for kind, timer in detail["sla"].items()
    ]


MONDAY_NINE = datetime(2026, 11, 23, 9, tzinfo=UTC)
CHRISTMAS_EVE_FOUR = datetime(2026, 12, 24, 16, tzinfo=UTC)
FRIDAY_NINE = datetime(2026, 11, 27, 9, tzinfo=UTC)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(start=starts, ticket_type=st.sampled_from(["question", "defect"]), steps=actions, plan=deliveries)
# critical: a reply exactly on the hour is met in time; the resolution clock (calendar) keeps running
@example(
    start=MONDAY_NINE,
    ticket_type="question",
    steps=[Prioritise("critical"), Wait(60), Comment("reply"), Wait(5)],
    plan=Delivery(),
)
# critical: a reply one minute late is breached, and the breach stays once met
@example(
    start=MONDAY_NINE,
    ticket_type="question",
    steps=[Prioritise("critical"), Wait(61), Comment("reply")],
    plan=Delivery(cuts=frozenset({2})),
)
# paused exactly at 80% of the first response target: used >= 80% is at risk
@example(
    start=MONDAY_NINE,
    ticket_type="question",
    steps=[Prioritise("critical"), Move(0), Wait(48), Move(0), Wait(30)],
    plan=Delivery(),
)
# high, opened the Friday before the clocks change: business hours on Monday are 08:00-16:00 UTC
@example(
    start=datetime(2027, 3, 26, 15, tzinfo=UTC),
    ticket_type="defect",
    steps=[Prioritise("high"), Wait(3 * 24 * 60), Move(0), Wait(4 * 60), Comment("reply")],
    plan=Delivery(order=(0,), fault=("save_tracker", 1)),
)
# medium first response runs out exactly at Friday 17:00 (elapsed == target); a reply on Saturday comes after that
# due instant, so it is breached although no more business time was used
@example(
    start=FRIDAY_NINE,
    ticket_type="question",
    steps=[Wait(8 * 60), Wait(24 * 60), Comment("reply")],
    plan=Delivery(),
)
# resolved without a reply (first response stopped), reopened across Christmas and the holidays, resolved again
@example(
    start=CHRISTMAS_EVE_FOUR,
    ticket_type="question",
    steps=[Move(1), Wait(3 * 24 * 60), Move(0), Wait(3 * 24 * 60), Move(0, "note"), Wait(90), Move(1, "reply")],
    plan=Delivery(
        cuts=frozenset({1, 3}), order=(2, 0, 1), repeats=frozenset({0}), late=(1,), fault=("add_after_write", 2)
    ),
)
def test_random_work_gives_one_event_per_change_consistent_times_and_reference_timers(
    desk: Desk, start: datetime, ticket_type: str, steps: list[Action], plan: Delivery
) -> None:
    life = open_ticket(desk, start, ticket_type)
    for step in steps:
        act(desk, life, step)
    records = desk.stream.records()
    assert records, "the stream shows none of the example's writes"

    event(deliver(desk.stream, records, plan))

    for state in check(desk, life):
        event(state)


def malformed_time(record: dict[str, Any]) -> None:
    record["dynamodb"]["NewImage"]["status_since"] = {"S": "not a time"}


def image_not_an_object(record: dict[str, Any]) -> None:
    record["dynamodb"]["NewImage"] = ["not", "an", "image"]


def unknown_status_type(record: dict[str, Any]) -> None:
    record["dynamodb"]["NewImage"]["status"] = {"N": "7"}


@pytest.mark.parametrize("spoil", [malformed_time, image_not_an_object, unknown_status_type])
def test_a_bad_record_mid_batch_is_reported_by_sequence_number_and_the_rest_are_processed(
    desk: Desk, spoil: Callable[[dict[str, Any]], None]
) -> None:
    life = open_ticket(desk, MONDAY_NINE, "question")
    for step in (Wait(30), Move(0), Wait(30), Comment("reply"), Move(0), Wait(10)):
        act(desk, life, step)
    records = desk.stream.records()
    bad = copy.deepcopy(
        next(r for r in records if r["eventName"] == "MODIFY" and r["dynamodb"]["Keys"]["sk"]["S"] == "ticket")
    )
    spoil(bad)
    bad["eventID"] = "spoilt"
    bad["dynamodb"]["SequenceNumber"] = "1"
    middle = len(records) // 2

    failed = desk.stream.deliver([*records[:middle], bad, *records[middle:]])

    assert failed == ["1"]
    check(desk, life)
    # Lambda redelivers from the failed record on: it fails again, alone, and changes nothing.
    assert desk.stream.deliver([bad, *records[middle:]]) == ["1"]
    check(desk, life)
