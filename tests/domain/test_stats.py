"""What one ticket adds to the report aggregates, from hand-built histories, against hand-computed counters.

The shipped desk: Europe/London, open 09:00-17:00 Monday to Friday (8 business hours a day); medium tickets
get 8 h to a first response and 40 h to resolution on the business clock, high ones 4 h and 16 h. In November
and December London is on GMT, so the UTC times written here are the local ones. Monday 23 November 2026
is the first day of every story.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain import sla, stats
from chalicelib.domain.calendar import business_time
from chalicelib.domain.config import DeskConfig, default_config, parse_config, shipped_document
from chalicelib.domain.history import (
    ASSIGNEE_CHANGED,
    CREATED,
    ORDER,
    PRIORITY_CHANGED,
    REPLY,
    STATUS_CHANGED,
    SURVEY_ANSWERED,
    SURVEY_SENT,
    TEAM_CHANGED,
    HistoryEvent,
    job_event,
)
from chalicelib.domain.stats import ALL, NONE, OPEN, Cell, CommentKey, Contribution, bucket, difference, percentile
from chalicelib.domain.tickets import stamp

CONFIG = default_config()
TICKET = "t_1"

MON, TUE, WED, THU, FRI = "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"


def at(day: int, hour: int, minute: int = 0, second: float = 0, *, month: int = 11) -> datetime:
    whole = int(second)
    return datetime(2026, month, day, hour, minute, whole, round((second - whole) * 1_000_000), tzinfo=UTC)


def new_york_config() -> DeskConfig:
    document = copy.deepcopy(shipped_document("default"))
    document["sla"]["calendar"]["timezone"] = "America/New_York"
    return parse_config(document)


class History:
    """A ticket's history events written the way `history.ticket_events`, `comment_event` and `job_event` key
    them: "<time>#<version>#<order>" for a ticket write, "<time>#c#<id>" for a comment, "<time>#j#<cause>" for
    a job's or the survey's record."""

    def __init__(
        self,
        opened: datetime,
        *,
        priority: str = "medium",
        type_: str = "question",
        team: str | None = "support",
        assignee: str | None = None,
        status: str = "submitted",
        config: DeskConfig = CONFIG,
    ) -> None:
        self.config = config
        self.version = 1
        self.status = status
        self.since = opened
        self.replies = 0
        data: dict[str, Any] = {
            "status": status,
            "category": config.status(status).category,
            "priority": priority,
            "type": type_,
            "team": team,
            "assignee": assignee,
            "subject": "Cannot log in",
            "fields": {},
        }
        self.events: list[HistoryEvent] = [self._ticket_event(CREATED, opened, data)]

    def _ticket_event(self, kind: str, moment: datetime, data: dict[str, Any]) -> HistoryEvent:
        key = f"{stamp(moment)}#{self.version:010d}#{ORDER[kind]}"
        return HistoryEvent(TICKET, key, kind, moment, "agent:ag_1", data)

    def write(
        self,
        moment: datetime,
        *,
        to: str | None = None,
        business_seconds: float | None = None,
        **changes: tuple[str | None, str | None],
    ) -> History:
        """One ticket write: an optional status change plus `priority=(old, new)`, `assignee=...`, `team=...`."""
        self.version += 1
        if to is not None:
            if business_seconds is None:
                business_seconds = business_time(self.config.sla.calendar, self.since, moment).total_seconds()
            data = {
                "from": self.status,
                "to": to,
                "from_category": self.config.status(self.status).category,
                "to_category": self.config.status(to).category,
                "since": stamp(self.since),
                "wall_seconds": (moment - self.since).total_seconds(),
                "business_seconds": business_seconds,
            }
            self.events.append(self._ticket_event(STATUS_CHANGED, moment, data))
            self.status, self.since = to, moment
        kinds = {"priority": PRIORITY_CHANGED, "assignee": ASSIGNEE_CHANGED, "team": TEAM_CHANGED}
        for name, (before, after) in changes.items():
            self.events.append(self._ticket_event(kinds[name], moment, {"from": before, "to": after}))
        return self

    def reply(self, moment: datetime) -> History:
        self.replies += 1
        comment = f"cm_{self.replies}"
        data = {"comment_id": comment, "public": True, "author_name": "Ada Agent", "excerpt": "Try again now."}
        self.events.append(HistoryEvent(TICKET, f"{stamp(moment)}#c#{comment}", REPLY, moment, "agent:ag_1", data))
        return self

    def survey_sent(self, moment: datetime) -> History:
        data = {"status": self.status, "to": "requester"}
        self.events.append(job_event(TICKET, SURVEY_SENT, moment, f"survey_{stamp(self.since)}", "system:survey", data))
        return self

    def survey_answered(
        self,
        moment: datetime,
        rating: int | None,
        comment: str = "",
        *,
        revision: int = 1,
        previous: int | None = None,
        ref: str | None = "HD-1",
    ) -> History:
        data = {
            "rating": rating,
            "previous_rating": previous,
            "comment": comment,
            "revision": revision,
            "scale": 5,
            "ref": ref,
        }
        cause = f"survey_answer_{revision:06d}"
        self.events.append(job_event(TICKET, SURVEY_ANSWERED, moment, cause, "requester:jo@example.org", data))
        return self

    def contribution(self, now: datetime, ref: str | None = None) -> Contribution:
        return contribution_of(self.config, self.events, now, ref)


def contribution_of(
    config: DeskConfig, events: list[HistoryEvent], now: datetime, ref: str | None = None
) -> Contribution:
    line = sla.timeline(TICKET, events)
    assert line is not None
    tracker = sla.track(config, line)
    return stats.contributions(config, tracker, events, now, ref)


def cells(
    day: str,
    counts: dict[str, int],
    *,
    type_: str = "question",
    priority: str = "medium",
    team: str = "support",
    assignee: str = NONE,
) -> dict[Cell, dict[str, int]]:
    """The same counters in the five cells a fact is counted in: the whole desk and each dimension's value."""
    values = {ALL: ALL, "type": type_, "priority": priority, "team": team, "assignee": assignee}
    return {Cell(dim, day, value): dict(counts) for dim, value in values.items()}


