# ruff: noqa: F811 - the API fixtures are imported into this module, and tests name them as parameters
"""Mail in, each rule end to end: the SES notification through the deployed entry, moto's S3, DynamoDB and SES."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import inbound_entry, wiring
from chalicelib.domain.threading import reply_address
from chalicelib.services.inbound import mail_id
from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.mail_fixtures import Mailbox, mailbox  # noqa: F401
from tests.clocks import ManualClock
from tests.streams import Stream

CORPUS = Path(__file__).parents[1] / "mail" / "corpus"
INBOUND = "help@desk.example.org"
AGENT = "ada@example.org"  # the admin_token fixture's agent
REQUESTER = "rosa@example.org"  # Api.open()'s requester
RAW_ACCEPT = {"Accept": "*/*"}  # as browsers and curl send: a binary answer needs an Accept that allows it

Deliver = Callable[..., dict[str, Any]]


def notification(
    message_id: str, bucket: str, key: str, recipients: list[str], source: str, headers: list[dict[str, str]]
) -> str:
    return json.dumps(
        {
            "notificationType": "Received",
            "mail": {"messageId": message_id, "source": source, "destination": recipients, "headers": headers},
            "receipt": {
                "recipients": recipients,
                "spamVerdict": {"status": "PASS"},
                "virusVerdict": {"status": "PASS"},
                "spfVerdict": {"status": "PASS"},
                "dkimVerdict": {"status": "PASS"},
                "dmarcVerdict": {"status": "PASS"},
                "action": {"type": "S3", "bucketName": bucket, "objectKey": key},
            },
        }
    )


@pytest.fixture
def deliver(aws: dict[str, str], mailbox: Mailbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Deliver:
    """Store a raw message as SES's S3 action does and hand the notification to the deployed entry."""
    bucket = aws["RawMailBucketName"]
    monkeypatch.setenv("HELPDESK_RAW_MAIL_BUCKET", bucket)
    monkeypatch.setenv("HELPDESK_RAW_MAIL_PREFIX", "inbound/")
    monkeypatch.setenv("HELPDESK_INBOUND_ADDRESS", INBOUND)
    monkeypatch.delenv("HELPDESK_MAX_INBOUND_BYTES", raising=False)
    wiring.reset(clock=clock, on_sent=mailbox.record)
    s3 = boto3.client("s3", region_name="us-east-1")

    def send(
        raw: bytes,
        message_id: str,
        *,
        to: str = INBOUND,
        source: str = "someone@example.net",
        headers: list[dict[str, str]] | None = None,
        store: bool = True,
    ) -> dict[str, Any]:
        key = f"inbound/{message_id}"
        if store:
            s3.put_object(Bucket=bucket, Key=key, Body=raw)
        return inbound_entry.inbound_mail(notification(message_id, bucket, key, [to], source, headers or []))

    return send


@pytest.fixture
def desk(api: Api, deliver: Deliver) -> Api:
    """The API, with mail in wired (the deliver fixture's environment) before the test starts."""
    return api


def mail(sender: str, subject: str, body: str, *, to: str = INBOUND, extra: str = "") -> bytes:
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{abs(hash(body))}@example.net>\r\n"
    return f"{head}{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}".encode()


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def tickets(api: Api) -> list[dict[str, Any]]:
    status, answer = api.json("GET", "/tickets?state=all&limit=100")
    assert status == 200, answer
    return list(answer["tickets"])


def reply_to(mailbox: Mailbox, to: str, kind: str) -> tuple[str, str, str]:
    """The signed Reply-To, the Message-ID and the text of the last mail of `kind` to `to`."""
    sent = mailbox.to(to, kind)[-1]
    message = parsed(sent.raw)
    return str(message["Reply-To"]), str(message["Message-ID"]), sent.text


def quoted_reply(sender: str, answer: str, subject: str, reply_address: str, message_id: str, text: str) -> bytes:
    quoted = "\n".join(f"> {line}" for line in text.splitlines())
    body = f"{answer}\n\nOn Tue, 4 Mar 2025 at 10:00, Help desk <desk@example.org> wrote:\n{quoted}\n"
    threading = f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\n"
    return mail(sender, f"Re: {subject}", body, to=reply_address, extra=threading)


def signed_address(ticket_id: str) -> str:
    return reply_address(INBOUND, wiring.desk().store.signing_secret(), ticket_id)


# new messages -----------------------------------------------------------------------------------------------------


