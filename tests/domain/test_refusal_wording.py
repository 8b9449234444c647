"""A refused move says, in the desk's words, where the ticket is and where it was sent: statuses by their labels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.config import default_config
from chalicelib.domain.errors import TransitionNotAllowedError
from chalicelib.domain.tickets import Actor, Ticket, check_submission, open_ticket, transition

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
AGENT = Actor(role="agent", id="ag_1", name="Ada Agent")
REQUESTER = Actor(role="requester", id="jo@example.org", name="Jo Requester")


def question() -> Ticket:
    raw = {
        "type": "question",
        "subject": "Printer offline",
        "description": "It shows as offline.",
        "requester_name": "Jo Requester",
        "requester_email": "jo@example.org",
    }
    submission = check_submission(default_config(), raw, from_form=False)
    return open_ticket(default_config(), submission, ticket_id="t_1", ref="HD-1", now=NOW)


def refusal(ticket: Ticket, to: str, actor: Actor) -> TransitionNotAllowedError:
    with pytest.raises(TransitionNotAllowedError) as refused:
        transition(default_config(), ticket, to, actor, NOW)
    return refused.value


def test_a_refused_move_names_both_statuses_by_their_labels() -> None:
    refused = refusal(question(), "waiting_on_requester", AGENT)

    assert refused.message == "an agent cannot move this ticket from Submitted to Waiting on requester"


def test_the_requester_is_named_as_such_and_an_unknown_status_is_quoted() -> None:
    assert refusal(question(), "resolved", REQUESTER).message == (
        "the requester cannot move this ticket from Submitted to Resolved"
    )
    assert refusal(question(), "nowhere", AGENT).message == (
        "an agent cannot move this ticket from Submitted to 'nowhere'"
    )


def test_the_refusal_keeps_the_keys_clients_read() -> None:
    refused = refusal(question(), "waiting_on_requester", AGENT)

    assert refused.code == "transition_not_allowed"
    assert refused.details["current"] == "submitted"
    assert refused.details["allowed"] == [
        {"to": "in_progress", "label": "Start work"},
        {"to": "resolved", "label": "Resolve"},
    ]
