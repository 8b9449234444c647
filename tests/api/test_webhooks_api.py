"""Webhooks end to end: a real local receiver verifies every delivery's signature with its own code; redelivered
stream records deliver once; failing and slow receivers are retried with back-off by the outbox job without holding
up a healthy one; a day of failures switches a webhook off and mails the admins once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from tests.api.conftest import Api
from tests.api.mail_fixtures import Mailbox, new_agent, run_job
from tests.clocks import ManualClock
from tests.streams import Stream
from tests.webhook_receiver import FAIL, OK, SLOW, Receiver, receivers

ADMIN = "ada@example.org"


@pytest.fixture(autouse=True)
def local_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers listen on 127.0.0.1, which only the local run may target."""
    monkeypatch.setenv("HELPDESK_LOCAL_RUN", "1")


def add_webhook(api: Api, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    code, answer = api.json("POST", "/admin/webhooks", {"url": receiver.url, **fields})
    assert code == 201, answer
    receiver.secret = answer["secret"]
    return dict(answer["webhook"])


def log(api: Api, webhook_id: str) -> list[dict[str, Any]]:
    code, answer = api.json("GET", f"/admin/webhooks/{webhook_id}/deliveries")
    assert code == 200, answer
    return list(answer["deliveries"])


def test_a_delivery_is_signed_so_that_an_independent_receiver_verifies_it_and_refuses_a_replay(
    api: Api, stream: Stream
) -> None:
    with receivers(OK) as (receiver,):
        hook = add_webhook(api, receiver)
        ticket = api.open()
        stream.drain()

        assert receiver.refused == []
        (delivery,) = receiver.accepted
        event = delivery.event
        assert (event["version"], event["kind"], event["ticket"]["ref"]) == (1, "created", ticket["ref"])
        assert event["ticket"]["requester"] == {"email": "rosa@example.org", "name": "Rosa Diaz"}
        assert delivery.headers["webhook-id"] == event["id"]
        assert delivery.headers["webhook-signature"].startswith("v1=")

        tampered = type(delivery)(delivery.headers, delivery.body.replace(b"Printer", b"Scanner"))
        assert receiver.replay(tampered) == 400
        later = receiver.now
        receiver.now = lambda: later() + 301  # the same delivery captured and sent again six minutes on
        assert receiver.replay(delivery) == 400
        assert receiver.refused == ["bad signature", "outside the replay window"]

        (attempt,) = log(api, hook["id"])
        assert (attempt["status"], attempt["ok"], attempt["kind"], attempt["ticket_ref"]) == (
            204,
            True,
            "created",
            ticket["ref"],
        )
        assert attempt["event_id"] == event["id"]
        assert "rosa" not in str(attempt)  # the log holds no personal data


def test_redelivered_stream_records_deliver_each_event_once_to_each_webhook(api: Api, stream: Stream) -> None:
    """The third webhook is a chat channel's: one line of text, escaped, without the requester's details."""
    with receivers(OK, OK, OK) as (first, second, chat):
        add_webhook(api, first)
        add_webhook(api, second, kinds=["created"])
        add_webhook(api, chat, kinds=["created"], format="slack")
        ticket = api.open(subject="Printer <offline> & out of toner")
        assert api.move(ticket["id"], "in_progress")[0] == 200
        records = stream.records()
        for _ in range(3):
            assert stream.deliver(records) == []
        stream.deliver(list(reversed(records)))

        assert [e["kind"] for e in first.events] == ["created", "status_changed"]
        assert [e["kind"] for e in second.events] == ["created"]
        assert first.events[0]["id"] == second.events[0]["id"]
        assert chat.events == [{"text": f"[{ticket['ref']}] Printer &lt;offline&gt; &amp; out of toner: opened"}]


def test_failing_and_slow_receivers_are_retried_with_back_off_and_do_not_hold_up_a_healthy_one(
    api: Api, stream: Stream, clock: ManualClock
) -> None:
    wiring.deliverer().timeout = 0.2  # the slow receiver answers after seconds; the desk waits this long
    with receivers(FAIL, SLOW, OK) as (failing, slow, healthy):
        failing_hook = add_webhook(api, failing)
        slow_hook = add_webhook(api, slow)
        add_webhook(api, healthy)
        api.open()
        stream.drain()

        assert [e["kind"] for e in healthy.events] == ["created"]
        (failed,) = log(api, failing_hook["id"])
        assert (failed["status"], failed["ok"], failed["error"]) == (500, False, None)
        (timed_out,) = log(api, slow_hook["id"])
        assert timed_out["status"] is None
        assert "no answer within" in timed_out["error"]

        clock.advance(seconds=29)
        assert "webhooks" not in run_job(api.client, "outbox_retry")  # not due before 30 s
        clock.advance(seconds=1)
        assert run_job(api.client, "outbox_retry")["webhooks"] == {"due": 2, "handed": 2}
        assert [a["attempt"] for a in log(api, failing_hook["id"])] == [2, 1]
        clock.advance(seconds=59)
        assert "webhooks" not in run_job(api.client, "outbox_retry")  # then 60 s
        failing.mode = OK
        clock.advance(seconds=1)
        run_job(api.client, "outbox_retry")

        assert [e["kind"] for e in failing.events] == ["created"]
        assert [a["ok"] for a in log(api, failing_hook["id"])] == [True, False, False]
        assert [e["kind"] for e in healthy.events] == ["created"]  # retries never reach the healthy one again
        code, answer = api.json("GET", f"/admin/webhooks/{failing_hook['id']}")
        assert (code, answer["webhook"]["failing_since"], answer["webhook"]["active"]) == (200, None, True)


def test_a_webhook_failing_for_a_day_is_switched_off_and_every_admin_is_mailed_once(
    api: Api, stream: Stream, clock: ManualClock, mailbox: Mailbox
) -> None:
    new_agent(api, "Bo Agent", "bo@example.org")
    code, answer = api.json("POST", "/admin/agents", {"name": "Cy Admin", "email": "cy@example.org", "role": "admin"})
    assert code == 201, answer
    with receivers(FAIL) as (failing,):
        hook = add_webhook(api, failing, description="Team chat")
        api.open()
        stream.drain()
        clock.advance(hours=23)
        run_job(api.client, "outbox_retry")
        code, answer = api.json("GET", f"/admin/webhooks/{hook['id']}")
        assert answer["webhook"]["active"] is True
        clock.advance(hours=1)
        run_job(api.client, "outbox_retry")
        clock.advance(hours=1)
        assert "webhooks" not in run_job(api.client, "outbox_retry")  # given up: nothing due any more

        code, answer = api.json("GET", f"/admin/webhooks/{hook['id']}")
        assert answer["webhook"]["active"] is False
        assert answer["webhook"]["switched_off_at"] is not None
        offs = [m for m in mailbox.sent if m.kind == "webhook_off"]
        assert sorted(m.to for m in offs) == [ADMIN, "cy@example.org"]
        assert "Team chat" in offs[0].text
        assert "The last attempt: answered 500." in offs[0].text
        assert f"/console/admin/webhooks/{hook['id']}" in offs[0].text  # its delivery log

        requests = failing.requests
        api.open(subject="Another")
        stream.drain()
        assert failing.requests == requests  # nothing is sent to a webhook that is off
        assert len([m for m in mailbox.sent if m.kind == "webhook_off"]) == 2


BAD_WEBHOOKS = [
    ({}, "url", "is required"),
    ({"url": "ftp://hooks.example.org/x"}, "url", "https"),
    ({"url": "https://user:pw@hooks.example.org/x"}, "url", "user name"),
    ({"url": "https://hooks.example.org/x", "kinds": ["created", "exploded"]}, "kinds", "'exploded'"),
    ({"url": "https://hooks.example.org/x", "kinds": "created"}, "kinds", "list"),
    ({"url": "https://hooks.example.org/x", "format": "xml"}, "format", "json, slack"),
    ({"url": "https://hooks.example.org/x", "secret": "mine"}, "secret", "not a webhook field"),
    ({"url": "https://hooks.example.org/x", "description": "a\nb"}, "description", "one line"),
]


def test_a_bad_webhook_is_refused_naming_the_field(api: Api) -> None:
    for body, field, says in BAD_WEBHOOKS:
        code, answer = api.json("POST", "/admin/webhooks", body)

        assert code == 422, answer
        assert says in answer["error"]["errors"][field], (body, answer)
    assert api.json("GET", "/admin/webhooks")[1] == {"webhooks": []}


def test_a_body_that_is_not_an_object_is_a_4xx_not_a_500(api: Api) -> None:
    assert api.json("POST", "/admin/webhooks", "[1, 2]")[0] == 422
    assert api.json("POST", "/admin/webhooks", "not json")[0] == 400
    assert api.json("GET", "/admin/webhooks/nope!")[0] == 404
    assert api.json("DELETE", "/admin/webhooks/01JUNKNOWN")[0] == 404
    assert api.json("GET", "/admin/webhooks/01JUNKNOWN/deliveries")[0] == 404
    assert api.json("GET", "/admin/webhooks?x=1")[0] == 422


def test_deployed_only_https_targets_are_taken(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPDESK_LOCAL_RUN")
    code, answer = api.json("POST", "/admin/webhooks", {"url": "http://127.0.0.1:9/hook"})
    assert (code, answer["error"]["errors"]["url"]) == (422, "must be https")
    code, answer = api.json("POST", "/admin/webhooks", {"url": "https://hooks.example.org/desk", "kinds": "*"})
    assert code == 201, answer


def test_only_admins_manage_webhooks_and_the_secret_is_shown_once(api: Api) -> None:
    _, agent_token = new_agent(api, "Bo Agent", "bo@example.org")
    body = {"url": "https://hooks.example.org/desk", "kinds": ["created", "sla_breached"], "format": "slack"}
    assert api.json("POST", "/admin/webhooks", body, token=agent_token)[0] == 403
    assert api.json("POST", "/admin/webhooks", body, token=None)[0] == 401
    code, created = api.json("POST", "/admin/webhooks", body)
    assert code == 201, created
    hook_id = created["webhook"]["id"]
    assert created["secret"].startswith("whsec_")
    assert api.json("GET", "/admin/webhooks", token=agent_token)[0] == 403
    assert api.json("DELETE", f"/admin/webhooks/{hook_id}", token=agent_token)[0] == 403
    assert api.json("GET", f"/admin/webhooks/{hook_id}/deliveries", token=None)[0] == 401

    code, listed = api.json("GET", "/admin/webhooks")
    assert code == 200
    assert listed["webhooks"] == [created["webhook"]]
    assert created["webhook"]["kinds"] == ["created", "sla_breached"]
    assert created["secret"] not in json.dumps(listed)
    assert created["secret"] not in json.dumps(api.json("GET", f"/admin/webhooks/{hook_id}")[1])

    assert api.request("DELETE", f"/admin/webhooks/{hook_id}").status_code == 204
    assert api.json("GET", "/admin/webhooks")[1] == {"webhooks": []}
    assert api.json("DELETE", f"/admin/webhooks/{hook_id}")[0] == 404


def test_the_webhook_sender_function_sends_what_it_is_handed(api: Api, stream: Stream) -> None:
    """As Lambda invokes it deployed: the event names the deliveries; an unknown or repeated one sends nothing."""
    handed: list[Any] = []
    wiring.use_webhook_handoff(handed.extend)
    with receivers(OK) as (receiver,):
        add_webhook(api, receiver)
        ticket = api.open()
        stream.drain()
        assert receiver.accepted == []  # recorded and handed on, not sent by the stream
        (key,) = handed
        payload = {
            "deliveries": [{"ticket_id": key.ticket_id, "webhook_id": key.webhook_id, "event_key": key.event_key}]
        }
        bogus = {"ticket_id": ticket["id"], "webhook_id": key.webhook_id, "event_key": "nothing"}

        first = api.client.lambda_.invoke("webhook_sender", payload).payload
        again = api.client.lambda_.invoke("webhook_sender", {"deliveries": [*payload["deliveries"], bogus, {"x": 1}]})

        assert first == {"sent": 1}
        assert again.payload == {"done_before": 2}
        assert [e["kind"] for e in receiver.events] == ["created"]
