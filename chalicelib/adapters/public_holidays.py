"""Public holidays from the `holidays` library, behind the domain's `PublicHolidays` port.

The library (hundreds of country modules: importing one country imports them all, ~90 ms) is imported on the
first lookup, so a desk whose calendar names no country never loads it. Its translations of holiday names are
not in the Lambda bundle (infra/bundle.py): the desk asks only which days are holidays.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from typing import Any

from chalicelib.domain.config import UnknownHolidayRegion

EXAMPLES = "GB, US or DE"
LISTED = 20  # subdivisions named in a hint; a country with more says how many more


class LibraryHolidays:
    """A country's (or a subdivision's) public holidays, every year on demand, observed days included (a holiday
    on a Sunday observed on the Monday closes the Monday). One lookup per region and container."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str | None], Container[date]] = {}

    def closed_days(self, country: str, subdivision: str | None) -> Container[date]:
        key = (country, subdivision)
        if key not in self._found:
            import holidays  # only here: a calendar names a country

            try:
                self._found[key] = holidays.country_holidays(country, subdiv=subdivision)
            except NotImplementedError:
                raise _unknown(holidays.list_supported_countries(), country, subdivision) from None
        return self._found[key]


def _unknown(supported: dict[str, Any], country: str, subdivision: str | None) -> UnknownHolidayRegion:
    """Which code is unknown, with a hint towards one that is."""
    if country not in supported:
        if country.upper() in supported:
            hint = f"codes are capitals: {country.upper()!r}"
        else:
            hint = f"use an ISO 3166-1 code the holidays library knows, e.g. {EXAMPLES}"
        return UnknownHolidayRegion("country", f"unknown country {country!r}; {hint}")
    known = [str(code) for code in supported[country]]
    if not known:
        return UnknownHolidayRegion("subdivision", f"{country} has no subdivisions here; leave subdivision out")
    if subdivision is not None and subdivision.upper() in known:
        hint = f"codes are capitals: {subdivision.upper()!r}"
    else:
        hint = (
            "it has " + ", ".join(known[:LISTED]) + (f" and {len(known) - LISTED} more" if len(known) > LISTED else "")
        )
    return UnknownHolidayRegion("subdivision", f"unknown subdivision {subdivision!r} of {country}; {hint}")
