"""History events: which changes to a ticket are recorded, with what, and in what order their keys sort."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.config import default_config
from chalicelib.domain.history import (
    ASSIGNEE_CHANGED,
    CREATED,
    FIELDS_CHANGED,
    NOTE,
    PRIORITY_CHANGED,
    REPLY,
    REQUESTER_COMMENT,
    STATUS_CHANGED,
    SUBJECT_CHANGED,
    TEAM_CHANGED,
    HistoryEvent,
    comment_event,
    ticket_events,
)
from chalicelib.domain.tickets import (
    Actor,
    Comment,
    Ticket,
    add_comment,
    change_details,
    check_submission,
    open_ticket,
    refresh_from_config,
    transition,
)

CONFIG = default_config()
FRIDAY_4PM = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # London is on GMT: local time is UTC
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

AGENT = Actor(role="agent", id="ag_1", name="Ada Agent")
REQUESTER = Actor(role="requester", id="jo@example.org", name="Jo Requester")
AGENT_IDS = {"ag_1", "ag_2"}


def _defect() -> Ticket:
    raw = {
        "type": "defect",
        "subject": "Export to CSV fails",
        "description": "The export button does nothing.",
        "requester_name": "Jo Requester",
        "requester_email": "jo@example.org",
        "fields": {"product": "Ledger", "version_affected": "4.2.1", "steps_to_reproduce": "Click Export."},
    }
    submission = check_submission(CONFIG, raw, from_form=False)
    return open_ticket(CONFIG, submission, ticket_id="t_1", ref="HD-1", now=FRIDAY_4PM)


def _saved(old: Ticket, new: Ticket) -> Ticket:
    """The ticket as the repository writes it: one version up."""
    return replace(new, version=old.version + 1)


def _edited(ticket: Ticket, changes: dict[str, Any], now: datetime = MONDAY_10AM) -> Ticket:
    return _saved(ticket, change_details(CONFIG, ticket, changes, AGENT, now, agent_ids=AGENT_IDS))


def _moved(ticket: Ticket, to: str, now: datetime = MONDAY_10AM, actor: Actor = AGENT) -> Ticket:
    return _saved(ticket, transition(CONFIG, ticket, to, actor, now))


def _commented(
    ticket: Ticket, body: str = "Thanks.", *, public: bool = True, actor: Actor = AGENT, comment_id: str = "c_1"
) -> tuple[Ticket, Comment]:
    updated, comment = add_comment(ticket, body, public=public, actor=actor, comment_id=comment_id, now=MONDAY_10AM)
    return _saved(ticket, updated), comment


def _kinds(events: list[HistoryEvent]) -> list[str]:
    return [e.kind for e in events]


# Opening


def test_opening_a_ticket_records_one_created_event_with_what_it_was_opened_with() -> None:
    ticket = _defect()

    (event,) = ticket_events(CONFIG, None, ticket)

    assert (event.kind, event.ticket_id, event.at, event.actor) == (
        CREATED,
        "t_1",
        FRIDAY_4PM,
        "requester:jo@example.org",
    )
    assert event.data == {
        "status": "submitted",
        "category": "new",
        "priority": "medium",
        "type": "defect",
        "team": "engineering",
        "assignee": None,
        "subject": "Export to CSV fails",
        "fields": {"product": "Ledger", "version_affected": "4.2.1", "steps_to_reproduce": "Click Export."},
    }
    assert event.key == "2026-11-20T16:00:00.000000Z#0000000001#0"


# Status changes


def test_a_status_change_records_the_wall_and_business_time_spent_in_the_previous_status() -> None:
    ticket = _defect()

    (event,) = ticket_events(CONFIG, ticket, _moved(ticket, "in_review"))

    assert (event.kind, event.at, event.actor) == (STATUS_CHANGED, MONDAY_10AM, "agent:ag_1")
    assert event.data == {
        "from": "submitted",
        "to": "in_review",
        "from_category": "new",
        "to_category": "active",
        "since": "2026-11-20T16:00:00.000000Z",
        "wall_seconds": 66 * 3600.0,  # Friday 16:00 to Monday 10:00
        "business_seconds": 2 * 3600.0,  # an hour on Friday, an hour on Monday
    }


def test_moving_into_a_done_status_records_its_category() -> None:
    in_review = _moved(_defect(), "in_review", FRIDAY_4PM + timedelta(minutes=30))

    (event,) = ticket_events(CONFIG, in_review, _moved(in_review, "cannot_replicate"))

    assert (event.data["from_category"], event.data["to_category"]) == ("active", "done")


# Edits


@pytest.mark.parametrize(
    ("changes", "kind", "data"),
    [
        ({"priority": "high"}, PRIORITY_CHANGED, {"from": "medium", "to": "high"}),
        ({"assignee": "ag_2"}, ASSIGNEE_CHANGED, {"from": None, "to": "ag_2"}),
        ({"team": "support"}, TEAM_CHANGED, {"from": "engineering", "to": "support"}),
        ({"subject": "CSV export fails"}, SUBJECT_CHANGED, {"from": "Export to CSV fails", "to": "CSV export fails"}),
    ],
)
def test_an_edit_records_what_it_changed_from_and_to(changes: dict[str, Any], kind: str, data: dict[str, Any]) -> None:
    ticket = _defect()

    (event,) = ticket_events(CONFIG, ticket, _edited(ticket, changes))

    assert (event.kind, event.data, event.at, event.actor) == (kind, data, MONDAY_10AM, "agent:ag_1")


def test_a_fields_edit_records_only_the_fields_that_changed_and_a_cleared_one_as_none() -> None:
    ticket = _edited(_defect(), {"fields": {"environment": "Staging"}}, FRIDAY_4PM + timedelta(hours=1))

    changed = _edited(ticket, {"fields": {"version_affected": "4.2.2", "environment": None, "product": "Ledger"}})
    (event,) = ticket_events(CONFIG, ticket, changed)

    assert event.kind == FIELDS_CHANGED
    assert event.data == {
        "fields": {
            "environment": {"from": "Staging", "to": None},
            "version_affected": {"from": "4.2.1", "to": "4.2.2"},
        }
    }


def test_one_edit_of_several_things_records_one_event_each_in_a_fixed_order_with_distinct_keys() -> None:
    ticket = _defect()

    changes = {"subject": "CSV export fails", "team": "support", "assignee": "ag_1", "priority": "low"}
    events = ticket_events(CONFIG, ticket, _edited(ticket, changes))

    assert _kinds(events) == [PRIORITY_CHANGED, ASSIGNEE_CHANGED, TEAM_CHANGED, SUBJECT_CHANGED]
    assert [e.key for e in events] == sorted(e.key for e in events)
    assert len({e.key for e in events}) == 4


def test_an_edit_that_changes_nothing_visible_records_nothing() -> None:
    ticket = _defect()

    same_priority = _edited(ticket, {"priority": "medium"})

    assert ticket_events(CONFIG, ticket, same_priority) == []


# Comments


def test_a_public_agent_comment_is_a_reply() -> None:
    _, comment = _commented(_defect(), "We are looking into it.")

    event = comment_event(comment)

    assert (event.kind, event.at, event.actor, event.ticket_id) == (REPLY, MONDAY_10AM, "agent:ag_1", "t_1")
    assert event.data == {
        "comment_id": "c_1",
        "public": True,
        "author_name": "Ada Agent",
        "excerpt": "We are looking into it.",
    }


def test_a_private_agent_comment_is_an_internal_note() -> None:
    _, comment = _commented(_defect(), public=False)

    event = comment_event(comment)

    assert (event.kind, event.data["public"]) == (NOTE, False)


def test_a_requester_comment_is_its_own_kind_and_always_public() -> None:
    _, comment = _commented(_defect(), public=False, actor=REQUESTER)

    event = comment_event(comment)

    assert (event.kind, event.actor, event.data["public"]) == (REQUESTER_COMMENT, "requester:jo@example.org", True)


def test_a_long_comment_is_kept_as_an_excerpt_of_280_characters() -> None:
    _, comment = _commented(_defect(), "x" * 1000)

    excerpt = comment_event(comment).data["excerpt"]

    assert excerpt == "x" * 279 + "…"


def test_a_comment_of_exactly_280_characters_is_kept_whole() -> None:
    _, comment = _commented(_defect(), "y" * 280)

    assert comment_event(comment).data["excerpt"] == "y" * 280


# What records nothing


def test_an_identical_image_records_nothing() -> None:
    ticket = _defect()

    assert ticket_events(CONFIG, ticket, ticket) == []
    assert ticket_events(CONFIG, ticket, replace(ticket, version=2)) == []


def test_the_counters_a_comment_bumps_record_nothing_on_the_ticket() -> None:
    ticket = _defect()

    after_reply, _ = _commented(ticket)

    assert (after_reply.comment_count, after_reply.first_response_at) == (1, MONDAY_10AM)
    assert ticket_events(CONFIG, ticket, after_reply) == []


def test_refreshing_the_priority_rank_and_open_flag_from_the_configuration_records_nothing() -> None:
    ticket = replace(_defect(), priority_rank=7, is_open=False)

    refreshed = _saved(ticket, refresh_from_config(CONFIG, ticket, AGENT))

    assert (refreshed.priority_rank, refreshed.is_open) == (2, True)
    assert ticket_events(CONFIG, ticket, refreshed) == []


def test_a_priority_mapped_by_a_configuration_change_is_recorded_when_it_was_made() -> None:
    ticket = _defect()
    later = MONDAY_10AM + timedelta(days=2)

    remapped = _saved(ticket, refresh_from_config(CONFIG, ticket, AGENT, priority="low", now=later))

    (event,) = ticket_events(CONFIG, ticket, remapped)
    assert (event.kind, event.at, event.data) == ("priority_changed", later, {"from": ticket.priority, "to": "low"})


# Keys


def test_a_redelivered_write_records_the_same_events_under_the_same_keys() -> None:
    ticket = _defect()
    moved = _moved(ticket, "in_review")

    assert ticket_events(CONFIG, ticket, moved) == ticket_events(CONFIG, ticket, moved)


def test_a_comment_made_with_a_transition_sorts_after_the_transition() -> None:
    ticket = _moved(_defect(), "in_review", FRIDAY_4PM + timedelta(minutes=5))
    moved = transition(CONFIG, ticket, "cannot_replicate", AGENT, MONDAY_10AM)
    moved, comment = add_comment(  # one write, as the transitions endpoint makes it
        moved, "Could not reproduce it.", public=True, actor=AGENT, comment_id="c_1", now=MONDAY_10AM
    )

    events = [*ticket_events(CONFIG, ticket, _saved(ticket, moved)), comment_event(comment)]

    assert _kinds(events) == [STATUS_CHANGED, REPLY]
    assert events[0].at == events[1].at == MONDAY_10AM
    assert events[0].key < events[1].key


def test_a_whole_history_has_unique_keys_that_sort_in_the_order_things_happened() -> None:
    ticket = _defect()
    events = ticket_events(CONFIG, None, ticket)
    route = ["in_review", "approved", "in_progress", "ready_to_test", "in_testing", "in_progress"]
    route += ["ready_to_test", "in_testing", "ready_to_install", "client_testing", "completed"]
    for minutes, status in enumerate(route, start=1):
        now = FRIDAY_4PM + timedelta(minutes=minutes)
        moved = _moved(ticket, status, now)
        assigned = _edited(moved, {"assignee": f"ag_{minutes % 2 + 1}"}, now)  # a second write, same instant
        events += ticket_events(CONFIG, ticket, moved) + ticket_events(CONFIG, moved, assigned)
        ticket = assigned

    keys = [e.key for e in events]

    assert ticket.version == 23  # the version went from one digit to two on the way
    assert len(set(keys)) == len(keys) == 23
    assert keys == sorted(keys)
    assert [e.data["to"] for e in events if e.kind == STATUS_CHANGED] == route
