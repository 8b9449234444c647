"""CSV text of report tables: what a spreadsheet reads back, and no cell it would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from chalicelib.web.spreadsheet import filename, to_csv


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
        ("+1", "'+1"),
        ("-x", "'-x"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tleading tab", "'\tleading tab"),
        ("\rleading return", "'\rleading return"),
        ("-5", "'-5"),  # text that looks like a number is still text
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_text_that_a_spreadsheet_would_run_gets_a_leading_quote(value: str, written: str) -> None:
    assert read(to_csv(["comment"], [[value]])) == [["comment"], [written]]


def test_numbers_stay_numbers_and_none_is_empty() -> None:
    text = to_csv(["a", "b", "c", "d"], [[-5, 1.5, None, 0]])
    assert text == "a,b,c,d\r\n-5,1.5,,0\r\n"


def test_rows_end_with_crlf() -> None:
    assert to_csv(["date", "arrivals"], [["2026-11-01", 3], ["total", 3]]) == (
        "date,arrivals\r\n2026-11-01,3\r\ntotal,3\r\n"
    )


def test_awkward_text_round_trips_through_a_csv_reader() -> None:
    header = ["ref", "comment", "label"]
    rows = [
        ["HD-1", 'She said "fine", then left', "Zoë's team"],
        ["HD-2", "two\nlines, and a comma", "日本"],
        ["HD-3", "", "=1+1"],
    ]
    text = to_csv(header, rows)
    assert read(text) == [
        header,
        ["HD-1", 'She said "fine", then left', "Zoë's team"],
        ["HD-2", "two\nlines, and a comma", "日本"],
        ["HD-3", "", "'=1+1"],
    ]
    assert text.encode("utf-8").decode("utf-8") == text


def test_an_empty_table_is_its_header() -> None:
    assert to_csv(["status", "count"], []) == "status,count\r\n"


def test_filename_names_the_report_and_its_period() -> None:
    assert filename("sla", date(2026, 11, 1), date(2026, 11, 30)) == "sla-2026-11-01-to-2026-11-30.csv"
    assert filename("time-in-status", date(2026, 1, 5), date(2026, 1, 5)) == (
        "time-in-status-2026-01-05-to-2026-01-05.csv"
    )


def test_filename_keeps_only_safe_characters() -> None:
    assert filename('../x"y', date(2026, 11, 1), date(2026, 11, 2)) == "x-y-2026-11-01-to-2026-11-02.csv"
