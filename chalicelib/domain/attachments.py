"""Files on tickets: the attachment value, its limits, content sniffing and the headers a download is served with."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from chalicelib.domain.errors import ConflictError, PayloadTooLargeError, ValidationError

MB = 1024 * 1024
STATES = ("pending", "stored")
ROLES = ("agent", "requester")
OCTET_STREAM = "application/octet-stream"
SNIFF_BYTES = 4096  # what the sniffer is given: the adapter reads no more of a direct upload than this
MARKUP_WINDOW = 1024  # markup this near the start makes a text file a page or an image a browser would run
FILENAME_LIMIT = 150  # as chalicelib.mail.inbound.FILENAME_LIMIT: one rule for names from mail and from forms
ID_PATTERN = re.compile(r"^[0-9A-Za-z]{1,64}$")  # ULIDs; anything else in a URL names no attachment

# The same characters chalicelib.mail.inbound.safe_filename removes (tests/domain/test_attachments.py keeps the two
# in step): controls, Windows' reserved characters, and the bidirectional overrides that disguise an extension.
_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"|?*\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]')
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "text/rfc822-headers": ".txt",
}

# Served with their own type: no browser runs script in any of them, and each is recognised by its magic bytes.
SAFE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "application/zip", "text/plain"}
)
# Office documents are ZIP files; when the sender declared one of these and the bytes are a ZIP, the declared
# type is served (a download either way, and none of them is scriptable in a browser).
ZIP_FLAVOURS = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
# Every type a download can be served with (delivery_type): the app's binary types, so each goes out as bytes.
SERVED_TYPES = tuple(sorted(SAFE_TYPES | ZIP_FLAVOURS | {OCTET_STREAM}))
# Plain text whose name or declared type says a browser would run it is served as bytes, never as text.
SCRIPTABLE_EXTENSIONS = frozenset(
    {
        "htm", "html", "shtml", "xhtml", "xht", "mht", "mhtml", "svg", "svgz", "xml", "xsl", "xslt", "rdf",
        "js", "mjs", "cjs", "jsx", "ts", "css", "hta", "swf", "vbs", "wsf", "php", "jsp", "asp", "aspx",
    }
)  # fmt: skip
_SCRIPTABLE_TYPE = re.compile(r"html|xml|svg|script|css|flash|x-php", re.IGNORECASE)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),  # an empty archive
    (b"PK\x07\x08", "application/zip"),  # a spanned archive
)
_SVG = ("<svg", "xmlns:svg", "http://www.w3.org/2000/svg")
# What makes a browser treat text as a page (WHATWG MIME sniffing's HTML patterns, and script or frames anywhere).
_HTML = ("<html", "<script", "<!doctype html", "<head", "<body", "<iframe", "<frameset", "<object", "<embed", "<meta")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


class AttachmentTooLargeError(PayloadTooLargeError):
    code = "attachment_too_large"


class UploadMissingError(ConflictError):
    """A direct upload was to be finished, but nothing (or no longer anything) was stored under its key."""

    code = "upload_missing"


@dataclass(frozen=True)
class AttachmentLimits:
    max_file_bytes: int = 10 * MB
    max_ticket_bytes: int = 50 * MB
    max_files_per_comment: int = 10

    def check_file(self, size: int) -> None:
        if size <= 0:
            raise ValidationError("the file is empty", {"file": "is empty"})
        if size > self.max_file_bytes:
            raise AttachmentTooLargeError(
                f"the file is {size} bytes, over the limit of {self.max_file_bytes} bytes a file",
                size=size,
                limit=self.max_file_bytes,
            )

    def check_count(self, count: int) -> None:
        """`count` files on one comment (those already stored with the new ones)."""
        if count > self.max_files_per_comment:
            raise ValidationError(
                f"a comment may carry at most {self.max_files_per_comment} files",
                {"files": f"at most {self.max_files_per_comment} files"},
            )

    def ticket_full(self, size: int, used: int) -> AttachmentTooLargeError:
        return AttachmentTooLargeError(
            f"the ticket's files would come to {used + size} bytes, over the limit of {self.max_ticket_bytes}",
            size=size,
            limit=self.max_ticket_bytes,
            used=used,
        )


LIMIT_BOUNDS = {
    "max_file_bytes": (1, 100 * MB),
    "max_ticket_bytes": (1, 10 * 1024 * MB),
    "max_files_per_comment": (1, 100),
}


def parse_limits(value: Any) -> AttachmentLimits:
    """The configuration's `attachments` object (absent: the defaults); ValidationError names each bad path."""
    if value is None:
        return AttachmentLimits()
    errors: dict[str, str] = {}
    if not isinstance(value, dict):
        raise ValidationError("the desk configuration is not valid", {"attachments": "must be an object"})
    for name in sorted(set(value) - set(LIMIT_BOUNDS)):
        errors[f"attachments.{name}"] = "is not a known setting"
    numbers: dict[str, int] = {}
    for name, (low, high) in LIMIT_BOUNDS.items():
        if name not in value:
            continue
        number = value[name]
        if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
            errors[f"attachments.{name}"] = f"must be a whole number from {low} to {high}"
        else:
            numbers[name] = number
    limits = replace(AttachmentLimits(), **numbers)
    if "attachments.max_ticket_bytes" not in errors and limits.max_ticket_bytes < limits.max_file_bytes:
        errors["attachments.max_ticket_bytes"] = "must be at least max_file_bytes"
    if errors:
        raise ValidationError("the desk configuration is not valid", errors)
    return limits