def test_a_new_mail_opens_a_ticket_that_is_acknowledged_and_keeps_the_original(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    raw = mail("Hedy Lamarr <Hedy@Lamarr.example>", "Wi-Fi in meeting room B", "It drops every ten minutes.\n")

    outcome = deliver(raw, "new0001")
    stream.drain()

    assert (outcome["outcome"], outcome["ref"], outcome["type"], outcome["created"]) == (
        "ticket",
        "HD-1001",
        "question",
        True,
    )
    ticket = desk.ticket(outcome["ticket_id"])
    assert ticket["subject"] == "Wi-Fi in meeting room B"
    assert ticket["description"] == "It drops every ten minutes."
    assert ticket["requester"] == {"name": "Hedy Lamarr", "email": "hedy@lamarr.example"}
    assert len(mailbox.to("hedy@lamarr.example", "acknowledgement")) == 1
    download = desk.request("GET", f"/console/tickets/{outcome['ticket_id']}/messages/opening", headers=RAW_ACCEPT)
    assert download.status_code == 200
    assert download.body == raw
    assert download.headers["Content-Type"] == "message/rfc822"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_the_original_message_is_for_agents_only_and_only_of_that_ticket(desk: Api, deliver: Deliver) -> None:
    first = deliver(mail("hedy@lamarr.example", "One", "First.\n"), "own0001")
    other = desk.open()  # opened by the API: no mail behind it

    anonymous = desk.request("GET", f"/console/tickets/{first['ticket_id']}/messages/opening", token=None)
    not_its_mail = desk.json("GET", f"/console/tickets/{other['id']}/messages/opening")
    no_such_comment = desk.json("GET", f"/console/tickets/{first['ticket_id']}/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV")

    assert anonymous.status_code in (302, 303, 401)
    assert not_its_mail[0] == 404
    assert not_its_mail[1]["error"]["code"] == "not_found"
    assert no_such_comment[0] == 404


def test_html_only_mail_to_an_alias_opens_a_ticket_of_its_type_without_its_required_fields(
    desk: Api, deliver: Deliver
) -> None:
    outcome = deliver((CORPUS / "html_only.eml").read_bytes(), "html0001", to="bugs@desk.example.org")

    ticket = desk.ticket(outcome["ticket_id"])
    assert (ticket["type"]["key"], ticket["fields"]) == ("defect", {})
    assert ticket["subject"] == "Export button crashes the report page"
    assert "<" not in ticket["description"]
    assert "Export" in ticket["description"]
    assert ticket["requester"]["email"] == "katherine@mailbox.example"


@pytest.mark.parametrize("name", ["out_of_office.eml", "bounce.eml"])
def test_automatic_mail_opens_nothing_and_is_not_answered(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox, name: str
) -> None:
    outcome = deliver((CORPUS / name).read_bytes(), "auto0001")
    stream.drain()

    assert outcome["outcome"] == "automatic"
    assert tickets(desk) == []
    assert mailbox.sent == []


def test_a_sender_over_the_hours_new_ticket_limit_is_refused_without_an_answer(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    limit = wiring.desk().config().desk.new_tickets_per_hour
    outcomes = [
        deliver(mail("flood@example.net", f"Mail {n}", f"Number {n}.\n"), f"flood{n:04d}") for n in range(limit + 1)
    ]
    stream.drain()

    assert [o["outcome"] for o in outcomes] == ["ticket"] * limit + ["refused"]
    assert outcomes[-1]["reason"] == "rate_limited"
    assert len(mailbox.to("flood@example.net", "acknowledgement")) == limit
    assert len(mailbox.to("flood@example.net")) == limit  # nothing answers the refused one


# replies ----------------------------------------------------------------------------------------------------------


def test_the_requesters_reply_to_the_acknowledgement_becomes_a_comment_of_only_the_new_text(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    opened = desk.open()
    stream.drain()
    address, message_id, text = reply_to(mailbox, REQUESTER, "acknowledgement")
    raw = quoted_reply(REQUESTER, "It is online again after a restart.", "Printer offline", address, message_id, text)

    outcome = deliver(raw, "reply0001", to=address)
    again = deliver(raw, "reply0001", to=address)

    assert (outcome["outcome"], outcome["author"], outcome["created"]) == ("comment", f"requester:{REQUESTER}", True)
    assert again == {"ses_message_id": "reply0001", "duplicate": True}
    [comment] = desk.ticket(opened["id"])["comments"]
    assert comment["body"] == "It is online again after a restart."
    assert (comment["public"], comment["author"]["role"]) == (True, "requester")
    download = desk.request("GET", f"/console/tickets/{opened['id']}/messages/{comment['id']}", headers=RAW_ACCEPT)
    assert (download.status_code, download.body) == (200, raw)


@pytest.mark.parametrize(
    ("name", "ref", "expected"),
    [
        ("gmail_reply.eml", "HD-1001", "Thanks — it happened again at 10:05, right after the laptop woke up"),
        ("outlook_reply.eml", "HD-1002", 'Hi,\n\nThe printer still shows "paper jam" although there is no paper'),
        ("outlook_html_only_reply_de.eml", "HD-1003", "Hallo,\n\nder Zugang ist weiterhin gesperrt."),
        ("apple_mail_reply.eml", "HD-1004", "It works again after the update, thank you!"),
        ("thunderbird_reply.eml", "HD-1005", "Hello,\n\nthe drive is writable again since this morning."),
    ],
)
def test_replies_from_each_client_match_by_their_reference_and_keep_only_the_new_text(
    desk: Api, deliver: Deliver, name: str, ref: str, expected: str
) -> None:
    requesters = [
        "ada.lovelace@gmail.com",
        "grace.hopper@contoso.example",
        "juergen.mueller@firma.example",
        "linus@icloud.example",
        "marie@curie.example",
    ]
    opened = {desk.open(requester_email=address)["ref"]: address for address in requesters}
    assert list(opened) == ["HD-1001", "HD-1002", "HD-1003", "HD-1004", "HD-1005"]

    outcome = deliver((CORPUS / name).read_bytes(), "corpus0001")

    assert (outcome["outcome"], outcome["ref"]) == ("comment", ref)
    [comment] = desk.ticket(outcome["ticket_id"])["comments"]
    assert comment["body"].startswith(expected)
    for old in ("Please type your reply", "wrote:", "From:", "Von:", "iPhone", "\n>"):
        assert old not in comment["body"]


def test_a_strangers_forged_reference_opens_a_new_ticket_that_mentions_it(desk: Api, deliver: Deliver) -> None:
    target = desk.open(requester_email="ada.lovelace@gmail.com")

    outcome = deliver((CORPUS / "forged_reference.eml").read_bytes(), "forged0001")

    assert (outcome["outcome"], outcome["mentions"]) == ("ticket", "HD-1001")
    assert desk.ticket(target["id"])["comments"] == []
    new = desk.ticket(outcome["ticket_id"])
    assert new["requester"]["email"] == "mallory@evil.example"
    assert "[HD-1001]" not in new["subject"]
    assert "HD-1001" in new["description"]


def test_a_strangers_reply_to_the_signed_address_opens_a_new_ticket(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    opened = desk.open()
    stream.drain()
    address, message_id, text = reply_to(mailbox, REQUESTER, "acknowledgement")
    raw = quoted_reply("eve@example.net", "Let me in.", "Printer offline", address, message_id, text)

    outcome = deliver(raw, "stranger0001", to=address)

    assert (outcome["outcome"], outcome["mentions"]) == ("ticket", opened["ref"])
    assert desk.ticket(opened["id"])["comments"] == []
    assert desk.ticket(outcome["ticket_id"])["requester"]["email"] == "eve@example.net"


def test_a_requesters_reply_to_a_ticket_waiting_on_them_moves_it_back(
    desk: Api, deliver: Deliver, stream: Stream
) -> None:
    opened = desk.open()
    assert desk.move(opened["id"], "in_progress")[0] == 200
    assert desk.move(opened["id"], "waiting_on_requester")[0] == 200
    raw = mail(
        REQUESTER, "Re: Printer offline", "Here is the model number: LJ-4000.\n", to=signed_address(opened["id"])
    )

    deliver(raw, "waiting0001", to=signed_address(opened["id"]))
    stream.drain()

    ticket = desk.ticket(opened["id"])
    assert ticket["status"]["key"] == "in_progress"
    assert [c["body"] for c in ticket["comments"]] == ["Here is the model number: LJ-4000."]
    status, history = desk.json("GET", f"/tickets/{opened['id']}/history")
    assert status == 200
    [moved] = [e for e in history["events"] if e["kind"] == "status_changed" and e["to"]["key"] == "in_progress"][-1:]
    assert moved["from"]["key"] == "waiting_on_requester"
    assert moved["by"] == {"role": "requester", "id": REQUESTER, "name": "Rosa Diaz"}


def test_an_agent_answers_by_mail_with_a_public_reply_or_a_note(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    opened = desk.open()
    stream.drain()
    address = signed_address(opened["id"])

    reply = deliver(
        mail(AGENT, "Re: Printer offline", "Try switching it off and on.\n", to=address), "agent0001", to=address
    )
    note = deliver(
        mail(AGENT, "Re: Printer offline", "#note It is the toner again.\n", to=address), "agent0002", to=address
    )
    stream.drain()

    comments = desk.ticket(opened["id"])["comments"]
    assert [(c["body"], c["public"], c["author"]["role"]) for c in comments] == [
        ("Try switching it off and on.", True, "agent"),
        ("It is the toner again.", False, "agent"),
    ]
    assert reply["author"].startswith("agent:")
    assert note["public"] is False
    assert len(mailbox.to(REQUESTER, "reply")) == 1  # the public reply went to the requester; the note did not


def test_an_agent_naming_a_ticket_only_by_its_reference_posts_nothing_on_it(desk: Api, deliver: Deliver) -> None:
    opened = desk.open()

    outcome = deliver(mail(AGENT, f"Re: [{opened['ref']}] Printer", "Closing this.\n"), "agentref0001")

    assert outcome["outcome"] == "ticket"
    assert desk.ticket(opened["id"])["comments"] == []


# idempotency ------------------------------------------------------------------------------------------------------


def test_a_delivery_that_failed_after_the_ticket_was_stored_is_handled_again_without_a_second_ticket(
    desk: Api, deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters.inbound_store import DynamoInboundLog

    raw = mail("hedy@lamarr.example", "Projector", "No picture.\n")
    real_finish = DynamoInboundLog.finish

    def throttled(*args: Any) -> None:
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(DynamoInboundLog, "finish", throttled)
    with pytest.raises(RuntimeError):
        deliver(raw, "retry0001")
    monkeypatch.setattr(DynamoInboundLog, "finish", real_finish)
    again = deliver(raw, "retry0001")
    third = deliver(raw, "retry0001")

    assert (again["outcome"], again["created"]) == ("ticket", False)
    assert third["duplicate"] is True
    assert [t["subject"] for t in tickets(desk)] == ["Projector"]


def test_a_delivery_that_failed_before_the_ticket_was_stored_opens_it_when_redelivered(
    desk: Api, deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services.desk import Desk

    raw = mail("hedy@lamarr.example", "Projector", "No picture.\n")
    real_open = Desk.open_ticket

    def throttled(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(Desk, "open_ticket", throttled)
    with pytest.raises(RuntimeError):
        deliver(raw, "retry0002")
    monkeypatch.setattr(Desk, "open_ticket", real_open)
    again = deliver(raw, "retry0002")

    assert (again["outcome"], again["created"]) == ("ticket", True)
    assert len(tickets(desk)) == 1


def test_a_comment_stored_before_a_failure_is_not_added_twice(
    desk: Api, deliver: Deliver, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters.inbound_store import DynamoInboundLog

    opened = desk.open()
    address = signed_address(opened["id"])
    raw = mail(REQUESTER, "Re: Printer offline", "Still offline.\n", to=address)
    real_finish = DynamoInboundLog.finish
    monkeypatch.setattr(DynamoInboundLog, "finish", lambda *args: (_ for _ in ()).throw(RuntimeError("throttled")))
    received_at = clock.now()
    with pytest.raises(RuntimeError):
        deliver(raw, "retry0003", to=address)
    monkeypatch.setattr(DynamoInboundLog, "finish", real_finish)
    clock.advance(minutes=5)
    again = deliver(raw, "retry0003", to=address)

    assert (again["outcome"], again["created"], again["comment_id"]) == (
        "comment",
        False,
        mail_id("retry0003", received_at),
    )
    assert [c["body"] for c in desk.ticket(opened["id"])["comments"]] == ["Still offline."]


# too large --------------------------------------------------------------------------------------------------------


def test_a_message_over_the_size_limit_gets_one_short_answer(
    desk: Api, deliver: Deliver, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = mail("hedy@lamarr.example", "Huge", "x" * 5000)
    monkeypatch.setenv("HELPDESK_MAX_INBOUND_BYTES", "1000")

    first = deliver(raw, "big0001", source="hedy@lamarr.example")
    again = deliver(raw, "big0001", source="hedy@lamarr.example")

    assert (first["refused"], first["answered"]) == ("too_large", True)
    assert again["refused"] == "too_large"
    [answer] = mailbox.to("hedy@lamarr.example")
    assert answer.kind == "too_large"
    assert parsed(answer.raw)["Auto-Submitted"] is not None
    assert tickets(desk) == []


@pytest.mark.parametrize(
    ("source", "headers"),
    [
        ("hedy@lamarr.example", [{"name": "Auto-Submitted", "value": "auto-replied"}]),
        ("hedy@lamarr.example", [{"name": "Precedence", "value": "bulk"}]),
        ("", []),
        ("MAILER-DAEMON@mx.example", []),
    ],
)
def test_automatic_mail_over_the_size_limit_is_not_answered(
    desk: Api,
    deliver: Deliver,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    headers: list[dict[str, str]],
) -> None:
    monkeypatch.setenv("HELPDESK_MAX_INBOUND_BYTES", "1000")

    outcome = deliver(mail("hedy@lamarr.example", "Huge", "x" * 5000), "big0002", source=source, headers=headers)

    assert (outcome["refused"], outcome["answered"]) == ("too_large", False)
    assert mailbox.sent == []
