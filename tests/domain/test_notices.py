"""Who the desk writes to and when: notices from ticket changes, stale-rule steps, SLA alerts, and the
configuration sections behind them (email, stale_rules, survey).

The shipped desk: Europe/London, open 09:00-17:00 Monday to Friday, closed 25 and 28 December 2026 and
1 January 2027. In November to March London is on GMT, so the local times are the UTC times written here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain import history
from chalicelib.domain.config import (
    Duration,
    StaleRule,
    default_config,
    fill_placeholders,
    parse_config,
    shipped_document,
)
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.notices import (
    AT_RISK,
    BREACHED,
    REPLY_MAY_FOLLOW,
    TO_ASSIGNEE,
    TO_REQUESTER,
    SlaAlert,
    comment_notices,
    comment_window,
    first_reminder_due,
    next_step_due,
    sla_alerts,
    status_entered_with,
    status_with_comment_key,
    ticket_notices,
)
from chalicelib.domain.sla import FIRST_RESPONSE, RESOLUTION, Timer, Tracker
from chalicelib.domain.tickets import (
    Actor,
    Comment,
    Submission,
    Ticket,
    add_comment,
    automatic_transition,
    change_details,
    open_ticket,
    transition,
)

CONFIG = default_config()
CALENDAR = CONFIG.sla.calendar
AGENT = Actor(role="agent", id="ag_1", name="Ada Agent")
OTHER_AGENT_ID = "ag_2"
STALE_SWEEP = Actor(role="system", id="stale_sweep", name="Desk automation")
Document = dict[str, Any]


def at(month: int, day: int, hour: int, minute: int = 0, *, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


MONDAY_9AM = at(11, 23, 9)  # Monday 23 November 2026


# tickets built by the real ticket rules ------------------------------------------------------------


def _opened(ticket_type: str = "question", now: datetime = MONDAY_9AM) -> Ticket:
    fields: dict[str, Any] = {
        "defect": {"product": "Billing", "version_affected": "4.2", "steps_to_reproduce": "Press Save."},
        "consultation": {"topic": "Migration"},
        "training": {"course": "Reporting", "attendees": 4, "format": "Remote"},
        "question": {},
    }[ticket_type]
    submission = Submission(
        type=ticket_type,
        subject="Printer offline",
        description="The office printer shows as offline.",
        requester_name="Rosa Diaz",
        requester_email="rosa@example.org",
        priority="medium",
        fields=fields,
    )
    return open_ticket(CONFIG, submission, ticket_id="01TICKET", ref="HD-1001", now=now)


def _saved(ticket: Ticket) -> Ticket:
    """What the store does on a write: the version goes up by one."""
    return replace(ticket, version=ticket.version + 1)


def _walk(ticket: Ticket, *statuses: str, actor: Actor = AGENT) -> Ticket:
    for status in statuses:
        ticket = _saved(transition(CONFIG, ticket, status, actor, ticket.updated_at + timedelta(minutes=1)))
    return ticket


def _requester(ticket: Ticket) -> Actor:
    return Actor(role="requester", id=ticket.requester_email, name=ticket.requester_name)


def _notices_of(old: Ticket | None, new: Ticket) -> list[Any]:
    return ticket_notices(CONFIG, old, new, history.ticket_events(CONFIG, old, new))


def _config_with(change: Callable[[Document], None]) -> Any:
    document = copy.deepcopy(shipped_document("default"))
    change(document)
    return parse_config(document)


# notices from ticket writes ------------------------------------------------------------------------


def test_a_new_ticket_owes_the_requester_an_acknowledgement() -> None:
    ticket = _opened()

    notices = _notices_of(None, ticket)

    assert [(n.kind, n.audience, n.ticket_id) for n in notices] == [("acknowledgement", TO_REQUESTER, ticket.id)]
    assert notices[0].key.endswith("#ack")
    assert notices[0].at == MONDAY_9AM


def test_the_same_write_derives_the_same_keys_so_a_redelivery_mails_nothing_new() -> None:
    ticket = _opened()
    moved = _walk(ticket, "in_progress")

    assert _notices_of(None, ticket) == _notices_of(None, ticket)
    assert _notices_of(ticket, moved) == _notices_of(ticket, moved)


def test_no_acknowledgement_when_the_desk_turned_it_off() -> None:
    config = _config_with(lambda d: d["email"].update(acknowledge=False))
    ticket = _opened()

    assert ticket_notices(config, None, ticket, history.ticket_events(config, None, ticket)) == []


@pytest.mark.parametrize(
    ("ticket_type", "path", "status"),
    [
        ("defect", ("in_review", "approved", "in_progress", "ready_to_test", "in_testing", "ready_to_install"), None),
        ("defect", ("in_review", "approved", "in_progress", "ready_to_test", "in_testing"), "ready_to_install"),
        ("consultation", ("needs_estimate", "estimate_ready"), "estimate_pending_approval"),
        ("question", ("in_progress",), "waiting_on_requester"),
        ("question", ("in_progress",), "resolved"),
    ],
)
def test_an_agent_moving_a_ticket_into_a_requester_facing_status_mails_the_requester(
    ticket_type: str, path: tuple[str, ...], status: str | None
) -> None:
    before = _walk(_opened(ticket_type), *path)
    target = status or "client_testing"
    after = _walk(before, target)

    notices = _notices_of(before, after)

    if target in CONFIG.email.status_messages:
        assert [(n.kind, n.audience, n.data) for n in notices] == [("status", TO_REQUESTER, {"status": target})]
        assert notices[0].key.endswith("#status")
    else:
        assert notices == []


def test_a_status_without_a_message_mails_nobody() -> None:
    before = _opened("defect")
    after = _walk(before, "in_review")

    assert "in_review" not in CONFIG.email.status_messages
    assert _notices_of(before, after) == []


def test_a_move_the_requester_made_is_not_mailed_back_to_them() -> None:
    before = _walk(_opened("consultation"), "needs_estimate", "estimate_ready", "estimate_pending_approval")
    declined = _walk(before, "estimate_declined", actor=_requester(before))

    assert "estimate_declined" in CONFIG.email.status_messages
    assert _notices_of(before, declined) == []


def test_the_stale_sweep_closing_a_ticket_mails_the_requester() -> None:
    before = _walk(
        _opened("defect"),
        "in_review",
        "approved",
        "in_progress",
        "ready_to_test",
        "in_testing",
        "ready_to_install",
        "client_testing",
    )
    closed = _saved(automatic_transition(CONFIG, before, "completed", STALE_SWEEP, at(12, 14, 10)))

    notices = _notices_of(before, closed)

    assert [(n.kind, n.data) for n in notices] == [("status", {"status": "completed"})]


def test_assigning_a_ticket_to_another_agent_tells_that_agent() -> None:
    ticket = _opened()
    assigned = _saved(
        change_details(CONFIG, ticket, {"assignee": OTHER_AGENT_ID}, AGENT, at(11, 23, 10), agent_ids={"ag_2"})
    )

    notices = _notices_of(ticket, assigned)

    assert [(n.kind, n.audience, n.data) for n in notices] == [
        ("assigned", f"agent:{OTHER_AGENT_ID}", {"by": "agent:ag_1"})
    ]
    assert notices[0].key.endswith("#assigned")


def test_an_agent_assigning_themself_gets_no_mail_and_unassigning_mails_nobody() -> None:
    ticket = _opened()
    mine = _saved(change_details(CONFIG, ticket, {"assignee": "ag_1"}, AGENT, at(11, 23, 10), agent_ids={"ag_1"}))
    nobody = _saved(change_details(CONFIG, mine, {"assignee": None}, AGENT, at(11, 23, 11), agent_ids=set()))

    assert _notices_of(ticket, mine) == []
    assert _notices_of(mine, nobody) == []


def test_no_assignment_mail_when_the_desk_turned_it_off() -> None:
    config = _config_with(lambda d: d["email"].update(assignments=False))
    ticket = _opened()
    assigned = _saved(change_details(config, ticket, {"assignee": "ag_2"}, AGENT, at(11, 23, 10), agent_ids={"ag_2"}))

    assert ticket_notices(config, ticket, assigned, history.ticket_events(config, ticket, assigned)) == []


# a move and a comment in one write --------------------------------------------------------------------


def _move_with_comment(ticket: Ticket, status: str, *, public: bool) -> tuple[Ticket, Comment]:
    """What POST /tickets/{id}/transitions with a comment writes: the moved ticket and the comment, at one moment."""
    now = ticket.updated_at + timedelta(minutes=1)
    moved = transition(CONFIG, ticket, status, AGENT, now)
    moved, comment = add_comment(moved, "Which floor is it on?", public=public, actor=AGENT, comment_id="01C", now=now)
    return _saved(moved), comment


def test_a_move_made_with_a_reply_keys_its_status_mail_by_the_moment_so_the_reply_can_fold_it_in() -> None:
    before = _walk(_opened(), "in_progress")
    after, comment = _move_with_comment(before, "waiting_on_requester", public=True)

    notices = _notices_of(before, after)

    assert [(n.kind, n.audience) for n in notices] == [("status", TO_REQUESTER)]
    assert notices[0].key == status_with_comment_key(comment.created_at, "waiting_on_requester")
    assert notices[0].data == {"status": "waiting_on_requester", REPLY_MAY_FOLLOW: True}
    assert status_entered_with(CONFIG, after, comment.created_at) == "waiting_on_requester"


def test_a_move_made_with_a_note_before_any_public_reply_mails_its_status_as_before() -> None:
    before = _walk(_opened(), "in_progress")
    after, _ = _move_with_comment(before, "waiting_on_requester", public=False)

    notices = _notices_of(before, after)

    assert [(n.kind, n.data) for n in notices] == [("status", {"status": "waiting_on_requester"})]
    assert notices[0].key == f"{history.ticket_events(CONFIG, before, after)[0].key}#status"


def test_after_an_earlier_public_reply_a_note_looks_like_a_reply_so_its_status_mail_waits_too() -> None:
    replied, _ = add_comment(
        _walk(_opened(), "in_progress"), "On it.", public=True, actor=AGENT, comment_id="01A", now=at(11, 23, 9, 30)
    )
    after, _ = _move_with_comment(replied, "waiting_on_requester", public=False)

    notices = _notices_of(replied, after)

    assert notices[0].data[REPLY_MAY_FOLLOW] is True


def test_no_waiting_for_a_reply_when_the_desk_does_not_mail_replies() -> None:
    config = _config_with(lambda d: d["email"].update(replies=False))
    before = _walk(_opened(), "in_progress")
    after, _ = _move_with_comment(before, "waiting_on_requester", public=True)

    notices = ticket_notices(config, before, after, history.ticket_events(config, before, after))

    assert [n.data for n in notices] == [{"status": "waiting_on_requester"}]
    assert notices[0].key.endswith("#1#status")


def test_a_reply_comes_with_a_status_only_while_the_ticket_is_still_in_the_status_it_entered_at_that_moment() -> None:
    ticket = _opened()
    before = _walk(ticket, "in_progress")
    after, comment = _move_with_comment(before, "waiting_on_requester", public=True)
    moved_on = _walk(after, "in_progress")
    into_no_message, other = _move_with_comment(ticket, "in_progress", public=True)

    assert status_entered_with(CONFIG, after, comment.created_at) == "waiting_on_requester"
    assert status_entered_with(CONFIG, moved_on, comment.created_at) is None
    assert status_entered_with(CONFIG, after, comment.created_at + timedelta(seconds=1)) is None
    assert status_entered_with(CONFIG, ticket, ticket.created_at) is None  # "submitted" has no message
    assert status_entered_with(CONFIG, into_no_message, other.created_at) is None


# notices from comments -------------------------------------------------------------------------------


def _comment(ticket: Ticket, body: str, *, public: bool, actor: Actor) -> tuple[Any, Any]:
    _, comment = add_comment(ticket, body, public=public, actor=actor, comment_id="01COMMENT", now=at(11, 23, 10))
    return comment, history.comment_event(comment)


def test_a_public_reply_goes_to_the_requester_with_its_full_body() -> None:
    body = "Please restart the printer.\n\nThen tell us what it shows."
    comment, event = _comment(_opened(), body, public=True, actor=AGENT)

    notices = comment_notices(CONFIG, comment, event)

    assert [(n.kind, n.audience) for n in notices] == [("reply", TO_REQUESTER)]
    assert notices[0].data == {"comment_id": "01COMMENT", "author_name": "Ada Agent", "body": body}
    assert notices[0].key == f"{event.key}#reply"


def test_an_internal_note_goes_nowhere() -> None:
    comment, event = _comment(_opened(), "Rosa's printer is on the old VLAN.", public=False, actor=AGENT)

    assert comment_notices(CONFIG, comment, event) == []


def test_a_requester_comment_goes_to_whoever_works_the_ticket() -> None:
    ticket = _opened()
    comment, event = _comment(ticket, "It is still offline.", public=False, actor=_requester(ticket))

    notices = comment_notices(CONFIG, comment, event)

    assert [(n.kind, n.audience) for n in notices] == [("requester_comment", TO_ASSIGNEE)]
    assert notices[0].key == f"{comment_window(event.at)}#comment"


def test_reply_and_requester_comment_mails_follow_their_switches() -> None:
    config = _config_with(lambda d: d["email"].update(replies=False, requester_comments=False))
    ticket = _opened()

    for actor in (AGENT, _requester(ticket)):
        comment, event = _comment(ticket, "Hello", public=True, actor=actor)
        assert comment_notices(config, comment, event) == []


# stale rules: when each step is due ------------------------------------------------------------------

CLIENT_TESTING = CONFIG.stale_rules["client_testing"]  # 5 business days, then every 5, twice, then completed
APPROVED = CONFIG.stale_rules["approved"]  # 3 business days, once, to the team
ESTIMATE = CONFIG.stale_rules["estimate_pending_approval"]  # 3 business days, once, to the requester


def test_the_default_stale_rules_are_as_documented() -> None:
    assert (CLIENT_TESTING.after, CLIENT_TESTING.every) == (Duration(5, "d", "business"), Duration(5, "d", "business"))
    assert (CLIENT_TESTING.times, CLIENT_TESTING.remind, CLIENT_TESTING.then) == (2, "requester", "completed")
    assert (APPROVED.after, APPROVED.every, APPROVED.times, APPROVED.remind, APPROVED.then) == (
        Duration(3, "d", "business"),
        Duration(3, "d", "business"),  # `every` defaults to `after`
        1,
        "team",
        None,
    )
    assert (ESTIMATE.after, ESTIMATE.times, ESTIMATE.remind, ESTIMATE.then) == (
        Duration(3, "d", "business"),
        1,
        "requester",
        None,
    )


@pytest.mark.parametrize(
    ("rule", "since", "due"),
    [
        # Monday 10:00 + 5 opening days: Tue, Wed, Thu, Fri, (weekend), Mon.
        (CLIENT_TESTING, at(11, 23, 10), at(11, 30, 10)),
        # Friday 14:30 + 5: Mon 30, Tue 1, Wed 2, Thu 3, Fri 4 December.
        (CLIENT_TESTING, at(11, 27, 14, 30), at(12, 4, 14, 30)),
        # Tuesday 22 December 11:00 + 3: Wed 23, Thu 24, (Fri 25 holiday, weekend, Mon 28 holiday), Tue 29.
        (ESTIMATE, at(12, 22, 11), at(12, 29, 11)),
        # Wednesday 23 December 16:00 + 5: Thu 24, Tue 29, Wed 30, Thu 31, (Fri 1 January holiday), Mon 4 January.
        (CLIENT_TESTING, at(12, 23, 16), at(1, 4, 16, year=2027)),
        # Saturday: counts from Monday's opening, 09:00; + 3: Tue, Wed, Thu.
        (APPROVED, at(11, 28, 12), at(12, 3, 9)),
        # Monday after closing: counts from Tuesday 09:00; + 3: Wed, Thu, Fri.
        (APPROVED, at(11, 23, 18, 30), at(11, 27, 9)),
        # Monday right at closing time: the desk is closed, so the same.
        (APPROVED, at(11, 23, 17), at(11, 27, 9)),
        # Monday before opening: counts from Monday 09:00; + 5 is the next Monday 09:00.
        (CLIENT_TESTING, at(11, 23, 7, 15), at(11, 30, 9)),
        # On a holiday (Friday 25 December): counts from Tuesday 29 09:00; + 3: Wed 30, Thu 31, Mon 4 January.
        (ESTIMATE, at(12, 25, 10), at(1, 4, 9, year=2027)),
    ],
)
def test_the_first_reminder_is_due_a_number_of_opening_days_later_at_the_same_local_time(
    rule: StaleRule, since: datetime, due: datetime
) -> None:
    assert first_reminder_due(CALENDAR, rule, since) == due


def test_business_days_keep_the_local_time_across_a_clock_change() -> None:
    # Friday 26 March 2027 10:00 GMT (10:00 UTC) + 1 opening day = Monday 29 March 10:00 BST (09:00 UTC).
    rule = replace(ESTIMATE, after=Duration(1, "d", "business"))

    assert first_reminder_due(CALENDAR, rule, at(3, 26, 10, year=2027)) == at(3, 29, 9, year=2027)


def test_business_hours_and_calendar_days_count_as_their_clocks_say() -> None:
    hours = replace(APPROVED, after=Duration(4, "h", "business"))
    days = replace(APPROVED, after=Duration(2, "d", "calendar"))

    # Monday 15:00 + 4 open hours: 2 on Monday, 2 on Tuesday from 09:00.
    assert first_reminder_due(CALENDAR, hours, at(11, 23, 15)) == at(11, 24, 11)
    # Friday 15:00 + 48 hours, weekend or not.
    assert first_reminder_due(CALENDAR, days, at(11, 27, 15)) == at(11, 29, 15)


def test_client_testing_reminds_twice_five_business_days_apart_then_moves_and_stops() -> None:
    first_sent = at(11, 30, 10, 5)

    second = next_step_due(CALENDAR, CLIENT_TESTING, 1, first_sent)
    assert second == at(12, 7, 10, 5)
    assert second is not None
    move = next_step_due(CALENDAR, CLIENT_TESTING, 2, second)
    assert move == at(12, 14, 10, 5)
    assert move is not None
    assert next_step_due(CALENDAR, CLIENT_TESTING, 3, move) is None


def test_the_next_step_counts_from_when_the_last_one_was_taken_not_when_it_was_due() -> None:
    # The first reminder was due Monday 30 November 10:00 but the sweep ran late, Tuesday 15:00.
    assert next_step_due(CALENDAR, CLIENT_TESTING, 1, at(12, 1, 15)) == at(12, 8, 15)


def test_the_next_step_skips_the_christmas_holidays() -> None:
    # Reminder sent Thursday 24 December 12:00; + 5: Tue 29, Wed 30, Thu 31, (1 January holiday), Mon 4, Tue 5.
    assert next_step_due(CALENDAR, CLIENT_TESTING, 1, at(12, 24, 12)) == at(1, 5, 12, year=2027)


@pytest.mark.parametrize("rule", [APPROVED, ESTIMATE])
def test_a_rule_with_one_reminder_and_no_move_ends_after_it(rule: StaleRule) -> None:
    assert next_step_due(CALENDAR, rule, 1, at(11, 26, 9)) is None


def test_a_rule_with_reminders_and_no_move_ends_after_the_last_reminder() -> None:
    rule = replace(ESTIMATE, times=3)

    assert next_step_due(CALENDAR, rule, 2, at(11, 26, 9)) == at(12, 1, 9)
    assert next_step_due(CALENDAR, rule, 3, at(12, 1, 9)) is None


# SLA alerts -----------------------------------------------------------------------------------------


def _timer(kind: str, at_risk: datetime | None, breach: datetime | None, *, running: bool = True) -> Timer:
    return Timer(
        kind=kind,
        target=timedelta(hours=8),
        clock="business",
        elapsed=timedelta(0),
        running_since=MONDAY_9AM if running else None,
        met_at=None,
        stopped=False,
        at_risk_at=at_risk,
        breached_at=breach,
    )


def _tracker(*timers: Timer) -> Tracker:
    return Tracker(
        ticket_id="01TICKET",
        opened_at=MONDAY_9AM,
        priority="medium",
        status="submitted",
        category="new",
        status_since=MONDAY_9AM,
        event_count=1,
        time_in_status=(),
        timers=timers,
    )


RISK, BREACH = at(11, 23, 15, 24), at(11, 23, 17)  # a medium ticket's first response: 80 % of 8 open hours, and 8
FR_RISK, FR_BREACH = f"{FIRST_RESPONSE}:{AT_RISK}", f"{FIRST_RESPONSE}:{BREACHED}"


def test_nothing_to_say_before_the_at_risk_moment_and_that_moment_is_the_next_look() -> None:
    tracker = _tracker(_timer(FIRST_RESPONSE, RISK, BREACH))

    assert sla_alerts(tracker, at(11, 23, 15, 23), frozenset()) == ([], frozenset(), RISK)


def test_at_risk_warns_once_then_looks_again_at_the_breach() -> None:
    tracker = _tracker(_timer(FIRST_RESPONSE, RISK, BREACH))

    alerts, notified, next_look = sla_alerts(tracker, RISK, frozenset())
    assert alerts == [SlaAlert(FIRST_RESPONSE, AT_RISK, RISK)]
    assert notified == frozenset({FR_RISK})
    assert next_look == BREACH

    assert sla_alerts(tracker, at(11, 23, 16), notified) == ([], notified, BREACH)


def test_the_breach_alert_comes_once_when_the_due_time_has_passed() -> None:
    tracker = _tracker(_timer(FIRST_RESPONSE, RISK, BREACH))
    warned = frozenset({FR_RISK})

    # Right on the due time the target is met, not missed.
    assert sla_alerts(tracker, BREACH, warned) == ([], warned, BREACH)

    alerts, notified, next_look = sla_alerts(tracker, BREACH + timedelta(seconds=1), warned)
    assert alerts == [SlaAlert(FIRST_RESPONSE, BREACHED, BREACH)]
    assert notified == frozenset({FR_RISK, FR_BREACH})
    assert next_look is None

    assert sla_alerts(tracker, at(11, 24, 9), notified) == ([], notified, None)


def test_a_timer_found_already_breached_gets_only_the_breach_alert() -> None:
    tracker = _tracker(_timer(FIRST_RESPONSE, RISK, BREACH))

    alerts, notified, next_look = sla_alerts(tracker, at(11, 24, 10), frozenset())

    assert alerts == [SlaAlert(FIRST_RESPONSE, BREACHED, BREACH)]
    assert notified == frozenset({FR_RISK, FR_BREACH})
    assert next_look is None


def test_a_paused_or_finished_timer_is_not_looked_at() -> None:
    tracker = _tracker(_timer(FIRST_RESPONSE, RISK, BREACH, running=False))

    assert sla_alerts(tracker, at(11, 24, 10), frozenset()) == ([], frozenset(), None)


def test_each_timer_has_its_own_levels_and_the_next_look_is_the_earliest_left() -> None:
    resolution_risk, resolution_breach = at(11, 26, 17), at(11, 27, 17)
    tracker = _tracker(
        _timer(FIRST_RESPONSE, RISK, BREACH),
        _timer(RESOLUTION, resolution_risk, resolution_breach),
    )

    alerts, notified, next_look = sla_alerts(tracker, at(11, 24, 10), frozenset())
    assert alerts == [SlaAlert(FIRST_RESPONSE, BREACHED, BREACH)]
    assert next_look == resolution_risk

    alerts, notified, next_look = sla_alerts(tracker, at(11, 26, 17), notified)
    assert alerts == [SlaAlert(RESOLUTION, AT_RISK, resolution_risk)]
    assert next_look == resolution_breach

    alerts, notified, next_look = sla_alerts(tracker, at(11, 30, 9), notified)
    assert alerts == [SlaAlert(RESOLUTION, BREACHED, resolution_breach)]
    assert notified == frozenset({FR_RISK, FR_BREACH, f"{RESOLUTION}:{AT_RISK}", f"{RESOLUTION}:{BREACHED}"})
    assert next_look is None


# configuration: the email, stale_rules and survey sections --------------------------------------------


def _errors_of(change: Callable[[Document], None]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _config_with(change)
    return caught.value.errors


def _set_rule(index: int, **values: Any) -> Callable[[Document], None]:
    return lambda d: d["stale_rules"][index].update(values)


def test_the_shipped_email_stale_and_survey_sections_parse() -> None:
    assert CONFIG.email.reply_to is None
    assert set(CONFIG.email.status_messages) == {
        "client_testing",
        "estimate_pending_approval",
        "waiting_on_requester",
        "completed",
        "resolved",
        "cannot_replicate",
        "estimate_declined",
    }
    assert set(CONFIG.stale_rules) == {"client_testing", "approved", "estimate_pending_approval"}
    survey = CONFIG.survey
    assert (survey.enabled, survey.statuses, survey.delay_minutes, survey.scale) == (
        True,
        frozenset({"completed", "resolved"}),
        60,
        5,
    )
    assert (survey.link_days, survey.quiet_days) == (28, 30)


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (
            lambda d: d["email"]["status_messages"].update(nowhere="Hi"),
            "email.status_messages.nowhere",
            "unknown status",
        ),
        (
            lambda d: d["email"]["status_messages"].update(resolved="Done: {ticket}"),
            "email.status_messages.resolved",
            "unknown placeholder {ticket}",
        ),
        (
            lambda d: d["email"]["status_messages"].update(resolved="Done: {ref.__class__}"),
            "email.status_messages.resolved",
            "unknown placeholder {ref.__class__}",
        ),
        (lambda d: d["email"]["status_messages"].update(resolved=""), "email.status_messages.resolved", "non-empty"),
        (lambda d: d["email"].update(reply_to="not an address"), "email.reply_to", "email address"),
        (lambda d: d["email"].update(replies="yes"), "email.replies", "true or false"),
        (lambda d: d["email"].update(cc="boss@example.org"), "email.cc", "not a known setting"),
        (lambda d: d["email"].update(status_messages=["resolved"]), "email.status_messages", "object"),
    ],
)
def test_a_bad_email_section_is_named_by_its_path(change: Callable[[Document], None], path: str, fragment: str) -> None:
    errors = _errors_of(change)

    assert path in errors, errors
    assert fragment in errors[path]


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (_set_rule(0, status="nowhere"), "stale_rules[0].status", "unknown status 'nowhere'"),
        (_set_rule(0, status="completed", then=None), "stale_rules[0].status", "a done status cannot have"),
        (_set_rule(1, status="client_testing"), "stale_rules[1].status", "already has a rule"),
        (_set_rule(0, then="resolved"), "stale_rules[0].then", "has no transition 'client_testing' -> 'resolved'"),
        (_set_rule(0, then="in_review"), "stale_rules[0].then", "workflow 'defect' has no transition"),
        (_set_rule(0, then="the_moon"), "stale_rules[0].then", "unknown status 'the_moon'"),
        (_set_rule(0, after="5 days"), "stale_rules[0].after", "is not a duration"),
        (_set_rule(0, after="0d"), "stale_rules[0].after", "longer than zero"),
        (_set_rule(0, every="400d"), "stale_rules[0].every", "at most a year"),
        (_set_rule(0, every=5), "stale_rules[0].every", "is not a duration"),
        (_set_rule(0, clock="lunar"), "stale_rules[0].clock", "business, calendar"),
        (_set_rule(0, remind="the boss"), "stale_rules[0].remind", "requester, assignee, team"),
        (_set_rule(0, times=0), "stale_rules[0].times", "from 1 to 10"),
        (_set_rule(0, times=11), "stale_rules[0].times", "from 1 to 10"),
        (_set_rule(2, message="Hello {name}, about {ref.__dict__}"), "stale_rules[2].message", "{ref.__dict__}"),
        (_set_rule(2, colour="red"), "stale_rules[2].colour", "not a known setting"),
        (lambda d: d["stale_rules"][1].pop("after"), "stale_rules[1].after", "required"),
    ],
)
def test_a_bad_stale_rule_is_named_by_its_path(change: Callable[[Document], None], path: str, fragment: str) -> None:
    errors = _errors_of(change)

    assert path in errors, errors
    assert fragment in errors[path]


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (lambda d: d["survey"].update(statuses=["completed", "in_progress"]), "survey.statuses[1]", "done status"),
        (lambda d: d["survey"].update(statuses=["nowhere"]), "survey.statuses[0]", "unknown status"),
        (lambda d: d["survey"].update(delay="soon"), "survey.delay", "is not a duration"),
        (lambda d: d["survey"].update(delay="400d"), "survey.delay", "at most a year"),
        (lambda d: d["survey"].update(scale=1), "survey.scale", "from 2 to 10"),
        (lambda d: d["survey"].update(link_days=0), "survey.link_days", "from 1 to 365"),
        (lambda d: d["survey"].update(quiet_days=-1), "survey.quiet_days", "from 0 to 3650"),
        (lambda d: d["survey"].pop("statuses"), "survey.statuses", "required"),
    ],
)
def test_a_bad_survey_section_is_named_by_its_path(
    change: Callable[[Document], None], path: str, fragment: str
) -> None:
    errors = _errors_of(change)

    assert path in errors, errors
    assert fragment in errors[path]


def test_every_problem_of_the_three_sections_is_named_in_one_answer() -> None:
    def change(document: Document) -> None:
        document["email"]["status_messages"]["nowhere"] = "Hi {who}"
        document["stale_rules"][0]["then"] = "resolved"
        document["stale_rules"][1]["after"] = "3 weeks"
        document["survey"]["statuses"] = ["in_progress"]

    errors = _errors_of(change)

    assert {
        "email.status_messages.nowhere",
        "stale_rules[0].then",
        "stale_rules[1].after",
        "survey.statuses[0]",
    } <= set(errors)


def test_a_zero_survey_delay_is_allowed_and_no_survey_section_means_no_surveys() -> None:
    assert _config_with(lambda d: d["survey"].update(delay="0m")).survey.delay_minutes == 0
    assert _config_with(lambda d: d.pop("survey")).survey.enabled is False


def test_a_rule_with_a_move_parses_with_its_every_and_clock() -> None:
    config = _config_with(_set_rule(0, every="2d", clock="calendar"))

    rule = config.stale_rules["client_testing"]
    assert (rule.after, rule.every) == (Duration(5, "d", "calendar"), Duration(2, "d", "calendar"))


# placeholders are filled, never evaluated ---------------------------------------------------------------

VALUES = {"ref": "HD-1001", "subject": "Printer offline", "status": "Resolved", "desk": "Help desk", "name": "Rosa"}


def test_known_placeholders_are_filled() -> None:
    text = "Dear {name}, {ref} ({subject}) is {status}. {desk}"

    assert fill_placeholders(text, VALUES) == "Dear Rosa, HD-1001 (Printer offline) is Resolved. Help desk"


@pytest.mark.parametrize(
    "text",
    [
        "{ref.__class__}",
        "{ref.__class__.__mro__}",
        "{ref!r}",
        "{ref:>40}",
        "{subject[0]}",
        "{0}",
        "{}",
        "{__import__('os')}",
        "{ticket}",
    ],
)
def test_anything_else_in_braces_is_left_as_it_is(text: str) -> None:
    assert fill_placeholders(text, VALUES) == text


def test_a_filled_value_is_not_filled_again() -> None:
    values = {**VALUES, "subject": "{ref} and {ref.__class__}"}

    assert fill_placeholders("About {subject}", values) == "About {ref} and {ref.__class__}"
