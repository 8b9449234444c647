"""The outbox end to end: a mail SES does not take stays pending and is retried with back-off by the outbox job,
delivered once; after eight attempts it is failed, listed for admins, and can be sent again by hand.

SES failures are injected two ways: the mailer raising MailNotSent (as SesMailer does for a throttle), and the
sender's identity removed from moto's SES, so that real SES calls are refused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from chalicelib import wiring
from chalicelib.services.mailing import MAX_ATTEMPTS, retry_wait
from chalicelib.services.ports import MailNotSent
from tests.api.conftest import Api
from tests.api.mail_fixtures import ADMIN, REQUESTER, SENDER, Mailbox, run_job
from tests.clocks import ManualClock
from tests.streams import Stream

THROTTLED = "Throttling: Rate exceeded"


class Outage:
    """Makes the desk's real SES mailer refuse every mail while `down`; counts the attempts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = False
        self.attempts = 0
        mailer = wiring.mail()[0].mailer
        real_send = mailer.send

        def send(sender: str, to: str, raw: bytes) -> str:
            self.attempts += 1
            if self.down:
                raise MailNotSent(THROTTLED)
            return str(real_send(sender, to, raw))

        monkeypatch.setattr(mailer, "send", send)


@pytest.fixture
def outage(mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Outage:
    return Outage(monkeypatch)


def outbox(api: Api, state: str) -> list[dict[str, Any]]:
    code, answer = api.json("GET", f"/admin/outbox?state={state}")
    assert code == 200, answer
    return list(answer["emails"])


def retry_job(api: Api) -> dict[str, Any]:
    return run_job(api.client, "outbox_retry")


def stamp(clock: ManualClock, later: timedelta = timedelta(0)) -> str:
    return (clock.now() + later).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_mail_ses_throttled_is_sent_by_the_next_outbox_run_once(
    api: Api, stream: Stream, mailbox: Mailbox, outage: Outage, clock: ManualClock
) -> None:
    outage.down = True
    opened = api.open()
    records = stream.drain()  # the failed send does not fail the stream record

    assert mailbox.sent == []
    pending = outbox(api, "pending")
    assert len(pending) == 1
    mail = pending[0]
    assert (mail["kind"], mail["to"], mail["state"], mail["attempts"]) == ("acknowledgement", REQUESTER, "pending", 1)
    assert mail["last_error"] == THROTTLED
    assert mail["id"] == f"{opened['id']}/{mail['key']}"
    assert opened["ref"] in mail["subject"]
    assert mail["next_attempt_at"] == stamp(clock, retry_wait(1))
    assert "text" not in mail  # the bodies carry the requester's private link
    assert "html" not in mail

    outage.down = False
    assert stream.deliver(records) == []  # a redelivered record does not send it early, or again
    assert mailbox.sent == []
    clock.advance(minutes=4, seconds=59)
    assert retry_job(api)["due"] == 0
    clock.advance(seconds=1)
    assert retry_job(api) == {"due": 1, "sent": 1}
    assert retry_job(api) == {"due": 0}
    clock.advance(hours=12)
    assert retry_job(api) == {"due": 0}
    assert stream.deliver(records) == []

    assert [(m.kind, m.to) for m in mailbox.sent] == [("acknowledgement", REQUESTER)]
    assert outbox(api, "pending") == []
    assert outbox(api, "failed") == []
    assert outage.attempts == 2


def test_real_ses_refusing_an_unverified_sender_is_retried_once_the_sender_is_verified_again(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    ses = boto3.client("ses", region_name="us-east-1")
    ses.delete_identity(Identity=SENDER)
    opened = api.open()
    stream.drain()

    pending = outbox(api, "pending")
    assert [(m["kind"], m["attempts"]) for m in pending] == [("acknowledgement", 1)]
    assert "MessageRejected" in pending[0]["last_error"]
    assert mailbox.sent == []

    ses.verify_email_identity(EmailAddress=SENDER)
    clock.advance(minutes=5)
    assert retry_job(api)["sent"] == 1
    assert retry_job(api)["due"] == 0

    assert [(m.kind, m.ticket_id) for m in mailbox.sent] == [("acknowledgement", opened["id"])]


def test_attempts_back_off_doubling_and_after_the_last_the_mail_is_failed_then_an_admin_sends_it_again(
    api: Api, stream: Stream, mailbox: Mailbox, outage: Outage, clock: ManualClock
) -> None:
    outage.down = True
    api.open()
    stream.drain()  # attempt 1

    for attempt in range(1, MAX_ATTEMPTS):
        wait = retry_wait(attempt)
        assert outbox(api, "pending")[0]["next_attempt_at"] == stamp(clock, wait)
        clock.advance(seconds=wait.total_seconds() - 1)
        assert retry_job(api)["due"] == 0, attempt
        clock.advance(seconds=1)
        outcome = "failed" if attempt + 1 == MAX_ATTEMPTS else "pending"
        assert retry_job(api) == {"due": 1, outcome: 1}, attempt

    assert [retry_wait(n) for n in range(1, 9)] == [
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
        timedelta(minutes=80),
        timedelta(minutes=160),
        timedelta(minutes=320),
        timedelta(hours=6),
    ]
    assert outage.attempts == MAX_ATTEMPTS
    assert outbox(api, "pending") == []
    failed = outbox(api, "failed")
    assert [(m["kind"], m["state"], m["attempts"], m["last_error"]) for m in failed] == [
        ("acknowledgement", "failed", MAX_ATTEMPTS, THROTTLED)
    ]
    clock.advance(days=2)
    assert retry_job(api) == {"due": 0}
    assert outage.attempts == MAX_ATTEMPTS

    outage.down = False
    code, answer = api.json("POST", "/admin/outbox/retry", {"id": failed[0]["id"]})
    assert code == 200, answer
    assert (answer["email"]["state"], answer["email"]["attempts"]) == ("sent", 1)
    assert answer["email"]["sent_at"] == stamp(clock)
    assert [m.kind for m in mailbox.sent] == ["acknowledgement"]
    assert outbox(api, "failed") == []
    assert api.json("POST", "/admin/outbox/retry", {"id": failed[0]["id"]})[0] == 409  # sent: nothing to retry
    assert retry_job(api) == {"due": 0}
    assert len(mailbox.sent) == 1


def test_a_hand_retry_that_fails_again_goes_back_to_the_back_off(
    api: Api, stream: Stream, mailbox: Mailbox, outage: Outage, clock: ManualClock
) -> None:
    outage.down = True
    api.open()
    stream.drain()
    for attempt in range(1, MAX_ATTEMPTS):
        clock.advance(seconds=retry_wait(attempt).total_seconds())
        retry_job(api)
    mail_id = outbox(api, "failed")[0]["id"]

    code, answer = api.json("POST", "/admin/outbox/retry", {"id": mail_id})

    assert code == 200, answer
    assert (answer["email"]["state"], answer["email"]["attempts"]) == ("pending", 1)
    assert answer["email"]["next_attempt_at"] == stamp(clock, retry_wait(1))
    outage.down = False
    clock.advance(minutes=5)
    assert retry_job(api)["sent"] == 1
    assert len(mailbox.sent) == 1


@pytest.mark.parametrize("job", ["survey_sender", "sla_sweep"])
def test_a_mail_a_job_could_not_send_is_delivered_by_the_outbox_not_by_the_job_again(
    api: Api, stream: Stream, mailbox: Mailbox, outage: Outage, clock: ManualClock, job: str
) -> None:
    opened = api.open()
    clock.advance(minutes=1)
    if job == "survey_sender":
        assert api.move(opened["id"], "resolved")[0] == 200
    stream.drain()
    clock.advance(hours=8)  # the survey is due, and the first response at risk (and past due)
    kind = "survey" if job == "survey_sender" else "sla"

    outage.down = True
    run_job(api.client, job)
    assert [m["kind"] for m in outbox(api, "pending")] == [kind]
    outage.down = False
    for _ in range(3):
        run_job(api.client, job)  # the job's reruns do not send it again
    assert [m.kind for m in mailbox.sent if m.kind == kind] == []
    clock.advance(minutes=5)
    assert retry_job(api)["sent"] == 1
    for _ in range(2):
        run_job(api.client, job)
        retry_job(api)

    assert [m.kind for m in mailbox.sent if m.kind == kind] == [kind]
    code, history = api.json("GET", f"/tickets/{opened['id']}/history")
    assert code == 200
    recorded = [e["kind"] for e in history["events"] if e["kind"] in ("survey_sent", "sla_breached", "sla_at_risk")]
    assert recorded == (["survey_sent"] if job == "survey_sender" else ["sla_breached"])


# who may see and retry the outbox ------------------------------------------------------------------------------


def test_only_admins_see_and_retry_the_outbox(api: Api, mailbox: Mailbox) -> None:
    code, answer = api.json("POST", "/admin/agents", {"name": "Bob", "email": "bob@example.org", "role": "agent"})
    assert code == 201
    agent = answer["token"]

    assert api.json("GET", "/admin/outbox?state=failed", token=agent)[0] == 403
    assert api.json("GET", "/admin/outbox?state=pending", token=None)[0] == 401
    assert api.json("GET", "/admin/outbox", token="hd_not-a-token")[0] == 401
    assert api.json("POST", "/admin/outbox/retry", {"id": "a/b"}, token=agent)[0] == 403
    assert api.json("POST", "/admin/outbox/retry", {"id": "a/b"}, token=None)[0] == 401
    assert api.json("GET", "/admin/outbox")[1] == {"emails": []}  # failed ones by default


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=sent", "state"), ("state=all", "state"), ("state=failed&limit=0", "limit"), ("limit=abc", "limit")],
)
def test_bad_outbox_filters_are_refused(api: Api, mailbox: Mailbox, query: str, field: str) -> None:
    code, answer = api.json("GET", f"/admin/outbox?{query}")

    assert code == 422, answer
    assert field in answer["error"]["errors"]


def test_a_retry_must_name_a_failed_mail(
    api: Api, stream: Stream, mailbox: Mailbox, outage: Outage, clock: ManualClock
) -> None:
    outage.down = True
    opened = api.open()
    stream.drain()
    pending = outbox(api, "pending")[0]["id"]

    assert api.json("POST", "/admin/outbox/retry", {"id": 5})[0] == 422
    assert api.json("POST", "/admin/outbox/retry", {"id": "no-slash"})[0] == 422
    assert api.json("POST", "/admin/outbox/retry", {})[0] == 422
    assert api.json("POST", "/admin/outbox/retry", {"id": "/x"})[0] == 422  # no ticket id: not a DynamoDB error
    assert api.json("POST", "/admin/outbox/retry", {"id": f"{opened['id']}/{'é' * 600}"})[0] == 422  # key too long
    assert api.json("POST", "/admin/outbox/retry", {"id": f"{opened['id']}/nothing#here"})[0] == 404
    assert api.json("POST", "/admin/outbox/retry", {"id": pending})[0] == 409  # pending: the job will retry it
    assert outage.attempts == 1


def test_a_digest_about_several_tickets_is_listed_and_retried_by_its_id_like_any_mail(
    api: Api, stream: Stream, mailbox: Mailbox, outage: Outage, clock: ManualClock
) -> None:
    api.open()
    api.open(subject="Scanner jams")
    stream.drain()
    admin = next(a for a in wiring.desk().list_agents() if a.email == ADMIN)
    clock.advance(hours=8, minutes=1)  # both first responses past due

    outage.down = True
    assert run_job(api.client, "sla_sweep")["digests"] == 1
    (pending,) = outbox(api, "pending")
    assert (pending["kind"], pending["to"], pending["ticket_id"]) == ("sla_digest", ADMIN, f"digest#{admin.id}")
    assert pending["id"] == f"digest#{admin.id}/{pending['key']}"
    assert pending["subject"] == "SLA alerts on 2 tickets: 2 overdue"
    for attempt in range(1, MAX_ATTEMPTS):
        clock.advance(seconds=retry_wait(attempt).total_seconds())
        retry_job(api)
        run_job(api.client, "sla_sweep")  # finds nothing new to say
    (failed,) = outbox(api, "failed")
    assert failed["id"] == pending["id"]

    outage.down = False
    code, answer = api.json("POST", "/admin/outbox/retry", {"id": failed["id"]})

    assert code == 200, answer
    assert answer["email"]["state"] == "sent"
    assert [(m.kind, m.to) for m in mailbox.sent if m.kind.startswith("sla")] == [("sla_digest", ADMIN)]
