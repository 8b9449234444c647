"""Smoke: a ticket's life through the real handlers sends the mail it should, once."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from chalicelib.domain.threading import ticket_of_address, ticket_of_message_id
from chalicelib.mail.replies import REPLY_MARKER
from tests.api.conftest import Api
from tests.api.mail_fixtures import Mailbox, parsed, run_job
from tests.clocks import ManualClock
from tests.streams import Stream

INBOUND = "help@desk.example.org"


def test_acknowledgement_reply_and_survey(api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock) -> None:
    opened = api.open()
    stream.drain()
    assert mailbox.kinds() == ["acknowledgement"]
    ack = mailbox.sent[0]
    assert ack.to == "rosa@example.org"
    assert opened["ref"] in ack.subject
    assert "/portal/tickets/" in ack.text
    status, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Try turning it off.", "public": True})
    assert status == 201
    stream.drain()
    assert mailbox.kinds() == ["acknowledgement", "reply"]
    assert api.move(opened["id"], "resolved")[0] == 200
    stream.drain()
    assert mailbox.kinds()[-1] == "status"
    assert run_job(api.client, "survey_sender")["sent"] == 0
    clock.advance(hours=2)
    assert run_job(api.client, "survey_sender")["sent"] == 1
    assert run_job(api.client, "survey_sender")["sent"] == 0
    assert mailbox.kinds()[-1] == "survey"
    stream.drain()
    history = api.json("GET", f"/tickets/{opened['id']}/history")[1]
    assert "survey_sent" in [e["kind"] for e in history["events"]]


def test_with_an_inbound_address_every_mail_about_the_ticket_says_where_its_answer_goes_signed(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_INBOUND_ADDRESS", INBOUND)
    wiring.reset(clock=clock, on_sent=mailbox.record)
    secret = wiring.desk().store.signing_secret()
    opened = api.open()
    stream.drain()
    api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Try turning it off.", "public": True})
    stream.drain()
    api.move(opened["id"], "resolved")
    stream.drain()
    clock.advance(hours=2)
    assert run_job(api.client, "survey_sender")["sent"] == 1
    assert mailbox.kinds() == ["acknowledgement", "reply", "status", "survey"]

    for mail in mailbox.sent:
        message = parsed(mail)
        (reply_to,) = message["Reply-To"].addresses
        assert reply_to.display_name == "Help desk"
        assert reply_to.addr_spec.startswith("help+t")
        assert ticket_of_address(reply_to.addr_spec, INBOUND, secret) == opened["id"]
        for field in ("Message-ID", "In-Reply-To", "References"):
            assert ticket_of_message_id(message[field], "example.org", secret) == opened["id"], field
        assert message["X-Auto-Response-Suppress"] == "DR, RN, NRN, OOF, AutoReply"
        marked = mail.kind != "survey"
        assert mail.text.startswith(REPLY_MARKER) == marked, mail.kind
        assert (REPLY_MARKER in mail.html) == marked, mail.kind
    auto_submitted = [parsed(mail)["Auto-Submitted"] for mail in mailbox.sent]
    assert auto_submitted == ["auto-replied", None, "auto-generated", "auto-generated"]


def test_without_an_inbound_address_mail_has_no_marker_and_the_configured_reply_to(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dev stage (.chalice/config.json) names one, and Chalice's test client sets its variables on each call:
    # the settings are read here, once, outside any call, as they are on a stage that names none.
    monkeypatch.delenv("HELPDESK_INBOUND_ADDRESS", raising=False)
    wiring.reset(clock=clock, on_sent=mailbox.record)
    assert wiring.settings().inbound_address is None
    opened = api.open()
    stream.drain()
    (ack,) = mailbox.sent
    message = parsed(ack)

    assert REPLY_MARKER not in ack.text
    assert REPLY_MARKER not in ack.html
    assert message["Reply-To"] is None  # the shipped configuration sets no email.reply_to
    secret = wiring.desk().store.signing_secret()
    assert ticket_of_message_id(message["Message-ID"], "example.org", secret) == opened["id"]
