"""The SLA sweep end to end: at-risk warnings and breach alerts, once per timer and level, to the assignee (else the
team address, else every active agent), recorded in the ticket's history; reruns and redeliveries add nothing.

A medium ticket opened Monday 23 November 2026 09:00 (GMT = UTC): first response 8 open hours, at risk at 80 %
(Monday 15:24), breached after Monday 17:00; resolution 40 open hours, at risk Thursday 17:00, breached after
Friday 27 November 17:00.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import wiring
from tests.api.conftest import Api
from tests.api.mail_fixtures import ADMIN, BASE, Mailbox, new_agent, parsed, run_job
from tests.clocks import ManualClock
from tests.streams import Stream

BOB = "bob@example.org"
FR_AT_RISK = datetime(2026, 11, 23, 15, 24, tzinfo=UTC)
FR_DUE = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
RES_AT_RISK = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
RES_DUE = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)


def advance_to(clock: ManualClock, moment: datetime, *, seconds: int = 0) -> None:
    target = moment.timestamp() + seconds
    assert target >= clock.now().timestamp()
    clock.advance(seconds=target - clock.now().timestamp())


def sweep(api: Api) -> dict[str, Any]:
    return run_job(api.client, "sla_sweep")


def sla_mails(box: Mailbox) -> list[tuple[str, str]]:
    return sorted((m.to, m.subject.split("]", 1)[1].split(":", 1)[0].strip()) for m in box.sent if m.kind == "sla")


def history(api: Api, ticket_id: str) -> list[dict[str, Any]]:
    code, answer = api.json("GET", f"/tickets/{ticket_id}/history")
    assert code == 200, answer
    return [e for e in answer["events"] if e["kind"] in ("sla_at_risk", "sla_breached")]


def assign(api: Api, ticket_id: str, assignee: str) -> None:
    version = api.ticket(ticket_id)["version"]
    code, answer = api.json("PATCH", f"/tickets/{ticket_id}", {"assignee": assignee, "version": version})
    assert code == 200, answer


def test_an_unassigned_ticket_warns_every_agent_when_at_risk_and_alerts_once_when_breached(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    new_agent(api, "Bob Builder", BOB)
    opened = api.open()
    stream.drain()
    assert api.ticket(opened["id"])["sla"]["first_response"]["due_at"] == "2026-11-23T17:00:00.000000Z"

    advance_to(clock, FR_AT_RISK, seconds=-1)
    assert sweep(api)["at_risk"] == 0
    advance_to(clock, FR_AT_RISK)
    assert sweep(api)["at_risk"] == 1
    assert sweep(api)["at_risk"] == 0
    assert sla_mails(mailbox) == [(ADMIN, "Due soon"), (BOB, "Due soon")]
    warning = mailbox.to(BOB, "sla")[0]
    assert opened["ref"] in warning.subject
    assert "first response" in warning.subject
    assert "Mon 23 Nov 2026, 17:00 GMT" in warning.text
    assert "nobody yet" in warning.text

    advance_to(clock, FR_DUE)  # met right on time is not missed yet
    assert sweep(api)["breached"] == 0
    advance_to(clock, FR_DUE, seconds=1)
    assert sweep(api)["breached"] == 1
    assert sweep(api)["breached"] == 0
    clock.advance(hours=2)
    assert sweep(api) == {"due": 0, "at_risk": 0, "breached": 0}

    assert sla_mails(mailbox) == [(ADMIN, "Due soon"), (ADMIN, "Overdue"), (BOB, "Due soon"), (BOB, "Overdue")]
    events = history(api, opened["id"])
    assert [(e["kind"], e["timer"], e["level"]) for e in events] == [
        ("sla_at_risk", "first_response", "at_risk"),
        ("sla_breached", "first_response", "breached"),
    ]
    assert [e["at"] for e in events] == ["2026-11-23T15:24:00.000000Z", "2026-11-23T17:00:00.000000Z"]
    assert all((e["by"]["role"], e["by"]["id"]) == ("system", "sla_sweep") for e in events)


def test_the_assignee_alone_is_warned_and_a_change_after_the_warning_does_not_warn_again(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    bob = new_agent(api, "Bob Builder", BOB)[0]
    opened = api.open()
    assign(api, opened["id"], bob)
    stream.drain()

    advance_to(clock, FR_AT_RISK)
    assert sweep(api)["at_risk"] == 1
    clock.advance(minutes=10)
    code, _ = api.json("PATCH", f"/tickets/{opened['id']}", {"priority": "low", "version": 2})
    assert code == 200
    code, _ = api.json("PATCH", f"/tickets/{opened['id']}", {"priority": "medium", "version": 3})
    assert code == 200
    records = stream.records()
    assert stream.deliver(records) == []
    assert stream.deliver(records) == []
    clock.advance(minutes=5)
    assert sweep(api)["at_risk"] == 0
    advance_to(clock, FR_DUE, seconds=60)
    assert sweep(api)["breached"] == 1

    assert sla_mails(mailbox) == [(BOB, "Due soon"), (BOB, "Overdue")]
    assert "Assigned to: Bob Builder" in mailbox.to(BOB, "sla")[0].text
    assert [e["kind"] for e in history(api, opened["id"])] == ["sla_at_risk", "sla_breached"]


def test_a_timer_found_already_breached_gets_only_the_breach_alert(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = api.open()
    stream.drain()

    advance_to(clock, datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # no sweep ran on Monday afternoon
    tally = sweep(api)
    assert (tally["at_risk"], tally["breached"]) == (0, 1)
    assert sla_mails(mailbox) == [(ADMIN, "Overdue")]

    advance_to(clock, RES_AT_RISK)
    assert sweep(api)["at_risk"] == 1
    advance_to(clock, RES_DUE, seconds=1)
    assert sweep(api)["breached"] == 1
    advance_to(clock, datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert sweep(api) == {"due": 0, "at_risk": 0, "breached": 0}

    assert [m.subject.split(" - ")[0] for m in mailbox.sent if m.kind == "sla"] == [
        f"[{opened['ref']}] Overdue: first response",
        f"[{opened['ref']}] Due soon: resolution",
        f"[{opened['ref']}] Overdue: resolution",
    ]
    assert [(e["kind"], e["timer"]) for e in history(api, opened["id"])] == [
        ("sla_breached", "first_response"),
        ("sla_at_risk", "resolution"),
        ("sla_breached", "resolution"),
    ]


def test_a_reply_in_time_means_no_first_response_alert(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = api.open()
    clock.advance(hours=1)
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "On it.", "public": True})
    assert code == 201
    stream.drain()

    advance_to(clock, FR_DUE, seconds=3600)
    assert sweep(api) == {"due": 0, "at_risk": 0, "breached": 0}
    assert sla_mails(mailbox) == []


def test_a_reply_the_pipeline_has_not_seen_yet_still_stops_the_first_response_alert(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = api.open()
    stream.drain()
    advance_to(clock, FR_AT_RISK, seconds=-60)
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "On it.", "public": True})
    assert code == 201

    advance_to(clock, FR_AT_RISK, seconds=60)
    assert sweep(api)["at_risk"] == 0
    stream.drain()
    assert sweep(api)["at_risk"] == 0
    assert sla_mails(mailbox) == []
    assert history(api, opened["id"]) == []


def test_a_closed_ticket_is_not_chased(api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock) -> None:
    opened = api.open()
    clock.advance(hours=1)
    assert api.move(opened["id"], "resolved")[0] == 200
    stream.drain()

    advance_to(clock, RES_DUE, seconds=3600)
    assert sweep(api)["due"] == 0
    assert sla_mails(mailbox) == []


def test_an_unassigned_ticket_s_alerts_go_to_the_team_address_when_there_is_one(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    new_agent(api, "Bob Builder", BOB)
    code, current = api.json("GET", "/admin/config")
    assert code == 200
    document = copy.deepcopy(current["config"])
    next(t for t in document["teams"] if t["key"] == "support")["email"] = "support@example.org"
    assert api.json("PUT", "/admin/config", {"config": document, "version": current["version"]})[0] == 200
    api.open()
    stream.drain()

    advance_to(clock, FR_AT_RISK)
    assert sweep(api)["at_risk"] == 1

    assert sla_mails(mailbox) == [("support@example.org", "Due soon")]


# several tickets at once: one digest per recipient ---------------------------------------------------------


def digests(box: Mailbox, address: str) -> list[Any]:
    return [m for m in box.sent if m.kind == "sla_digest" and m.to == address]


def test_alerts_on_several_tickets_at_once_reach_each_agent_as_one_digest_listing_them_all(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    new_agent(api, "Bob Builder", BOB)
    printer, scanner = api.open(), api.open(subject="Scanner jams")
    stream.drain()

    advance_to(clock, FR_AT_RISK)
    tally = sweep(api)
    assert tally == {"due": 2, "at_risk": 2, "breached": 0, "digests": 2}
    assert sweep(api) == {"due": 0, "at_risk": 0, "breached": 0}

    assert sla_mails(mailbox) == []  # no single alert for what a digest said
    for address in (ADMIN, BOB):
        (digest,) = digests(mailbox, address)
        assert digest.subject == "SLA alerts on 2 tickets: 2 due soon"
        assert digest.ticket_id.startswith("digest#")
        for ticket, subject in ((printer, "Printer offline"), (scanner, "Scanner jams")):
            assert f'{ticket["ref"]} ("{subject}"): due soon, its first response target is due' in digest.text
            console = f"{BASE}/console/tickets/{ticket['id']}"
            assert console in digest.text
            assert f'<a href="{console}"' in digest.html
        assert "Mon 23 Nov 2026, 17:00 GMT" in digest.text
        assert digest.text.count("Assigned to: nobody yet") == 2
        assert parsed(digest)["Auto-Submitted"] == "auto-generated"
    assert digests(mailbox, ADMIN)[0].ticket_id != digests(mailbox, BOB)[0].ticket_id
    for ticket in (printer, scanner):
        assert [e["kind"] for e in history(api, ticket["id"])] == ["sla_at_risk"]

    advance_to(clock, FR_DUE, seconds=1)
    assert sweep(api) == {"due": 2, "at_risk": 0, "breached": 2, "digests": 2}
    assert [m.subject for m in digests(mailbox, BOB)] == [
        "SLA alerts on 2 tickets: 2 due soon",
        "SLA alerts on 2 tickets: 2 overdue",
    ]
    for ticket in (printer, scanner):
        assert [e["kind"] for e in history(api, ticket["id"])] == ["sla_at_risk", "sla_breached"]


def test_an_assignee_with_one_alert_gets_a_single_mail_while_the_team_gets_a_digest_of_its_two(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    bob = new_agent(api, "Bob Builder", BOB)[0]
    code, current = api.json("GET", "/admin/config")
    assert code == 200
    document = copy.deepcopy(current["config"])
    next(t for t in document["teams"] if t["key"] == "support")["email"] = "support@example.org"
    assert api.json("PUT", "/admin/config", {"config": document, "version": current["version"]})[0] == 200
    mine = api.open()
    assign(api, mine["id"], bob)
    api.open(subject="Scanner jams")
    api.open(subject="Monitor flickers")
    stream.drain()

    advance_to(clock, FR_AT_RISK)
    assert sweep(api)["at_risk"] == 3

    assert sla_mails(mailbox) == [(BOB, "Due soon")]
    assert mine["ref"] in mailbox.to(BOB, "sla")[0].subject
    (digest,) = digests(mailbox, "support@example.org")
    assert "Scanner jams" in digest.text
    assert "Monitor flickers" in digest.text
    assert "Printer offline" not in digest.text
    assert digest.ticket_id.startswith("digest#")


@pytest.mark.parametrize("dies_before", ["add", "note_alerts"])
def test_a_sweep_that_died_half_way_is_rerun_without_a_second_digest_or_a_single_alert_for_what_it_covered(
    api: Api,
    stream: Stream,
    mailbox: Mailbox,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    dies_before: str,
) -> None:
    new_agent(api, "Bob Builder", BOB)
    tickets = [api.open(), api.open(subject="Scanner jams")]
    stream.drain()
    advance_to(clock, FR_AT_RISK)
    events = wiring.desk().events

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the function timed out")

    with monkeypatch.context() as patched:
        patched.setattr(events, dies_before, dies)
        with pytest.raises(RuntimeError):
            wiring.jobs().sla_sweep()

    def alert_mails() -> list[Any]:
        return [m for m in mailbox.sent if m.kind in ("sla", "sla_digest")]

    assert alert_mails() == []  # recorded, not sent yet: the sends come after the bookkeeping
    clock.advance(minutes=1)
    sweep(api)
    sweep(api)
    run_job(api.client, "outbox_retry")

    assert sorted((m.kind, m.to) for m in alert_mails()) == [("sla_digest", ADMIN), ("sla_digest", BOB)]
    for ticket in tickets:
        assert [e["kind"] for e in history(api, ticket["id"])] == ["sla_at_risk"]
    clock.advance(minutes=30)
    assert sweep(api) == {"due": 0, "at_risk": 0, "breached": 0}
    run_job(api.client, "outbox_retry")
    assert len(alert_mails()) == 2
