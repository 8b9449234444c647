"""An agent's edits of a ticket (priority, assignee, team, subject, intake fields) and comments on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.config import DeskConfig, default_config
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.tickets import (
    Actor,
    Ticket,
    add_comment,
    change_details,
    check_comment_body,
    check_submission,
    open_ticket,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
MUCH_LATER = NOW + timedelta(days=1)

AGENT = Actor(role="agent", id="ag_1", name="Ada Agent")
OTHER_AGENT = Actor(role="agent", id="ag_2", name="Bo Agent")
REQUESTER = Actor(role="requester", id="jo@example.org", name="Jo Requester")
AGENT_IDS = {"ag_1", "ag_2"}


@pytest.fixture(scope="module")
def config() -> DeskConfig:
    return default_config()


@pytest.fixture
def defect(config: DeskConfig) -> Ticket:
    raw = {
        "type": "defect",
        "subject": "Export to CSV fails",
        "description": "The export button does nothing.",
        "requester_name": "Jo Requester",
        "requester_email": "jo@example.org",
        "fields": {
            "product": "Ledger",
            "version_affected": "4.2.1",
            "steps_to_reproduce": "Click Export.",
            "environment": "Production",
        },
    }
    return open_ticket(config, check_submission(config, raw, from_form=False), ticket_id="t_1", ref="HD-1", now=NOW)


def _change(config: DeskConfig, ticket: Ticket, changes: dict[str, Any]) -> Ticket:
    return change_details(config, ticket, changes, AGENT, LATER, agent_ids=AGENT_IDS)


def _errors_of(config: DeskConfig, ticket: Ticket, changes: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _change(config, ticket, changes)
    return caught.value.errors


# change_details


def test_raising_the_priority_moves_the_ticket_up_the_queue(config: DeskConfig, defect: Ticket) -> None:
    assert (defect.priority, defect.priority_rank) == ("medium", 2)

    changed = _change(config, defect, {"priority": "critical"})

    assert (changed.priority, changed.priority_rank) == ("critical", 0)
    assert changed.updated_at == LATER
    assert changed.changed_by == "agent:ag_1"
    assert changed.status == defect.status
    assert changed.status_since == NOW


def test_an_unknown_priority_is_refused(config: DeskConfig, defect: Ticket) -> None:
    errors = _errors_of(config, defect, {"priority": "apocalyptic"})

    assert set(errors) == {"priority"}


def test_a_ticket_can_be_assigned_to_an_active_agent(config: DeskConfig, defect: Ticket) -> None:
    changed = _change(config, defect, {"assignee": "ag_2"})

    assert changed.assignee == "ag_2"


def test_a_ticket_cannot_be_assigned_to_an_unknown_agent(config: DeskConfig, defect: Ticket) -> None:
    errors = _errors_of(config, defect, {"assignee": "ag_9"})

    assert set(errors) == {"assignee"}


def test_an_assignee_can_be_removed_with_null(config: DeskConfig, defect: Ticket) -> None:
    assigned = _change(config, defect, {"assignee": "ag_1"})

    unassigned = _change(config, assigned, {"assignee": None})

    assert unassigned.assignee is None


@pytest.mark.parametrize("name", ["assignee", "priority", "team"])
def test_a_list_where_a_key_is_expected_is_refused(config: DeskConfig, defect: Ticket, name: str) -> None:
    errors = _errors_of(config, defect, {name: ["ag_1"]})

    assert set(errors) == {name}


def test_a_ticket_can_be_handed_to_another_team(config: DeskConfig, defect: Ticket) -> None:
    assert defect.team == "engineering"

    changed = _change(config, defect, {"team": "support"})

    assert changed.team == "support"


def test_an_unknown_team_is_refused(config: DeskConfig, defect: Ticket) -> None:
    errors = _errors_of(config, defect, {"team": "marketing"})

    assert set(errors) == {"team"}


def test_the_subject_can_be_edited(config: DeskConfig, defect: Ticket) -> None:
    changed = _change(config, defect, {"subject": "  CSV export does nothing  "})

    assert changed.subject == "CSV export does nothing"


@pytest.mark.parametrize("subject", ["", None, "two\nlines", "s" * 201])
def test_a_bad_subject_is_refused(config: DeskConfig, defect: Ticket, subject: Any) -> None:
    errors = _errors_of(config, defect, {"subject": subject})

    assert set(errors) == {"subject"}


def test_editing_one_intake_field_keeps_the_others(config: DeskConfig, defect: Ticket) -> None:
    changed = _change(config, defect, {"fields": {"first_noticed": "2026-11-20", "environment": "Staging"}})

    assert changed.fields == {
        "product": "Ledger",
        "version_affected": "4.2.1",
        "steps_to_reproduce": "Click Export.",
        "environment": "Staging",
        "first_noticed": "2026-11-20",
    }
    assert defect.fields["environment"] == "Production"  # the original is untouched


def test_an_optional_intake_field_can_be_cleared_with_null(config: DeskConfig, defect: Ticket) -> None:
    changed = _change(config, defect, {"fields": {"environment": None}})

    assert "environment" not in changed.fields
    assert changed.fields["product"] == "Ledger"


def test_a_required_intake_field_cannot_be_cleared(config: DeskConfig, defect: Ticket) -> None:
    errors = _errors_of(config, defect, {"fields": {"product": None}})

    assert set(errors) == {"fields.product"}


def test_an_edited_intake_field_is_checked_like_at_intake(config: DeskConfig, defect: Ticket) -> None:
    errors = _errors_of(config, defect, {"fields": {"environment": "Moon base", "first_noticed": "2026-13-01"}})

    assert set(errors) == {"fields.environment", "fields.first_noticed"}


def test_an_intake_field_the_type_does_not_have_cannot_be_added(config: DeskConfig, defect: Ticket) -> None:
    errors = _errors_of(config, defect, {"fields": {"attendees": 3}})

    assert set(errors) == {"fields.attendees"}


@pytest.mark.parametrize("name", ["status", "type", "ref", "id"])
def test_what_only_other_operations_change_cannot_be_changed_here(
    config: DeskConfig, defect: Ticket, name: str
) -> None:
    errors = _errors_of(config, defect, {name: "completed"})

    assert errors == {name: "cannot be changed here"}


def test_an_unknown_setting_is_refused(config: DeskConfig, defect: Ticket) -> None:
    errors = _errors_of(config, defect, {"mood": "grumpy"})

    assert set(errors) == {"mood"}


def test_an_edit_that_changes_nothing_is_refused(config: DeskConfig, defect: Ticket) -> None:
    with pytest.raises(ValidationError, match="nothing to change"):
        _change(config, defect, {})


def test_a_refused_edit_changes_nothing_at_all(config: DeskConfig, defect: Ticket) -> None:
    with pytest.raises(ValidationError) as caught:
        _change(config, defect, {"priority": "critical", "assignee": "ag_9"})

    assert set(caught.value.errors) == {"assignee"}
    assert defect.priority == "medium"


# comments


def test_a_comment_body_is_trimmed() -> None:
    assert check_comment_body("  Thanks, looking into it.  \n") == "Thanks, looking into it."


@pytest.mark.parametrize("body", ["", "   \n", None, 42])
def test_an_empty_comment_is_refused(body: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        check_comment_body(body)

    assert set(caught.value.errors) == {"body"}


def test_a_comment_over_twenty_thousand_characters_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        check_comment_body("x" * 20_001)

    assert set(caught.value.errors) == {"body"}


def test_a_public_agent_comment_is_the_first_response(defect: Ticket) -> None:
    replied, comment = add_comment(defect, "We are on it.", public=True, actor=AGENT, comment_id="c_1", now=LATER)

    assert replied.first_response_at == LATER
    assert replied.comment_count == 1
    assert replied.updated_at == LATER
    assert replied.changed_by == "agent:ag_1"
    assert comment.public
    assert (comment.ticket_id, comment.id, comment.body) == ("t_1", "c_1", "We are on it.")
    assert (comment.author_role, comment.author_id, comment.author_name) == ("agent", "ag_1", "Ada Agent")
    assert comment.created_at == LATER


def test_a_second_public_agent_comment_keeps_the_first_response_time(defect: Ticket) -> None:
    replied, _ = add_comment(defect, "We are on it.", public=True, actor=AGENT, comment_id="c_1", now=LATER)

    again, _ = add_comment(replied, "Fixed.", public=True, actor=OTHER_AGENT, comment_id="c_2", now=MUCH_LATER)

    assert again.first_response_at == LATER
    assert again.comment_count == 2
    assert again.updated_at == MUCH_LATER


def test_a_private_note_is_not_a_response(defect: Ticket) -> None:
    noted, comment = add_comment(
        defect, "Probably the CSV lib.", public=False, actor=AGENT, comment_id="c_1", now=LATER
    )

    assert noted.first_response_at is None
    assert noted.comment_count == 1
    assert not comment.public


def test_a_private_note_after_a_reply_keeps_the_first_response_time(defect: Ticket) -> None:
    replied, _ = add_comment(defect, "We are on it.", public=True, actor=AGENT, comment_id="c_1", now=LATER)

    noted, _ = add_comment(replied, "Internal.", public=False, actor=AGENT, comment_id="c_2", now=MUCH_LATER)

    assert noted.first_response_at == LATER


@pytest.mark.parametrize("public", [True, False])
def test_a_requester_comment_is_public_and_never_a_first_response(defect: Ticket, public: bool) -> None:
    updated, comment = add_comment(defect, "Any news?", public=public, actor=REQUESTER, comment_id="c_1", now=LATER)

    assert comment.public
    assert comment.author_role == "requester"
    assert updated.first_response_at is None
    assert updated.comment_count == 1
    assert updated.changed_by == "requester:jo@example.org"


def test_an_agent_reply_after_the_requester_wrote_is_the_first_response(defect: Ticket) -> None:
    asked, _ = add_comment(defect, "Any news?", public=True, actor=REQUESTER, comment_id="c_1", now=LATER)

    replied, _ = add_comment(asked, "Yes: fixed.", public=True, actor=AGENT, comment_id="c_2", now=MUCH_LATER)

    assert replied.first_response_at == MUCH_LATER
