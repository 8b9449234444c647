"""A business calendar's public holidays: a country and subdivision, looked up through the PublicHolidays port, with
the desk's own extra days on top; the codes are checked when the configuration is read."""

from __future__ import annotations

import copy
from collections.abc import Container
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.calendar import add_business_time, opening_window
from chalicelib.domain.config import (
    UnknownHolidayRegion,
    default_config,
    parse_config,
    parse_sla_policy,
    shipped_document,
)
from chalicelib.domain.errors import ValidationError

FOUNDING = date(2026, 11, 24)  # a Tuesday


class Listed:
    """A public holiday source that knows one country, and for it one subdivision, with one holiday each."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    def closed_days(self, country: str, subdivision: str | None) -> Container[date]:
        self.asked.append((country, subdivision))
        if country != "XL":
            raise UnknownHolidayRegion("country", f"unknown country {country!r}; use XL")
        if subdivision not in (None, "NORTH"):
            raise UnknownHolidayRegion("subdivision", f"unknown subdivision {subdivision!r} of XL; it has NORTH")
        return frozenset({FOUNDING} | ({FOUNDING + timedelta(days=1)} if subdivision else set()))


def document(**calendar: Any) -> dict[str, Any]:
    doc = copy.deepcopy(shipped_document())
    doc["sla"]["calendar"] = {**doc["sla"]["calendar"], "holidays": ["2026-11-26"], **calendar}
    return doc


def test_a_named_country_closes_the_desk_on_its_public_holidays_and_the_desk_s_own_days() -> None:
    source = Listed()
    calendar = parse_config(document(country="XL", subdivision="NORTH"), source).sla.calendar

    assert (calendar.country, calendar.subdivision, source.asked) == ("XL", "NORTH", [("XL", "NORTH")])
    assert [opening_window(calendar, FOUNDING + timedelta(days=n)) is None for n in range(4)] == [
        True,  # the country's holiday
        True,  # the subdivision's
        True,  # the desk's own extra day
        False,  # Friday: open
    ]
    # Four business hours from Monday 16:00 London: one on Monday, the other three on Friday.
    assert add_business_time(calendar, datetime(2026, 11, 23, 16, tzinfo=UTC), timedelta(hours=4)) == datetime(
        2026, 11, 27, 12, tzinfo=UTC
    )


def test_without_a_country_the_calendar_has_only_its_own_holidays_and_asks_no_source() -> None:
    source = Listed()
    calendar = parse_config(document(), source).sla.calendar

    assert (calendar.country, calendar.subdivision, source.asked) == (None, None, [])
    assert calendar.is_closed(date(2026, 11, 26))
    assert not calendar.is_closed(FOUNDING)
    assert parse_config(document(), source).sla.calendar == calendar  # equal by their codes and days


@pytest.mark.parametrize(
    ("calendar", "path", "message"),
    [
        ({"country": "ZZ"}, "sla.calendar.country", "unknown country 'ZZ'; use XL"),
        ({"country": "XL", "subdivision": "SOUTH"}, "sla.calendar.subdivision", "unknown subdivision 'SOUTH' of XL"),
        ({"subdivision": "NORTH"}, "sla.calendar.subdivision", "needs a country"),
        ({"country": 44}, "sla.calendar.country", "must be a country code"),
        ({"country": "X/../L"}, "sla.calendar.country", "must be a country code"),
        ({"country": "XL", "region": "NORTH"}, "sla.calendar.region", "is not a known setting"),
    ],
)
def test_unknown_or_malformed_codes_are_refused_with_their_path(
    calendar: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_config(document(**calendar), Listed())

    assert refused.value.errors[path].startswith(message)


def test_a_country_without_a_source_of_public_holidays_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_config(document(country="XL"))

    assert "sla.calendar.country" in refused.value.errors


def test_a_proposed_policy_is_checked_as_the_configuration_s_sla_section() -> None:
    config = default_config()
    proposal = copy.deepcopy(config.document["sla"])
    proposal["calendar"]["country"] = "XL"
    proposal["targets"]["low"]["resolution"] = "1m"

    with pytest.raises(ValidationError) as refused:
        parse_sla_policy(proposal, config.priorities, Listed())

    assert refused.value.errors == {"sla.targets.low.first_response": "cannot be longer than the resolution target"}
    proposal["targets"]["low"]["resolution"] = "80h"
    assert parse_sla_policy(proposal, config.priorities, Listed()).calendar.is_closed(FOUNDING)


def test_an_sla_target_is_at_most_a_year_so_that_every_due_time_is_a_date() -> None:
    proposal = copy.deepcopy(default_config().document["sla"])
    proposal["targets"]["low"] = {"first_response": "367d", "resolution": "99999999999999d"}

    with pytest.raises(ValidationError) as refused:
        parse_sla_policy(proposal, default_config().priorities)

    assert refused.value.errors == {
        "sla.targets.low.first_response": "must be at most a year",
        "sla.targets.low.resolution": "must be at most a year",
    }
