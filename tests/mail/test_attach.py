"""The MIME of a mail that carries files: names, types and bytes as a mail reader sees them, and SES's budget."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from chalicelib.domain.attachments import OCTET_STREAM, Attachment, size_text
from chalicelib.mail.attach import (
    FILE_BUDGET,
    PART_ALLOWANCE,
    SES_MESSAGE_LIMIT,
    carry,
    encoded_size,
    file_part,
    part_type,
    with_files,
)
from chalicelib.mail.mime import Envelope, build_message
from chalicelib.mail.render import RenderedMail, render_mail

WHEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40
LONG_NAME = "Díaz-Fernández, Rosa María de los Ángeles (Accounts Payable, Building 4, Floor 2)"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\xff" * 300


def attachment(
    name: str = "report.pdf",
    size: int = 10,
    sniffed: str = "application/pdf",
    declared: str | None = None,
    attachment_id: str = "A1",
) -> Attachment:
    return Attachment(
        id=attachment_id,
        ticket_id="T1",
        comment_id="C1",
        filename=name,
        size=size,
        declared_type=declared or sniffed,
        sniffed_type=sniffed,
        sha256="",
        created_at=WHEN,
        uploaded_by="agent",
    )


def mail(text: str = "Here is the report.\n", html: str = "<p>Here is the report.</p>\n") -> bytes:
    envelope = Envelope(
        sender="desk@example.org",
        sender_name="Acme, Help Desk",
        to="rosa@example.org",
        to_name=LONG_NAME,
        reply_to="help@desk.example.org",
        message_key="T1/k#reply",
        thread_key="T1",
        automated=False,
        list_unsubscribe=None,
    )
    return build_message(envelope, RenderedMail("[HD-1] New reply: Ünïcode", text, html), WHEN)


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def files_of(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    found = []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        found.append((part.get_filename(), part.get_content_type(), data))
    return found


# --- the message ------------------------------------------------------------------------------------------------


def test_without_files_the_mail_is_the_recorded_one_byte_for_byte() -> None:
    raw = mail()
    assert with_files(raw, []) is raw


def test_files_go_in_a_mixed_message_after_the_unchanged_body_with_their_bytes_intact() -> None:
    raw = mail()
    out = with_files(
        raw, [(attachment("report.pdf", len(PDF)), PDF), (attachment("shot.png", len(PNG), "image/png"), PNG)]
    )

    message = parsed(out)
    original = parsed(raw)
    assert message.get_content_type() == "multipart/mixed"
    assert files_of(message) == [("report.pdf", "application/pdf", PDF), ("shot.png", "image/png", PNG)]
    for kind in ("plain", "html"):
        body, before = message.get_body((kind,)), original.get_body((kind,))
        assert body is not None
        assert before is not None
        assert body.get_content() == before.get_content()
    for part in message.iter_attachments():
        assert part["Content-Transfer-Encoding"] == "base64"
        assert part.get_content_disposition() == "attachment"
    assert all(len(line) <= 78 for line in out.split(b"\r\n"))
    assert b"\n" not in out.replace(b"\r\n", b"")  # CRLF line ends throughout, as SES wants


def test_the_headers_of_the_recorded_mail_are_kept_as_they_were_written() -> None:
    """mime.py folds address headers itself (the email package's folder loses quotes); nothing refolds them."""
    raw = mail()
    out = with_files(raw, [(attachment(), b"%PDF-1")])
    before = raw.split(b"\r\nContent-Type: multipart/alternative;", 1)[0]
    assert b"\r\n " in before  # the long name was folded by mime.py
    assert out.split(b"\r\nContent-Type: multipart/mixed;", 1)[0] == before
    message = parsed(out)
    # (this Python's parser keeps the space between two encoded-words: gh-128110, see mime.py)
    assert [" ".join(a.display_name.split()) for a in message["To"].addresses] == [LONG_NAME]
    assert [a.display_name for a in message["From"].addresses] == ["Acme, Help Desk"]
    assert out.split(b"\r\n\r\n", 1)[0].count(b"MIME-Version") == 1


def test_the_same_mail_and_files_always_give_the_same_bytes_and_other_files_another_boundary() -> None:
    raw = mail()
    files = [(attachment(), PDF)]
    assert with_files(raw, files) == with_files(raw, files)
    first, second = parsed(with_files(raw, files)), parsed(with_files(raw, [(attachment(), PDF + b"!")]))
    assert first.get_boundary() != second.get_boundary()


def test_the_boundary_is_found_in_no_part_even_when_the_text_quotes_one() -> None:
    raw = mail(text="--=_desk_ and --=_desk_0000 in the text\n")
    out = with_files(raw, [(attachment(), PDF)])
    boundary = parsed(out).get_boundary()
    assert boundary is not None
    assert boundary.encode() not in raw
    assert out.count(b"--" + boundary.encode()) == 3  # before the body, before the file, and the close


def test_a_raw_message_without_a_body_is_refused() -> None:
    with pytest.raises(ValueError, match="blank line"):
        with_files(b"Subject: no body", [(attachment(), PDF)])


# --- names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("résumé «final».pdf", "résumé «final».pdf"),
        ("it's mine; size=2.pdf", "it's mine; size=2.pdf"),
        ("日本語のファイル名がとても長い場合にはどうなるでしょうか、長い長い名前の報告書.pdf", None),
        ("x" * 140 + ".pdf", None),
        ('say "cheese".pdf', "say cheese.pdf"),  # never stored with quotes; if one were, it is taken out
        ("..\\..\\boot.ini", "boot.ini"),
    ],
)
def test_a_name_reaches_the_reader_as_it_was_stored(stored: str, read: str | None) -> None:
    out = with_files(mail(), [(attachment(stored), PDF)])
    ((name, _, data),) = files_of(parsed(out))
    assert name == (read or stored)
    assert data == PDF


