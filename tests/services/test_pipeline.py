"""The stream pipeline's use case with in-memory stores: idempotent, order-safe, and never ahead of its events."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chalicelib.domain.config import default_config
from chalicelib.domain.tickets import AGENT, Actor, Submission, add_comment, open_ticket, transition
from chalicelib.services.pipeline import CommentWritten, Pipeline, TicketWritten
from tests.clocks import START

from .fakes import FakeEventStore

AGENT_ADA = Actor(role=AGENT, id="ada", name="Ada")
CONFIG = default_config()


def pipeline(events: FakeEventStore) -> Pipeline:
    return Pipeline(events, lambda: CONFIG)


def question_writes() -> list[TicketWritten | CommentWritten]:
    """Open; start work with a reply an hour later; resolve two hours after that: what the stream carries."""
    submission = Submission("question", "VPN drops", "Every hour", "Rosa", "rosa@example.org", "medium")
    opened = open_ticket(CONFIG, submission, ticket_id="t1", ref="HD-1", now=START)
    started = transition(CONFIG, opened, "in_progress", AGENT_ADA, START + timedelta(hours=1))
    started, reply = add_comment(
        started, "Looking", public=True, actor=AGENT_ADA, comment_id="c1", now=START + timedelta(hours=1)
    )
    started = replace(started, version=2)
    resolved = replace(transition(CONFIG, started, "resolved", AGENT_ADA, START + timedelta(hours=3)), version=3)
    return [
        TicketWritten(None, opened),
        TicketWritten(opened, started),
        CommentWritten(reply),
        TicketWritten(started, resolved),
    ]


def test_each_change_is_recorded_once_however_often_it_is_delivered() -> None:
    events = FakeEventStore()
    writes = question_writes()

    for change in writes + writes + writes[1:]:
        pipeline(events).apply(change)

    assert [e.kind for e in events.all_events("t1")] == ["created", "status_changed", "reply", "status_changed"]


def test_a_tracker_waits_for_the_ticket_creation_then_catches_up() -> None:
    events = FakeEventStore()
    writes = question_writes()

    for change in writes[1:]:
        pipeline(events).apply(change)
    assert events.tracker("t1") is None

    pipeline(events).apply(writes[0])

    tracker = events.tracker("t1")
    assert tracker is not None
    assert tracker.status == "resolved"
    assert [(t.kind, t.met_at) for t in tracker.timers] == [
        ("first_response", START + timedelta(hours=1)),
        ("resolution", START + timedelta(hours=3)),
    ]


def test_records_in_any_order_give_the_same_tracker() -> None:
    in_order, reversed_order = FakeEventStore(), FakeEventStore()
    writes = question_writes()

    for change in writes:
        pipeline(in_order).apply(change)
    for change in reversed(writes):
        pipeline(reversed_order).apply(change)

    assert in_order.tracker("t1") == reversed_order.tracker("t1")
