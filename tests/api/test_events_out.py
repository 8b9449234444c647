"""Every kind of history event is published once: to the desk's EventBridge bus (moto, a rule forwarding to an SQS
queue) and to a webhook, whichever code path wrote it (the stream pipeline, the stale and SLA sweeps, surveys)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from chalicelib.domain.webhooks import KINDS
from tests.api.conftest import Api
from tests.api.mail_fixtures import Mailbox, links, run_job
from tests.clocks import ManualClock
from tests.streams import Stream
from tests.webhook_receiver import OK, receivers

BUS = "helpdesk-test-events"
FR_AT_RISK = datetime(2026, 11, 23, 15, 24, tzinfo=UTC)  # a medium ticket opened Monday 09:00: 80 % of 8 open hours
FR_BREACHED = datetime(2026, 11, 23, 17, 0, 1, tzinfo=UTC)


@pytest.fixture
def bus_queue(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The desk's bus with a rule that forwards every desk event to a queue the test reads."""
    monkeypatch.setenv("HELPDESK_EVENT_BUS", BUS)
    monkeypatch.setenv("HELPDESK_LOCAL_RUN", "1")
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="desk-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-desk-events", EventBusName=BUS, EventPattern=json.dumps({"source": ["helpdesk"]}))
    events.put_targets(Rule="all-desk-events", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return str(queue_url)


def from_bus(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def advance_to(clock: ManualClock, moment: datetime) -> None:
    clock.advance(seconds=(moment - clock.now()).total_seconds())


def with_reminder(api: Api) -> None:
    """A reminder to the requester an hour into waiting on them."""
    code, current = api.json("GET", "/admin/config")
    assert code == 200, current
    document = copy.deepcopy(current["config"])
    rule = {"status": "waiting_on_requester", "after": "1h", "times": 1, "remind": "requester", "clock": "calendar"}
    document["stale_rules"].append(rule)
    code, answer = api.json("PUT", "/admin/config", {"config": document, "version": current["version"]})
    assert code == 200, answer


def test_every_history_kind_reaches_the_bus_and_a_webhook_once(
    api: Api, stream: Stream, clock: ManualClock, mailbox: Mailbox, bus_queue: str
) -> None:
    with_reminder(api)
    with receivers(OK) as (receiver,):
        code, answer = api.json("POST", "/admin/webhooks", {"url": receiver.url, "kinds": "*"})
        assert code == 201, answer
        receiver.secret = answer["secret"]
        opened = api.open()
        ticket = opened["id"]
        stream.drain()
        advance_to(clock, FR_AT_RISK)
        run_job(api.client, "sla_sweep")
        advance_to(clock, FR_BREACHED)
        run_job(api.client, "sla_sweep")
        clock.advance(minutes=1)
        assert api.move(ticket, "in_progress", comment="On it", public=True)[0] == 200
        clock.advance(minutes=1)
        change = {"priority": "high", "assignee": "me", "team": "engineering", "subject": "Printer offline (2nd floor)"}
        code, answer = api.json("PATCH", f"/tickets/{ticket}", {**change, "version": 2})
        assert code == 200, answer
        code, answer = api.json(
            "PATCH", f"/tickets/{ticket}", {"fields": {"contact_email_cc": "it@example.org"}, "version": 3}
        )
        assert code == 200, answer
        api.json("POST", f"/tickets/{ticket}/comments", {"body": "Asked the vendor", "public": False})
        assert api.move(ticket, "waiting_on_requester", version=4)[0] == 200
        token = parse_qs(urlsplit(opened["portal_url"]).query)["token"][0]
        clock.advance(minutes=1)
        code, answer = api.json("POST", f"/portal/tickets/{ticket}/comments", {"body": "Still offline"}, token=token)
        assert code == 201, answer
        stream.drain()
        clock.advance(hours=1)
        assert run_job(api.client, "stale_sweep")["reminders"] == 1
        assert api.move(ticket, "resolved")[0] == 200
        stream.drain()
        clock.advance(hours=1, minutes=1)
        assert run_job(api.client, "survey_sender")["sent"] == 1
        survey = next(m for m in mailbox.sent if m.kind == "survey")
        path = urlsplit(next(u for u in links(survey.text) if "/surveys/" in u)).path
        code, answer = api.json("GET", f"/surveys/{path.rsplit('/', 1)[1]}?rating=5", token=None)
        assert code == 200, answer
        records = stream.drain()
        stream.deliver(records)  # redelivered: nothing new anywhere
        for job in ("sla_sweep", "stale_sweep", "survey_sender"):
            run_job(api.client, job)

        code, history = api.json("GET", f"/tickets/{ticket}/history")
        recorded = sorted(e["kind"] for e in history["events"])
        published = from_bus(bus_queue)
        hooked = receiver.events

    assert set(recorded) == set(KINDS)  # the test makes every kind the history knows
    assert sorted(e["detail-type"] for e in published) == recorded
    assert sorted(e["kind"] for e in hooked) == recorded
    assert receiver.refused == []
    assert {e["source"] for e in published} == {"helpdesk"}
    assert sorted(e["detail"]["id"] for e in published) == sorted(e["id"] for e in hooked)
    by_kind = {e["kind"]: e for e in hooked}
    assert by_kind["sla_breached"]["actor"] == "system:sla_sweep"
    assert by_kind["survey_answered"]["data"]["rating"] == 5
    assert by_kind["requester_comment"]["data"]["excerpt"] == "Still offline"
    assert by_kind["status_changed"]["ticket"]["ref"] == opened["ref"]
