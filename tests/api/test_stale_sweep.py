"""The stale sweep end to end: reminders at the right business moment (never earlier), once however often the
job runs, in the ticket's history, and the default rules' last step (client testing -> completed).

The clock starts Monday 23 November 2026 09:00 UTC; London is on GMT then, so local times equal UTC here.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.services.ports import SentMail
from tests.api.conftest import DEFECT_FIELDS, Api
from tests.api.mail_fixtures import (
    ADMIN,
    CONSULTATION_TO_ESTIMATE,
    DEFECT_TO_CLIENT_TESTING,
    REQUESTER,
    Mailbox,
    new_agent,
    parsed,
    run_job,
)
from tests.clocks import ManualClock
from tests.streams import Stream


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0, *, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def advance_to(clock: ManualClock, moment: datetime) -> None:
    assert moment >= clock.now()
    clock.advance(seconds=(moment - clock.now()).total_seconds())
    assert clock.now() == moment


def walk(api: Api, clock: ManualClock, ticket_id: str, *statuses: str) -> None:
    """One move a minute, as people make them."""
    for status in statuses:
        clock.advance(minutes=1)
        code, answer = api.move(ticket_id, status)
        assert code == 200, answer


def sweep(api: Api) -> dict[str, Any]:
    return run_job(api.client, "stale_sweep")


def history(api: Api, ticket_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    code, answer = api.json("GET", f"/tickets/{ticket_id}/history")
    assert code == 200, answer
    return [e for e in answer["events"] if kind is None or e["kind"] == kind]


def actions_in(mail: SentMail) -> set[str]:
    return {
        parse_qs(urlsplit(word).query)["to"][0]
        for word in mail.text.split()
        if word.startswith("https://") and "to=" in word
    }


def defect_in_client_testing(api: Api, stream: Stream, clock: ManualClock) -> dict[str, Any]:
    """A defect in client testing since Monday 23 November 09:07."""
    opened = api.open(type="defect", fields=DEFECT_FIELDS)
    walk(api, clock, opened["id"], *DEFECT_TO_CLIENT_TESTING)
    stream.drain()
    assert api.ticket(opened["id"])["status_since"] == "2026-11-23T09:07:00.000000Z"
    return opened


# client testing: remind the requester twice, then complete ---------------------------------------------


def test_client_testing_reminds_the_requester_after_five_business_days_and_not_before(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = defect_in_client_testing(api, stream, clock)  # Monday 23 November 09:07
    assert sweep(api)["reminders"] == 0

    advance_to(clock, at(11, 30, 9, 6, 59))  # one second before five business days have passed
    assert sweep(api)["reminders"] == 0
    assert mailbox.to(REQUESTER, "reminder") == []

    advance_to(clock, at(11, 30, 9, 7))
    assert sweep(api)["reminders"] == 1
    assert sweep(api)["reminders"] == 0
    clock.advance(hours=1)
    assert sweep(api)["reminders"] == 0

    reminders = mailbox.to(REQUESTER, "reminder")
    assert len(reminders) == 1
    mail = reminders[0]
    assert opened["ref"] in mail.subject
    assert "Reminder 1 of 2" in mail.subject
    assert "has been waiting for your test" in mail.text  # the rule's message
    assert "Mon 23 Nov 2026, 09:07 GMT" in mail.text  # waiting since
    assert actions_in(mail) == {"completed", "in_progress"}
    assert parsed(mail)["Auto-Submitted"] == "auto-generated"

    events = history(api, opened["id"], "reminder_sent")
    assert len(events) == 1
    event = events[0]
    assert (event["number"], event["times"], event["to"], event["status"]) == (1, 2, "requester", "client_testing")
    assert (event["by"]["role"], event["by"]["id"]) == ("system", "stale_sweep")
    assert event["at"] == "2026-11-30T09:07:00.000000Z"


def test_the_second_reminder_counts_from_the_first_sent_and_the_last_step_completes_the_ticket(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = defect_in_client_testing(api, stream, clock)

    advance_to(clock, at(12, 1, 15))  # the sweep runs late: Tuesday 15:00 instead of Monday 09:07
    assert sweep(api)["reminders"] == 1
    first = mailbox.to(REQUESTER, "reminder")[0]
    assert "we will mark this request" not in first.text  # one more reminder to come

    advance_to(clock, at(12, 8, 14, 59, 59))  # five business days after the first reminder was sent, minus 1 s
    assert sweep(api) == {"due": 0, "reminders": 0, "moved": 0, "dropped": 0, "deferred": 0}
    advance_to(clock, at(12, 8, 15))
    assert sweep(api)["reminders"] == 1
    assert sweep(api)["reminders"] == 0

    second = mailbox.to(REQUESTER, "reminder")[1]
    assert "Reminder 2 of 2" in second.subject
    assert "If we do not hear from you by Tue 15 Dec 2026, 15:00 GMT, we will mark this request Completed." in (
        " ".join(second.text.split())
    )

    advance_to(clock, at(12, 15, 14, 59))
    assert sweep(api)["moved"] == 0
    assert api.ticket(opened["id"])["status"]["key"] == "client_testing"
    advance_to(clock, at(12, 15, 15))
    assert sweep(api)["moved"] == 1
    assert sweep(api)["moved"] == 0
    assert api.ticket(opened["id"])["status"]["key"] == "completed"

    records = stream.records()
    assert stream.deliver(records) == []
    assert stream.deliver(records) == []
    moved = history(api, opened["id"], "status_changed")[-1]
    assert (moved["from"]["key"], moved["to"]["key"]) == ("client_testing", "completed")
    assert (moved["by"]["role"], moved["by"]["id"]) == ("system", "stale_sweep")
    assert [e["number"] for e in history(api, opened["id"], "reminder_sent")] == [1, 2]
    completed = [m for m in mailbox.to(REQUESTER, "status") if "Completed" in m.subject]
    assert len(completed) == 1

    clock.advance(days=30)
    assert sweep(api)["reminders"] == 0
    assert len(mailbox.to(REQUESTER, "reminder")) == 2


def test_a_ticket_that_left_the_status_gets_no_reminder(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = defect_in_client_testing(api, stream, clock)
    clock.advance(days=2)
    token = parse_qs(urlsplit(opened["portal_url"]).query)["token"][0]
    version = api.ticket(opened["id"])["version"]
    code, answer = api.json(
        "POST",
        f"/portal/tickets/{opened['id']}/transitions?token={token}",
        {"to": "in_progress", "version": version},
        token=None,
    )
    assert code == 200, answer
    # The stream has not caught up yet: the sweep still finds the old step due, and drops it.

    advance_to(clock, at(12, 7, 9))
    tally = sweep(api)
    stream.drain()

    assert (tally["reminders"], tally["dropped"]) == (0, 1)
    assert sweep(api)["reminders"] == 0
    assert mailbox.to(REQUESTER, "reminder") == []
    assert history(api, opened["id"], "reminder_sent") == []


def test_a_ticket_that_comes_back_to_the_status_starts_its_reminders_afresh(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = defect_in_client_testing(api, stream, clock)
    advance_to(clock, at(11, 30, 9, 7))
    assert sweep(api)["reminders"] == 1
    walk(api, clock, opened["id"], "in_progress", "ready_to_test", "in_testing", "ready_to_install", "client_testing")
    stream.drain()  # back in client testing since Monday 30 November 09:12

    advance_to(clock, at(12, 7, 9, 11))
    assert sweep(api)["reminders"] == 0
    advance_to(clock, at(12, 7, 9, 12))
    assert sweep(api)["reminders"] == 1

    subjects = [m.subject for m in mailbox.to(REQUESTER, "reminder")]
    assert len(subjects) == 2
    assert all("Reminder 1 of 2" in s for s in subjects)
    assert [e["number"] for e in history(api, opened["id"], "reminder_sent")] == [1, 1]


# approved for action: tell the team ------------------------------------------------------------------------


def test_approved_for_action_tells_every_agent_after_three_business_days_once(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    new_agent(api, "Bob Builder", "bob@example.org")
    opened = api.open(type="defect", fields=DEFECT_FIELDS)
    walk(api, clock, opened["id"], "in_review", "approved")
    stream.drain()  # approved since Monday 09:02

    advance_to(clock, at(11, 26, 9, 1))
    assert sweep(api)["reminders"] == 0
    advance_to(clock, at(11, 26, 9, 2))
    assert sweep(api)["reminders"] == 1
    clock.advance(days=20)
    assert sweep(api)["reminders"] == 0

    team = [m for m in mailbox.sent if m.kind == "team_reminder"]
    assert sorted(m.to for m in team) == [ADMIN, "bob@example.org"]  # the engineering team has no address
    assert all(opened["ref"] in m.subject and "Approved for action" in m.subject for m in team)
    assert all("3 business days" in m.text for m in team)
    assert mailbox.to(REQUESTER, "reminder") == []
    events = history(api, opened["id"], "reminder_sent")
    assert [(e["number"], e["times"], e["to"]) for e in events] == [(1, 1, "team")]


def test_the_team_reminder_goes_to_the_team_address_when_there_is_one(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    code, current = api.json("GET", "/admin/config")
    assert code == 200, current
    document = copy.deepcopy(current["config"])
    next(t for t in document["teams"] if t["key"] == "engineering")["email"] = "engineering@example.org"
    assert api.json("PUT", "/admin/config", {"config": document, "version": current["version"]})[0] == 200
    opened = api.open(type="defect", fields=DEFECT_FIELDS)
    walk(api, clock, opened["id"], "in_review", "approved")
    stream.drain()

    advance_to(clock, at(11, 26, 9, 2))
    assert sweep(api)["reminders"] == 1

    assert [m.to for m in mailbox.sent if m.kind == "team_reminder"] == ["engineering@example.org"]


# estimate pending approval: remind the requester, over the holidays ---------------------------------------


def test_an_estimate_left_over_christmas_is_chased_three_business_days_later_with_the_decision_links(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    advance_to(clock, at(12, 22, 11))  # Tuesday 22 December 11:00
    opened = api.open(type="consultation", fields={"topic": "Data migration"})
    walk(api, clock, opened["id"], *CONSULTATION_TO_ESTIMATE)
    stream.drain()  # pending approval since 11:03

    for moment in (at(12, 24, 11, 3), at(12, 25, 11, 3), at(12, 28, 16), at(12, 29, 11, 2, 59)):
        advance_to(clock, moment)  # Thursday, the holidays and Tuesday just before: 2 opening days so far
        assert sweep(api)["reminders"] == 0
    advance_to(clock, at(12, 29, 11, 3))  # Wed 23, Thu 24, Tue 29
    assert sweep(api)["reminders"] == 1
    clock.advance(days=10)
    assert sweep(api)["reminders"] == 0

    reminders = mailbox.to(REQUESTER, "reminder")
    assert len(reminders) == 1
    mail = reminders[0]
    assert "Reminder 1 of 1" in mail.subject
    assert "still waiting for your decision" in mail.text
    assert actions_in(mail) == {"approved", "estimate_declined"}
    assert "we will mark this request" not in mail.text  # no move follows this rule
    assert [e["number"] for e in history(api, opened["id"], "reminder_sent")] == [1]


def test_moves_made_in_the_same_instant_still_plan_the_reminder_of_the_status_the_ticket_ends_in(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    """Two status changes can share a timestamp (a fast script, or clocks of two Lambda instances); the stay
    that counts is the later write's, as the history (keyed by time and version) already knows."""
    opened = api.open(type="defect", fields=DEFECT_FIELDS)
    for status in DEFECT_TO_CLIENT_TESTING:  # the clock does not move between these writes
        code, answer = api.move(opened["id"], status)
        assert code == 200, answer
    stream.drain()
    assert api.ticket(opened["id"])["status"]["key"] == "client_testing"

    advance_to(clock, at(11, 30, 9))
    assert sweep(api)["reminders"] == 1
    assert len(mailbox.to(REQUESTER, "reminder")) == 1
