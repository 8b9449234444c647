"""The shipped workflows, checked against a transition table written out by hand from the product brief."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.config import DeskConfig, default_config
from chalicelib.domain.errors import TransitionNotAllowedError
from chalicelib.domain.tickets import Actor, Ticket, allowed_transitions, check_submission, open_ticket, transition

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)

AGENT = Actor(role="agent", id="ag_1", name="Ada Agent")
REQUESTER = Actor(role="requester", id="jo@example.org", name="Jo Requester")
ACTORS = {"agent": AGENT, "requester": REQUESTER}

A = frozenset({"agent"})
AR = frozenset({"agent", "requester"})

# Every status of the shipped desk, written out, so a status that appears or vanishes is noticed.
DESK_STATUSES = (
    "submitted",
    "in_review",
    "approved",
    "in_progress",
    "ready_to_test",
    "in_testing",
    "ready_to_install",
    "client_testing",
    "completed",
    "cannot_replicate",
    "needs_estimate",
    "estimate_ready",
    "estimate_pending_approval",
    "estimate_declined",
    "waiting_on_requester",
    "resolved",
)
DONE_STATUSES = frozenset({"completed", "cannot_replicate", "estimate_declined", "resolved"})

# (from, to, who may make it): the brief's rules, copied by hand, not read from the configuration.
DEFECT_TABLE = (
    ("submitted", "in_review", A),
    ("in_review", "approved", A),
    ("in_review", "cannot_replicate", A),
    ("approved", "in_progress", A),
    ("in_progress", "ready_to_test", A),
    ("ready_to_test", "in_testing", A),
    ("in_testing", "ready_to_install", A),
    ("in_testing", "in_progress", A),
    ("ready_to_install", "client_testing", A),
    ("client_testing", "completed", AR),
    ("client_testing", "in_progress", AR),
    ("cannot_replicate", "in_review", AR),
    ("completed", "in_progress", A),
)
ESTIMATE_TABLE = (
    ("submitted", "needs_estimate", A),
    ("needs_estimate", "estimate_ready", A),
    ("estimate_ready", "estimate_pending_approval", A),
    ("estimate_ready", "needs_estimate", A),
    ("estimate_pending_approval", "approved", AR),
    ("estimate_pending_approval", "estimate_declined", AR),
    ("estimate_pending_approval", "needs_estimate", A),
    ("estimate_declined", "needs_estimate", A),
    ("approved", "in_progress", A),
    ("in_progress", "completed", A),
    ("completed", "in_progress", A),
)
QUESTION_TABLE = (
    ("submitted", "in_progress", A),
    ("submitted", "resolved", A),
    ("in_progress", "waiting_on_requester", A),
    ("in_progress", "resolved", A),
    ("waiting_on_requester", "in_progress", AR),
    ("waiting_on_requester", "resolved", AR),
    ("resolved", "in_progress", AR),
)
TABLES = {
    "defect": DEFECT_TABLE,
    "consultation": ESTIMATE_TABLE,
    "training": ESTIMATE_TABLE,
    "question": QUESTION_TABLE,
}

FIELDS_BY_TYPE = {
    "defect": {"product": "Ledger", "version_affected": "4.2", "steps_to_reproduce": "Click Export; nothing."},
    "consultation": {"topic": "Data migration"},
    "training": {"course": "Month-end close", "attendees": 6, "format": "Remote"},
    "question": {},
}


@pytest.fixture(scope="module")
def config() -> DeskConfig:
    return default_config()


def _new_ticket(config: DeskConfig, ticket_type: str) -> Ticket:
    raw = {
        "type": ticket_type,
        "subject": "Help, please",
        "description": "Something needs doing.",
        "requester_name": "Jo Requester",
        "requester_email": "jo@example.org",
        "fields": FIELDS_BY_TYPE[ticket_type],
    }
    submission = check_submission(config, raw, from_form=False)
    return open_ticket(config, submission, ticket_id="t_1", ref="HD-1", now=NOW)


def _ticket_in(config: DeskConfig, ticket_type: str, status: str) -> Ticket:
    return replace(_new_ticket(config, ticket_type), status=status, is_open=status not in DONE_STATUSES)


def _walk(config: DeskConfig, ticket: Ticket, *steps: tuple[str, Actor]) -> Ticket:
    for to, actor in steps:
        ticket = transition(config, ticket, to, actor, NOW)
    return ticket


def test_the_desk_has_exactly_the_statuses_of_the_table(config: DeskConfig) -> None:
    assert set(config.statuses) == set(DESK_STATUSES)
    assert {key for key, status in config.statuses.items() if not status.is_open} == DONE_STATUSES


@pytest.mark.parametrize("workflow", sorted(TABLES))
def test_each_workflow_has_exactly_the_transitions_of_the_table(config: DeskConfig, workflow: str) -> None:
    configured = {(t.from_status, t.to_status, t.by) for t in config.workflows[workflow].transitions}

    assert configured == set(TABLES[workflow])


@pytest.mark.parametrize("role", ["agent", "requester"])
@pytest.mark.parametrize("workflow", sorted(TABLES))
def test_transition_succeeds_exactly_when_the_table_grants_it_to_the_role(
    config: DeskConfig, workflow: str, role: str
) -> None:
    # Given the hand-written table of the workflow, and a ticket of that type in every status of the desk
    granted = {(src, dst) for src, dst, roles in TABLES[workflow] if role in roles}
    actor = ACTORS[role]
    problems: list[str] = []

    for src in DESK_STATUSES:
        ticket = _ticket_in(config, workflow, src)
        expected_targets = sorted(dst for s, dst in granted if s == src)
        assert sorted(t.to_status for t in allowed_transitions(config, ticket, role)) == expected_targets
        for dst in DESK_STATUSES:
            # When the role asks to move it to every status of the desk
            try:
                moved = transition(config, ticket, dst, actor, LATER)
            except TransitionNotAllowedError as error:
                # Then a refusal lists exactly what the role may do instead
                if (src, dst) in granted:
                    problems.append(f"{src} -> {dst} refused, but the table allows it")
                allowed = sorted(option["to"] for option in error.details["allowed"])
                if allowed != expected_targets:
                    problems.append(f"{src} -> {dst}: allowed listed {allowed}, expected {expected_targets}")
                if error.details["current"] != src:
                    problems.append(f"{src} -> {dst}: current given as {error.details['current']!r}")
            else:
                # Then a move happens only where the table grants it
                if (src, dst) not in granted:
                    problems.append(f"{src} -> {dst} allowed, but the table refuses it")
                elif moved.status != dst:
                    problems.append(f"{src} -> {dst} left the ticket in {moved.status}")

    assert problems == []


def test_refusal_lists_each_allowed_move_with_its_label(config: DeskConfig) -> None:
    ticket = _ticket_in(config, "defect", "in_review")

    with pytest.raises(TransitionNotAllowedError) as caught:
        transition(config, ticket, "completed", AGENT, LATER)

    assert caught.value.details["allowed"] == [
        {"to": "approved", "label": "Approve for action"},
        {"to": "cannot_replicate", "label": "Cannot replicate"},
    ]


def test_a_new_ticket_starts_open_in_the_initial_status_of_its_workflow(config: DeskConfig) -> None:
    ticket = _new_ticket(config, "defect")

    assert ticket.status == "submitted"
    assert ticket.is_open
    assert ticket.status_since == NOW
    assert ticket.changed_by == "requester:jo@example.org"
    assert ticket.team == "engineering"


def test_agent_can_move_defect_from_submitted_to_in_review(config: DeskConfig) -> None:
    ticket = _new_ticket(config, "defect")

    moved = transition(config, ticket, "in_review", AGENT, LATER)

    assert moved.status == "in_review"
    assert moved.status_since == LATER
    assert moved.updated_at == LATER
    assert moved.changed_by == "agent:ag_1"
    assert moved.created_at == NOW
    assert ticket.status == "submitted"  # the original is untouched


def test_requester_cannot_move_defect_from_submitted_to_in_review(config: DeskConfig) -> None:
    ticket = _new_ticket(config, "defect")

    with pytest.raises(TransitionNotAllowedError) as caught:
        transition(config, ticket, "in_review", REQUESTER, LATER)

    assert caught.value.details["allowed"] == []


def test_agent_walks_a_defect_through_all_nine_statuses_to_completed(config: DeskConfig) -> None:
    ticket = _new_ticket(config, "defect")
    seen = [ticket.status]
    for step, to in enumerate(
        [
            "in_review",
            "approved",
            "in_progress",
            "ready_to_test",
            "in_testing",
            "ready_to_install",
            "client_testing",
            "completed",
        ],
        start=1,
    ):
        at = NOW + timedelta(hours=step)
        ticket = transition(config, ticket, to, AGENT, at)
        assert ticket.status_since == at
        assert ticket.is_open == (to != "completed")
        seen.append(ticket.status)

    assert seen == [
        "submitted",
        "in_review",
        "approved",
        "in_progress",
        "ready_to_test",
        "in_testing",
        "ready_to_install",
        "client_testing",
        "completed",
    ]
    assert not ticket.is_open
    assert ticket.changed_by == "agent:ag_1"


def test_agent_can_close_a_defect_in_review_as_cannot_replicate(config: DeskConfig) -> None:
    ticket = _walk(config, _new_ticket(config, "defect"), ("in_review", AGENT))

    closed = transition(config, ticket, "cannot_replicate", AGENT, LATER)

    assert closed.status == "cannot_replicate"
    assert not closed.is_open
    assert closed.status_since == LATER


def test_requester_can_reopen_a_defect_that_could_not_be_replicated(config: DeskConfig) -> None:
    ticket = _walk(config, _new_ticket(config, "defect"), ("in_review", AGENT), ("cannot_replicate", AGENT))

    reopened = transition(config, ticket, "in_review", REQUESTER, LATER)

    assert reopened.status == "in_review"
    assert reopened.is_open
    assert reopened.changed_by == "requester:jo@example.org"


def test_a_failed_test_sends_a_defect_back_to_in_progress(config: DeskConfig) -> None:
    ticket = _ticket_in(config, "defect", "in_testing")

    moved = transition(config, ticket, "in_progress", AGENT, LATER)

    assert moved.status == "in_progress"
    assert moved.is_open


def test_requester_reports_that_the_fix_does_not_work_from_client_testing(config: DeskConfig) -> None:
    ticket = _ticket_in(config, "defect", "client_testing")

    moved = transition(config, ticket, "in_progress", REQUESTER, LATER)

    assert moved.status == "in_progress"
    assert moved.changed_by == "requester:jo@example.org"
    assert moved.status_since == LATER


def test_requester_confirms_the_fix_and_the_defect_is_done(config: DeskConfig) -> None:
    ticket = _ticket_in(config, "defect", "client_testing")

    done = transition(config, ticket, "completed", REQUESTER, LATER)

    assert done.status == "completed"
    assert not done.is_open


def test_agent_can_reopen_a_completed_defect_and_it_is_open_again(config: DeskConfig) -> None:
    ticket = _ticket_in(config, "defect", "completed")

    reopened = transition(config, ticket, "in_progress", AGENT, LATER)

    assert reopened.is_open
    assert reopened.status_since == LATER


def _estimate_pending(config: DeskConfig, ticket_type: str) -> Ticket:
    return _walk(
        config,
        _new_ticket(config, ticket_type),
        ("needs_estimate", AGENT),
        ("estimate_ready", AGENT),
        ("estimate_pending_approval", AGENT),
    )


@pytest.mark.parametrize("ticket_type", ["consultation", "training"])
def test_requester_approves_an_estimate_and_the_agent_starts_work(config: DeskConfig, ticket_type: str) -> None:
    ticket = _estimate_pending(config, ticket_type)
    assert ticket.status == "estimate_pending_approval"

    approved = transition(config, ticket, "approved", REQUESTER, LATER)
    started = transition(config, approved, "in_progress", AGENT, LATER + timedelta(hours=1))

    assert approved.status == "approved"
    assert approved.changed_by == "requester:jo@example.org"
    assert approved.status_since == LATER
    assert started.status == "in_progress"
    assert started.changed_by == "agent:ag_1"


@pytest.mark.parametrize("ticket_type", ["consultation", "training"])
def test_requester_declines_an_estimate_and_the_ticket_is_done(config: DeskConfig, ticket_type: str) -> None:
    ticket = _estimate_pending(config, ticket_type)

    declined = transition(config, ticket, "estimate_declined", REQUESTER, LATER)

    assert declined.status == "estimate_declined"
    assert not declined.is_open
    assert declined.status_since == LATER
    assert declined.changed_by == "requester:jo@example.org"


def test_requester_cannot_skip_the_estimate_of_a_consultation(config: DeskConfig) -> None:
    ticket = _walk(config, _new_ticket(config, "consultation"), ("needs_estimate", AGENT))

    with pytest.raises(TransitionNotAllowedError):
        transition(config, ticket, "estimate_ready", REQUESTER, LATER)


def test_a_question_waiting_on_the_requester_is_resolved_by_the_requester(config: DeskConfig) -> None:
    ticket = _walk(config, _new_ticket(config, "question"), ("in_progress", AGENT), ("waiting_on_requester", AGENT))

    resolved = transition(config, ticket, "resolved", REQUESTER, LATER)

    assert resolved.status == "resolved"
    assert not resolved.is_open


def test_a_ticket_of_a_type_no_longer_configured_has_no_moves(config: DeskConfig) -> None:
    ticket = replace(_new_ticket(config, "question"), type="retired_type")

    assert allowed_transitions(config, ticket, "agent") == []
    with pytest.raises(TransitionNotAllowedError):
        transition(config, ticket, "in_progress", AGENT, LATER)
