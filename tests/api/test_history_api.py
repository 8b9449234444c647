"""The stream pipeline end to end: moto's real stream records through the deployed handler into history and SLA."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.clocks import ManualClock
from tests.streams import Stream

HOUR = 3600


def history(api: Api, ticket_id: str, query: str = "") -> dict[str, Any]:
    status, answer = api.json("GET", f"/tickets/{ticket_id}/history{query}")
    assert status == 200, answer
    return dict(answer)


def kinds(api: Api, ticket_id: str) -> list[str]:
    return [e["kind"] for e in history(api, ticket_id)["events"]]


def test_every_change_becomes_one_history_event_oldest_first(api: Api, stream: Stream, clock: ManualClock) -> None:
    ticket = api.open()
    clock.advance(hours=2)
    assert api.move(ticket["id"], "in_progress", comment="Looking into it", public=True)[0] == 200
    clock.advance(days=1)
    status, _ = api.json("PATCH", f"/tickets/{ticket['id']}", {"priority": "high", "assignee": "me", "version": 2})
    assert status == 200
    api.json("POST", f"/tickets/{ticket['id']}/comments", {"body": "Asked the vendor", "public": False})
    clock.advance(minutes=30)
    assert api.move(ticket["id"], "waiting_on_requester", comment="Which floor?", public=True)[0] == 200

    stream.drain()
    events = history(api, ticket["id"])["events"]

    assert [e["kind"] for e in events] == [
        "created",
        "status_changed",
        "reply",
        "priority_changed",
        "assignee_changed",
        "note",
        "status_changed",
        "reply",
    ]
    created, started, _, priority, assigned, note, waiting, _ = events
    assert created["by"] == {"role": "requester", "id": "rosa@example.org", "name": "Rosa Diaz"}
    assert started["from"]["key"] == "submitted"
    assert started["to"] == {"key": "in_progress", "label": "In progress", "category": "active"}
    assert started["time_in_previous"]["wall_seconds"] == 2 * HOUR
    assert started["time_in_previous"]["business_seconds"] == 2 * HOUR
    assert started["by"]["name"] == "Ada Admin"
    assert (priority["from"], priority["to"]) == ("medium", "high")
    assert assigned["to"] == assigned["by"]["id"]
    assert note["public"] is False
    # Mon 11:00 -> Tue 11:30 in a 09:00-17:00 desk: 24.5 hours, of which 6 + 2.5 business hours.
    assert waiting["time_in_previous"]["wall_seconds"] == 24 * HOUR + 1800
    assert waiting["time_in_previous"]["business_seconds"] == 8 * HOUR + 1800
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def test_the_ticket_shows_its_accumulated_time_per_status(api: Api, stream: Stream, clock: ManualClock) -> None:
    ticket = api.open()
    clock.advance(hours=1)
    api.move(ticket["id"], "in_progress")
    clock.advance(hours=2)
    api.move(ticket["id"], "waiting_on_requester")
    clock.advance(hours=3)
    api.move(ticket["id"], "in_progress")
    clock.advance(hours=1)
    stream.drain()

    times = {t["key"]: t for t in api.ticket(ticket["id"])["time_in_status"]}

    assert times["submitted"]["wall_seconds"] == 1 * HOUR
    assert times["in_progress"]["wall_seconds"] == 3 * HOUR
    assert times["in_progress"]["visits"] == 2
    assert times["waiting_on_requester"]["business_seconds"] == 3 * HOUR
    assert sum(t["wall_seconds"] for t in times.values()) == 7 * HOUR


def test_redelivered_duplicated_and_reordered_records_change_nothing(
    api: Api, stream: Stream, clock: ManualClock
) -> None:
    ticket = api.open()
    clock.advance(hours=1)
    api.move(ticket["id"], "in_progress", comment="On it", public=True)
    clock.advance(hours=1)
    api.json("PATCH", f"/tickets/{ticket['id']}", {"priority": "low", "version": 2})
    records = stream.records()
    assert stream.deliver(records) == []
    first_history = history(api, ticket["id"])
    first_detail = api.ticket(ticket["id"])

    assert stream.deliver(records + records) == []
    assert stream.deliver(list(reversed(records))) == []
    assert stream.deliver(records[1:] + records[:1]) == []

    assert history(api, ticket["id"]) == first_history
    assert api.ticket(ticket["id"])["sla"] == first_detail["sla"]
    assert api.ticket(ticket["id"])["time_in_status"] == first_detail["time_in_status"]


def test_records_delivered_out_of_order_converge_on_the_same_timers(
    api: Api, stream: Stream, clock: ManualClock
) -> None:
    ticket = api.open()
    clock.advance(hours=1)
    api.move(ticket["id"], "in_progress")
    clock.advance(hours=1)
    api.move(ticket["id"], "resolved")
    records = stream.records()

    assert stream.deliver(list(reversed(records))) == []

    detail = api.ticket(ticket["id"])
    assert detail["sla"]["resolution"]["state"] == "met"
    assert detail["sla"]["resolution"]["elapsed_seconds"] == 2 * HOUR
    assert kinds(api, ticket["id"]) == ["created", "status_changed", "status_changed"]


def test_a_rewrite_that_changes_nothing_adds_no_event(api: Api, stream: Stream) -> None:
    ticket = api.open()
    (created,) = stream.records()
    identical = copy.deepcopy(created)
    identical["eventName"] = "MODIFY"
    identical["dynamodb"]["OldImage"] = identical["dynamodb"]["NewImage"]
    identical["dynamodb"]["SequenceNumber"] = str(int(created["dynamodb"]["SequenceNumber"]) + 1)

    assert stream.deliver([created, identical]) == []

    assert kinds(api, ticket["id"]) == ["created"]


def test_a_bad_record_is_reported_and_logged_while_the_rest_of_the_batch_is_processed(
    api: Api, stream: Stream, caplog: pytest.LogCaptureFixture
) -> None:
    first = api.open(subject="First")
    second = api.open(subject="Second")
    good_one, good_two = stream.records()
    bad = copy.deepcopy(good_one)
    bad["eventID"] = "bad-event-1"
    bad["dynamodb"]["NewImage"]["created_at"] = {"S": "not a time"}
    bad["dynamodb"]["SequenceNumber"] = "1"

    with caplog.at_level(logging.ERROR, logger="helpdesk.stream"):
        failed = stream.deliver([bad, good_one, good_two])

    assert failed == ["1"]
    assert kinds(api, first["id"]) == ["created"]
    assert kinds(api, second["id"]) == ["created"]
    logged = [r for r in caplog.records if getattr(r, "event_id", None) == "bad-event-1"]
    assert [r.sequence_number for r in logged] == ["1"]


def test_a_record_with_no_shape_at_all_is_reported_not_raised(api: Api, stream: Stream) -> None:
    answer = api.client.lambda_.invoke("ticket_changes", {"Records": [{"eventID": "x", "dynamodb": {}}]}).payload

    assert answer == {"batchItemFailures": [{"itemIdentifier": ""}]}


def test_the_pipeline_writes_nothing_back_to_the_tickets_table(api: Api, stream: Stream, clock: ManualClock) -> None:
    ticket = api.open()
    api.move(ticket["id"], "in_progress")
    stream.drain()

    assert stream.records() == [], "processing a record must not trigger the stream again"
    assert api.ticket(ticket["id"])["version"] == 2


def test_the_sla_state_follows_the_clock_pauses_while_waiting_and_shows_in_the_queue(
    api: Api, stream: Stream, clock: ManualClock
) -> None:
    # medium priority: 8 business hours to the first response; the desk is open 09:00-17:00, opened Mon 09:00.
    ticket = api.open()
    sla = api.ticket(ticket["id"])["sla"]["first_response"]
    assert sla["state"] == "running"
    assert sla["due_at"] == "2026-11-23T17:00:00.000000Z"

    clock.advance(hours=7)
    sla = api.ticket(ticket["id"])["sla"]["first_response"]
    assert (sla["at_risk"], sla["breached"], sla["remaining_seconds"]) == (True, False, HOUR)

    clock.advance(hours=2)
    assert api.ticket(ticket["id"])["sla"]["first_response"]["breached"] is True

    api.move(ticket["id"], "in_progress")
    api.move(ticket["id"], "waiting_on_requester")
    stream.drain()
    resolution = api.ticket(ticket["id"])["sla"]["resolution"]
    clock.advance(days=2)
    later = api.ticket(ticket["id"])["sla"]["resolution"]
    assert resolution["state"] == later["state"] == "paused"
    assert later["elapsed_seconds"] == resolution["elapsed_seconds"] == 8 * HOUR
    assert later["due_at"] is None

    status, queue = api.json("GET", "/tickets")
    assert status == 200
    row = next(t for t in queue["tickets"] if t["id"] == ticket["id"])
    assert row["sla"]["resolution"]["state"] == "paused"
    assert row["sla"]["first_response"]["breached"] is True


def test_a_priority_change_recomputes_the_due_time_from_the_start(api: Api, stream: Stream, clock: ManualClock) -> None:
    ticket = api.open()  # medium: resolution 40 business hours
    clock.advance(hours=1)
    api.json("PATCH", f"/tickets/{ticket['id']}", {"priority": "high", "version": 1})
    stream.drain()

    resolution = api.ticket(ticket["id"])["sla"]["resolution"]

    # high: 16 business hours from Mon 09:00 -> Tue 17:00
    assert resolution["target_seconds"] == 16 * HOUR
    assert resolution["due_at"] == "2026-11-24T17:00:00.000000Z"


def test_the_history_needs_an_agent_and_pages_with_a_cursor(api: Api, stream: Stream, clock: ManualClock) -> None:
    ticket = api.open()
    for step in ("in_progress", "waiting_on_requester", "in_progress", "resolved"):
        clock.advance(minutes=5)
        api.move(ticket["id"], step)
    stream.drain()

    assert api.json("GET", f"/tickets/{ticket['id']}/history", token=None)[0] == 401
    assert api.json("GET", "/tickets/nope/history")[0] == 404
    assert api.json("GET", f"/tickets/{ticket['id']}/history?limit=0")[0] == 422
    assert api.json("GET", f"/tickets/{ticket['id']}/history?cursor=garbage")[0] == 422

    seen: list[str] = []
    cursor = None
    while True:
        page = history(api, ticket["id"], f"?limit=2&cursor={cursor}" if cursor else "?limit=2")
        seen.extend(e["at"] for e in page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert seen == sorted(seen)
    assert history(api, ticket["ref"])["events"][0]["kind"] == "created"
