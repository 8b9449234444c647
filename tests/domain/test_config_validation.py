"""Validating a desk configuration: the shipped ones load, and each broken one names its bad path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.domain.config import default_config, parse_config, parse_duration_minutes, shipped_document
from chalicelib.domain.errors import ValidationError

Document = dict[str, Any]


def _errors_of(document: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_config(document)
    return caught.value.errors


def _changed(change: Callable[[Document], None]) -> Document:
    document = copy.deepcopy(shipped_document("default"))
    change(document)
    return document


def _workflow(document: Document, key: str) -> Document:
    return next(w for w in document["workflows"] if w["key"] == key)


def test_the_shipped_default_configuration_parses() -> None:
    config = default_config()

    assert set(config.types) == {"defect", "consultation", "training", "question"}
    assert set(config.workflows) == {"defect", "consultation", "training", "question"}
    assert config.desk.default_type == "question"
    assert config.desk.public_priority is False


def test_the_default_priorities_are_critical_high_medium_low_in_rank_order() -> None:
    config = default_config()

    assert [(p.key, p.rank) for p in config.priorities_by_rank()] == [
        ("critical", 0),
        ("high", 1),
        ("medium", 2),
        ("low", 3),
    ]


def test_the_default_sla_targets_are_read_as_minutes() -> None:
    targets = default_config().sla.targets

    assert (targets["critical"].first_response_minutes, targets["critical"].resolution_minutes) == (60, 480)
    assert targets["critical"].clock == "calendar"
    assert (targets["low"].first_response_minutes, targets["low"].resolution_minutes) == (960, 4800)
    assert targets["low"].clock == "business"


def test_the_shipped_urgent_normal_configuration_parses_with_two_priorities() -> None:
    config = parse_config(shipped_document("urgent_normal"))

    assert [(p.key, p.rank) for p in config.priorities_by_rank()] == [("urgent", 0), ("normal", 1)]
    assert config.desk.default_priority == "normal"
    assert set(config.sla.targets) == {"urgent", "normal"}


def test_the_parsed_config_keeps_a_copy_of_its_document() -> None:
    document = shipped_document("default")
    config = parse_config(document)
    document["desk"]["name"] = "changed afterwards"

    assert config.document["desk"]["name"] == "Help desk"


def test_renaming_a_status_changes_its_label_and_keeps_its_key() -> None:
    def rename(document: Document) -> None:
        status = next(s for s in document["statuses"] if s["key"] == "in_review")
        status["label"] = "Triage"

    config = parse_config(_changed(rename))

    assert config.statuses["in_review"].label == "Triage"
    assert "in_review" in config.workflows["defect"].statuses
    assert any(t.to_status == "in_review" for t in config.workflows["defect"].transitions)


def test_a_transition_to_an_unknown_status_is_named_by_its_path() -> None:
    def change(document: Document) -> None:
        document["workflows"][0]["transitions"][7]["to"] = "on_the_moon"  # in_testing -> in_progress

    errors = _errors_of(_changed(change))

    assert set(errors) == {"workflows[0].transitions[7].to"}
    assert "on_the_moon" in errors["workflows[0].transitions[7].to"]


def test_a_transition_from_an_unknown_status_is_named_by_its_path() -> None:
    def change(document: Document) -> None:
        document["workflows"][0]["transitions"][3]["from"] = "nowhere"  # approved -> in_progress

    errors = _errors_of(_changed(change))

    assert "workflows[0].transitions[3].from" in errors


def test_a_status_of_a_workflow_that_no_transition_reaches_is_refused() -> None:
    def change(document: Document) -> None:
        document["workflows"][3]["statuses"].append("needs_estimate")  # question: 4 statuses, no way in

    errors = _errors_of(_changed(change))

    assert set(errors) == {"workflows[3].statuses[4]"}
    assert "cannot be reached" in errors["workflows[3].statuses[4]"]


def test_an_open_status_with_no_way_out_is_refused() -> None:
    def change(document: Document) -> None:
        question = document["workflows"][3]
        question["statuses"].append("needs_estimate")
        question["transitions"].append({"from": "in_progress", "to": "needs_estimate", "by": ["agent"]})

    errors = _errors_of(_changed(change))

    assert set(errors) == {"workflows[3].statuses[4]"}
    assert "no way out" in errors["workflows[3].statuses[4]"]


def test_a_done_status_with_no_way_out_is_fine() -> None:
    def change(document: Document) -> None:
        question = _workflow(document, "question")
        question["transitions"] = [t for t in question["transitions"] if t["from"] != "resolved"]

    config = parse_config(_changed(change))

    assert config.workflows["question"].transitions_from("resolved", "agent") == []


def test_a_workflow_without_an_initial_status_is_refused() -> None:
    errors = _errors_of(_changed(lambda d: d["workflows"][0].pop("initial")))

    assert set(errors) == {"workflows[0].initial"}


def test_a_workflow_has_exactly_one_initial_status() -> None:
    def change(document: Document) -> None:
        document["workflows"][0]["initial"] = ["submitted", "in_review"]

    errors = _errors_of(_changed(change))

    assert set(errors) == {"workflows[0].initial"}
    assert "exactly one" in errors["workflows[0].initial"]


def test_a_done_status_cannot_be_the_initial_one() -> None:
    def change(document: Document) -> None:
        question = document["workflows"][3]
        question["initial"] = "resolved"

    errors = _errors_of(_changed(change))

    assert "workflows[3].initial" in errors


def test_a_status_key_given_twice_is_refused() -> None:
    def change(document: Document) -> None:
        document["statuses"].append(copy.deepcopy(document["statuses"][0]))  # a second "submitted"

    errors = _errors_of(_changed(change))

    assert set(errors) == {"statuses[16].key"}
    assert "submitted" in errors["statuses[16].key"]


def test_a_priority_key_given_twice_is_refused() -> None:
    def change(document: Document) -> None:
        document["priorities"].append({"key": "high", "label": "Also high", "rank": 4})

    errors = _errors_of(_changed(change))

    assert set(errors) == {"priorities[4].key"}


def test_a_type_key_given_twice_is_refused() -> None:
    def change(document: Document) -> None:
        document["types"].append(copy.deepcopy(document["types"][0]))  # a second "defect"

    errors = _errors_of(_changed(change))

    assert set(errors) == {"types[4].key"}


def test_a_priority_without_sla_targets_is_refused() -> None:
    errors = _errors_of(_changed(lambda d: d["sla"]["targets"].pop("low")))

    assert set(errors) == {"sla.targets.low"}


def test_sla_targets_for_an_unknown_priority_are_refused() -> None:
    def change(document: Document) -> None:
        document["sla"]["targets"]["urgent"] = {"first_response": "1h", "resolution": "2h"}

    errors = _errors_of(_changed(change))

    assert set(errors) == {"sla.targets.urgent"}


def test_an_unknown_time_zone_is_refused() -> None:
    def change(document: Document) -> None:
        document["sla"]["calendar"]["timezone"] = "Mars/Olympus_Mons"

    errors = _errors_of(_changed(change))

    assert set(errors) == {"sla.calendar.timezone"}


def test_a_time_zone_that_names_a_region_rather_than_a_zone_is_refused() -> None:
    def change(document: Document) -> None:
        document["sla"]["calendar"]["timezone"] = "Europe"

    errors = _errors_of(_changed(change))

    assert set(errors) == {"sla.calendar.timezone"}


@pytest.mark.parametrize("duration", ["4 hours", "4", "h", "-4h", "4.5h", "", "0h"])
def test_a_badly_written_sla_duration_is_refused(duration: str) -> None:
    def change(document: Document) -> None:
        document["sla"]["targets"]["high"]["first_response"] = duration

    errors = _errors_of(_changed(change))

    assert set(errors) == {"sla.targets.high.first_response"}


def test_a_first_response_target_longer_than_the_resolution_target_is_refused() -> None:
    def change(document: Document) -> None:
        document["sla"]["targets"]["high"] = {"first_response": "2d", "resolution": "4h"}

    errors = _errors_of(_changed(change))

    assert set(errors) == {"sla.targets.high.first_response"}


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("90m", 90), ("4h", 240), ("2d", 2880), (" 8h ", 480), ("1 h", 60)],
)
def test_durations_read_as_whole_minutes(text: str, minutes: int) -> None:
    assert parse_duration_minutes(text) == minutes


@pytest.mark.parametrize("text", ["4 hours", "1w", "h4", "", "4h30m"])
def test_durations_that_are_not_minutes_hours_or_days_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_minutes(text)


def test_an_unknown_top_level_setting_is_refused() -> None:
    errors = _errors_of(_changed(lambda d: d.update(colour="teal")))

    assert set(errors) == {"colour"}


def test_a_missing_top_level_section_is_refused() -> None:
    errors = _errors_of(_changed(lambda d: d.pop("sla")))

    assert "sla" in errors


def test_an_intake_field_may_not_take_a_reserved_name() -> None:
    def change(document: Document) -> None:
        document["types"][0]["fields"][0]["name"] = "subject"

    errors = _errors_of(_changed(change))

    assert set(errors) == {"types[0].fields[0].name"}
    assert "reserved" in errors["types[0].fields[0].name"]


def test_a_choice_field_without_choices_is_refused() -> None:
    def change(document: Document) -> None:
        del document["types"][0]["fields"][3]["choices"]  # defect: environment

    errors = _errors_of(_changed(change))

    assert set(errors) == {"types[0].fields[3].choices"}


def test_a_choice_field_with_an_empty_list_of_choices_is_refused() -> None:
    def change(document: Document) -> None:
        document["types"][0]["fields"][3]["choices"] = []

    errors = _errors_of(_changed(change))

    assert set(errors) == {"types[0].fields[3].choices"}


def test_only_a_choice_field_has_choices() -> None:
    def change(document: Document) -> None:
        document["types"][0]["fields"][0]["choices"] = ["a", "b"]  # defect: product is text

    errors = _errors_of(_changed(change))

    assert set(errors) == {"types[0].fields[0].choices"}


def test_an_intake_field_of_an_unknown_kind_is_refused() -> None:
    def change(document: Document) -> None:
        document["types"][0]["fields"][0]["type"] = "colour_picker"

    errors = _errors_of(_changed(change))

    assert set(errors) == {"types[0].fields[0].type"}


def test_a_type_using_an_unknown_workflow_is_refused() -> None:
    errors = _errors_of(_changed(lambda d: d["types"][0].update(workflow="rocket_launch")))

    assert set(errors) == {"types[0].workflow"}


def test_a_type_whose_workflow_is_a_list_is_refused() -> None:
    errors = _errors_of(_changed(lambda d: d["types"][0].update(workflow=["defect"])))

    assert set(errors) == {"types[0].workflow"}


def test_a_type_in_an_unknown_team_is_refused() -> None:
    errors = _errors_of(_changed(lambda d: d["types"][0].update(team="marketing")))

    assert set(errors) == {"types[0].team"}


def test_a_desk_default_type_that_does_not_exist_is_refused() -> None:
    errors = _errors_of(_changed(lambda d: d["desk"].update(default_type="complaint")))

    assert set(errors) == {"desk.default_type"}


def test_a_transition_that_nobody_may_make_is_refused() -> None:
    def change(document: Document) -> None:
        document["workflows"][0]["transitions"][0]["by"] = ["customer"]

    errors = _errors_of(_changed(change))

    assert set(errors) == {"workflows[0].transitions[0].by"}


def test_every_problem_of_a_document_is_named_at_once() -> None:
    def change(document: Document) -> None:
        document["colour"] = "teal"
        document["sla"]["calendar"]["timezone"] = "Nowhere/Land"
        document["types"][0]["workflow"] = "rocket_launch"

    errors = _errors_of(_changed(change))

    assert set(errors) == {"colour", "sla.calendar.timezone", "types[0].workflow"}


def test_a_document_that_is_not_an_object_is_refused() -> None:
    errors = _errors_of(["not", "a", "desk"])

    assert "" in errors