def gauges(
    status: str, *, priority: str = "medium", team: str = "support", assignee: str = NONE
) -> dict[Cell, dict[str, int]]:
    values = {ALL: ALL, "status": status, "type": "question", "priority": priority, "team": team, "assignee": assignee}
    return {Cell(dim, "", value): {OPEN: 1} for dim, value in values.items()}


def merged(*parts: dict[Cell, dict[str, int]]) -> dict[Cell, dict[str, int]]:
    """Counters of several facts added cell by cell."""
    total: dict[Cell, dict[str, int]] = {}
    for part in parts:
        for cell, counts in part.items():
            into = total.setdefault(cell, {})
            for name, count in counts.items():
                into[name] = into.get(name, 0) + count
    return total


def days_of(contribution: Contribution) -> set[str]:
    return {cell.day for cell in contribution.counters}


# histograms --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, 0),
        (59.4, 59),  # whole seconds: 59.4 rounds down
        (59.5, 60),  # halves round up
        (999, 999),  # three digits are kept as they are
        (1000, 1000),
        (5401, 5400),  # four digits: steps of 10, 5401 -> 5400
        (5450, 5450),  # already three significant figures (5, 4, 5)
        (5455, 5460),  # a half step rounds up: (5455 + 5) // 10 * 10
        (123_456, 123_000),  # six digits: steps of 1000, 123_456 + 500 -> 123_956 -> 123_000
        (123_500, 124_000),  # the half step up
        (99_950, 100_000),  # rounding up into the next power of ten
        (-5, 0),  # a negative span (clock skew) counts as nothing
        (-0.4, 0),
    ],
)
def test_bucket_keeps_three_significant_figures_of_whole_seconds(seconds: float, expected: int) -> None:
    assert bucket(seconds) == expected


def test_percentile_of_an_empty_histogram_is_none() -> None:
    assert percentile({}, 0.5) is None
    assert percentile({10: 0, 20: 0}, 0.9) is None  # empty buckets count as nothing


def test_percentile_of_an_odd_count_is_the_middle_value() -> None:
    # 3 values: rank = 0.5 * (3 - 1) = 1 -> the second, 20
    assert percentile({30: 1, 10: 1, 20: 1}, 0.5) == 20


