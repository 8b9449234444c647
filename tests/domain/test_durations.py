"""Durations in the form people read beside the seconds."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.durations import duration_text

UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
PART = re.compile(r"([0-9]+)([dhms])")


def _parts(text: str) -> list[tuple[int, str]]:
    parts = text.split(" ")
    assert all(PART.fullmatch(part) for part in parts), text
    return [(int(part[:-1]), part[-1]) for part in parts]


def _seconds_of(text: str) -> int:
    return sum(count * UNITS[unit] for count, unit in _parts(text))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.4, "0s"),
        (0.5, "1s"),
        (45, "45s"),
        (59, "59s"),
        (59.5, "1m"),
        (60, "1m"),
        (89, "1m"),
        (90, "2m"),
        (12 * 60, "12m"),
        (3_570, "1h"),
        (3_600, "1h"),
        (3 * 3_600 + 5 * 60, "3h 5m"),
        (23 * 3_600 + 59 * 60, "23h 59m"),
        (86_370, "1d"),
        (86_400, "1d"),
        (2 * 86_400 + 1_799, "2d"),
        (3 * 86_400 + 4 * 3_600, "3d 4h"),
        (400 * 86_400, "400d"),
        (-90, "-2m"),
        (-0.2, "0s"),
    ],
)
def test_a_duration_reads_at_the_precision_a_glance_needs(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize("seconds", [None, float("nan"), float("inf")])
def test_no_figure_has_no_text(seconds: float | None) -> None:
    assert duration_text(seconds) is None


durations = st.integers(min_value=0, max_value=10 * 365 * 86_400)


@given(durations)
def test_a_duration_has_at_most_two_parts_largest_first_and_no_zero_part(seconds: int) -> None:
    text = duration_text(seconds)
    assert text is not None
    parts = _parts(text)

    assert 1 <= len(parts) <= 2
    assert [UNITS[unit] for _, unit in parts] == sorted((UNITS[unit] for _, unit in parts), reverse=True)
    if len(parts) == 2:
        larger, smaller = UNITS[parts[0][1]], UNITS[parts[1][1]]
        assert (larger, smaller) in {(86_400, 3_600), (3_600, 60)}
        assert parts[1][0] > 0
        assert parts[1][0] * smaller < larger
    assert parts[0][0] > 0 or text == "0s"


@given(durations)
def test_the_text_is_the_duration_rounded_at_its_last_unit(seconds: int) -> None:
    text = duration_text(seconds)
    assert text is not None
    last_unit = UNITS[_parts(text)[-1][1]]

    assert abs(_seconds_of(text) - seconds) <= last_unit / 2


@given(durations, durations)
def test_a_longer_duration_never_reads_shorter(first: int, second: int) -> None:
    shorter, longer = sorted((first, second))
    shorter_text, longer_text = duration_text(shorter), duration_text(longer)
    assert shorter_text is not None
    assert longer_text is not None

    assert _seconds_of(shorter_text) <= _seconds_of(longer_text)


@given(durations)
def test_the_leading_unit_is_the_largest_that_fits(seconds: int) -> None:
    text = duration_text(seconds)
    assert text is not None
    count, unit = _parts(text)[0]

    assert count * UNITS[unit] <= seconds + UNITS[_parts(text)[-1][1]] / 2
    bigger = [size for size in UNITS.values() if size > UNITS[unit]]
    if bigger and count > 0:
        assert _seconds_of(text) < min(bigger)
