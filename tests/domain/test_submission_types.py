"""A submission's top-level fields sent with the wrong JSON type are named, never defaulted or crashed on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.domain.config import DeskConfig, default_config, parse_config, shipped_document
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.tickets import check_submission

WRONG_TYPES = [0, 1, 2.5, True, False, None, [], ["question"], {}, {"key": "question"}]


@pytest.fixture(scope="module")
def config() -> DeskConfig:
    return default_config()


@pytest.fixture(scope="module")
def public_priority_config() -> DeskConfig:
    document = copy.deepcopy(shipped_document("default"))
    document["desk"]["public_priority"] = True
    return parse_config(document)


def _question(**changes: Any) -> dict[str, Any]:
    return {
        "type": "question",
        "subject": "Printer offline",
        "description": "The office printer shows as offline.",
        "requester_name": "Rosa Diaz",
        "requester_email": "rosa@example.org",
        **changes,
    }


def _errors_of(config: DeskConfig, raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        check_submission(config, raw, from_form=False)
    return caught.value.errors


@pytest.mark.parametrize("value", WRONG_TYPES)
def test_a_type_that_is_not_a_string_is_refused_not_defaulted(config: DeskConfig, value: Any) -> None:
    assert set(_errors_of(config, _question(type=value))) == {"type"}


def test_a_type_left_out_or_blank_takes_the_desks_default(config: DeskConfig) -> None:
    left_out = _question()
    del left_out["type"]
    assert check_submission(config, left_out, from_form=False).type == config.desk.default_type
    assert check_submission(config, _question(type=""), from_form=False).type == config.desk.default_type


@pytest.mark.parametrize("name", ["subject", "description", "requester_name", "requester_email"])
@pytest.mark.parametrize("value", [v for v in WRONG_TYPES if v is not None])
def test_a_text_field_that_is_not_a_string_is_refused(config: DeskConfig, name: str, value: Any) -> None:
    assert _errors_of(config, _question(**{name: value})) == {name: "must be a string"}


@pytest.mark.parametrize("value", WRONG_TYPES)
def test_a_priority_that_is_not_a_string_is_refused(public_priority_config: DeskConfig, value: Any) -> None:
    assert set(_errors_of(public_priority_config, _question(priority=value))) == {"priority"}


@pytest.mark.parametrize("value", [None, "Ledger", 3, True, ["Ledger"]])
def test_fields_that_are_not_an_object_are_refused(config: DeskConfig, value: Any) -> None:
    assert set(_errors_of(config, _question(fields=value))) == {"fields"}


@pytest.mark.parametrize("value", [[], {}, ["Ledger"], {"name": "Ledger"}, True])
def test_an_intake_value_of_the_wrong_json_type_is_named(config: DeskConfig, value: Any) -> None:
    raw = _question(
        type="defect",
        fields={"product": value, "version_affected": "4.2", "steps_to_reproduce": "Open it."},
    )
    assert set(_errors_of(config, raw)) == {"fields.product"}