def test_percentile_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    # 4 values: rank = 0.5 * 3 = 1.5 -> 20 + 0.5 * (30 - 20) = 25
    assert percentile({10: 1, 20: 1, 30: 1, 40: 1}, 0.5) == 25


def test_percentile_90_interpolates_between_the_closest_ranks() -> None:
    # 10 values 100, 200, ... 1000: rank = 0.9 * 9 = 8.1 -> 900 + 0.1 * (1000 - 900) = 910
    values = {100 * n: 1 for n in range(1, 11)}
    assert percentile(values, 0.9) == pytest.approx(910)
    assert percentile(values, 0.0) == 100
    assert percentile(values, 1.0) == 1000


def test_percentile_counts_a_bucket_as_many_values_as_its_count() -> None:
    # values 10, 10, 10, 20: median rank 1.5 -> between 10 and 10 = 10;
    # p90 rank = 0.9 * 3 = 2.7 -> 10 + 0.7 * (20 - 10) = 17
    values = {10: 3, 20: 1}
    assert percentile(values, 0.5) == 10
    assert percentile(values, 0.9) == pytest.approx(17)
    # a single value is every percentile
    assert percentile({42: 5}, 0.9) == 42


# opened, resolved, attribution -------------------------------------------------------------------


def test_a_ticket_counts_its_facts_on_their_days_under_the_values_right_after_each_change() -> None:
    story = (
        History(at(23, 10))
        # one write at 11:00: start work and take the ticket; then a reply
        .write(at(23, 11), to="in_progress", assignee=(None, "ag_1"))
        .reply(at(23, 11))
        .write(at(24, 10), to="resolved")
    )

    got = story.contribution(at(24, 12))

    assert got.counters == merged(
        # Monday 10:00: opened, before anyone took it
        cells(MON, {"opened": 1}),
        # Monday 11:00, under the new assignee: 1 h in "submitted" (10:00-11:00); the first response after
        # 1 business hour, within 8 h
        cells(
            MON,
            {"dwell/submitted/3600": 1, "first_response_met": 1, "first_response_s/3600": 1},
            assignee="ag_1",
        ),
        # Tuesday 10:00: resolved; "in_progress" Mon 11:00-17:00 (6 h) + Tue 09:00-10:00 (1 h) = 7 h = 25 200 s;
        # the resolution clock ran 1 h + 7 h = 8 h = 28 800 s, within 40 h
        cells(
            TUE,
            {"resolved": 1, "dwell/in_progress/25200": 1, "resolution_met": 1, "resolution_s/28800": 1},
            assignee="ag_1",
        ),
    )
    assert got.comments == {}


def test_opened_counts_on_the_local_day_of_the_creation() -> None:
    opened = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 22:00 on Monday 23 November in New York (EST, UTC-5)
    config = new_york_config()

    in_new_york = contribution_of(config, History(opened, config=config).events, opened)
    in_london = History(opened).contribution(opened)  # 03:00 on Tuesday 24 November in London

    assert in_new_york.counters == merged(cells(MON, {"opened": 1}), gauges("submitted"))
    assert in_london.counters == merged(cells(TUE, {"opened": 1}), gauges("submitted"))


def test_a_later_reassignment_moves_the_gauge_but_not_the_facts_already_counted() -> None:
    story = History(at(23, 10)).write(at(23, 11), to="in_progress", assignee=(None, "ag_1")).reply(at(23, 11))
    now = at(24, 9, 45)  # 7 h 45 min of the 40 h resolution clock used: nothing breached
    before = story.contribution(now)

    story.write(at(24, 9, 30), assignee=("ag_1", "ag_2"))
    after = story.contribution(now)

    assert before.counters[Cell("assignee", MON, "ag_1")] == {
        "dwell/submitted/3600": 1,
        "first_response_met": 1,
        "first_response_s/3600": 1,
    }
    change = difference(before, after)
    assert change.deltas == {Cell("assignee", "", "ag_1"): {OPEN: -1}, Cell("assignee", "", "ag_2"): {OPEN: 1}}
    assert not change.comment_puts
    assert not change.comment_deletes