def test_a_name_that_is_not_plain_ascii_is_written_as_rfc_2231_parameters() -> None:
    part = file_part(attachment("résumé.pdf"), PDF)
    head = part.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "filename*=utf-8''r%C3%A9sum%C3%A9.pdf" in head
    assert "name*=utf-8''r%C3%A9sum%C3%A9.pdf" in head  # Content-Type's name, for older readers
    assert "MIME-Version" not in head


def test_a_file_without_a_usable_name_gets_a_numbered_one() -> None:
    part = file_part(attachment("..."), PDF, number=3)
    assert parsed(part).get_filename() == "attachment-3.pdf"


# --- types --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sniffed", "declared", "carried"),
    [
        ("report.pdf", "application/pdf", "application/pdf", "application/pdf"),
        ("shot.png", "image/png", "image/png", "image/png"),
        ("notes.txt", "text/plain", "text/plain", "text/plain"),
        ("page.html", "text/html", "text/html", "application/octet-stream"),
        ("logo.svg", "image/svg+xml", "image/svg+xml", "application/octet-stream"),
        ("feed.xml", "application/xml", "application/xml", "application/octet-stream"),
        ("page.txt", "text/plain", "text/html", "application/octet-stream"),  # text declared as a page
        ("run.js", "text/plain", "text/plain", "application/octet-stream"),  # text named as a script
        ("data.bin", OCTET_STREAM, "application/x-msdownload", "application/octet-stream"),
        (
            "sheet.xlsx",
            "application/zip",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
def test_a_file_is_carried_with_the_type_it_is_downloaded_with_never_as_a_page(
    name: str, sniffed: str, declared: str, carried: str
) -> None:
    out = with_files(mail(), [(attachment(name, sniffed=sniffed, declared=declared), b"data")])
    ((_, content_type, data),) = files_of(parsed(out))
    assert content_type == carried
    assert data == b"data"


def test_text_is_carried_as_utf8_and_a_type_the_record_should_never_hold_is_bytes() -> None:
    maintype, subtype, params = part_type(attachment("notes.txt", sniffed="text/plain"))
    assert (maintype, subtype, params) == ("text", "plain", {"charset": "utf-8"})
    odd = attachment("x.bin", sniffed="text/html", declared="text/html")
    assert part_type(odd)[:2] == ("application", "octet-stream")


# --- the budget ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 56, 57, 58, 1000, 65_536, 1_000_003])
def test_the_size_a_file_adds_is_never_less_than_its_part(size: int) -> None:
    part = file_part(attachment("résumé «final» " + "n" * 120 + ".pdf", size), b"\x00" * size)
    assert len(part) <= encoded_size(size)
    assert encoded_size(size) - len(part) <= PART_ALLOWANCE


def test_files_are_carried_in_order_while_they_fit_and_the_rest_are_left_on_the_ticket() -> None:
    small, big, medium, last = (
        attachment("a.pdf", 1_000, attachment_id="A"),
        attachment("b.pdf", 7_100_000, attachment_id="B"),
        attachment("c.pdf", 3_000_000, attachment_id="C"),
        attachment("d.pdf", 3_000_000, attachment_id="D"),
    )
    carried, left = carry([small, big, medium, last])
    assert [a.id for a in carried] == ["A", "C", "D"]  # the big one does not fit: the later ones still do
    assert [a.id for a in left] == ["B"]
    assert carry([small, big, medium, last]) == (carried, left)
    assert carry([big, small]) == ([small], [big])


def test_a_file_at_the_budget_is_carried_and_one_byte_more_is_not() -> None:
    low, high = 0, FILE_BUDGET  # the largest size whose part fits the budget
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if encoded_size(middle) <= FILE_BUDGET else (low, middle - 1)
    assert carry([attachment(size=low)]) == ([attachment(size=low)], [])
    assert carry([attachment(size=low + 1)]) == ([], [attachment(size=low + 1)])
    assert 6.5 * 1024 * 1024 < low < 7 * 1024 * 1024  # about 7 MiB of file bytes


def test_a_mail_with_all_it_may_carry_stays_under_ses_s_limit() -> None:
    """The largest body an outbox item can hold (400 KB) and files filling the budget: under 10,000,000 bytes."""
    raw = mail(text="t" * 200_000 + "\n", html="<p>" + "h" * 200_000 + "</p>\n")
    sizes = [3_000_000, 3_000_000, 1_200_000, 900_000]
    files = [attachment(f"file {n} «ü».bin", size, OCTET_STREAM, attachment_id=f"F{n}") for n, size in enumerate(sizes)]
    carried, left = carry(files)
    assert [a.id for a in left] == ["F2"]  # F3 still fits after it
    out = with_files(raw, [(a, b"\xff" * a.size) for a in carried])
    assert len(out) < SES_MESSAGE_LIMIT
    assert [len(data) for _, _, data in files_of(parsed(out))] == [a.size for a in carried]


# --- how a size reads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (1, "1 byte"),
        (512, "512 bytes"),
        (1024, "1 KB"),
        (1025, "2 KB"),
        (1024 * 1024, "1 MB"),
        (12_599, "13 KB"),
        (7_500_000, "7.2 MB"),
    ],
)
def test_a_size_reads_as_people_say_it_and_is_never_told_smaller(size: int, text: str) -> None:
    assert size_text(size) == text