@dataclass(frozen=True)
class Attachment:
    id: str
    ticket_id: str
    comment_id: str | None  # None: the ticket's own (the form or the mail that opened it), or not yet on a comment
    filename: str  # safe_filename'd
    size: int  # 0 while a direct upload is pending
    declared_type: str  # what the sender said, lowercase; never trusted
    sniffed_type: str  # what the bytes are (sniff); OCTET_STREAM while pending
    sha256: str  # hex; "" while pending
    created_at: datetime
    uploaded_by: str  # "agent" or "requester"
    state: str = "stored"  # "pending" (a direct upload not yet checked) or "stored"

    def visible_to_requester(self, public_comment_ids: frozenset[str] | set[str]) -> bool:
        """A requester sees stored files of public comments, and the ticket's own files that a requester gave."""
        if self.state != "stored":
            return False
        if self.comment_id is None:
            return self.uploaded_by == "requester"
        return self.comment_id in public_comment_ids


def size_text(size: int) -> str:
    """A file's size as people read it, the same on every page and in every mail: "512 bytes", "34 KB",
    "2.5 MB", "10 MB" (1 KB = 1024 bytes; rounded up, so a file is never told smaller than it is)."""
    count = max(int(size), 0)
    if count < 1024:
        return "1 byte" if count == 1 else f"{count} bytes"
    if count < MB:
        return f"{-(-count // 1024)} KB"
    tenths = -(-count * 10 // MB)
    return f"{tenths // 10} MB" if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10} MB"


def valid_id(value: str) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.match(value))