def test_a_team_change_made_with_a_resolution_counts_the_resolution_under_the_new_team() -> None:
    story = (
        History(at(23, 10))
        .reply(at(23, 10, 30))
        .write(at(23, 12), to="resolved", team=("support", "engineering"), assignee=(None, "ag_3"))
    )

    got = story.contribution(at(23, 13))

    assert got.counters == merged(
        cells(MON, {"opened": 1}),
        # first response after 30 min of business time, counted under the values of 10:30
        cells(MON, {"first_response_met": 1, "first_response_s/1800": 1}),
        # resolved at 12:00 after 2 h in "submitted" under the team and assignee set in the same write
        cells(
            MON,
            {"resolved": 1, "dwell/submitted/7200": 1, "resolution_met": 1, "resolution_s/7200": 1},
            team="engineering",
            assignee="ag_3",
        ),
    )


# reopening ---------------------------------------------------------------------------------------


def test_a_reopened_ticket_moves_its_resolution_outcome_to_the_final_resolution() -> None:
    story = (
        History(at(23, 10), assignee="ag_1")
        .reply(at(23, 10, 30))
        .write(at(23, 12), to="resolved")  # resolved after 2 business hours
    )
    first = story.contribution(at(25, 12))
    assert first.counters[Cell(ALL, MON, ALL)] == {
        "opened": 1,
        "first_response_met": 1,
        "first_response_s/1800": 1,  # 10:00-10:30
        "resolved": 1,
        "dwell/submitted/7200": 1,  # 10:00-12:00
        "resolution_met": 1,
        "resolution_s/7200": 1,
    }

    story.write(at(25, 10), to="in_progress").write(at(26, 10), to="resolved")
    final = story.contribution(at(26, 12))

    assert difference(first, final).deltas == merged(
        # Monday loses its resolution outcome and duration, but keeps its "resolved"
        cells(MON, {"resolution_met": -1, "resolution_s/7200": -1}, assignee="ag_1"),
        # Wednesday 10:00: reopened after "resolved" Mon 12:00-17:00 (5 h) + Tue (8 h) + Wed 09:00-10:00 (1 h)
        # = 14 h = 50 400 s
        cells(WED, {"reopened": 1, "dwell/resolved/50400": 1}, assignee="ag_1"),
        # Thursday 10:00: resolved again after "in_progress" Wed 10:00-17:00 (7 h) + Thu 09:00-10:00 (1 h) =
        # 8 h = 28 800 s; "resolved" was visited before, so a loop. The clock ran 2 h + 8 h = 10 h = 36 000 s
        # of 40 h: met, now on Thursday
        cells(
            THU,
            {
                "resolved": 1,
                "dwell/in_progress/28800": 1,
                "loop/in_progress/resolved": 1,
                "resolution_met": 1,
                "resolution_s/36000": 1,
            },
            assignee="ag_1",
        ),
    )
    assert final.counters[Cell(ALL, MON, ALL)]["resolved"] == 1
    assert final.counters[Cell(ALL, THU, ALL)]["resolved"] == 1
    assert "resolution_met" not in final.counters[Cell(ALL, MON, ALL)]
    assert not [cell for cell in final.counters if cell.day == ""]  # done both times: no gauge


# SLA outcomes ------------------------------------------------------------------------------------


def test_a_first_response_breach_counts_once_now_is_past_it_under_the_current_priority() -> None:
    # Opened medium at Mon 10:00, raised to high at 11:00: every timer is judged by the high target, 4 business
    # hours to a first response from the opening, so it breaches at Mon 14:00 (while the ticket was medium).
    story = History(at(23, 10)).write(at(23, 11), priority=("medium", "high"))

    before = story.contribution(at(23, 13, 59))
    exactly = story.contribution(at(23, 14))  # a breach is going *beyond* the target
    after = story.contribution(at(23, 14, 1))

    base = merged(cells(MON, {"opened": 1}), gauges("submitted", priority="high"))
    assert before.counters == base
    assert exactly.counters == base
    assert after.counters == merged(base, cells(MON, {"first_response_breached": 1}, priority="high"))
    assert difference(before, after).deltas == cells(MON, {"first_response_breached": 1}, priority="high")