# --- what the mail says about its files ---------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "where"), [("reply", "private link"), ("requester_comment", "console")])
def test_the_mail_lists_its_files_and_those_left_on_the_ticket_escaped_in_html(kind: str, where: str) -> None:
    from tests.mail.contexts import contexts

    hostile = '<img src=x onerror="alert(1)">.pdf'
    context = {
        **contexts()[kind],
        "files_attached": [{"name": hostile, "size": 2048}, {"name": "b.png", "size": 5}],
        "files_on_ticket": [{"name": "dump & more.zip", "size": 7_300_004}],
    }
    rendered = render_mail(kind, context)

    attached, _, left = rendered.text.partition("too large to send with this mail")
    assert f"- {hostile} (2 KB)\n- b.png (5 bytes)\n" in attached
    assert "- dump & more.zip (7 MB)" in left
    assert where in left.splitlines()[0]
    assert "<img" not in rendered.html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;.pdf" in rendered.html
    assert "dump &amp; more.zip" in rendered.html


@pytest.mark.parametrize("kind", ["reply", "requester_comment"])
def test_a_mail_without_files_says_nothing_about_files(kind: str) -> None:
    from tests.mail.contexts import contexts

    for context in (contexts()[kind], {**contexts()[kind], "files_attached": [], "files_on_ticket": []}):
        rendered = render_mail(kind, context)
        assert "attached" not in rendered.text
        assert "too large" not in rendered.html
