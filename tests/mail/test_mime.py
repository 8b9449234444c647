"""Raw MIME messages parsed back: one recipient, the intended headers only, both parts intact, stable ids."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart
from typing import Any

import pytest

from chalicelib.domain.threading import ticket_of_message_id, ticket_tag
from chalicelib.mail import Envelope, RenderedMail, build_message, header_text, render_mail
from tests.mail.contexts import HOSTILE_DESK, HOSTILE_NAME, contexts

WHEN = datetime(2025, 3, 4, 10, 30, tzinfo=timezone(timedelta(hours=1)))
ENVELOPE = Envelope(
    sender="desk@example.org",
    sender_name="Acme Help Desk",
    to="ada@example.com",
    to_name="Ada Lovelace",
    reply_to=None,
    message_key="t1#reply#c7",
    thread_key="t1",
    automated=False,
    list_unsubscribe=None,
)
MAIL = RenderedMail(
    subject="[HD-1001] New reply to your request: Café VPN",
    text="Hello Ada,\n\nTry this — it works.\n",
    html="<p>Hello Ada,</p>\n<p>Try this — it works.</p>\n",
)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(part: MIMEPart) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return one_style(content)


def one_style(text: str) -> str:
    """Line ends as the parsed message gives them back: MIME sends every kind of line end as CRLF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def test_the_message_is_multipart_alternative_with_text_then_html_in_utf8() -> None:
    message = parse(build_message(ENVELOPE, MAIL, WHEN))

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert body(parts[0]) == MAIL.text
    assert body(parts[1]) == MAIL.html
    assert message["Subject"] == MAIL.subject
    assert message["MIME-Version"] == "1.0"


def test_addresses_dates_and_ids() -> None:
    message = parse(build_message(ENVELOPE, MAIL, WHEN))

    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Acme Help Desk", "desk@example.org")
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Ada Lovelace", "ada@example.com")
    assert message["Date"].datetime == WHEN
    assert message["Message-ID"].endswith("@example.org>")
    assert message["In-Reply-To"] == message["References"]
    assert message["References"] != message["Message-ID"]
    assert "Reply-To" not in message
    assert "Auto-Submitted" not in message
    assert "List-Unsubscribe" not in message
    assert "List-Unsubscribe-Post" not in message


def test_the_raw_bytes_are_7bit_with_crlf_line_ends() -> None:
    raw = build_message(ENVELOPE, MAIL, WHEN)

    assert raw.isascii()
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_message_ids_are_stable_per_key_and_threads_share_their_root() -> None:
    first = parse(build_message(ENVELOPE, MAIL, WHEN))
    again = parse(build_message(ENVELOPE, MAIL, WHEN + timedelta(minutes=5)))
    other = parse(build_message(replace(ENVELOPE, message_key="t1#status#4"), MAIL, WHEN))
    elsewhere = parse(build_message(replace(ENVELOPE, message_key="t2#ack", thread_key="t2"), MAIL, WHEN))

    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] != other["Message-ID"]
    assert first["References"] == other["References"]
    assert first["In-Reply-To"] == other["In-Reply-To"]
    assert elsewhere["References"] != first["References"]


def test_a_mail_without_a_thread_points_at_no_earlier_mail() -> None:
    message = parse(build_message(replace(ENVELOPE, message_key="agent#a1/signin#n1", thread_key=None), MAIL, WHEN))

    assert message["Message-ID"]
    assert message["In-Reply-To"] is None
    assert message["References"] is None


def test_automated_mails_are_marked_and_unsubscribe_headers_come_only_when_asked() -> None:
    envelope = replace(
        ENVELOPE,
        automated=True,
        reply_to="support@example.org",
        list_unsubscribe="https://desk.example.org/surveys/unsubscribe?token=abc",
    )
    message = parse(build_message(envelope, MAIL, WHEN))

    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] == "<https://desk.example.org/surveys/unsubscribe?token=abc>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [a.addr_spec for a in message["Reply-To"].addresses] == ["support@example.org"]


