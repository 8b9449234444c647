"""Durations as people read them beside the seconds: "45s", "12m", "3h 5m", "3d 4h"."""

from __future__ import annotations

import math

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def _halves_up(value: float, unit: int) -> int:
    """`value` seconds in whole `unit`s, halves rounded up (as the reports round their figures)."""
    return math.floor(value / unit + 0.5)


def duration_text(seconds: float | None) -> str | None:
    """A duration at the precision a glance needs: seconds under a minute, minutes under an hour, then hours and
    minutes under a day, then days and hours. At most two parts, largest first, never a zero part ("2d", not
    "2d 0h"), rounded at its last unit with halves up; "0s" for no time at all, None where there is no figure."""
    if seconds is None or not math.isfinite(seconds):
        return None
    if seconds < 0:
        shown = duration_text(-seconds)
        return shown if shown == "0s" else f"-{shown}"
    whole = _halves_up(seconds, 1)
    if whole < MINUTE:
        return f"{whole}s"
    minutes = _halves_up(whole, MINUTE)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        return _two_parts(minutes, 60, "h", "m")
    return _two_parts(_halves_up(whole, HOUR), 24, "d", "h")


def _two_parts(count: int, per: int, big: str, small: str) -> str:
    larger, rest = divmod(count, per)
    return f"{larger}{big} {rest}{small}" if rest else f"{larger}{big}"