def test_a_first_response_met_late_counts_the_breach_on_its_day_and_the_duration_on_the_met_day() -> None:
    # medium: 8 business hours from Mon 10:00 = Mon 10:00-17:00 (7 h) + Tue 09:00-10:00 (1 h) -> Tue 10:00
    story = History(at(23, 10), assignee="ag_1")
    waiting = story.contribution(at(24, 10, 30))

    story.reply(at(25, 10))
    got = story.contribution(at(25, 12))

    assert waiting.counters[Cell(ALL, TUE, ALL)] == {"first_response_breached": 1}
    assert got.counters == merged(
        cells(MON, {"opened": 1}, assignee="ag_1"),
        # breached on Tuesday at 10:00, and never counted met
        cells(TUE, {"first_response_breached": 1}, assignee="ag_1"),
        # replied Wed 10:00 after Mon 7 h + Tue 8 h + Wed 1 h = 16 business hours = 57 600 s
        cells(WED, {"first_response_s/57600": 1}, assignee="ag_1"),
        gauges("submitted", assignee="ag_1"),
    )
    assert difference(waiting, got).deltas == cells(WED, {"first_response_s/57600": 1}, assignee="ag_1")


def test_a_waiting_status_pauses_the_clock_past_the_wall_clock_target() -> None:
    def story() -> History:
        return History(at(23, 10)).write(at(23, 11), to="in_progress").reply(at(23, 11))

    now = at(8, 12, month=12)  # Tuesday 8 December, two weeks on
    paused = story().write(at(23, 12), to="waiting_on_requester").contribution(now)
    running = story().contribution(now)

    # paused after 2 business hours (Mon 10:00-12:00): 38 h of the 40 h are left, whatever the wall clock says
    assert not [name for counts in paused.counters.values() for name in counts if name.endswith("_breached")]
    assert paused.counters == merged(
        cells(MON, {"opened": 1}),
        cells(MON, {"dwell/submitted/3600": 1, "first_response_met": 1, "first_response_s/3600": 1}),
        cells(MON, {"dwell/in_progress/3600": 1}),
        gauges("waiting_on_requester"),
    )
    # never paused: Mon 10:00-17:00 (7 h) + Tue to Fri (4 x 8 h) = 39 h, the 40th hour ends Mon 30 Nov 10:00
    assert running.counters[Cell(ALL, "2026-11-30", ALL)] == {"resolution_breached": 1}


def test_a_critical_ticket_is_judged_on_the_calendar_clock() -> None:
    # critical: 1 h to a first response on the calendar clock; opened Saturday 28 November 10:00
    story = History(at(28, 10), priority="critical")

    got = story.contribution(at(28, 11, 1))

    assert got.counters[Cell("priority", "2026-11-28", "critical")] == {"opened": 1, "first_response_breached": 1}


def test_a_critical_ticket_s_duration_is_measured_on_its_calendar_clock_like_its_target() -> None:
    # answered Saturday 28 November at 10:30, half an hour after opening: 1,800 s on the calendar clock (the
    # weekend has no business time, but the critical target is judged on the calendar clock)
    story = History(at(28, 10), priority="critical").reply(at(28, 10, 30))

    got = story.contribution(at(28, 11))

    assert got.counters[Cell("priority", "2026-11-28", "critical")] == {
        "opened": 1,
        "first_response_met": 1,
        "first_response_s/1800": 1,
    }


# status loops and dwell --------------------------------------------------------------------------


def test_moves_back_into_a_visited_status_count_loops_and_every_stay_its_business_seconds() -> None:
    story = (
        History(at(23, 9))
        # 1 h 30 min 1.4 s in "submitted": 5 401.4 s -> bucket 5 400
        .write(at(23, 10, 30, 1.4), to="in_progress")
        .write(at(23, 12), to="waiting_on_requester", business_seconds=5_000)  # the event's figure is counted
        # "waiting_on_requester" Mon 12:00-17:00 (5 h) + Tue 09:00-10:00 (1 h) = 21 600 s; back to a visited status
        .write(at(24, 10), to="in_progress")
        # "in_progress" again for 1 h: and back to "waiting_on_requester" as well
        .write(at(24, 11), to="waiting_on_requester")
    )

    got = story.contribution(at(24, 11))

    # no first response yet, but only 3 h + 1 h of its 8 h have run: nothing breached
    assert got.counters[Cell(ALL, MON, ALL)] == {
        "opened": 1,
        "dwell/submitted/5400": 1,
        "dwell/in_progress/5000": 1,
    }
    assert got.counters[Cell(ALL, TUE, ALL)] == {
        "dwell/waiting_on_requester/21600": 1,
        "loop/waiting_on_requester/in_progress": 1,
        "dwell/in_progress/3600": 1,
        "loop/in_progress/waiting_on_requester": 1,
    }
    assert got.counters[Cell("assignee", "", NONE)] == {OPEN: 1}