def _clean(text: str) -> str:
    """`text` without lone surrogates (8-bit bytes a decoder could not read become U+FFFD)."""
    if text.isascii() or not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def safe_filename(name: str | None, number: int, content_type: str) -> str:
    """A filename safe to store and offer for download: the last path segment only, no control or reserved
    characters, no leading dots, at most FILENAME_LIMIT characters (the extension kept); `attachment-N.ext`
    when nothing is left. The same rule as chalicelib.mail.inbound.safe_filename."""
    cleaned = ""
    if name:
        cleaned = _UNSAFE_IN_FILENAME.sub("", _clean(name)).replace("\\", "/").rsplit("/", 1)[-1]
        cleaned = " ".join(cleaned.split()).strip(" .")
    if not cleaned:
        return f"attachment-{number}{_EXTENSIONS.get(content_type, '.bin')}"
    if len(cleaned) > FILENAME_LIMIT:
        stem, dot, extension = cleaned.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            cleaned = stem[: FILENAME_LIMIT - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            cleaned = cleaned[:FILENAME_LIMIT].rstrip(" .")
    return cleaned


def declared(content_type: str | None) -> str:
    """A declared type reduced to `type/subtype`, lowercase; OCTET_STREAM when missing or malformed."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    if not re.match(r"^[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,127}$", essence):
        return OCTET_STREAM
    return essence


def sniff(head: bytes) -> str:
    """What the first bytes of a file are, by their content alone (never by name or declared type).

    Only what the desk may serve under its own type is told apart (PNG, JPEG, GIF, WebP, PDF, ZIP, UTF-8 text);
    markup is named (text/html, image/svg+xml, application/xml) so that it is never served as text; anything
    else is application/octet-stream.
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    text = _as_text(head)
    if text is None:
        return OCTET_STREAM
    return _markup(text) or "text/plain"


def _as_text(head: bytes) -> str | None:
    """The bytes as text when they are UTF-8 without binary control characters; markup in UTF-16 (with its BOM)
    is found too, but UTF-16 text is not served as text (the desk serves text as UTF-8)."""
    data = head[:SNIFF_BYTES]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            wide = data[: len(data) // 2 * 2].decode("utf-16")
        except UnicodeDecodeError:
            return None
        return wide if _markup(wide) else None
    if data.startswith(_BOMS[0]):
        data = data[3:]
    text = None
    # A multi-byte character cut by the end of the window is not a reason to call the file binary.
    for cut in range(4 if len(head) >= SNIFF_BYTES else 1):
        try:
            text = data[: len(data) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    if text is None or _TEXT_CONTROLS.search(text):
        return None
    return text


def _markup(text: str) -> str | None:
    window = text.lstrip("\ufeff \t\r\n\f")[:MARKUP_WINDOW].lower()
    if any(marker in window for marker in _SVG):
        return "image/svg+xml"
    if any(marker in window for marker in _HTML):
        return "text/html"
    if window.startswith("<?xml"):
        return "application/xml"
    if re.match(r"<[a-z!?/]", window):
        return "text/html"  # starts like a tag: whatever it is, it is not served as text
    return None


def is_scriptable_name(filename: str) -> bool:
    _, dot, extension = filename.rpartition(".")
    return bool(dot) and extension.lower() in SCRIPTABLE_EXTENSIONS


def delivery_type(attachment: Attachment) -> str:
    """The Content-Type a download is served with: the sniffed type when it is a safe one, else bytes."""
    sniffed = attachment.sniffed_type
    if sniffed == "application/zip" and attachment.declared_type in ZIP_FLAVOURS:
        return attachment.declared_type
    if sniffed not in SAFE_TYPES:
        return OCTET_STREAM
    if sniffed == "text/plain":
        if _SCRIPTABLE_TYPE.search(attachment.declared_type) or is_scriptable_name(attachment.filename):
            return OCTET_STREAM
        return "text/plain; charset=utf-8"
    return sniffed


def ascii_filename(filename: str) -> str:
    """The RFC 6266 `filename=` fallback: printable ASCII without quotes, backslashes, `%` or `;`."""
    decomposed = unicodedata.normalize("NFKD", filename)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    ascii_only = "".join(char if " " <= char <= "~" and char not in '"\\%;' else "_" for char in plain)
    ascii_only = re.sub(r"_{2,}", "_", " ".join(ascii_only.split())).strip(" .")
    stem, dot, extension = ascii_only.rpartition(".")
    if not dot:
        stem, extension = ascii_only, ""
    if not re.search(r"[A-Za-z0-9]", stem):
        stem = "attachment"
    return f"{stem}.{extension}" if extension else stem


# RFC 5987 attr-char beyond what quote() always leaves alone (letters, digits, "_.-~").
_ATTR_CHARS = "!#$&+^`|"


def content_disposition(filename: str) -> str:
    name = safe_filename(filename, 1, OCTET_STREAM)
    return f"attachment; filename=\"{ascii_filename(name)}\"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"


def delivery_headers(attachment: Attachment) -> dict[str, str]:
    """Every header a download carries: always a download, never run by the browser, never cached by others."""
    return {
        "Content-Type": delivery_type(attachment),
        "Content-Disposition": content_disposition(attachment.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
