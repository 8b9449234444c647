"""Checking what a requester sends to open a ticket: the ticket's own fields and the type's intake fields."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.domain.config import DeskConfig, default_config, parse_config, shipped_document
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.tickets import Submission, check_submission


@pytest.fixture(scope="module")
def config() -> DeskConfig:
    return default_config()


@pytest.fixture(scope="module")
def public_priority_config() -> DeskConfig:
    document = copy.deepcopy(shipped_document("default"))
    document["desk"]["public_priority"] = True
    return parse_config(document)


def _defect(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "defect",
        "subject": "Export to CSV fails",
        "description": "The export button does nothing.",
        "requester_name": "Jo Requester",
        "requester_email": "jo@example.org",
        "fields": {
            "product": "Ledger",
            "version_affected": "4.2.1",
            "steps_to_reproduce": "Open a report.\nClick Export.\nNothing happens.",
        },
    }
    raw.update(changes)
    return raw


def _with_fields(raw: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**raw, "fields": {**raw["fields"], **fields}}


def _training(**fields: Any) -> dict[str, Any]:
    return {
        "type": "training",
        "subject": "Training for new staff",
        "description": "Six new colleagues.",
        "requester_name": "Jo Requester",
        "requester_email": "jo@example.org",
        "fields": {"course": "Month-end close", "attendees": 6, "format": "Remote", **fields},
    }


def _errors_of(config: DeskConfig, raw: dict[str, Any], *, from_form: bool = False) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        check_submission(config, raw, from_form=from_form)
    return caught.value.errors


def test_a_complete_defect_is_accepted(config: DeskConfig) -> None:
    submission = check_submission(config, _defect(), from_form=False)

    assert submission == Submission(
        type="defect",
        subject="Export to CSV fails",
        description="The export button does nothing.",
        requester_name="Jo Requester",
        requester_email="jo@example.org",
        priority="medium",
        fields={
            "product": "Ledger",
            "version_affected": "4.2.1",
            "steps_to_reproduce": "Open a report.\nClick Export.\nNothing happens.",
        },
    )


def test_a_defect_without_steps_to_reproduce_is_refused(config: DeskConfig) -> None:
    raw = _defect()
    del raw["fields"]["steps_to_reproduce"]

    errors = _errors_of(config, raw)

    assert set(errors) == {"fields.steps_to_reproduce"}
    assert errors["fields.steps_to_reproduce"] == "is required"


def test_a_required_field_sent_blank_is_refused(config: DeskConfig) -> None:
    errors = _errors_of(config, _with_fields(_defect(), product="   "))

    assert set(errors) == {"fields.product"}


def test_every_missing_required_field_is_named(config: DeskConfig) -> None:
    errors = _errors_of(config, _defect(fields={}))

    assert set(errors) == {"fields.product", "fields.version_affected", "fields.steps_to_reproduce"}


def test_an_intake_field_the_type_does_not_have_is_refused(config: DeskConfig) -> None:
    errors = _errors_of(config, _with_fields(_defect(), favourite_colour="teal"))

    assert set(errors) == {"fields.favourite_colour"}


def test_a_field_of_another_type_is_refused(config: DeskConfig) -> None:
    errors = _errors_of(config, _with_fields(_defect(), attendees=3))

    assert set(errors) == {"fields.attendees"}


def test_an_unknown_top_level_field_is_refused(config: DeskConfig) -> None:
    errors = _errors_of(config, _defect(shoe_size="42"))

    assert set(errors) == {"shoe_size"}


def test_fields_that_are_not_an_object_are_refused(config: DeskConfig) -> None:
    errors = _errors_of(config, _defect(fields=["Ledger"]))

    assert "fields" in errors


def test_an_unknown_type_is_refused(config: DeskConfig) -> None:
    errors = _errors_of(config, _defect(type="complaint"))

    assert set(errors) == {"type"}


@pytest.mark.parametrize("missing", ["subject", "description", "requester_name", "requester_email"])
def test_the_ticket_fields_are_required(config: DeskConfig, missing: str) -> None:
    raw = _defect()
    del raw[missing]

    errors = _errors_of(config, raw)

    assert set(errors) == {missing}


def test_a_number_field_refuses_words(config: DeskConfig) -> None:
    errors = _errors_of(config, _training(attendees="many"))

    assert set(errors) == {"fields.attendees"}


def test_a_number_from_a_form_is_read_as_a_whole_number(config: DeskConfig) -> None:
    submission = check_submission(config, _training(attendees="3"), from_form=True)

    assert submission.fields["attendees"] == 3
    assert isinstance(submission.fields["attendees"], int)


def test_a_decimal_number_from_a_form_is_read_as_a_decimal(config: DeskConfig) -> None:
    raw = {**_training(), "type": "consultation", "fields": {"topic": "Migration", "hours_expected": "2.5"}}

    submission = check_submission(config, raw, from_form=True)

    assert submission.fields["hours_expected"] == 2.5


def test_a_number_field_refuses_true(config: DeskConfig) -> None:
    errors = _errors_of(config, _training(attendees=True))

    assert set(errors) == {"fields.attendees"}


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_number_field_refuses_values_that_are_not_finite(config: DeskConfig, value: float) -> None:
    errors = _errors_of(config, _training(attendees=value))

    assert set(errors) == {"fields.attendees"}


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "23/11/2026", "20261123", "next week"])
def test_a_date_field_refuses_what_is_not_a_calendar_date(config: DeskConfig, value: str) -> None:
    errors = _errors_of(config, _with_fields(_defect(), first_noticed=value))

    assert set(errors) == {"fields.first_noticed"}


def test_a_date_field_refuses_an_iso_week_date(config: DeskConfig) -> None:
    errors = _errors_of(config, _with_fields(_defect(), first_noticed="2026-W48-1"))

    assert set(errors) == {"fields.first_noticed"}


def test_a_date_field_accepts_a_date_as_year_month_day(config: DeskConfig) -> None:
    submission = check_submission(config, _with_fields(_defect(), first_noticed="2026-11-20"), from_form=False)

    assert submission.fields["first_noticed"] == "2026-11-20"


@pytest.mark.parametrize(
    "value",
    ["javascript:alert(1)", "ftp://files.example.org/shot.png", "example.org/shot.png", "https://exa mple.org"],
)
def test_a_url_field_refuses_what_is_not_a_web_link(config: DeskConfig, value: str) -> None:
    errors = _errors_of(config, _with_fields(_defect(), screenshot_url=value))

    assert set(errors) == {"fields.screenshot_url"}


def test_a_url_field_accepts_an_https_link(config: DeskConfig) -> None:
    raw = _with_fields(_defect(), screenshot_url="https://files.example.org/shot.png")

    submission = check_submission(config, raw, from_form=False)

    assert submission.fields["screenshot_url"] == "https://files.example.org/shot.png"


def test_an_email_field_refuses_what_is_not_an_address(config: DeskConfig) -> None:
    raw = {**_defect(), "type": "question", "fields": {"contact_email_cc": "boss at example.org"}}

    errors = _errors_of(config, raw)

    assert set(errors) == {"fields.contact_email_cc"}


def test_an_email_field_is_lower_cased(config: DeskConfig) -> None:
    raw = {**_defect(), "type": "question", "fields": {"contact_email_cc": "Boss@Example.ORG"}}

    submission = check_submission(config, raw, from_form=False)

    assert submission.fields["contact_email_cc"] == "boss@example.org"


def test_a_choice_field_refuses_a_value_outside_its_choices(config: DeskConfig) -> None:
    errors = _errors_of(config, _with_fields(_defect(), environment="Moon base"))

    assert set(errors) == {"fields.environment"}
    assert "Production" in errors["fields.environment"]


def test_a_choice_field_accepts_one_of_its_choices(config: DeskConfig) -> None:
    submission = check_submission(config, _with_fields(_defect(), environment="Staging"), from_form=False)

    assert submission.fields["environment"] == "Staging"


def test_a_long_text_field_refuses_more_than_its_maximum_length(config: DeskConfig) -> None:
    errors = _errors_of(config, _with_fields(_defect(), steps_to_reproduce="x" * 10_001))

    assert set(errors) == {"fields.steps_to_reproduce"}
    assert "10000" in errors["fields.steps_to_reproduce"]


def test_a_long_text_field_accepts_exactly_its_maximum_length(config: DeskConfig) -> None:
    submission = check_submission(config, _with_fields(_defect(), steps_to_reproduce="x" * 10_000), from_form=False)

    assert len(submission.fields["steps_to_reproduce"]) == 10_000


def test_a_single_line_text_field_refuses_a_line_break(config: DeskConfig) -> None:
    errors = _errors_of(config, _with_fields(_defect(), product="Ledger\nPro"))

    assert set(errors) == {"fields.product"}


def test_a_text_field_refuses_a_number(config: DeskConfig) -> None:
    errors = _errors_of(config, _with_fields(_defect(), version_affected=4.2))

    assert set(errors) == {"fields.version_affected"}


def test_optional_fields_left_empty_are_not_stored(config: DeskConfig) -> None:
    raw = _with_fields(_defect(), environment="", first_noticed=None)

    submission = check_submission(config, raw, from_form=True)

    assert "environment" not in submission.fields
    assert "first_noticed" not in submission.fields


def test_a_subject_of_two_hundred_characters_is_accepted(config: DeskConfig) -> None:
    submission = check_submission(config, _defect(subject="s" * 200), from_form=False)

    assert len(submission.subject) == 200


def test_a_subject_over_two_hundred_characters_is_refused(config: DeskConfig) -> None:
    errors = _errors_of(config, _defect(subject="s" * 201))

    assert set(errors) == {"subject"}


@pytest.mark.parametrize("subject", ["First line\nsecond line", "First line\rsecond line"])
def test_a_subject_with_a_line_break_is_refused(config: DeskConfig, subject: str) -> None:
    errors = _errors_of(config, _defect(subject=subject))

    assert set(errors) == {"subject"}


def test_a_subject_that_is_not_text_is_refused(config: DeskConfig) -> None:
    errors = _errors_of(config, _defect(subject=["Export", "fails"]))

    assert set(errors) == {"subject"}


@pytest.mark.parametrize(
    "email",
    ["jo", "jo@", "@example.org", "jo@example", "jo smith@example.org", "<jo@example.org>", "jo@exa_mple.org"],
)
def test_an_invalid_requester_email_is_refused(config: DeskConfig, email: str) -> None:
    errors = _errors_of(config, _defect(requester_email=email))

    assert set(errors) == {"requester_email"}


def test_the_requester_email_is_trimmed_and_lower_cased(config: DeskConfig) -> None:
    submission = check_submission(config, _defect(requester_email="  Jo.Requester@Example.ORG "), from_form=False)

    assert submission.requester_email == "jo.requester@example.org"


def test_the_requester_name_must_be_a_single_line(config: DeskConfig) -> None:
    errors = _errors_of(config, _defect(requester_name="Jo\nRequester"))

    assert set(errors) == {"requester_name"}


def test_a_requester_cannot_choose_the_priority_when_the_desk_does_not_allow_it(config: DeskConfig) -> None:
    errors = _errors_of(config, _defect(priority="critical"))

    assert set(errors) == {"priority"}


def test_a_requester_can_choose_the_priority_when_the_desk_allows_it(public_priority_config: DeskConfig) -> None:
    submission = check_submission(public_priority_config, _defect(priority="critical"), from_form=False)

    assert submission.priority == "critical"


def test_an_unknown_priority_is_refused_when_the_desk_allows_choosing(public_priority_config: DeskConfig) -> None:
    errors = _errors_of(public_priority_config, _defect(priority="apocalyptic"))

    assert set(errors) == {"priority"}


def test_a_priority_that_is_a_list_is_refused_when_the_desk_allows_choosing(
    public_priority_config: DeskConfig,
) -> None:
    errors = _errors_of(public_priority_config, _defect(priority=["critical"]))

    assert set(errors) == {"priority"}


def test_an_empty_priority_means_the_default(config: DeskConfig) -> None:
    submission = check_submission(config, _defect(priority=""), from_form=True)

    assert submission.priority == "medium"


def test_without_a_type_the_ticket_takes_the_desk_default_type(config: DeskConfig) -> None:
    raw = _defect()
    del raw["type"]
    del raw["fields"]

    submission = check_submission(config, raw, from_form=False)

    assert submission.type == "question"
    assert submission.fields == {}


def test_a_type_with_its_own_default_priority_uses_it(config: DeskConfig) -> None:
    submission = check_submission(config, _training(), from_form=False)

    assert submission.priority == "low"


def test_every_problem_is_named_at_once(config: DeskConfig) -> None:
    raw = _with_fields(_defect(subject="", requester_email="nobody"), environment="Moon base")
    del raw["fields"]["product"]

    errors = _errors_of(config, raw)

    assert set(errors) == {"subject", "requester_email", "fields.environment", "fields.product"}
