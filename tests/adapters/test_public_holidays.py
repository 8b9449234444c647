"""Public holidays from the holidays library: England's Christmas, a desk's own day on top, hints for bad codes, and
the library loaded only for a calendar that names a country."""

from __future__ import annotations

import copy
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.adapters.public_holidays import LibraryHolidays
from chalicelib.domain.calendar import business_time, opening_window
from chalicelib.domain.config import UnknownHolidayRegion, parse_config, shipped_document

ROOT = Path(__file__).resolve().parents[2]


def england(extra: list[str]) -> dict[str, object]:
    doc = copy.deepcopy(shipped_document())
    doc["sla"]["calendar"] |= {"country": "GB", "subdivision": "ENG", "holidays": extra}
    return doc


def test_england_closes_on_christmas_and_boxing_day_observed_and_the_desk_adds_its_own_day() -> None:
    calendar = parse_config(england(["2026-12-29"]), LibraryHolidays()).sla.calendar

    closed = [day for day in (date(2026, 12, 21) + timedelta(days=n) for n in range(14)) if calendar.is_closed(day)]

    # Boxing Day is a Saturday, so the Monday after is its observed day; the 29th is the desk's own.
    assert closed == [date(2026, 12, 25), date(2026, 12, 26), date(2026, 12, 28), date(2026, 12, 29), date(2027, 1, 1)]
    assert opening_window(calendar, date(2026, 12, 30)) is not None
    # Thursday 24 Dec 9:00 to Wednesday 30 Dec 9:00 London: one day open (Thursday), the rest holidays and a weekend.
    start, end = datetime(2026, 12, 24, 9, tzinfo=UTC), datetime(2026, 12, 30, 9, tzinfo=UTC)
    assert business_time(calendar, start, end) == timedelta(hours=8)


def test_scotland_has_other_holidays_than_england() -> None:
    holidays = LibraryHolidays()
    assert date(2027, 1, 4) in holidays.closed_days("GB", "SCT")  # 2 January observed
    assert date(2027, 1, 4) not in holidays.closed_days("GB", "ENG")


@pytest.mark.parametrize(
    ("country", "subdivision", "field", "message"),
    [
        ("XX", None, "country", "unknown country 'XX'; use an ISO 3166-1 code the holidays library knows"),
        ("gb", None, "country", "unknown country 'gb'; codes are capitals: 'GB'"),
        ("GB", "XYZ", "subdivision", "unknown subdivision 'XYZ' of GB; it has ENG, NIR, SCT, WLS"),
        ("GB", "eng", "subdivision", "unknown subdivision 'eng' of GB; codes are capitals: 'ENG'"),
        ("US", "ZZ", "subdivision", "unknown subdivision 'ZZ' of US; it has AK, AL, AR, AS"),
    ],
)
def test_unknown_codes_say_which_and_hint_at_known_ones(
    country: str, subdivision: str | None, field: str, message: str
) -> None:
    with pytest.raises(UnknownHolidayRegion) as refused:
        LibraryHolidays().closed_days(country, subdivision)

    assert refused.value.field == field
    assert refused.value.message.startswith(message)


def test_the_library_is_imported_only_for_a_calendar_that_names_a_country() -> None:
    probe = """
import copy, sys, app
from chalicelib import wiring
from chalicelib.adapters.public_holidays import LibraryHolidays
from chalicelib.domain.config import parse_config, shipped_document
doc = shipped_document()
parse_config(doc, LibraryHolidays())
before = "holidays" in sys.modules
doc = copy.deepcopy(doc)
doc["sla"]["calendar"]["country"] = "FR"
parse_config(doc, LibraryHolidays())
print(before, "holidays" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