# surveys -----------------------------------------------------------------------------------------


def resolved_story() -> History:
    """Opened Mon 09:00, replied and resolved by ag_1 at 10:00 in one write."""
    return History(at(23, 9)).reply(at(23, 9, 30)).write(at(23, 10), to="resolved", assignee=(None, "ag_1"))


def test_an_answer_counts_on_the_day_of_the_survey_with_its_latest_rating_and_comment() -> None:
    story = (
        resolved_story()
        .survey_sent(at(23, 11))
        .survey_answered(at(25, 10), 2, "Slow.")
        .survey_answered(at(26, 10), 4, "  Fine after all.  ", revision=2, previous=2)
    )

    got = story.contribution(at(27, 9))

    assert got.counters[Cell(ALL, MON, ALL)] == {
        "opened": 1,
        "first_response_met": 1,
        "first_response_s/1800": 1,
        "resolved": 1,
        "dwell/submitted/3600": 1,
        "resolution_met": 1,
        "resolution_s/3600": 1,
        "survey_sent": 1,
        "survey_answered": 1,  # once, though answered twice
        "rating/4": 1,  # only the latest rating
    }
    assert got.counters[Cell("assignee", MON, "ag_1")]["rating/4"] == 1
    assert days_of(got) == {MON}  # nothing on the days of the answers
    assert got.comments == {
        CommentKey(MON, TICKET): {
            "ticket_id": TICKET,
            "ref": "HD-1",
            "rating": 4,
            "comment": "Fine after all.",
            "answered_at": "2026-11-26T10:00:00.000000Z",
            "type": "question",
            "priority": "medium",
            "team": "support",
            "assignee": "ag_1",
        }
    }


def test_an_answer_counts_under_the_latest_survey_sent_before_the_first_answer() -> None:
    story = (
        resolved_story()
        .survey_sent(at(23, 11))
        .survey_sent(at(24, 11))
        .survey_answered(at(25, 10), 5)
        .survey_answered(at(26, 10), 3, revision=2, previous=5)
        .survey_sent(at(27, 11))  # a survey sent after the first answer is not the one answered
    )

    got = story.contribution(at(27, 12))

    assert got.counters[Cell(ALL, TUE, ALL)] == {"survey_sent": 1, "survey_answered": 1, "rating/3": 1}
    assert got.counters[Cell(ALL, FRI, ALL)] == {"survey_sent": 1}
    assert got.counters[Cell(ALL, MON, ALL)]["survey_sent"] == 1
    assert "survey_answered" not in got.counters[Cell(ALL, MON, ALL)]
    assert got.comments == {}  # no comment, no document


def test_an_answer_without_a_survey_sent_counts_on_its_own_day() -> None:
    story = resolved_story().survey_answered(at(25, 10), None, "No rating, just thanks.", ref=None)

    got = story.contribution(at(25, 11), ref="HD-7")

    assert got.counters[Cell("assignee", WED, "ag_1")] == {"survey_answered": 1}  # no rating to count
    assert got.comments == {
        CommentKey(WED, TICKET): {
            "ticket_id": TICKET,
            "ref": "HD-7",  # the event had none: the caller's
            "rating": None,
            "comment": "No rating, just thanks.",
            "answered_at": "2026-11-25T10:00:00.000000Z",
            "type": "question",
            "priority": "medium",
            "team": "support",
            "assignee": "ag_1",
        }
    }


