"""Business time: open hours counted in real elapsed time, with every expected instant worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.calendar import (
    add_business_time,
    business_time,
    deadline,
    elapsed,
    opening_window,
)
from chalicelib.domain.config import BusinessCalendar, default_config

NINE_TO_FIVE = (9 * 60, 17 * 60)
WEEKDAYS = dict.fromkeys(range(5), NINE_TO_FIVE)  # Monday to Friday


def desk(
    zone: str = "Europe/London", hours: dict[int, tuple[int, int]] | None = None, holidays: tuple[date, ...] = ()
) -> BusinessCalendar:
    return BusinessCalendar(timezone=zone, hours=WEEKDAYS if hours is None else hours, holidays=frozenset(holidays))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


LONDON = desk()
NEW_YORK = desk("America/New_York")
SUNDAY_NIGHT = {6: (0, 6 * 60)}  # open Sunday 00:00-06:00 local: the night the clocks change


# Deadlines over a weekend and a holiday


def test_four_hours_from_friday_four_pm_run_out_at_monday_noon() -> None:
    friday_4pm = utc(2026, 6, 19, 15)  # 16:00 BST

    due = add_business_time(LONDON, friday_4pm, timedelta(hours=4))

    assert due == utc(2026, 6, 22, 11)  # Monday 12:00 BST: one hour on Friday, three on Monday


def test_four_hours_from_friday_four_pm_in_winter_run_out_at_monday_noon_gmt() -> None:
    assert add_business_time(LONDON, utc(2026, 11, 20, 16), timedelta(hours=4)) == utc(2026, 11, 23, 12)


def test_a_monday_holiday_moves_the_deadline_to_tuesday_noon() -> None:
    spring_bank_holiday = date(2027, 5, 31)
    calendar = desk(holidays=(spring_bank_holiday,))

    due = add_business_time(calendar, utc(2027, 5, 28, 15), timedelta(hours=4))  # Friday 16:00 BST

    assert due == utc(2027, 6, 1, 11)  # Tuesday 12:00 BST


def test_the_shipped_desk_skips_christmas_day_and_the_boxing_day_substitute() -> None:
    calendar = default_config().sla.calendar

    due = add_business_time(calendar, utc(2026, 12, 24, 16), timedelta(hours=4))  # Thursday 16:00 GMT

    assert due == utc(2026, 12, 29, 12)  # Fri 25th and Mon 28th are holidays: Tuesday 12:00 GMT


def test_a_holiday_has_no_opening_window_and_a_weekend_day_neither() -> None:
    calendar = desk(holidays=(date(2026, 11, 23),))

    assert opening_window(calendar, date(2026, 11, 23)) is None  # the holiday, a Monday
    assert opening_window(calendar, date(2026, 11, 22)) is None  # a Sunday
    assert opening_window(calendar, date(2026, 11, 24)) == (utc(2026, 11, 24, 9), utc(2026, 11, 24, 17))


def test_opening_hours_are_local_so_a_summer_window_is_an_hour_earlier_in_utc() -> None:
    assert opening_window(LONDON, date(2026, 6, 22)) == (utc(2026, 6, 22, 8), utc(2026, 6, 22, 16))
    assert opening_window(NEW_YORK, date(2026, 6, 22)) == (utc(2026, 6, 22, 13), utc(2026, 6, 22, 21))


# The nights the clocks change


def test_friday_four_pm_plus_four_hours_across_the_london_spring_forward_is_monday_eleven_utc() -> None:
    friday_4pm_gmt = utc(2027, 3, 26, 16)

    due = add_business_time(LONDON, friday_4pm_gmt, timedelta(hours=4))

    assert due == utc(2027, 3, 29, 11)  # Monday 12:00 BST
    assert business_time(LONDON, friday_4pm_gmt, due) == timedelta(hours=4)


def test_friday_four_pm_plus_four_hours_across_the_new_york_spring_forward_is_monday_noon_edt() -> None:
    friday_4pm_est = utc(2027, 3, 12, 21)

    due = add_business_time(NEW_YORK, friday_4pm_est, timedelta(hours=4))

    assert due == utc(2027, 3, 15, 16)  # Monday 12:00 EDT (UTC-4)


def test_a_desk_open_on_sunday_night_has_only_five_real_hours_when_the_clocks_go_forward() -> None:
    calendar = desk(hours=SUNDAY_NIGHT)

    assert opening_window(calendar, date(2027, 3, 28)) == (utc(2027, 3, 28, 0), utc(2027, 3, 28, 5))  # to 06:00 BST
    assert business_time(calendar, utc(2027, 3, 27), utc(2027, 3, 29)) == timedelta(hours=5)
    assert business_time(calendar, utc(2027, 3, 20), utc(2027, 3, 22)) == timedelta(hours=6)  # a week before


def test_a_desk_open_on_sunday_night_has_seven_real_hours_when_the_clocks_go_back() -> None:
    calendar = desk(hours=SUNDAY_NIGHT)

    window = opening_window(calendar, date(2026, 10, 25))

    assert window == (utc(2026, 10, 24, 23), utc(2026, 10, 25, 6))  # 00:00 BST to 06:00 GMT
    assert business_time(calendar, utc(2026, 10, 24), utc(2026, 10, 26)) == timedelta(hours=7)


def test_the_new_york_sunday_night_is_five_hours_in_march_and_seven_in_november() -> None:
    calendar = desk("America/New_York", SUNDAY_NIGHT)

    assert opening_window(calendar, date(2027, 3, 14)) == (utc(2027, 3, 14, 5), utc(2027, 3, 14, 10))
    assert opening_window(calendar, date(2026, 11, 1)) == (utc(2026, 11, 1, 4), utc(2026, 11, 1, 11))


def test_time_added_on_the_short_sunday_runs_out_at_the_real_closing_or_a_week_later() -> None:
    calendar = desk(hours=SUNDAY_NIGHT)

    assert add_business_time(calendar, utc(2027, 3, 28), timedelta(hours=5)) == utc(2027, 3, 28, 5)  # 06:00 BST
    # The sixth hour waits for the next Sunday, which opens at 00:00 BST = Saturday 23:00 UTC.
    assert add_business_time(calendar, utc(2027, 3, 28), timedelta(hours=5, minutes=30)) == utc(2027, 4, 3, 23, 30)


def test_an_opening_time_skipped_by_the_clocks_counts_as_if_they_had_not_jumped() -> None:
    calendar = desk(hours={6: (90, 6 * 60)})  # Sunday 01:30-06:00; 01:30 never shows on 28 March

    window = opening_window(calendar, date(2027, 3, 28))

    assert window == (utc(2027, 3, 28, 1, 30), utc(2027, 3, 28, 5))  # 01:30 GMT (= 02:30 BST) to 06:00 BST
    assert business_time(calendar, utc(2027, 3, 27), utc(2027, 3, 29)) == timedelta(hours=3, minutes=30)


def test_an_always_open_desk_counts_the_real_48_hours_of_a_weekend_whose_clocks_go_forward() -> None:
    calendar = desk(hours=dict.fromkeys(range(7), (0, 24 * 60)))

    assert business_time(calendar, utc(2027, 3, 27, 12), utc(2027, 3, 29, 12)) == timedelta(hours=48)
    assert add_business_time(calendar, utc(2027, 3, 27, 12), timedelta(hours=48)) == utc(2027, 3, 29, 12)


# business_time


def test_a_weekend_adds_no_business_time() -> None:
    friday_3pm, monday_10am = utc(2026, 11, 20, 15), utc(2026, 11, 23, 10)

    assert business_time(LONDON, friday_3pm, monday_10am) == timedelta(hours=3)


def test_a_holiday_adds_no_business_time() -> None:
    calendar = desk(holidays=(date(2026, 11, 23),))

    assert business_time(calendar, utc(2026, 11, 20, 15), utc(2026, 11, 24, 10)) == timedelta(hours=3)


def test_a_span_that_starts_and_ends_outside_opening_hours_counts_only_the_whole_days_inside() -> None:
    thursday_7am, friday_8pm = utc(2026, 11, 19, 7), utc(2026, 11, 20, 20)

    assert business_time(LONDON, thursday_7am, friday_8pm) == timedelta(hours=16)


def test_a_span_entirely_outside_opening_hours_is_no_business_time() -> None:
    assert business_time(LONDON, utc(2026, 11, 20, 18), utc(2026, 11, 23, 8)) == timedelta(0)  # Fri night to Mon
    assert business_time(LONDON, utc(2026, 11, 21, 9), utc(2026, 11, 22, 17)) == timedelta(0)  # Saturday, Sunday


def test_a_span_within_one_working_day_is_its_plain_length() -> None:
    assert business_time(LONDON, utc(2026, 11, 23, 10, 15), utc(2026, 11, 23, 11, 45)) == timedelta(minutes=90)


def test_an_empty_or_backwards_span_is_no_business_time() -> None:
    monday_10am = utc(2026, 11, 23, 10)

    assert business_time(LONDON, monday_10am, monday_10am) == timedelta(0)
    assert business_time(LONDON, monday_10am, monday_10am - timedelta(hours=1)) == timedelta(0)


def test_a_desk_open_until_midnight_counts_up_to_midnight_and_on_from_the_next_opening() -> None:
    calendar = desk(hours=dict.fromkeys(range(5), (9 * 60, 24 * 60)))

    assert opening_window(calendar, date(2026, 11, 23)) == (utc(2026, 11, 23, 9), utc(2026, 11, 24, 0))
    assert business_time(calendar, utc(2026, 11, 23, 23), utc(2026, 11, 24, 10)) == timedelta(hours=2)
    assert add_business_time(calendar, utc(2026, 11, 23, 23), timedelta(hours=1)) == utc(2026, 11, 24, 0)
    assert add_business_time(calendar, utc(2026, 11, 23, 23, 30), timedelta(hours=1)) == utc(2026, 11, 24, 9, 30)


def test_instants_given_in_any_zone_are_the_same_instants() -> None:
    london = ZoneInfo("Europe/London")
    start = datetime(2026, 6, 19, 16, tzinfo=london)  # = 15:00 UTC

    assert add_business_time(LONDON, start, timedelta(hours=4)) == utc(2026, 6, 22, 11)
    assert business_time(LONDON, start, datetime(2026, 6, 22, 12, tzinfo=london)) == timedelta(hours=4)


# add_business_time


def test_time_that_runs_out_exactly_at_closing_is_due_at_closing_not_the_next_morning() -> None:
    assert add_business_time(LONDON, utc(2026, 11, 19, 16), timedelta(hours=1)) == utc(2026, 11, 19, 17)


def test_time_added_exactly_at_closing_starts_counting_at_the_next_opening() -> None:
    friday_5pm = utc(2026, 11, 20, 17)

    assert add_business_time(LONDON, friday_5pm, timedelta(hours=1)) == utc(2026, 11, 23, 10)


def test_time_added_before_opening_starts_counting_at_opening() -> None:
    assert add_business_time(LONDON, utc(2026, 11, 23, 7), timedelta(hours=2)) == utc(2026, 11, 23, 11)


def test_time_added_on_a_holiday_starts_counting_the_next_working_day() -> None:
    calendar = desk(holidays=(date(2026, 11, 23),))

    assert add_business_time(calendar, utc(2026, 11, 23, 10), timedelta(hours=2)) == utc(2026, 11, 24, 11)


def test_a_whole_working_week_from_monday_morning_runs_out_on_friday_evening() -> None:
    assert add_business_time(LONDON, utc(2026, 11, 23, 9), timedelta(hours=40)) == utc(2026, 11, 27, 17)


def test_adding_no_time_or_less_is_the_start_itself_even_outside_hours() -> None:
    saturday = utc(2026, 11, 21, 12)

    assert add_business_time(LONDON, saturday, timedelta(0)) == saturday
    assert add_business_time(LONDON, saturday, timedelta(hours=-1)) == saturday


def test_a_desk_that_never_opens_never_reaches_a_deadline() -> None:
    never_open = desk(hours={})

    assert add_business_time(never_open, utc(2026, 11, 23, 9), timedelta(minutes=1)) is None
    assert business_time(never_open, utc(2026, 11, 23), utc(2026, 12, 23)) == timedelta(0)


# elapsed and deadline: the business clock and the calendar clock


def test_the_business_clock_counts_open_hours_and_the_calendar_clock_everything() -> None:
    friday_3pm, monday_10am = utc(2026, 11, 20, 15), utc(2026, 11, 23, 10)

    assert elapsed(LONDON, "business", friday_3pm, monday_10am) == timedelta(hours=3)
    assert elapsed(LONDON, "calendar", friday_3pm, monday_10am) == timedelta(hours=67)
    assert deadline(LONDON, "business", friday_3pm, timedelta(hours=3)) == monday_10am
    assert deadline(LONDON, "calendar", friday_3pm, timedelta(hours=3)) == utc(2026, 11, 20, 18)


def test_the_calendar_clock_across_the_spring_forward_is_plain_utc_arithmetic() -> None:
    saturday_noon_gmt, sunday_noon_bst = utc(2027, 3, 27, 12), utc(2027, 3, 28, 11)

    assert elapsed(LONDON, "calendar", saturday_noon_gmt, sunday_noon_bst) == timedelta(hours=23)
    assert deadline(LONDON, "calendar", saturday_noon_gmt, timedelta(hours=24)) == utc(2027, 3, 28, 12)  # 13:00 BST


def test_the_calendar_clock_never_runs_backwards() -> None:
    monday = utc(2026, 11, 23, 9)

    assert elapsed(LONDON, "calendar", monday, monday - timedelta(hours=1)) == timedelta(0)
    assert deadline(LONDON, "calendar", monday, timedelta(hours=-1)) == monday


# add_business_time undoes business_time


@pytest.mark.parametrize(
    ("start", "amount", "due"),
    [
        (utc(2026, 11, 20, 16), timedelta(hours=4), utc(2026, 11, 23, 12)),
        (utc(2026, 11, 21, 3), timedelta(minutes=1), utc(2026, 11, 23, 9, 1)),
        (utc(2027, 3, 26, 16, 30), timedelta(hours=8), utc(2027, 3, 29, 15, 30)),  # 16:30 BST Monday
        (utc(2026, 10, 23, 15), timedelta(hours=2), utc(2026, 10, 26, 10)),  # Fri 16:00 BST to Mon 10:00 GMT
    ],
)
def test_add_business_time_is_the_inverse_of_business_time(start: datetime, amount: timedelta, due: datetime) -> None:
    assert add_business_time(LONDON, start, amount) == due
    assert business_time(LONDON, start, due) == amount


CALENDARS = (
    desk(holidays=(date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1))),
    desk("America/New_York", {**WEEKDAYS, **SUNDAY_NIGHT}),
    desk("Europe/London", {0: (9 * 60, 24 * 60), 1: (0, 12 * 60), 5: (90, 150)}),
)


@settings(max_examples=200, deadline=None)
@given(
    calendar=st.sampled_from(CALENDARS),
    seconds=st.integers(min_value=0, max_value=212 * 24 * 3600),  # October 2026 to April 2027: both clock changes
    minutes=st.integers(min_value=1, max_value=120 * 60),
)
def test_the_business_time_up_to_a_deadline_is_the_amount_added(
    calendar: BusinessCalendar, seconds: int, minutes: int
) -> None:
    start, amount = utc(2026, 10, 1) + timedelta(seconds=seconds), timedelta(minutes=minutes)

    due = add_business_time(calendar, start, amount)

    assert due is not None
    assert business_time(calendar, start, due) == amount
    assert business_time(calendar, start, due - timedelta(microseconds=1)) < amount
