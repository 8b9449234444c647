"""Each letter's sender and envelope: the signed Reply-To, Message-ID and marker, and the plain ones without."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from chalicelib.domain.config import default_config
from chalicelib.domain.threading import ticket_of_address, ticket_of_message_id
from chalicelib.mail.compose import TemplateComposer
from chalicelib.mail.replies import REPLY_MARKER
from chalicelib.services.mailing import AUTOMATED, Letter, Postman, sign_in_letter
from tests.mail.contexts import contexts

SECRET = b"k" * 32
TICKET = "01JNB4Z7Q9X2M5V8K3T6R1W0YC"
INBOUND = "help@desk.example.org"
SENDER = "desk@example.org"
CONFIG = default_config()
WHEN = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)


def postman(inbound: str | None, secret: bytes | None = SECRET) -> Postman:
    unused: Any = None  # sender() reads only the addresses and the key
    return Postman(
        unused, unused, unused, unused, SENDER, inbound_address=inbound, secret=(lambda: secret) if secret else None
    )


def letter(kind: str, **changes: Any) -> Letter:
    made = Letter(TICKET, f"{kind}#1", kind, "ada@example.org", "Ada", contexts()[kind], kind != "reply")
    return replace(made, **changes)


def composed(the_postman: Postman, the_letter: Letter, config: Any = CONFIG) -> tuple[EmailMessage, str]:
    mail = TemplateComposer().compose(the_letter, the_postman.sender(the_letter, config), WHEN)
    message = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message, mail.text


def test_a_mail_about_a_ticket_gets_the_signed_reply_address_over_the_configured_reply_to() -> None:
    config = replace(CONFIG, email=replace(CONFIG.email, reply_to="support@example.org"))
    message, text = composed(postman(INBOUND), letter("reply"), config)

    (reply_to,) = message["Reply-To"].addresses
    assert reply_to.display_name == CONFIG.desk.name
    assert ticket_of_address(reply_to.addr_spec, INBOUND, SECRET) == TICKET
    assert ticket_of_message_id(message["Message-ID"], "example.org", SECRET) == TICKET
    assert text.startswith(REPLY_MARKER)


def test_without_an_inbound_address_the_configured_reply_to_stays_and_there_is_no_marker() -> None:
    config = replace(CONFIG, email=replace(CONFIG.email, reply_to="support@example.org"))
    message, text = composed(postman(None), letter("reply"), config)

    (reply_to,) = message["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("", "support@example.org")
    assert ticket_of_message_id(message["Message-ID"], "example.org", SECRET) == TICKET  # a later inbound finds it
    assert REPLY_MARKER not in text


def test_a_mail_about_no_ticket_gets_the_plain_inbound_address_and_the_32_hex_digit_id() -> None:
    sign_in = sign_in_letter("ada@example.org", "Ada", "a1", "https://desk.example.org/s", 15, "Help desk", "n1")
    message, text = composed(postman(INBOUND), sign_in)

    (reply_to,) = message["Reply-To"].addresses
    assert reply_to.addr_spec == INBOUND
    local = message["Message-ID"][1:-1].partition("@")[0]
    assert len(local) == 32
    assert message["Auto-Submitted"] == "auto-generated"
    assert REPLY_MARKER not in text


def test_an_inbound_address_too_long_to_carry_a_tag_is_used_plain_and_the_ids_still_name_the_ticket() -> None:
    inbound = "customer-support-team@desk.example.org"
    message, _ = composed(postman(inbound), letter("status"))

    (reply_to,) = message["Reply-To"].addresses
    assert reply_to.addr_spec == inbound
    assert ticket_of_message_id(message["References"], "example.org", SECRET) == TICKET


def test_a_ticket_id_that_cannot_be_signed_keeps_the_unsigned_ids() -> None:
    message, _ = composed(postman(INBOUND), letter("reply", ticket_id="t1"))

    (reply_to,) = message["Reply-To"].addresses
    assert reply_to.addr_spec == INBOUND
    assert len(message["Message-ID"][1:-1].partition("@")[0]) == 32


def test_auto_submitted_per_kind() -> None:
    seen = {
        kind: composed(postman(INBOUND), letter(kind, automated=kind != "reply"))[0]["Auto-Submitted"]
        for kind in ("acknowledgement", "reply", "status", "survey")
    }
    assert seen == {
        "acknowledgement": "auto-replied",
        "reply": None,
        "status": "auto-generated",
        "survey": "auto-generated",
    }


def test_only_a_persons_reply_is_not_marked_as_made_by_the_desk() -> None:
    ticket_kinds = {kind for kind in contexts() if "ticket" in contexts()[kind]}

    assert ticket_kinds - AUTOMATED == {"reply"}
    assert {"sign_in", "sla_digest"} <= AUTOMATED