def test_a_comment_taken_back_deletes_the_document() -> None:
    story = resolved_story().survey_sent(at(23, 11)).survey_answered(at(25, 10), 2, "Slow.")
    with_comment = story.contribution(at(26, 9))
    story.survey_answered(at(26, 10), 2, "", revision=2, previous=2)
    without = story.contribution(at(26, 11))

    change = difference(with_comment, without)

    assert change.deltas == {}  # the same rating, still one answer
    assert change.comment_puts == {}
    assert change.comment_deletes == [CommentKey(MON, TICKET)]


# gauges ------------------------------------------------------------------------------------------


def test_an_open_ticket_is_counted_open_under_its_current_values() -> None:
    story = History(at(23, 10)).write(
        at(23, 11), to="in_progress", assignee=(None, "ag_1"), team=("support", "engineering")
    )

    got = story.contribution(at(23, 12))

    assert {cell: counts for cell, counts in got.counters.items() if cell.day == ""} == {
        Cell(ALL, "", ALL): {OPEN: 1},
        Cell("status", "", "in_progress"): {OPEN: 1},
        Cell("type", "", "question"): {OPEN: 1},
        Cell("priority", "", "medium"): {OPEN: 1},
        Cell("team", "", "engineering"): {OPEN: 1},
        Cell("assignee", "", "ag_1"): {OPEN: 1},
    }


def test_a_done_ticket_is_not_counted_open() -> None:
    got = resolved_story().contribution(at(23, 12))

    assert got.counters
    assert not [cell for cell in got.counters if cell.day == ""]


def test_no_creation_no_contribution() -> None:
    events = resolved_story().events[1:]
    line = sla.timeline(TICKET, resolved_story().events)
    assert line is not None
    tracker = sla.track(CONFIG, line)

    assert stats.contributions(CONFIG, tracker, events, at(23, 12)) == Contribution()


# difference and documents ------------------------------------------------------------------------


def test_difference_writes_only_what_changed() -> None:
    kept, changed, gone, added = (
        Cell(ALL, MON, ALL),
        Cell(ALL, TUE, ALL),
        Cell("team", MON, "support"),
        Cell("team", MON, "engineering"),
    )
    old = Contribution(
        {kept: {"opened": 1}, changed: {"resolved": 1, "resolution_met": 1}, gone: {"opened": 1}},
        {CommentKey(MON, "t_1"): {"comment": "same"}, CommentKey(TUE, "t_1"): {"comment": "old"}},
    )
    new = Contribution(
        {kept: {"opened": 1}, changed: {"resolved": 1, "resolution_breached": 1}, added: {"opened": 1}},
        {CommentKey(MON, "t_1"): {"comment": "same"}, CommentKey(WED, "t_1"): {"comment": "new"}},
    )

    change = difference(old, new)

    assert change.deltas == {
        changed: {"resolution_breached": 1, "resolution_met": -1},
        gone: {"opened": -1},
        added: {"opened": 1},
    }
    assert change.comment_puts == {CommentKey(WED, "t_1"): {"comment": "new"}}
    assert change.comment_deletes == [CommentKey(TUE, "t_1")]
    assert not change.empty
    assert difference(new, new).empty
    assert difference(Contribution(), Contribution()).empty


def test_difference_from_nothing_is_the_whole_contribution() -> None:
    got = resolved_story().survey_sent(at(23, 11)).survey_answered(at(24, 9), 5, "Great").contribution(at(24, 10))

    change = difference(Contribution(), got)

    assert change.deltas == got.counters
    assert change.comment_puts == got.comments
    assert difference(got, Contribution()).comment_deletes == list(got.comments)


def test_a_contribution_reads_back_from_its_document() -> None:
    got = (
        History(at(23, 9))
        .write(at(23, 10), to="in_progress", assignee=(None, "ag_1"))
        .survey_answered(at(24, 9), 5, "Great, thanks! \u2713 \u00e9t\u00e9")
        .contribution(at(24, 10))
    )
    assert got.comments
    assert any(cell.day == "" for cell in got.counters)

    document = json.loads(json.dumps(got.document(), ensure_ascii=False))

    assert Contribution.from_document(document) == got
    assert Contribution.from_document(None) == Contribution()
    assert Contribution.from_document({}) == Contribution()
