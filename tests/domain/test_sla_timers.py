"""SLA timers and time in status, from histories made by the real ticket rules, against hand-computed times.

The shipped desk: Europe/London, open 09:00-17:00 Monday to Friday, closed 25 and 28 December 2026 and
1 January 2027. In November and December London is on GMT, so local times are the UTC times written here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import history
from chalicelib.domain.config import DeskConfig, default_config
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.sla import (
    FIRST_RESPONSE,
    RESOLUTION,
    StatusTime,
    Timer,
    TimerView,
    Tracker,
    time_in_status,
    timeline,
    track,
    unchanged_timeline,
    view,
)
from chalicelib.domain.tickets import (
    Actor,
    Submission,
    Ticket,
    add_comment,
    change_details,
    open_ticket,
    transition,
)

AGENT = Actor(role="agent", id="ag_1", name="Ada Agent")
REQUESTER = Actor(role="requester", id="jo@example.org", name="Jo Requester")
CONFIG = default_config()
CALENDAR = CONFIG.sla.calendar


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0, *, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


MONDAY_9AM = at(11, 23, 9)  # Monday 23 November 2026


class Story:
    """A question ticket moved by the real domain rules; its history derived as the stream pipeline derives it."""

    def __init__(self, opened: datetime, priority: str = "medium", config: DeskConfig = CONFIG) -> None:
        self.config = config
        submission = Submission(
            type="question",
            subject="Cannot log in",
            description="The login page says my password is wrong.",
            requester_name="Jo Requester",
            requester_email="jo@example.org",
            priority=priority,
        )
        self.ticket = open_ticket(config, submission, ticket_id="t_1", ref="HD-1", now=opened)
        self.events: list[HistoryEvent] = history.ticket_events(config, None, self.ticket)
        self.comments = 0

    def _save(self, changed: Ticket) -> None:
        saved = replace(changed, version=self.ticket.version + 1)  # what the repository does on each write
        self.events += history.ticket_events(self.config, self.ticket, saved)
        self.ticket = saved

    def move(self, to: str, now: datetime, actor: Actor = AGENT, *, with_reply: bool = False) -> Story:
        moved = transition(self.config, self.ticket, to, actor, now)
        if not with_reply:
            self._save(moved)
            return self
        self.comments += 1  # one write, as the transitions endpoint makes a move with a comment
        moved, comment = add_comment(
            moved, "Fixed.", public=True, actor=actor, comment_id=f"c_{self.comments}", now=now
        )
        self._save(moved)
        self.events.append(history.comment_event(comment))
        return self

    def prioritise(self, priority: str, now: datetime) -> Story:
        self._save(change_details(self.config, self.ticket, {"priority": priority}, AGENT, now, agent_ids={"ag_1"}))
        return self

    def comment(self, now: datetime, *, actor: Actor = AGENT, public: bool = True) -> Story:
        self.comments += 1
        changed, comment = add_comment(
            self.ticket, "Thanks, looking.", public=public, actor=actor, comment_id=f"c_{self.comments}", now=now
        )
        self._save(changed)
        self.events.append(history.comment_event(comment))
        return self

    def reply(self, now: datetime) -> Story:
        return self.comment(now)

    def tracker(self) -> Tracker:
        line = timeline(self.ticket.id, self.events)
        assert line is not None
        return track(self.config, line)

    def raw_timer(self, kind: str) -> Timer:
        return next(t for t in self.tracker().timers if t.kind == kind)

    def timer(self, kind: str, now: datetime) -> TimerView:
        return view(self.config.sla.calendar, self.raw_timer(kind), now)

    def first_response(self, now: datetime) -> TimerView:
        return self.timer(FIRST_RESPONSE, now)

    def resolution(self, now: datetime) -> TimerView:
        return self.timer(RESOLUTION, now)


def hours(value: float) -> timedelta:
    return timedelta(hours=value)


# A ticket just opened


def test_a_new_medium_ticket_runs_both_timers_against_the_business_clock() -> None:
    story = Story(MONDAY_9AM)

    first, resolution = story.first_response(at(11, 23, 11)), story.resolution(at(11, 23, 11))

    assert (first.state, first.clock, first.target, first.elapsed, first.remaining) == (
        "running",
        "business",
        hours(8),
        hours(2),
        hours(6),
    )
    assert first.due_at == at(11, 23, 17)
    assert (resolution.state, resolution.elapsed, resolution.remaining) == ("running", hours(2), hours(38))
    assert resolution.due_at == at(11, 27, 17)  # five whole working days: Friday 17:00
    assert (first.at_risk, first.breached) == (False, False)


def test_the_clock_does_not_run_overnight_or_at_the_weekend() -> None:
    story = Story(at(11, 20, 16))  # Friday 16:00

    first = story.first_response(at(11, 23, 10))  # Monday 10:00

    assert first.elapsed == hours(2)
    assert first.due_at == at(11, 23, 16)  # 1h on Friday, 7h on Monday


def test_a_just_opened_ticket_tracks_the_same_from_the_ticket_alone_as_from_its_history() -> None:
    story = Story(MONDAY_9AM)

    from_ticket = track(CONFIG, unchanged_timeline(story.ticket, "new"))

    assert from_ticket.timers == story.tracker().timers
    assert (from_ticket.status, from_ticket.category, from_ticket.status_since) == ("submitted", "new", MONDAY_9AM)


# Waiting pauses both timers


def test_waiting_on_the_requester_pauses_the_resolution_timer_and_answering_resumes_it() -> None:
    story = Story(MONDAY_9AM).reply(at(11, 23, 10)).move("in_progress", at(11, 23, 10))
    story.move("waiting_on_requester", at(11, 23, 13))

    paused = story.resolution(at(11, 24, 12))  # Tuesday noon, still waiting

    assert (paused.state, paused.elapsed, paused.remaining, paused.due_at) == ("paused", hours(4), hours(36), None)
    assert (paused.at_risk, paused.breached) == (False, False)

    story.move("in_progress", at(11, 25, 11), actor=REQUESTER)  # the requester answers on Wednesday 11:00
    running = story.resolution(at(11, 25, 12))

    assert (running.state, running.elapsed) == ("running", hours(5))
    # 36h left from Wednesday 11:00: 6 on Wednesday, 8 Thursday, 8 Friday, 8 Monday, 6 on Tuesday 1 December.
    assert running.due_at == at(12, 1, 15)
    assert story.raw_timer(RESOLUTION).at_risk_at == at(11, 30, 15)  # 32h used: 28h after resuming


def test_a_pause_over_a_weekend_and_the_christmas_holidays_counts_none_of_it() -> None:
    story = Story(at(12, 24, 9)).move("in_progress", at(12, 24, 9))  # Thursday 24 December
    story.move("waiting_on_requester", at(12, 24, 15))
    story.move("in_progress", at(12, 26, 10), actor=REQUESTER)  # Saturday 26th, the desk is closed until Tuesday

    monday_holiday = at(12, 28, 16)
    first, resolution = story.first_response(monday_holiday), story.resolution(monday_holiday)

    assert (first.state, first.elapsed) == ("running", hours(6))
    assert first.due_at == at(12, 29, 11)  # 2h left, counted from Tuesday 29th 09:00
    assert not first.at_risk  # 6h of 8h is 75%
    # 34h left: 8 on each of 29th, 30th and 31st, New Year's Day closed, 8 on Monday 4th, 2 on Tuesday 5th.
    assert resolution.due_at == at(1, 5, 11, year=2027)
    assert story.first_response(at(12, 29, 9, 24)).at_risk  # 6h24m used: 80% of 8h


def test_a_timer_cannot_breach_while_the_ticket_waits() -> None:
    story = Story(MONDAY_9AM, priority="high").move("in_progress", at(11, 23, 9, 30))
    story.move("waiting_on_requester", at(11, 23, 12))  # 3h of the 4h first-response target used

    a_week_later = story.first_response(at(11, 30, 9))

    assert (a_week_later.state, a_week_later.elapsed, a_week_later.remaining) == ("paused", hours(3), hours(1))
    assert (a_week_later.breached, a_week_later.at_risk) == (False, False)

    story.move("in_progress", at(11, 30, 10), actor=REQUESTER)
    first = story.raw_timer(FIRST_RESPONSE)

    assert (first.at_risk_at, first.breached_at) == (at(11, 30, 10, 12), at(11, 30, 11))


def test_a_timer_paused_right_at_its_at_risk_moment_stays_at_risk_while_it_waits() -> None:
    story = Story(MONDAY_9AM).move("in_progress", at(11, 23, 9)).move("waiting_on_requester", at(11, 23, 15, 24))

    waiting = story.first_response(at(11, 24, 12))

    assert (waiting.state, waiting.elapsed) == ("paused", hours(6.4))
    assert waiting.at_risk  # 6h24m used is 80% of 8h: at risk, even though no more time is used


# Met, breached, at risk


def test_a_first_reply_exactly_on_the_due_instant_is_in_time() -> None:
    story = Story(MONDAY_9AM, priority="high").reply(at(11, 23, 13))  # 4h target

    first = story.first_response(at(11, 30, 9))

    assert (first.state, first.met_at, first.elapsed, first.breached) == ("met", at(11, 23, 13), hours(4), False)
    assert first.due_at is None


def test_a_first_reply_a_second_after_the_due_instant_breaches_at_the_due_instant() -> None:
    story = Story(MONDAY_9AM, priority="high").reply(at(11, 23, 13, 0, 1))

    first = story.first_response(at(11, 30, 9))
    timer = story.raw_timer(FIRST_RESPONSE)

    assert (first.state, first.breached) == ("met", True)
    assert timer.breached_at == at(11, 23, 13)


def test_a_reply_after_closing_on_the_day_it_fell_due_is_late() -> None:
    """The target runs out at 17:00; a reply at 17:30 uses no more open time, but the due instant has passed."""
    story = Story(at(11, 23, 13), priority="high").reply(at(11, 23, 17, 30))

    first = story.first_response(at(11, 24, 9))

    assert (first.state, first.elapsed, first.breached) == ("met", hours(4), True)


def test_resolving_exactly_on_the_due_instant_is_in_time() -> None:
    story = Story(MONDAY_9AM, priority="high").reply(at(11, 23, 10))
    story.move("in_progress", at(11, 23, 10)).move("resolved", at(11, 24, 17))  # 16h target: Tuesday 17:00

    resolution = story.resolution(at(11, 30, 9))

    assert (resolution.state, resolution.met_at, resolution.elapsed) == ("met", at(11, 24, 17), hours(16))
    assert (resolution.breached, resolution.at_risk) == (False, False)


def test_a_running_timer_shows_at_risk_from_80_percent_and_breached_only_after_the_due_instant() -> None:
    story = Story(MONDAY_9AM)  # medium: 8h first response, at risk after 6h24m

    just_before_risk = story.first_response(at(11, 23, 15, 23, 59))
    at_risk = story.first_response(at(11, 23, 15, 24))
    on_due = story.first_response(at(11, 23, 17))
    after_due = story.first_response(at(11, 23, 17, 0, 1))

    assert (just_before_risk.at_risk, just_before_risk.breached) == (False, False)
    assert (at_risk.at_risk, at_risk.breached) == (True, False)
    assert (on_due.at_risk, on_due.breached, on_due.remaining) == (True, False, timedelta(0))
    assert (after_due.at_risk, after_due.breached) == (False, True)
    assert after_due.due_at == at(11, 23, 17)


def test_a_breached_timer_stays_breached_when_the_ticket_then_waits() -> None:
    story = Story(MONDAY_9AM, priority="high").move("in_progress", at(11, 23, 9))
    story.move("waiting_on_requester", at(11, 23, 14))  # an hour past the 13:00 due instant

    first = story.first_response(at(11, 24, 9))

    assert (first.state, first.elapsed, first.remaining, first.breached) == ("paused", hours(5), hours(-1), True)


# Done, reopened, closed without a reply


def test_resolving_meets_the_resolution_timer_and_reopening_resumes_it_with_the_time_already_used() -> None:
    story = Story(MONDAY_9AM).reply(at(11, 23, 9, 30)).move("resolved", at(11, 23, 11))

    done = story.resolution(at(11, 24, 12))

    assert (done.state, done.met_at, done.elapsed, done.due_at) == ("met", at(11, 23, 11), hours(2), None)

    story.move("in_progress", at(11, 25, 14), actor=REQUESTER)  # reopened on Wednesday 14:00
    reopened = story.resolution(at(11, 26, 9))

    assert (reopened.state, reopened.met_at, reopened.elapsed) == ("running", None, hours(5))
    # 38h left from Wednesday 14:00: 3 + 8 + 8 + 8 (Monday 30th) + 8 (Tuesday) + 3 on Wednesday 2 December.
    assert reopened.due_at == at(12, 2, 12)
    assert story.first_response(at(11, 26, 9)).met_at == at(11, 23, 9, 30)


def test_the_first_response_timer_stops_when_the_ticket_is_closed_without_a_reply() -> None:
    story = Story(MONDAY_9AM).comment(at(11, 23, 9, 30), public=False)  # an internal note is not a reply
    story.comment(at(11, 23, 9, 45), actor=REQUESTER)  # nor is the requester's own comment
    story.move("resolved", at(11, 23, 10))

    first = story.first_response(at(11, 24, 9))

    assert (first.state, first.elapsed, first.met_at, first.due_at) == ("stopped", hours(1), None, None)
    assert (first.breached, first.at_risk) == (False, False)
    assert story.resolution(at(11, 24, 9)).state == "met"
    assert story.tracker().next_due_at is None


def test_resolving_with_a_reply_in_the_same_write_meets_both_timers_at_that_moment() -> None:
    story = Story(MONDAY_9AM, priority="high").move("resolved", at(11, 23, 11), with_reply=True)

    first, resolution = story.first_response(at(11, 24, 9)), story.resolution(at(11, 24, 9))

    assert (first.state, first.met_at, first.elapsed) == ("met", at(11, 23, 11), hours(2))
    assert (resolution.state, resolution.met_at, resolution.elapsed) == ("met", at(11, 23, 11), hours(2))


def test_a_ticket_reopened_without_a_reply_runs_its_first_response_timer_again() -> None:
    story = Story(MONDAY_9AM).move("resolved", at(11, 23, 10)).move("in_progress", at(11, 23, 14), actor=REQUESTER)

    first = story.first_response(at(11, 23, 15))

    # 1h used before it was closed, 3h on Monday afternoon, the last 4h on Tuesday morning.
    assert (first.state, first.elapsed, first.due_at) == ("running", hours(2), at(11, 24, 13))


def test_a_ticket_closed_after_its_first_response_was_due_is_stopped_and_breached() -> None:
    story = Story(MONDAY_9AM, priority="high").move("resolved", at(11, 23, 15))

    first = story.first_response(at(11, 24, 9))

    assert (first.state, first.breached) == ("stopped", True)


# Priority


def test_raising_the_priority_recomputes_the_due_times_from_the_ticket_start() -> None:
    story = Story(MONDAY_9AM).prioritise("high", at(11, 23, 11))

    first, resolution = story.first_response(at(11, 23, 11)), story.resolution(at(11, 23, 11))

    assert (first.target, first.due_at) == (hours(4), at(11, 23, 13))  # not 15:00, four hours after the change
    assert (resolution.target, resolution.due_at) == (hours(16), at(11, 24, 17))


def test_raising_to_critical_switches_to_the_calendar_clock_and_can_breach_at_once() -> None:
    story = Story(at(11, 27, 15)).prioritise("critical", at(11, 27, 15, 30))  # Friday afternoon

    first, resolution = story.first_response(at(11, 27, 16, 30)), story.resolution(at(11, 27, 16, 30))

    assert (first.clock, first.due_at, first.breached) == ("calendar", at(11, 27, 16), True)
    assert resolution.due_at == at(11, 27, 23)  # 8h of calendar time: the evening counts


def test_lowering_the_priority_lifts_a_breach_that_the_old_target_had() -> None:
    story = Story(MONDAY_9AM, priority="high").prioritise("low", at(11, 23, 14))

    first = story.first_response(at(11, 23, 14))

    assert (first.target, first.breached, first.due_at) == (hours(16), False, at(11, 24, 17))


# The tracker's next due moment, for the SLA sweep


def test_next_due_is_the_earliest_at_risk_moment_of_a_running_timer() -> None:
    story = Story(MONDAY_9AM)

    assert story.tracker().next_due_at == at(11, 23, 15, 24)  # first response at risk after 6h24m

    story.reply(at(11, 23, 10))

    assert story.tracker().next_due_at == at(11, 26, 17)  # resolution at risk after 32h: Thursday 17:00


def test_next_due_is_none_while_the_ticket_waits_or_is_done() -> None:
    story = Story(MONDAY_9AM).reply(at(11, 23, 10)).move("in_progress", at(11, 23, 10))

    assert story.move("waiting_on_requester", at(11, 23, 11)).tracker().next_due_at is None
    assert story.move("resolved", at(11, 23, 12)).tracker().next_due_at is None


# Time in status


def test_time_in_status_sums_every_stay_in_wall_and_business_time_including_the_current_one() -> None:
    story = Story(MONDAY_9AM).move("in_progress", at(11, 23, 10)).move("waiting_on_requester", at(11, 23, 16))
    story.move("in_progress", at(11, 24, 10), actor=REQUESTER).move("waiting_on_requester", at(11, 24, 12))
    tracker = story.tracker()

    totals = time_in_status(CALENDAR, tracker, at(11, 25, 12))

    assert totals == [
        StatusTime("submitted", visits=1, wall=hours(1), business=hours(1)),
        StatusTime("in_progress", visits=2, wall=hours(6 + 2), business=hours(6 + 2)),
        # Monday 16:00 to Tuesday 10:00 (18h, 2h open), then Tuesday noon to Wednesday noon (24h, 5 + 3 open).
        StatusTime("waiting_on_requester", visits=2, wall=hours(18 + 24), business=hours(2 + 8)),
    ]
    assert tracker.time_in_status[-1] == StatusTime("waiting_on_requester", 1, hours(18), hours(2))  # finished only


def test_a_current_stay_read_before_it_began_counts_nothing() -> None:
    tracker = Story(MONDAY_9AM).tracker()

    assert time_in_status(CALENDAR, tracker, MONDAY_9AM - hours(1)) == [
        StatusTime("submitted", visits=1, wall=timedelta(0), business=timedelta(0))
    ]


# The history as the pipeline sees it


def test_the_timers_do_not_depend_on_the_order_the_events_arrive_in() -> None:
    story = Story(MONDAY_9AM).reply(at(11, 23, 10)).move("in_progress", at(11, 23, 10))
    story.move("waiting_on_requester", at(11, 23, 13)).prioritise("high", at(11, 23, 14))
    story.move("in_progress", at(11, 25, 11), actor=REQUESTER)
    in_order = story.tracker()

    for arrival in (story.events[::-1], story.events[1::2] + story.events[::2]):
        line = timeline("t_1", arrival)
        assert line is not None
        assert track(CONFIG, line) == in_order


def test_a_history_without_its_creation_has_no_timeline_yet() -> None:
    story = Story(MONDAY_9AM).reply(at(11, 23, 10))

    assert timeline("t_1", story.events[1:]) is None


@pytest.mark.parametrize("priority", ["critical", "high", "medium", "low"])
def test_every_shipped_priority_has_both_timers(priority: str) -> None:
    kinds = [t.kind for t in Story(MONDAY_9AM, priority=priority).tracker().timers]

    assert kinds == [FIRST_RESPONSE, RESOLUTION]