def test_the_acknowledgement_is_marked_auto_replied_and_a_persons_reply_not_at_all() -> None:
    acknowledgement = parse(build_message(replace(ENVELOPE, automated=True, auto_replied=True), MAIL, WHEN))
    reply = parse(build_message(ENVELOPE, MAIL, WHEN))

    assert acknowledgement["Auto-Submitted"] == "auto-replied"
    assert reply["Auto-Submitted"] is None
    assert "Precedence" not in acknowledgement


@pytest.mark.parametrize("automated", [True, False])
def test_every_mail_asks_exchange_for_no_automatic_answer_but_keeps_its_bounces(automated: bool) -> None:
    message = parse(build_message(replace(ENVELOPE, automated=automated), MAIL, WHEN))

    suppressed = {value.strip() for value in message["X-Auto-Response-Suppress"].split(",")}
    assert suppressed == {"DR", "RN", "NRN", "OOF", "AutoReply"}
    assert "NDR" not in suppressed
    assert "All" not in suppressed


SECRET = b"s" * 32
TICKET = "01JNB4Z7Q9X2M5V8K3T6R1W0YC"
SIGNED = replace(ENVELOPE, message_key=f"{TICKET}/reply#c7", thread_key=TICKET, thread_tag=ticket_tag(SECRET, TICKET))


def test_a_mail_about_a_ticket_has_a_signed_message_id_and_thread_root_that_name_the_ticket() -> None:
    message = parse(build_message(SIGNED, MAIL, WHEN))
    other = parse(build_message(replace(SIGNED, message_key=f"{TICKET}/status#4"), MAIL, WHEN))

    for value in (message["Message-ID"], message["In-Reply-To"], message["References"]):
        assert ticket_of_message_id(value, "example.org", SECRET) == TICKET
        assert ticket_of_message_id(value, "example.org", b"another desk's key") is None
    assert message["Message-ID"] != message["References"]
    assert message["Message-ID"] != other["Message-ID"]
    assert message["References"] == other["References"]
    assert parse(build_message(SIGNED, MAIL, WHEN + timedelta(days=1)))["Message-ID"] == message["Message-ID"]


def test_a_mail_without_a_tag_keeps_the_unsigned_32_hex_digit_id() -> None:
    message = parse(build_message(replace(ENVELOPE, thread_key=None), MAIL, WHEN))

    local = message["Message-ID"][1:-1].partition("@")[0]
    assert len(local) == 32
    assert set(local) <= set("0123456789abcdef")
    assert ticket_of_message_id(message["Message-ID"], "example.org", SECRET) is None


def test_a_thread_tag_that_the_desk_did_not_make_is_refused() -> None:
    with pytest.raises(ValueError, match="not a ticket tag"):
        build_message(replace(SIGNED, thread_tag="t1.x>\r\nBcc: evil@example.com"), MAIL, WHEN)


def test_the_reply_to_carries_the_desks_name_when_given() -> None:
    envelope = replace(SIGNED, reply_to="help+tag@desk.example.org", reply_to_name="Acme Help Desk")
    (reply_to,) = parse(build_message(envelope, MAIL, WHEN))["Reply-To"].addresses

    assert (reply_to.display_name, reply_to.addr_spec) == ("Acme Help Desk", "help+tag@desk.example.org")


def test_an_unsubscribe_url_cannot_break_out_of_its_angle_brackets_or_header() -> None:
    envelope = replace(ENVELOPE, list_unsubscribe='https://desk.example.org/u?t=a>b"c\r\nBcc: evil@example.com')
    message = parse(build_message(envelope, MAIL, WHEN))

    assert "Bcc" not in message
    value = message["List-Unsubscribe"].strip()  # a long URL is folded onto its own line
    assert value.startswith("<https://desk.example.org/u?t=a%3Eb%22c%20Bcc:%20evil@example.com")
    assert value.count("<") == 1
    assert value.count(">") == 1


