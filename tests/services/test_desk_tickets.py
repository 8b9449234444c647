"""Opening, moving, editing, commenting on and listing tickets, against in-memory fakes of the stores."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.agents import Agent
from chalicelib.domain.config import shipped_document
from chalicelib.domain.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    RateLimitedError,
    StaleVersionError,
    TransitionNotAllowedError,
    ValidationError,
)
from chalicelib.domain.tickets import Ticket
from chalicelib.services.desk import Desk, QueueRequest
from tests.clocks import ManualClock


@pytest.fixture
def agent(desk: Desk) -> Agent:
    return desk.create_agent({"name": "Amy Santiago", "email": "amy@desk.example.org"})[0]


def question(**overrides: Any) -> dict[str, Any]:
    return {
        "subject": "Printer offline",
        "description": "The office printer shows as offline.",
        "requester_name": "Rosa Diaz",
        "requester_email": "rosa@example.org",
        **overrides,
    }


def consultation(**overrides: Any) -> dict[str, Any]:
    return question(type="consultation", subject="Help with our rollout", fields={"topic": "Rollout"}, **overrides)


def open_ticket(desk: Desk, payload: dict[str, Any] | None = None) -> Ticket:
    return desk.open_ticket(payload or question(), from_form=False, idempotency_key=None).ticket


def allow_tickets_per_hour(desk: Desk, limit: int) -> None:
    document = shipped_document()
    document["desk"]["new_tickets_per_hour"] = limit
    desk.seed_config(document)


# opening tickets ---------------------------------------------------------------------------------


def test_tickets_are_given_references_in_sequence(desk: Desk) -> None:
    first = open_ticket(desk)
    second = open_ticket(desk)

    assert (first.ref, second.ref) == ("HD-1001", "HD-1002")


def test_a_ticket_sent_without_type_or_priority_gets_the_desk_defaults(desk: Desk, clock: ManualClock) -> None:
    ticket = open_ticket(desk)

    assert ticket.type == "question"
    assert ticket.status == "submitted"
    assert (ticket.priority, ticket.priority_rank) == ("medium", 2)
    assert ticket.team == "support"
    assert ticket.is_open
    assert ticket.version == 1
    assert ticket.created_at == clock.now()


def test_a_ticket_takes_its_types_default_priority_and_team(desk: Desk) -> None:
    ticket = open_ticket(desk, consultation())

    assert (ticket.type, ticket.status) == ("consultation", "submitted")
    assert (ticket.priority, ticket.priority_rank) == ("low", 3)
    assert ticket.team == "services"


def test_a_ticket_can_be_read_back_by_its_reference_in_any_case(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    assert desk.ticket_detail("hd-1001", agent).ticket.id == ticket.id


def test_repeating_a_request_with_its_idempotency_key_returns_the_first_ticket(desk: Desk) -> None:
    first = desk.open_ticket(question(), from_form=False, idempotency_key="key-1")
    again = desk.open_ticket(question(), from_form=False, idempotency_key="key-1")

    assert first.created
    assert not again.created
    assert (again.ticket.id, again.ticket.ref) == (first.ticket.id, first.ticket.ref)
    assert desk.portal_ticket(again.ticket.id, again.portal_token).ticket.id == first.ticket.id
    assert open_ticket(desk).ref == "HD-1002"


def test_reusing_an_idempotency_key_for_a_different_request_is_a_conflict(desk: Desk) -> None:
    desk.open_ticket(question(), from_form=False, idempotency_key="key-1")

    with pytest.raises(ConflictError, match="different request"):
        desk.open_ticket(question(subject="Another problem"), from_form=False, idempotency_key="key-1")


def test_a_repeated_request_does_not_count_against_the_hourly_limit(desk: Desk) -> None:
    allow_tickets_per_hour(desk, 1)
    first = desk.open_ticket(question(), from_form=False, idempotency_key="key-1")

    again = desk.open_ticket(question(), from_form=False, idempotency_key="key-1")

    assert again.ticket.id == first.ticket.id


def test_a_requester_over_the_hourly_limit_is_told_to_try_later(desk: Desk) -> None:
    allow_tickets_per_hour(desk, 2)
    open_ticket(desk)
    open_ticket(desk, question(requester_email="Rosa@Example.org"))

    with pytest.raises(RateLimitedError) as refused:
        open_ticket(desk)

    assert refused.value.details["retry_after_seconds"] == 3600


def test_the_hourly_limit_counts_each_requester_apart(desk: Desk) -> None:
    allow_tickets_per_hour(desk, 2)
    open_ticket(desk)
    open_ticket(desk)

    other = open_ticket(desk, question(requester_email="charles@example.org"))

    assert other.ref == "HD-1003"


def test_the_hourly_limit_starts_again_in_the_next_hour(desk: Desk, clock: ManualClock) -> None:
    allow_tickets_per_hour(desk, 2)
    open_ticket(desk)
    open_ticket(desk)
    with pytest.raises(RateLimitedError):
        open_ticket(desk)

    clock.advance(hours=1)

    assert open_ticket(desk).ref == "HD-1003"


# the requester portal ----------------------------------------------------------------------------


def test_the_portal_token_opens_the_ticket_it_was_given_for(desk: Desk) -> None:
    opened = desk.open_ticket(question(), from_form=False, idempotency_key=None)

    detail = desk.portal_ticket(opened.ticket.id, opened.portal_token)

    assert detail.ticket.ref == "HD-1001"
    assert [t.to_status for t in detail.allowed] == []


def test_a_portal_token_does_not_open_another_ticket(desk: Desk) -> None:
    opened = desk.open_ticket(question(), from_form=False, idempotency_key=None)
    other = open_ticket(desk, question(requester_email="charles@example.org"))

    with pytest.raises(ForbiddenError):
        desk.portal_ticket(other.id, opened.portal_token)


@pytest.mark.parametrize("token", [None, "", "garbage", "id000001.1900000000.forged-signature"])
def test_a_missing_or_forged_portal_token_is_refused(desk: Desk, token: str | None) -> None:
    ticket = open_ticket(desk)

    with pytest.raises(AuthenticationError):
        desk.portal_ticket(ticket.id, token)


def test_a_portal_token_works_until_its_link_days_are_over(desk: Desk, clock: ManualClock) -> None:
    opened = desk.open_ticket(question(), from_form=False, idempotency_key=None)

    clock.advance(days=89)
    assert desk.portal_ticket(opened.ticket.id, opened.portal_token).ticket.id == opened.ticket.id

    clock.advance(days=2)
    with pytest.raises(AuthenticationError, match="expired"):
        desk.portal_ticket(opened.ticket.id, opened.portal_token)


# moving tickets ----------------------------------------------------------------------------------


def test_a_transition_without_the_version_it_is_based_on_is_refused(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    with pytest.raises(ValidationError) as refused:
        desk.transition(ticket.id, {"to": "in_progress"}, agent)

    assert "version" in refused.value.errors


def test_a_transition_based_on_a_version_since_replaced_is_stale(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)
    desk.transition(ticket.id, {"to": "in_progress", "version": 1}, agent)

    with pytest.raises(StaleVersionError):
        desk.transition(ticket.id, {"to": "resolved", "version": 1}, agent)

    assert desk.ticket_detail(ticket.id, agent).ticket.status == "in_progress"


def test_a_transition_moves_the_ticket_and_bumps_its_version(desk: Desk, agent: Agent, clock: ManualClock) -> None:
    ticket = open_ticket(desk)
    clock.advance(minutes=5)

    moved = desk.transition(ticket.ref, {"to": "in_progress", "version": 1}, agent)

    stored = desk.ticket_detail(ticket.id, agent).ticket
    assert (moved.status, moved.version) == ("in_progress", 2)
    assert (stored.status, stored.version, stored.status_since) == ("in_progress", 2, clock.now())
    assert stored.changed_by == f"agent:{agent.id}"


def test_moving_to_a_done_status_closes_the_ticket(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    desk.transition(ticket.id, {"to": "resolved", "version": 1}, agent)

    assert not desk.ticket_detail(ticket.id, agent).ticket.is_open


def test_a_transition_the_workflow_does_not_allow_is_refused_naming_those_it_does(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    with pytest.raises(TransitionNotAllowedError) as refused:
        desk.transition(ticket.id, {"to": "waiting_on_requester", "version": 1}, agent)

    assert refused.value.details["allowed"] == [
        {"to": "in_progress", "label": "Start work"},
        {"to": "resolved", "label": "Resolve"},
    ]
    assert desk.ticket_detail(ticket.id, agent).ticket.status == "submitted"


def test_a_comment_sent_with_a_transition_is_an_internal_note_by_default(desk: Desk, agent: Agent) -> None:
    opened = desk.open_ticket(question(), from_form=False, idempotency_key=None)

    desk.transition(opened.ticket.id, {"to": "in_progress", "version": 1, "comment": "Looking into it"}, agent)

    comments = desk.ticket_detail(opened.ticket.id, agent).comments
    assert [(c.body, c.public) for c in comments] == [("Looking into it", False)]
    assert desk.portal_ticket(opened.ticket.id, opened.portal_token).comments == []


def test_a_comment_sent_with_a_transition_can_be_public(desk: Desk, agent: Agent) -> None:
    opened = desk.open_ticket(question(), from_form=False, idempotency_key=None)

    desk.transition(opened.ticket.id, {"to": "in_progress", "version": 1, "comment": "On it", "public": True}, agent)

    shown = desk.portal_ticket(opened.ticket.id, opened.portal_token).comments
    assert [(c.body, c.public, c.author_name) for c in shown] == [("On it", True, "Amy Santiago")]


def test_a_public_comment_with_a_transition_is_counted_and_is_the_first_response(
    desk: Desk, agent: Agent, clock: ManualClock
) -> None:
    ticket = open_ticket(desk)
    clock.advance(minutes=15)

    desk.transition(ticket.id, {"to": "in_progress", "version": 1, "comment": "On it", "public": True}, agent)

    stored = desk.ticket_detail(ticket.id, agent).ticket
    assert (stored.comment_count, stored.first_response_at, stored.version) == (1, clock.now(), 2)


def test_a_transition_with_a_blank_comment_is_refused_and_the_ticket_stays(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    with pytest.raises(ValidationError):
        desk.transition(ticket.id, {"to": "in_progress", "version": 1, "comment": "   "}, agent)

    detail = desk.ticket_detail(ticket.id, agent)
    assert (detail.ticket.status, detail.ticket.version, detail.comments) == ("submitted", 1, [])


def test_the_requester_approves_an_estimate_from_the_portal(desk: Desk, agent: Agent) -> None:
    opened = desk.open_ticket(consultation(), from_form=False, idempotency_key=None)
    ticket_id = opened.ticket.id
    for version, status in enumerate(("needs_estimate", "estimate_ready", "estimate_pending_approval"), start=1):
        desk.transition(ticket_id, {"to": status, "version": version}, agent)
    offered = desk.portal_ticket(ticket_id, opened.portal_token).allowed

    approved = desk.portal_transition(
        ticket_id, opened.portal_token, {"to": "approved", "comment": "Go ahead", "version": 4}
    )

    assert {t.to_status for t in offered} == {"approved", "estimate_declined"}
    assert approved.status == "approved"
    detail = desk.ticket_detail(ticket_id, agent)
    assert detail.ticket.status == "approved"
    assert detail.ticket.changed_by == "requester:rosa@example.org"
    assert [(c.body, c.public, c.author_role) for c in detail.comments] == [("Go ahead", True, "requester")]


def test_the_requester_cannot_make_an_agents_transition_from_the_portal(desk: Desk, agent: Agent) -> None:
    opened = desk.open_ticket(consultation(), from_form=False, idempotency_key=None)

    with pytest.raises(TransitionNotAllowedError):
        desk.portal_transition(opened.ticket.id, opened.portal_token, {"to": "needs_estimate", "version": 1})

    assert desk.ticket_detail(opened.ticket.id, agent).ticket.status == "submitted"


def test_a_portal_transition_based_on_an_old_version_is_stale(desk: Desk, agent: Agent) -> None:
    opened = desk.open_ticket(question(), from_form=False, idempotency_key=None)
    desk.transition(opened.ticket.id, {"to": "in_progress", "version": 1}, agent)
    desk.transition(opened.ticket.id, {"to": "waiting_on_requester", "version": 2}, agent)

    with pytest.raises(StaleVersionError):
        desk.portal_transition(opened.ticket.id, opened.portal_token, {"to": "resolved", "version": 2})


# comments ----------------------------------------------------------------------------------------


def test_a_public_agent_reply_is_the_first_response(desk: Desk, agent: Agent, clock: ManualClock) -> None:
    ticket = open_ticket(desk)
    clock.advance(minutes=30)
    replied_at = clock.now()

    desk.comment(ticket.id, {"body": "We are on it.", "public": True}, agent)
    clock.advance(minutes=30)
    desk.comment(ticket.id, {"body": "Still on it.", "public": True}, agent)

    stored = desk.ticket_detail(ticket.id, agent).ticket
    assert stored.first_response_at == replied_at
    assert stored.comment_count == 2


def test_an_internal_note_is_not_a_response(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    desk.comment(ticket.id, {"body": "Probably the toner."}, agent)

    stored = desk.ticket_detail(ticket.id, agent).ticket
    assert stored.first_response_at is None
    assert stored.comment_count == 1


def test_a_requesters_own_comment_is_public_and_not_a_response(desk: Desk, agent: Agent) -> None:
    opened = desk.open_ticket(question(), from_form=False, idempotency_key=None)

    comment = desk.portal_comment(opened.ticket.id, opened.portal_token, "Any news?")

    assert comment.public
    assert desk.ticket_detail(opened.ticket.id, agent).ticket.first_response_at is None


def test_the_portal_never_shows_internal_notes(desk: Desk, agent: Agent, clock: ManualClock) -> None:
    opened = desk.open_ticket(question(), from_form=False, idempotency_key=None)
    desk.comment(opened.ticket.id, {"body": "Internal: check the toner."}, agent)
    clock.advance(minutes=1)
    desk.comment(opened.ticket.id, {"body": "Could you restart it?", "public": True}, agent)
    clock.advance(minutes=1)
    desk.comment(opened.ticket.id, {"body": "Internal: asked to restart.", "public": False}, agent)

    shown = desk.portal_ticket(opened.ticket.id, opened.portal_token).comments

    assert [c.body for c in shown] == ["Could you restart it?"]
    assert len(desk.ticket_detail(opened.ticket.id, agent).comments) == 3


@pytest.mark.parametrize("body", ["", "   ", None])
def test_an_empty_comment_is_refused(desk: Desk, agent: Agent, body: str | None) -> None:
    ticket = open_ticket(desk)

    with pytest.raises(ValidationError) as refused:
        desk.comment(ticket.id, {"body": body}, agent)

    assert "body" in refused.value.errors
    assert desk.ticket_detail(ticket.id, agent).comments == []


# editing tickets ---------------------------------------------------------------------------------


def test_changing_the_priority_changes_its_rank(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    changed = desk.change(ticket.id, {"priority": "critical", "version": 1}, agent)

    stored = desk.ticket_detail(ticket.id, agent).ticket
    assert (changed.priority, changed.priority_rank, changed.version) == ("critical", 0, 2)
    assert (stored.priority, stored.priority_rank, stored.version) == ("critical", 0, 2)


def test_an_agent_can_assign_a_ticket_to_themself_as_me(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    desk.change(ticket.id, {"assignee": "me", "version": 1}, agent)

    assert desk.ticket_detail(ticket.id, agent).ticket.assignee == agent.id


def test_a_ticket_can_be_assigned_to_another_active_agent_and_unassigned(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)
    colleague, _ = desk.create_agent({"name": "Jake Peralta", "email": "jake@desk.example.org"})

    desk.change(ticket.id, {"assignee": colleague.id, "version": 1}, agent)
    assigned = desk.ticket_detail(ticket.id, agent).ticket.assignee
    desk.change(ticket.id, {"assignee": None, "version": 2}, agent)

    assert assigned == colleague.id
    assert desk.ticket_detail(ticket.id, agent).ticket.assignee is None


def test_assigning_to_an_unknown_or_revoked_agent_is_refused(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)
    admin, _ = desk.create_agent({"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"})
    gone, _ = desk.create_agent({"name": "Gina Linetti", "email": "gina@desk.example.org"})
    desk.revoke_agent(gone.id, admin)

    for assignee in ("nobody", gone.id):
        with pytest.raises(ValidationError) as refused:
            desk.change(ticket.id, {"assignee": assignee, "version": 1}, agent)
        assert "assignee" in refused.value.errors

    assert desk.ticket_detail(ticket.id, agent).ticket.assignee is None


def test_an_edit_based_on_an_old_version_is_stale(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)
    desk.change(ticket.id, {"priority": "high", "version": 1}, agent)

    with pytest.raises(StaleVersionError):
        desk.change(ticket.id, {"priority": "low", "version": 1}, agent)

    assert desk.ticket_detail(ticket.id, agent).ticket.priority == "high"


def test_the_status_cannot_be_changed_by_an_edit(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)

    with pytest.raises(ValidationError) as refused:
        desk.change(ticket.id, {"status": "resolved", "version": 1}, agent)

    assert refused.value.errors == {"status": "cannot be changed here"}
    assert desk.ticket_detail(ticket.id, agent).ticket.status == "submitted"


def test_an_edit_keeps_comments_added_since_the_ticket_was_read(desk: Desk, agent: Agent) -> None:
    ticket = open_ticket(desk)
    desk.comment(ticket.id, {"body": "Called the requester.", "public": True}, agent)

    desk.change(ticket.id, {"priority": "high", "version": 1}, agent)

    stored = desk.ticket_detail(ticket.id, agent).ticket
    assert stored.comment_count == 1
    assert stored.first_response_at is not None


# the queue ---------------------------------------------------------------------------------------


def _refs(page_tickets: list[Ticket]) -> list[str]:
    return [t.ref for t in page_tickets]


@pytest.fixture
def mixed_queue(desk: Desk, agent: Agent, clock: ManualClock) -> dict[str, Ticket]:
    """HD-1001 medium, HD-1002 high, HD-1003 low, HD-1004 high (resolved), HD-1005 medium, HD-1006 critical."""
    made: dict[str, Ticket] = {}
    for priority in ("medium", "high", "low", "high", "medium", "critical"):
        ticket = open_ticket(desk, question(requester_email=f"user{len(made)}@example.org"))
        if priority != "medium":
            desk.change(ticket.id, {"priority": priority, "version": 1}, agent)
        made[ticket.ref] = ticket
        clock.advance(minutes=10)
    done = made["HD-1004"]
    desk.transition(done.id, {"to": "resolved", "version": desk.ticket_detail(done.id, agent).ticket.version}, agent)
    desk.transition(made["HD-1005"].id, {"to": "in_progress", "version": 1}, agent)
    return made


@pytest.mark.usefixtures("mixed_queue")
def test_the_queue_lists_open_tickets_by_priority_then_age(desk: Desk) -> None:
    listed = desk.queue(QueueRequest())
    page, cursor = listed.page, listed.cursor

    assert _refs(page.tickets) == ["HD-1006", "HD-1002", "HD-1001", "HD-1005", "HD-1003"]
    assert cursor is None


@pytest.mark.usefixtures("mixed_queue")
def test_the_queue_lists_done_tickets_on_request(desk: Desk) -> None:
    listed = desk.queue(QueueRequest(state="done"))
    page, _ = listed.page, listed.cursor

    assert _refs(page.tickets) == ["HD-1004"]


@pytest.mark.usefixtures("mixed_queue")
def test_the_queue_filters_by_several_statuses(desk: Desk) -> None:
    listed = desk.queue(QueueRequest(statuses=("in_progress", "resolved")))
    page, _ = listed.page, listed.cursor

    assert _refs(page.tickets) == ["HD-1004", "HD-1005"]


@pytest.mark.usefixtures("mixed_queue")
def test_the_queue_filters_by_priority(desk: Desk) -> None:
    listed = desk.queue(QueueRequest(priority="medium"))
    page, _ = listed.page, listed.cursor

    assert _refs(page.tickets) == ["HD-1001", "HD-1005"]


@pytest.mark.usefixtures("mixed_queue")
def test_paging_through_the_queue_shows_every_ticket_exactly_once(desk: Desk) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        listed = desk.queue(QueueRequest(state="all", limit="2", cursor=cursor))
        page, cursor = listed.page, listed.cursor
        seen.extend(_refs(page.tickets))
        pages += 1
        if cursor is None:
            break

    assert seen == ["HD-1006", "HD-1002", "HD-1004", "HD-1001", "HD-1005", "HD-1003"]
    assert pages == 3


@pytest.mark.usefixtures("mixed_queue")
def test_paging_through_one_priority_stays_within_it(desk: Desk) -> None:
    listed = desk.queue(QueueRequest(priority="high", state="all", limit="1"))
    first, cursor = listed.page, listed.cursor
    listed = desk.queue(QueueRequest(priority="high", state="all", limit="1", cursor=cursor))
    second, last_cursor = listed.page, listed.cursor

    assert _refs(first.tickets) == ["HD-1002"]
    assert _refs(second.tickets) == ["HD-1004"]
    assert last_cursor is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10", "eyJhZnRlciI6IDF9", "!!!!"])
def test_a_cursor_the_desk_did_not_give_out_is_refused(desk: Desk, cursor: str) -> None:
    with pytest.raises(ValidationError) as refused:
        desk.queue(QueueRequest(cursor=cursor))

    assert "cursor" in refused.value.errors


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", ""])
def test_a_page_size_outside_one_to_a_hundred_is_refused(desk: Desk, limit: str) -> None:
    with pytest.raises(ValidationError) as refused:
        desk.queue(QueueRequest(limit=limit))

    assert "limit" in refused.value.errors


def test_a_page_size_written_with_a_superscript_digit_is_refused(desk: Desk) -> None:
    with pytest.raises(ValidationError):
        desk.queue(QueueRequest(limit="²"))


def test_an_unknown_status_or_priority_filter_is_refused(desk: Desk) -> None:
    with pytest.raises(ValidationError) as refused:
        desk.queue(QueueRequest(statuses=("nope",), priority="urgent"))

    assert set(refused.value.errors) == {"status", "priority"}


def test_a_portal_transition_must_say_which_version_the_requester_saw(desk: Desk, agent: Agent) -> None:
    """An estimate revised after the requester loaded the page must not be approved unseen."""
    opened = desk.open_ticket(consultation(), from_form=False, idempotency_key=None)
    for version, status in enumerate(("needs_estimate", "estimate_ready", "estimate_pending_approval"), start=1):
        desk.transition(opened.ticket.id, {"to": status, "version": version}, agent)

    with pytest.raises(ValidationError) as refused:
        desk.portal_transition(opened.ticket.id, opened.portal_token, {"to": "approved"})

    assert "version" in refused.value.errors
