"""Inbound mail read from raw bytes: senders, threading headers, text, attachments, automatic mail, hostile input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.attachments import FILENAME_LIMIT
from chalicelib.domain.threading import ticket_tag
from chalicelib.mail import Envelope, RenderedMail, build_message
from chalicelib.mail.inbound import (
    DEPTH_LIMIT,
    PART_LIMIT,
    TEXT_LIMIT,
    InboundMail,
    UnreadableMail,
    read_mail,
    safe_filename,
    subject_reference,
)
from chalicelib.mail.replies import REPLY_MARKER, new_text

CORPUS = Path(__file__).parent / "corpus"
DESK = "desk.example.org"


def corpus(name: str) -> InboundMail:
    return read_mail((CORPUS / name).read_bytes(), desk_domain=DESK)


def mail(headers: str, body: str = "Hello.\n", *, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = headers.strip("\n").replace("\n", "\r\n")
    return f"{head}\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n{body}".encode()


PERSON = "From: Ada <ada@example.com>\nTo: support@desk.example.org\nSubject: Help\nMessage-ID: <m1@example.com>"


# The corpus --------------------------------------------------------------------------------------------------


def test_a_gmail_reply_gives_sender_threading_headers_and_only_the_new_text() -> None:
    got = corpus("gmail_reply.eml")
    assert (got.sender_name, got.sender_address) == ("Ada Lovelace", "ada.lovelace@gmail.com")
    assert got.to == ("support@desk.example.org",)
    assert got.delivered_to == ("support@desk.example.org",)
    assert got.message_id == "<CAH7x+Q1mZ0Gk2b3Ue9fJq0b8nN4rX_5uVv2kL6wYpT3s@mail.gmail.com>"
    assert got.in_reply_to == "<0b6f1e9a2c7d48e5a3f1b9c2d6e4a870@desk.example.org>"
    assert got.references == (
        "<5f0c2b8e9d41a7c3b6e2f19d8a0c4e71@desk.example.org>",
        "<0b6f1e9a2c7d48e5a3f1b9c2d6e4a870@desk.example.org>",
    )
    assert subject_reference(got.subject) == "HD-1001"
    assert got.date == datetime(2025, 3, 4, 10, 13, 56, tzinfo=UTC)
    assert not got.html_converted
    assert got.automatic is None
    assert new_text(got.text, REPLY_MARKER) == (
        "Thanks — it happened again at 10:05, right after the laptop woke up from sleep.\n"
        "I attached nothing this time; the log is the same as before.\n\nAda"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("outlook_reply.eml", 'Hi,\n\nThe printer still shows "paper jam" although there is no paper inside.\n'),
        ("outlook_html_only_reply_de.eml", "Hallo,\n\nder Zugang ist weiterhin gesperrt."),
        ("apple_mail_reply.eml", "It works again after the update, thank you!"),
        ("thunderbird_reply.eml", "Hello,\n\nthe drive is writable again since this morning."),
    ],
)
def test_replies_from_each_client_keep_only_their_new_text(name: str, expected: str) -> None:
    got = corpus(name)
    text = new_text(got.text, REPLY_MARKER)
    assert text.startswith(expected)
    for old in ("Please type your reply", "Acme Help Desk", "From:", "Von:", "wrote:", "Marie Curie", "iPhone"):
        assert old not in text
    assert got.automatic is None


def test_an_html_only_outlook_reply_is_converted_and_says_so() -> None:
    got = corpus("outlook_html_only_reply_de.eml")
    assert got.html_converted
    assert got.sender_name == "Jürgen Müller"
    assert "Mit freundlichen Grüßen\nJürgen Müller" in got.text
    assert "<" not in new_text(got.text)


def test_html_only_mail_becomes_readable_text_without_style_or_script() -> None:
    got = corpus("html_only.eml")
    assert got.html_converted
    assert got.text == (
        "Hello,\n\nwhen I click Export on the report page, the page goes blank. Steps:\n\n"
        "1. Open the report (https://app.example.com/reports/42)\n2. Click “Export”\n\n"
        "- Browser: Firefox 135\n- Since: Monday\n\nThanks & regards,\nKatherine"
    )
    assert got.to == ("bugs@desk.example.org",)


def test_multipart_alternative_prefers_the_plain_text_part() -> None:
    got = corpus("alternative.eml")
    assert "(plain text part)" in got.text
    assert "HTML part" not in got.text
    assert got.attachments == ()


def test_attachments_inline_images_and_attached_messages_are_listed_with_their_bytes() -> None:
    got = corpus("mixed_attachments.eml")
    logo, invoice, forwarded = got.attachments
    assert (logo.filename, logo.content_type, logo.content_id, logo.inline) == (
        "logo.png",
        "image/png",
        "logo.png@01DB8D2A.5F3C1E20",
        True,
    )
    assert logo.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert logo.size == len(logo.data) == 69
    assert (invoice.filename, invoice.content_type, invoice.inline) == (
        "Rechnung März 2025-031.pdf",
        "application/pdf",
        False,
    )
    assert invoice.data.startswith(b"%PDF-1.4")
    assert forwarded.filename == "attachment-3.eml"
    assert forwarded.content_type == "message/rfc822"
    assert b"Subject: Your invoice 2025-031" in forwarded.data
    assert "charges us twice" in got.text
    assert "Please find your invoice" not in got.text


@pytest.mark.parametrize(
    ("name", "sender_name", "subject", "phrase"),
    [
        ("latin1.eml", "Hans Grüber", "Rechnung für März", "Grüße aus München!\nÇa ne marche pas: « facture »"),
        ("shift_jis.eml", "山田太郎", "VPN接続について", "VPNが一時間ごとに切断されます。"),
        ("encoded_words.eml", "Björk Guðmundsdóttir", "Ärger mit dem Drucker 🖨️ im 3. Stock", "leere Seiten"),
    ],
)
def test_charsets_and_encoded_words_are_decoded(name: str, sender_name: str, subject: str, phrase: str) -> None:
    got = corpus(name)
    assert (got.sender_name, got.subject) == (sender_name, subject)
    assert phrase in got.text


def test_an_out_of_office_reply_is_automatic() -> None:
    assert corpus("out_of_office.eml").automatic == "auto-submitted: auto-replied"


def test_a_bounce_is_automatic_and_its_report_is_attached() -> None:
    got = corpus("bounce.eml")
    assert got.automatic == "bounce (multipart/report)"
    assert got.sender_address == "mailer-daemon@mx.mailhost.example"
    assert [a.content_type for a in got.attachments] == ["message/delivery-status", "text/rfc822-headers"]
    assert b"Status: 5.1.1" in got.attachments[0].data


def test_a_strangers_forged_reference_is_extracted_for_the_service_to_refuse() -> None:
    got = corpus("forged_reference.eml")
    assert subject_reference(got.subject, "HD") == "HD-1001"
    assert got.in_reply_to is None
    assert got.references == ()
    assert got.sender_address == "mallory@evil.example"


# Automatic mail ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-generated", "auto-submitted: auto-generated"),
        ("Auto-Submitted: Auto-Replied; owner-email=a@b.c", "auto-submitted: auto-replied"),
        ("Precedence: bulk", "precedence: bulk"),
        ("Precedence: junk", "precedence: junk"),
        ("Precedence: list", "precedence: list"),
        ("Precedence: auto_reply", "precedence: auto_reply"),
        ("X-Autoreply: yes", "x-autoreply"),
        ("X-Autorespond: vacation", "x-autorespond"),
        ("X-Auto-Response-Suppress: All", "x-auto-response-suppress"),
        ("List-Id: Announcements <announce.lists.example.com>", "mailing list (list-id)"),
        ("List-Unsubscribe: <https://example.com/u>", "mailing list (list-unsubscribe)"),
        ("Return-Path: <>", "null return path (bounce)"),
    ],
)
def test_automatic_mail_is_recognised_by_its_headers(header: str, reason: str) -> None:
    assert read_mail(mail(f"{PERSON}\n{header}")).automatic == reason


@pytest.mark.parametrize("header", ["Auto-Submitted: no", "Precedence: first-class", "X-Autoreply: no", ""])
def test_a_persons_mail_is_not_automatic(header: str) -> None:
    assert read_mail(mail(f"{PERSON}\n{header}"), desk_domain=DESK).automatic is None


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.com", "postmaster@example.com"])
def test_mailer_daemon_senders_are_automatic(sender: str) -> None:
    assert read_mail(mail(f"From: {sender}\nTo: support@desk.example.org")).automatic == "mailer-daemon sender"


def test_a_read_receipt_is_automatic() -> None:
    raw = mail(
        PERSON,
        "--b\r\n\r\nread\r\n--b--\r\n",
        content_type="multipart/report; report-type=disposition-notification; boundary=b",
    )
    assert read_mail(raw).automatic == "read receipt (multipart/report)"


def _desk_mail(thread_tag: str | None) -> bytes:
    """A mail the desk wrote, as a relay that drops X-Auto-Response-Suppress would hand it back: nothing but
    its Message-ID says who sent it."""
    envelope = Envelope(
        sender="support@desk.example.org",
        sender_name="Acme Help Desk",
        to="support@desk.example.org",
        to_name="",
        reply_to=None,
        message_key="01JNB4Z7Q9X2M5V8K3T6R1W0YC/reply#c1",
        thread_key="01JNB4Z7Q9X2M5V8K3T6R1W0YC",
        automated=False,
        list_unsubscribe=None,
        thread_tag=thread_tag,
    )
    raw = build_message(
        envelope,
        RenderedMail("[HD-1001] Reply", f"{REPLY_MARKER}\nHello\n", "<p>Hello</p>"),
        datetime(2025, 3, 4, tzinfo=UTC),
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    kept = [line for line in head.split(b"\r\n") if not line.startswith(b"X-Auto-Response-Suppress:")]
    assert len(kept) < len(head.split(b"\r\n"))
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


@pytest.mark.parametrize("thread_tag", [None, ticket_tag(b"k" * 32, "01JNB4Z7Q9X2M5V8K3T6R1W0YC")])
def test_the_desks_own_mail_coming_back_is_recognised_by_its_message_id(thread_tag: str | None) -> None:
    raw = _desk_mail(thread_tag)
    assert read_mail(raw, desk_domain=DESK).automatic == "sent by this desk"
    assert read_mail(raw, desk_domain="other.example").automatic is None


def test_the_desks_own_mail_with_all_its_headers_is_automatic_whatever_the_domain() -> None:
    envelope = Envelope(
        "support@desk.example.org", "Acme Help Desk", "a@example.org", "", None, "t1/reply#c1", "t1", False, None
    )
    raw = build_message(envelope, RenderedMail("Reply", "Hello\n", "<p>Hello</p>"), datetime(2025, 3, 4, tzinfo=UTC))
    assert read_mail(raw, desk_domain="other.example").automatic == "x-auto-response-suppress"


def test_a_signed_looking_thread_root_or_a_tag_at_another_domain_is_not_the_desks_own_mail() -> None:
    tag = ticket_tag(b"k" * 32, "01JNB4Z7Q9X2M5V8K3T6R1W0YC")
    for message_id in (f"<{tag}@{DESK}>", f"<{tag}.0123456789abcdef@elsewhere.example>"):
        assert (
            read_mail(mail(f"From: Bob <bob@example.com>\nMessage-ID: {message_id}"), desk_domain=DESK).automatic
            is None
        )


def test_a_colleague_on_the_desks_domain_is_a_person() -> None:
    raw = mail("From: Bob <bob@desk.example.org>\nMessage-ID: <3f2e1d0c-9b8a-4765-a4b3-c2d1e0f9a8b7@desk.example.org>")
    assert read_mail(raw, desk_domain=DESK).automatic is None


# Headers -----------------------------------------------------------------------------------------------------


def test_subject_reference_takes_the_first_bracketed_reference_with_the_given_prefix() -> None:
    assert subject_reference("Re: AW: [HD-1042] VPN [HD-7]") == "HD-1042"
    assert subject_reference("Re: [ hd-1042 ] VPN") == "HD-1042"
    assert subject_reference("[IT-12] printer", "IT") == "IT-12"
    assert subject_reference("[IT-12] printer", "HD") is None
    assert subject_reference("HD-1042 without brackets") is None


def test_recipients_are_normalised_deduplicated_and_invalid_ones_dropped() -> None:
    raw = mail(
        "From: ada@example.com\nTo: Support <Support@Desk.Example.org>, undisclosed-recipients:;\n"
        "Cc: bugs@desk.example.org, not an address, support@desk.example.org\nX-Original-To: help@desk.example.org"
    )
    got = read_mail(raw)
    assert got.to == ("support@desk.example.org",)
    assert got.cc == ("bugs@desk.example.org", "support@desk.example.org")
    assert got.delivered_to == ("help@desk.example.org",)
    assert got.recipients == ("support@desk.example.org", "bugs@desk.example.org", "help@desk.example.org")


def test_a_display_name_with_an_encoded_comma_stays_one_sender() -> None:
    got = read_mail(mail("From: =?utf-8?q?Doe=2C_Ren=C3=A9e?= <renee@example.com>"))
    assert (got.sender_name, got.sender_address) == ("Doe, Renée", "renee@example.com")


def test_a_subject_is_one_line_and_a_missing_date_is_none() -> None:
    got = read_mail(mail("From: ada@example.com\nSubject: one\n two\tthree\nDate: not a date"))
    assert got.subject == "one two three"
    assert got.date is None


def test_a_date_without_zone_is_read_as_utc() -> None:
    got = read_mail(mail("From: ada@example.com\nDate: Tue, 4 Mar 2025 10:00:00 -0000"))
    assert got.date == datetime(2025, 3, 4, 10, tzinfo=UTC)
    got = read_mail(mail("From: ada@example.com\nDate: Tue, 4 Mar 2025 10:00:00 +0900"))
    assert got.date == datetime(2025, 3, 4, 10, tzinfo=timezone(timedelta(hours=9)))


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ("To: support@desk.example.org", "no sender"),
        ("From: Ada Lovelace", "not a valid email address"),
        ("From: <>", "not a valid email address"),
        ("From: ada@example.com, eve@example.com", "more than one sender"),
        ("From: ada@example.com\nFrom: eve@example.com", "more than one sender"),
    ],
)
def test_a_mail_without_one_valid_sender_is_unreadable(headers: str, problem: str) -> None:
    with pytest.raises(UnreadableMail, match=problem):
        read_mail(mail(headers))


def test_unreadable_mail_is_a_400_with_its_own_code() -> None:
    from chalicelib.web.http import error_body, status_of

    error = UnreadableMail("the message has no sender address (From)")
    assert status_of(error) == 400
    assert error_body(error)["error"]["code"] == "unreadable_mail"


# Hostile and broken input ------------------------------------------------------------------------------------


def test_eight_bit_headers_are_decoded_as_utf8_or_replaced() -> None:
    raw = b"From: Ren\xc3\xa9e <renee@example.com>\r\nSubject: caf\xc3\xa9 \xff\r\nTo: \xfe@x.example\r\n\r\nhi\r\n"
    got = read_mail(raw)
    assert got.sender_name == "Renée"
    assert got.subject == "café \ufffd"
    assert got.to == ()


def test_an_unknown_or_wrong_charset_degrades_to_replacement_characters() -> None:
    got = read_mail(mail("From: ada@example.com", "caf\u00e9", content_type="text/plain; charset=x-no-such"))
    assert got.text == "café"
    raw = b"From: ada@example.com\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\ncaf\xe9 \xff\r\n"
    assert read_mail(raw).text.startswith("caf")


def test_broken_base64_and_quoted_printable_give_text_not_errors() -> None:
    headers = b"From: ada@example.com\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    got = read_mail(headers + b"!!!not=base64\r\n")
    assert isinstance(got.text, str)


def test_oversized_text_is_cut_to_the_limit_and_marked() -> None:
    body = "A line of text that goes on.\r\n" * 20_000  # ~600 KB
    got = read_mail(mail("From: ada@example.com", body))
    assert got.text_truncated
    assert len(got.text) <= TEXT_LIMIT
    assert got.text.endswith("goes on.")


def test_a_huge_header_is_read_without_the_structured_parser() -> None:
    got = read_mail(mail(f"From: ada@example.com\nSubject: {'x' * 500_000}\nReferences: {'<a@b> ' * 50_000}"))
    assert got.subject.startswith("xxx")
    assert len(got.references) <= 100


def test_a_message_with_too_many_parts_is_unreadable() -> None:
    parts = "".join("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(10_000))
    with pytest.raises(UnreadableMail, match=f"more than {PART_LIMIT} parts"):
        read_mail(mail("From: ada@example.com", parts + "--b--\r\n", content_type="multipart/mixed; boundary=b"))


@pytest.mark.parametrize("depth", [DEPTH_LIMIT + 5, 3000])
def test_deeply_nested_parts_are_unreadable(depth: int) -> None:
    nested = "".join(f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n" for i in range(depth))
    raw = mail(
        "From: ada@example.com", nested + f"--b{depth}\r\n\r\nx\r\n", content_type="multipart/mixed; boundary=b0"
    )
    with pytest.raises(UnreadableMail, match="nested"):
        read_mail(raw)


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\xff\xfe garbage without headers"])
def test_empty_or_headerless_input_is_unreadable(raw: bytes) -> None:
    with pytest.raises(UnreadableMail):
        read_mail(raw)


def test_a_header_cpython_cannot_parse_degrades_to_its_raw_value() -> None:
    got = read_mail(mail('From: ada@example.com\nTo: a@[\nCc: "\\\nSubject: =?utf-8?q?=FF?='))
    assert got.to == ()
    assert got.sender_address == "ada@example.com"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\report.pdf", "report.pdf"),
        ("bad\x00na\x1bme\u202e.pdf", "badname.pdf"),
        ("...", "attachment-3.pdf"),
        (None, "attachment-3.pdf"),
        (".hidden", "hidden"),
    ],
)
def test_filenames_are_made_safe(name: str | None, expected: str) -> None:
    assert safe_filename(name, 3, "application/pdf") == expected


def test_long_filenames_are_cut_keeping_the_extension() -> None:
    name = safe_filename("x" * 400 + ".pdf", 1, "application/pdf")
    assert len(name) == FILENAME_LIMIT
    assert name.endswith(".pdf")


def test_an_attachment_without_a_name_gets_a_numbered_fallback_name() -> None:
    body = "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/zip\r\n\r\nPK\r\n--b--\r\n"
    got = read_mail(mail("From: ada@example.com", body, content_type="multipart/mixed; boundary=b"))
    assert [a.filename for a in got.attachments] == ["attachment-1.zip"]


# Any input: a result or UnreadableMail -----------------------------------------------------------------------

SEEDS = sorted(path.read_bytes() for path in CORPUS.glob("*.eml"))
NASTY = [b"\r\n", b"\n\n", b"--", b"=?", b"?=", b"=?utf-8?b?", b"\x00", b"\xff", b"<", b">", b"\"", b";", b":", b"@",
         b"boundary=", b"Content-Type: multipart/mixed; boundary=x\r\n", b"--x\r\n", b"charset=", b"filename*=",
         b"''", b"%", b"\t", b" ", b"Content-Transfer-Encoding: base64\r\n", b"From: ", b"message/rfc822"]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(NASTY), st.binary(max_size=8)))
        if action == "insert":
            raw[position:position] = piece
        elif action == "delete":
            raw[position : position + draw(st.integers(1, 64))] = b""
        else:
            raw[position : position + len(piece)] = piece
    return bytes(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(), st.binary(max_size=2000), st.builds(lambda b: b"From: a@b.example\r\n" + b, st.binary())))
def test_any_bytes_give_a_mail_or_unreadable_mail(raw: bytes) -> None:
    try:
        got = read_mail(raw, desk_domain=DESK)
    except UnreadableMail:
        return
    else:
        assert isinstance(got, InboundMail)
        assert len(got.text) <= TEXT_LIMIT
        assert "\r" not in got.text
        assert all(a.filename and "/" not in a.filename for a in got.attachments)


def test_a_name_split_over_adjacent_encoded_words_is_joined_without_a_space() -> None:
    raw = (
        b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BC?= =?UTF-8?Q?ller?= <juergen@example.org>\r\n"
        b"To: help@desk.example.org\r\nSubject: Printer\r\nMessage-ID: <split-1@example.org>\r\n\r\nIt jams.\r\n"
    )

    mail = read_mail(raw)

    assert (mail.sender_name, mail.sender_address) == ("Jürgen Müller", "juergen@example.org")
