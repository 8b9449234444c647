# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""The desk's answers to mail: the acknowledgement of a ticket mail opened asks for the required intake fields a
mail cannot carry; the answer to a message too large to read is marked as an automatic reply to it."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.mail_fixtures import BASE, Mailbox, mailbox  # noqa: F401
from tests.services.test_inbound import Deliver, deliver, desk, mail, parsed  # noqa: F401 - the mail-in fixtures
from tests.streams import Stream

BUGS = "help+bugs@desk.example.org"  # the shipped desk.inbound_aliases: "bugs" opens a defect
HEDY = "hedy@lamarr.example"
ASKED = "To help us, please add: Product, Version affected, Steps to reproduce — on your request's page:"


def test_a_defect_opened_by_mail_is_acknowledged_asking_for_its_required_fields_with_the_portal_link(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    raw = mail(HEDY, "Export crashes", "Exporting a report crashes the app.\n", to=BUGS)
    outcome = deliver(raw, "ack0001", to=BUGS)
    stream.drain()

    assert (outcome["outcome"], outcome["type"]) == ("ticket", "defect")
    assert desk.ticket(outcome["ticket_id"])["fields"] == {}
    [ack] = mailbox.to(HEDY, "acknowledgement")
    asked = re.search(rf"{re.escape(ASKED)}\n(\S+)\n", ack.text)
    assert asked, ack.text
    assert asked.group(1).startswith(f"{BASE}/portal/tickets/{outcome['ticket_id']}?token=")
    assert "please add: <strong>Product, Version affected, Steps to reproduce</strong>" in ack.html


def test_a_mail_opened_ticket_whose_type_requires_nothing_is_acknowledged_without_asking(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    outcome = deliver(mail(HEDY, "Wi-Fi in room B", "It drops every ten minutes.\n"), "ack0002")
    stream.drain()

    assert outcome["type"] == "question"
    [ack] = mailbox.to(HEDY, "acknowledgement")
    assert "please add" not in ack.text
    assert "please add" not in ack.html


def test_a_ticket_opened_with_every_required_field_is_acknowledged_without_asking(
    desk: Api, stream: Stream, mailbox: Mailbox
) -> None:
    fields = {"product": "Reports", "version_affected": "2.4", "steps_to_reproduce": "Export a report."}
    desk.open(type="defect", fields=fields, requester_email=HEDY)
    stream.drain()

    [ack] = mailbox.to(HEDY, "acknowledgement")
    assert "please add" not in ack.text


def test_the_answer_to_a_message_too_large_to_read_is_an_automatic_reply_to_it(
    desk: Api, deliver: Deliver, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_MAX_INBOUND_BYTES", "1000")

    outcome = deliver(mail(HEDY, "Huge", "x" * 5000), "big0101", source=HEDY)

    assert outcome["answered"] is True
    [answer] = mailbox.to(HEDY, "too_large")
    assert parsed(answer.raw)["Auto-Submitted"] == "auto-replied"  # RFC 3834 5.2: an answer to what HEDY sent