@pytest.mark.parametrize(
    "display_name",
    [HOSTILE_DESK, 'Ada "The Countess" Lovelace', "Lovelace, Ada", "José Müller <jose@evil.test>", HOSTILE_NAME],
)
def test_display_names_are_quoted_or_encoded_and_never_add_an_address(display_name: str) -> None:
    envelope = replace(ENVELOPE, to_name=display_name, sender_name=display_name)
    message = parse(build_message(envelope, MAIL, WHEN))

    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == (display_name, "ada@example.com")
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (display_name, "desk@example.org")


def test_a_display_name_with_line_breaks_is_one_line_in_one_header() -> None:
    envelope = replace(ENVELOPE, to_name="Eve\r\nBcc: evil@example.com", sender_name="Desk\nX-Evil: 1")
    message = parse(build_message(envelope, MAIL, WHEN))

    assert "Bcc" not in message
    assert "X-Evil" not in message
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Eve Bcc: evil@example.com", "ada@example.com")


def test_a_hostile_rendered_mail_goes_out_with_its_subject_on_one_line_and_nothing_injected() -> None:
    mail = render_mail("reply", contexts(hostile=True)["reply"])
    envelope = replace(ENVELOPE, to_name=HOSTILE_NAME, sender_name=HOSTILE_DESK)
    message = parse(build_message(envelope, mail, WHEN))

    assert message["Subject"] == "[HD-1001] New reply to your request: Hi Bcc: evil@example.com"
    assert "Bcc" not in message
    assert len(message["To"].addresses) == 1
    assert sorted(message.keys()) == sorted(
        [
            *["From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References"],
            *["X-Auto-Response-Suppress", "MIME-Version", "Content-Type"],
        ]
    )
    text, html = message.iter_parts()
    assert body(text) == one_style(mail.text)
    assert body(html) == one_style(mail.html)


def test_a_subject_with_control_characters_is_made_one_line_again() -> None:
    mail = replace(MAIL, subject="[HD-1] a\rb\nc\u2028d\u2029e\x85f\x00g")
    message = parse(build_message(ENVELOPE, mail, WHEN))
    assert message["Subject"] == "[HD-1] a b c d e f g"


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com\r\nBcc: evil@example.com",
        "ada@example.com\n",
        "ada @example.com",
        "<ada@example.com>",
        "Ada <ada@example.com>",
        "ada@example.com, eve@evil.test",
        "ada@example.com;eve@evil.test",
        "ada.example.com",
        "@example.com",
        "ada@",
        "ada@b@example.com",
        '"ada"@example.com',
        "",
        "jürgen@example.com",
    ],
)
@pytest.mark.parametrize("field", ["sender", "to", "reply_to"])
def test_anything_but_a_plain_address_is_refused(field: str, address: str) -> None:
    changes: dict[str, Any] = {field: address}
    with pytest.raises(ValueError, match="not a plain email address"):
        build_message(replace(ENVELOPE, **changes), MAIL, WHEN)


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_message(ENVELOPE, MAIL, datetime(2025, 3, 4, 10, 30))  # noqa: DTZ001 - the case under test
    assert parse(build_message(ENVELOPE, MAIL, datetime(2025, 3, 4, tzinfo=UTC)))["Date"].datetime.tzinfo


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Hi\r\nBcc: evil@example.com", "Hi Bcc: evil@example.com"),
        ("a\u2028b\u2029c\u0085d", "a b c d"),
        ("  tab\there\x00and\x1bescape\x7f ", "tab here and escape"),
        ("right\u202eto left", "right to left"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_header_text_makes_one_clean_line(value: str, expected: str) -> None:
    assert header_text(value) == expected


def test_header_text_cuts_to_the_limit_with_an_ellipsis() -> None:
    assert header_text("x" * 10, limit=10) == "x" * 10
    cut = header_text("word " * 10, limit=12)
    assert len(cut) <= 12
    assert cut == "word word w…"
    assert len(header_text("é" * 500)) == 200
