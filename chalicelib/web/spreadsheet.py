"""Report tables as CSV text a spreadsheet opens safely."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

# A text cell starting with one of these is read as a formula by spreadsheet programs (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def cell(value: Any) -> Any:
    """A value as the CSV writer gets it: numbers as numbers, None empty, text defused with a leading '."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(header: list[str], rows: list[list[Any]]) -> str:
    """The table as CSV text (comma separated, CRLF line ends); the caller encodes it as UTF-8."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([cell(value) for value in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()


def filename(name: str, period_first: date, period_last: date) -> str:
    """sla-2026-11-01-to-2026-11-30.csv"""
    safe = _UNSAFE_NAME.sub("-", name).strip("-") or "report"
    return f"{safe}-{period_first.isoformat()}-to-{period_last.isoformat()}.csv"
