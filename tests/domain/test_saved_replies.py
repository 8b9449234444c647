"""Checking saved replies as an admin writes them, and filling their placeholders in from a ticket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.config import DeskConfig, default_config, fill_placeholders
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.saved_replies import (
    BODY_LIMIT,
    PLACEHOLDERS,
    READ_ONLY_FIELDS,
    TITLE_LIMIT,
    ReplyContent,
    SavedReply,
    by_title,
    check_query,
    check_reply,
    fill,
    matches,
    new_reply,
    placeholder_problem,
    revise,
    values_for,
)
from chalicelib.domain.tickets import check_submission, open_ticket

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
VALUES = {
    "requester_name": "Rosa Diaz",
    "ticket_ref": "HD-1001",
    "portal_link": "https://desk.example.org/portal/tickets/t1?token=abc",
    "agent_name": "Amy Santiago",
    "ticket_subject": "Printer offline",
}


@pytest.fixture
def config() -> DeskConfig:
    return default_config()


def _errors_of(raw: dict[str, Any], config: DeskConfig, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        check_reply(raw, config, **kwargs)
    return caught.value.errors


def _reply(body: str, **extra: Any) -> SavedReply:
    return new_reply("r1", ReplyContent(title="Greeting", body=body, **extra), "agent:a1", NOW)


# what an admin may save -------------------------------------------------------------------------------------


def test_a_reply_needs_only_a_title_and_a_body_and_is_public_by_default(config: DeskConfig) -> None:
    content = check_reply({"title": "  Printer fixed ", "body": "\nIt works again.\n"}, config)

    assert content == ReplyContent(
        title="Printer fixed", body="It works again.", status=None, priority=None, public=True
    )


def test_a_macro_names_a_status_and_a_priority_of_the_configuration(config: DeskConfig) -> None:
    raw = {"title": "Resolved", "body": "Done.", "status": "resolved", "priority": "low", "public": False}

    content = check_reply(raw, config)

    assert (content.status, content.priority, content.public) == ("resolved", "low", False)


def test_a_status_or_priority_the_configuration_lacks_is_refused_by_name(config: DeskConfig) -> None:
    errors = _errors_of({"title": "x", "body": "y", "status": "closed", "priority": "urgent"}, config)

    assert set(errors) == {"status", "priority"}
    assert "resolved" in errors["status"]
    assert "critical" in errors["priority"]


@pytest.mark.parametrize("value", [1, ["resolved"], {"key": "resolved"}, "", True])
def test_a_status_that_is_not_a_key_is_refused(config: DeskConfig, value: Any) -> None:
    assert set(_errors_of({"title": "x", "body": "y", "status": value}, config)) == {"status"}


def test_null_status_and_priority_mean_none(config: DeskConfig) -> None:
    content = check_reply({"title": "x", "body": "y", "status": None, "priority": None}, config)

    assert (content.status, content.priority) == (None, None)


@pytest.mark.parametrize("public", [None, "true", 1, 0])
def test_public_must_be_true_or_false(config: DeskConfig, public: Any) -> None:
    assert set(_errors_of({"title": "x", "body": "y", "public": public}, config)) == {"public"}


@pytest.mark.parametrize(
    "title",
    [None, "", "   ", 42, "a" * (TITLE_LIMIT + 1), "Two\nlines", "Tab\there", "Bell\x07", "Line\u2028sep", "NUL\x00"],
)
def test_a_title_must_be_one_line_of_1_to_120_characters_without_control_characters(
    config: DeskConfig, title: Any
) -> None:
    assert set(_errors_of({"title": title, "body": "y"}, config)) == {"title"}


def test_a_title_of_exactly_120_characters_with_accents_and_emoji_is_kept(config: DeskConfig) -> None:
    title = "Café ☕ " + "a" * (TITLE_LIMIT - 7)

    assert check_reply({"title": title, "body": "y"}, config).title == title


@pytest.mark.parametrize("body", [None, "", " \n ", 7, "a" * (BODY_LIMIT + 1), "Escape \x1b[31m red", "NUL \x00"])
def test_a_body_must_be_text_of_1_to_20000_characters_without_control_characters(config: DeskConfig, body: Any) -> None:
    assert set(_errors_of({"title": "x", "body": body}, config)) == {"body"}


def test_a_body_keeps_its_line_breaks_and_tabs(config: DeskConfig) -> None:
    body = "Hello,\r\n\n\tindented\n" + "a" * (BODY_LIMIT - 20)

    assert check_reply({"title": "x", "body": body}, config).body == body


def test_unknown_fields_are_named(config: DeskConfig) -> None:
    errors = _errors_of({"title": "x", "body": "y", "macro": True, "Title": "x"}, config)

    assert errors == {"Title": "is not a known field", "macro": "is not a known field"}


def test_fields_the_desk_sets_are_refused_when_creating(config: DeskConfig) -> None:
    errors = _errors_of({"title": "x", "body": "y", "id": "mine", "version": 3}, config)

    assert errors == {"id": "is set by the desk", "version": "is set by the desk"}


def test_fields_the_desk_sets_can_be_passed_over_when_updating(config: DeskConfig) -> None:
    raw = {"title": "x", "body": "y", "id": "r1", "version": 3, "updated_at": "…", "updated_by": "agent:a1"}

    assert check_reply(raw, config, ignored=READ_ONLY_FIELDS) == ReplyContent("x", "y")


def test_every_problem_is_named_at_once(config: DeskConfig) -> None:
    errors = _errors_of({"title": "", "body": "", "status": "nope", "public": "yes", "extra": 1}, config)

    assert set(errors) == {"title", "body", "status", "public", "extra"}


# placeholders ---------------------------------------------------------------------------------------------


def test_every_known_placeholder_is_accepted_with_or_without_spaces_inside_the_braces(config: DeskConfig) -> None:
    body = "Hi {{requester_name}}, {{ ticket_ref }} ({{\tticket_subject\t}}) {{portal_link }} -- {{  agent_name}}"

    assert check_reply({"title": "x", "body": body}, config).body == body


def test_an_unknown_placeholder_is_refused_naming_it_and_the_ones_allowed(config: DeskConfig) -> None:
    errors = _errors_of({"title": "x", "body": "Dear {{requestor_name}}, about {{ ticket_ref }}"}, config)

    assert set(errors) == {"body"}
    assert "{{requestor_name}}" in errors["body"]
    assert all("{{" + name + "}}" in errors["body"] for name in PLACEHOLDERS)


def test_every_unknown_placeholder_is_named(config: DeskConfig) -> None:
    errors = _errors_of({"title": "x", "body": "{{ name }} and {{ref}} and {{}}"}, config)

    assert "{{name}}, {{ref}}" in errors["body"]
    assert "{{}}" in errors["body"]


@pytest.mark.parametrize(
    "body",
    [
        "Dear {{requester_name}",
        "Dear {requester_name}}",
        "Dear {{requester_name",
        "See {{ portal_link }}}}",
        "{{ticket ref}}",
        "{{Ticket_Ref}}",
        "{{ticket_ref.__class__}}",
        "{{ticket_ref|upper}}",
        "{% if x %}{{ticket_ref}}{% endif %}",
    ],
)
def test_a_placeholder_typo_is_caught_when_saving(body: str) -> None:
    assert placeholder_problem(body) is not None


@pytest.mark.parametrize("body", ["Dear {requester_name}", "About { ticket_ref }"])
def test_a_known_name_in_single_braces_is_caught_too(body: str) -> None:
    problem = placeholder_problem(body)

    assert problem is not None
    assert "two braces" in problem


@pytest.mark.parametrize("body", ["No placeholders at all", 'A set {a, b} and JSON {"k": 1}', "{ref} is fine"])
def test_single_braces_around_other_text_are_plain_text(body: str) -> None:
    assert placeholder_problem(body) is None


@pytest.mark.parametrize("body", ["{{" + " " * 19990, "{{" * 9000, "{{ a" * 4000, "{" + " " * 19990 + "x"])
def test_a_body_of_braces_and_spaces_is_checked_at_once(body: str) -> None:
    """Inputs that would make a backtracking pattern run for hours: the checks answer (the suite's run is the
    clock; nothing here is timed)."""
    problem = placeholder_problem(body)
    filled = fill(_reply(body), VALUES)

    assert problem is None or isinstance(problem, str)
    assert isinstance(filled, str)
    assert len(filled) >= len(body) // 2


# filling ---------------------------------------------------------------------------------------------------


def test_fill_puts_the_ticket_details_in_place_of_the_placeholders() -> None:
    reply = _reply("Hi {{requester_name}},\n{{ ticket_ref }} ({{ticket_subject}}): {{portal_link}}\n-- {{agent_name}}")

    assert fill(reply, VALUES) == (
        "Hi Rosa Diaz,\n"
        "HD-1001 (Printer offline): https://desk.example.org/portal/tickets/t1?token=abc\n"
        "-- Amy Santiago"
    )


def test_a_filled_value_is_plain_text_and_never_filled_again() -> None:
    values = {**VALUES, "requester_name": "{{ticket_ref}} {{agent_name.__class__}} \\1 \\g<0> {0}"}

    assert fill(_reply("Hi {{requester_name}}"), values) == "Hi {{ticket_ref}} {{agent_name.__class__}} \\1 \\g<0> {0}"


def test_a_placeholder_without_a_value_is_left_for_the_agent_to_see() -> None:
    assert fill(_reply("Hi {{requester_name}}, see {{ portal_link }}"), {"requester_name": "Rosa"}) == (
        "Hi Rosa, see {{ portal_link }}"
    )


def test_values_for_unknown_names_are_never_used() -> None:
    reply = SavedReply("r1", "x", "{{secret}} {{ticket_ref}}", 1, NOW, "agent:a1")  # saved past the checks

    assert fill(reply, {"secret": "s3cr3t", "ticket_ref": "HD-1"}) == "{{secret}} HD-1"


def test_values_for_a_ticket_name_every_placeholder(config: DeskConfig) -> None:
    raw = {
        "type": "question",
        "subject": "Printer offline",
        "description": "It shows as offline.",
        "requester_name": "Rosa Diaz",
        "requester_email": "rosa@example.org",
    }
    ticket = open_ticket(config, check_submission(config, raw, from_form=False), ticket_id="t1", ref="HD-1001", now=NOW)

    values = values_for(ticket, "Amy Santiago", "https://desk.example.org/portal/tickets/t1?token=abc")

    assert values == VALUES
    assert set(values) == set(PLACEHOLDERS)


def test_the_configurations_messages_are_filled_as_before() -> None:
    values = {"ref": "HD-1", "name": "Rosa"}

    assert fill_placeholders("Dear {name}, {ref} {{ticket_ref}} {ref.__class__}", values) == (
        "Dear Rosa, HD-1 {{ticket_ref}} {ref.__class__}"
    )


# versions, search and order --------------------------------------------------------------------------------


def test_a_new_reply_is_version_1_and_each_change_adds_one() -> None:
    reply = new_reply("r1", ReplyContent("Greeting", "Hello"), "agent:a1", NOW)
    changed = revise(reply, ReplyContent("Greeting", "Hello there", status="resolved"), "agent:a2", LATER)

    assert (reply.version, reply.updated_at, reply.updated_by) == (1, NOW, "agent:a1")
    assert (changed.version, changed.updated_at, changed.updated_by) == (2, LATER, "agent:a2")
    assert (changed.body, changed.status, changed.is_macro) == ("Hello there", "resolved", True)
    assert not reply.is_macro


def test_saving_the_same_content_again_is_no_change() -> None:
    reply = new_reply("r1", ReplyContent("Greeting", "Hello"), "agent:a1", NOW)

    assert revise(reply, ReplyContent("Greeting", "Hello"), "agent:a2", LATER) is reply


def test_a_search_matches_the_title_or_the_body_whatever_the_case() -> None:
    reply = new_reply("r1", ReplyContent("Printer Fixed", "The TONER was empty."), "agent:a1", NOW)

    assert matches(reply, "printer")
    assert matches(reply, "toner WAS")
    assert not matches(reply, "scanner")
    assert matches(reply, None)


@pytest.mark.parametrize(("raw", "query"), [(None, None), ("", None), ("   ", None), (" toner ", "toner")])
def test_an_empty_search_lists_everything(raw: str | None, query: str | None) -> None:
    assert check_query(raw) == query


def test_an_overlong_search_is_refused_naming_q() -> None:
    with pytest.raises(ValidationError) as caught:
        check_query("x" * 201)

    assert set(caught.value.errors) == {"q"}


def test_replies_are_ordered_by_title_whatever_the_case() -> None:
    replies = [new_reply(i, ReplyContent(t, "b"), "agent:a1", NOW) for i, t in [("1", "b"), ("2", "A"), ("3", "a")]]

    assert [r.title for r in by_title(replies)] == ["A", "a", "b"]
