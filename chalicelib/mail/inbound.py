"""One inbound mail (raw RFC 5322 bytes) read into what the desk needs; any message gives a result or UnreadableMail.

Only the standard library is used, and `email` is imported inside `read_mail`: the HTTP routes never pay for it.
The message is parsed with `email.policy.default` (RFC 2047/2231 decoding); a header that policy cannot parse is
read again from its raw value, and a message whose structure it cannot walk is parsed again with `compat32`, whose
legacy parser does not raise. Limits keep a hostile message cheap: the parts read, their nesting, the length of a
header given to the structured parser, the text kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import MessageError
from typing import TYPE_CHECKING

from chalicelib.domain.attachments import safe_filename
from chalicelib.domain.errors import MalformedRequestError
from chalicelib.domain.threading import SENT_MESSAGE_LOCAL
from chalicelib.domain.tickets import COMMENT_LIMIT, DESCRIPTION_LIMIT, NAME_LIMIT, normalise_email, valid_email
from chalicelib.mail.mime import header_text

if TYPE_CHECKING:
    from email.message import Message

TEXT_LIMIT = min(DESCRIPTION_LIMIT, COMMENT_LIMIT)  # the text kept: what a description or a comment can hold
SUBJECT_LIMIT = 998  # RFC 5322's line limit; the ticket's own subject limit is the service's to apply
PART_LIMIT = 500  # MIME parts in one message (real mail has a few dozen at most)
DEPTH_LIMIT = 20  # nesting of multiparts (real mail nests 3 or 4 deep)
HEADER_LIMIT = 16_384  # longer header values skip the structured parser (quadratic on some inputs)
REFERENCES_LIMIT = 100  # the most recent ids of a References header are kept
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")
PRECEDENCE_AUTOMATIC = frozenset({"bulk", "junk", "list", "auto_reply"})
DAEMON_SENDERS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster"})
TEXT_TYPES = ("text/plain", "text/html")
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,995})>")
_DESK_ID_LOCAL = re.compile(r"^[0-9a-f]{32}$")  # the local part of a Message-ID mime.py writes for no one ticket
_REFERENCE = r"\[\s*({prefix}-[0-9]{{1,12}})\s*\]"
_CONTENT_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,127}$")
# What the standard library's header and MIME code raises on malformed input (CPython bugs included: an
# AttributeError from `_header_value_parser`, IndexError on an empty encoded word, RecursionError on deep nesting).
_EMAIL_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # UnicodeError and email.errors.HeaderParseError's relatives included
    LookupError,  # IndexError, KeyError, unknown codecs
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
    MessageError,  # HeaderParseError
    OverflowError,  # a Date with an absurd year
)


class UnreadableMail(MalformedRequestError):
    """A message the desk cannot act on: no single valid sender, too many parts, nesting too deep, not a mail."""

    code = "unreadable_mail"


@dataclass(frozen=True)
class InboundAttachment:
    filename: str  # sanitised: no path, no control characters, at most FILENAME_LIMIT characters, never empty
    content_type: str  # as declared (lowercase), application/octet-stream when missing or malformed
    content_id: str | None  # without the angle brackets; set for parts an HTML body refers to as cid:…
    inline: bool
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class InboundMail:
    sender_name: str
    sender_address: str  # normalised (lowercase), valid per domain.tickets.valid_email
    to: tuple[str, ...]
    cc: tuple[str, ...]
    delivered_to: tuple[str, ...]  # Delivered-To and X-Original-To: the address the mail was really sent to
    subject: str  # decoded, one line
    message_id: str | None  # "<id@domain>" as in the header
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str  # the whole body text (HTML converted when the mail has no text part), at most TEXT_LIMIT characters
    html_converted: bool
    text_truncated: bool
    attachments: tuple[InboundAttachment, ...]
    automatic: str | None  # why no person wrote this (auto-reply, bounce, list, this desk's own mail), else None
    date: datetime | None  # timezone-aware; None when missing or unreadable

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every address the mail was sent to, first seen first: To, Cc, then Delivered-To/X-Original-To."""
        return tuple(dict.fromkeys((*self.to, *self.cc, *self.delivered_to)))


# Text -------------------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """`text` without lone surrogates (8-bit bytes the parser could not decode become U+FFFD)."""
    if text.isascii() or not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """`data` decoded by its declared charset; mislabelled or unknown charsets fall back to UTF-8, then to
    Windows-1252 with replacement characters. Never raises."""
    declared = (charset or "").strip().strip('"').lower()
    for name in (declared, "utf-8"):
        if not name:
            continue
        try:
            return data.decode(name)
        except (LookupError, ValueError, TypeError):  # unknown codec, invalid bytes, a bytes-to-bytes codec
            continue
    for name in (declared, "windows-1252"):
        try:
            return data.decode(name, "replace")
        except (LookupError, ValueError, TypeError):
            continue
    return data.decode("latin-1")  # pragma: no cover - windows-1252 with "replace" does not raise


def _body_text(text: str) -> str:
    """Line ends made "\\n", control characters other than tab and line feed removed."""
    text = _clean(text).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(char for char in text if char >= " " or char in "\n\t").replace("\x7f", "")


def _truncate(text: str) -> tuple[str, bool]:
    if len(text) <= TEXT_LIMIT:
        return text, False
    cut = text[:TEXT_LIMIT]
    line_end = cut.rfind("\n")
    if line_end > TEXT_LIMIT // 2:
        cut = cut[:line_end]
    return cut.rstrip(), True


# Headers ----------------------------------------------------------------------------------------------------


def _decode_raw_header(raw: str) -> str:
    """A raw header value, unfolded, with RFC 2047 encoded-words decoded (each by its own charset)."""
    from email.header import decode_header

    value = re.sub(r"\r?\n[ \t]", " ", _clean(raw))
    if "=?" not in value:
        return value
    try:
        pieces = decode_header(value)
    except _EMAIL_ERRORS:
        return value
    return "".join(piece if isinstance(piece, str) else decode_bytes(piece, charset) for piece, charset in pieces)


def _raw_values(message: Message, name: str) -> list[str]:
    wanted = name.lower()
    return [str(value) for key, value in message.raw_items() if key.lower() == wanted]


def header_values(message: Message, name: str) -> list[str]:
    """Every value of header `name`, decoded; a value the policy cannot parse is decoded from its raw form."""
    raw = _raw_values(message, name)
    if not raw:
        return []
    if all(len(value) <= HEADER_LIMIT for value in raw):
        try:
            return [_clean(str(value)) for value in message.get_all(name, [])]
        except _EMAIL_ERRORS:
            pass
    return [_decode_raw_header(value[:HEADER_LIMIT]) for value in raw]


def header_value(message: Message, name: str) -> str:
    values = header_values(message, name)
    return values[0] if values else ""


def _mailboxes(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) of every mailbox in the header(s) `name`; groups are flattened."""
    raw = _raw_values(message, name)
    if not raw:
        return []
    # With encoded-words, the names come from the raw header: the policy's address parser keeps the whitespace
    # between adjacent encoded-words ("Jürgen Mü ller"), which RFC 2047 says to drop; decode_header drops it.
    encoded = any("=?" in value for value in raw)
    if not encoded and hasattr(message.policy, "header_factory") and all(len(v) <= HEADER_LIMIT for v in raw):
        try:
            found = [
                (_clean(address.display_name), _clean(address.addr_spec))
                for header in message.get_all(name, [])
                for address in getattr(header, "addresses", ())
            ]
        except _EMAIL_ERRORS:
            found = []
        if found:
            return found
    from email.utils import getaddresses

    unfolded = [re.sub(r"\r?\n[ \t]", " ", _clean(value[:HEADER_LIMIT])) for value in raw]
    try:
        pairs = getaddresses(unfolded)
    except _EMAIL_ERRORS:
        return []
    return [(_decode_raw_header(display), _clean(address)) for display, address in pairs if address]


def _usable(address: str) -> bool:
    """A valid address that survived decoding (an undecodable 8-bit byte left U+FFFD in it)."""
    return valid_email(address) and "\ufffd" not in address


def _addresses(message: Message, *names: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for name in names:
        for _, address in _mailboxes(message, name):
            normalised = normalise_email(address)
            if _usable(normalised):
                found[normalised] = None
    return tuple(found)


def _message_ids(value: str) -> list[str]:
    return [f"<{match}>" for match in _MESSAGE_ID.findall(value)]


def _first_id(message: Message, name: str) -> str | None:
    raw = _raw_values(message, name)
    ids = _message_ids(_clean(raw[0])[:HEADER_LIMIT]) if raw else []
    return ids[0] if ids else None


def _date(message: Message) -> datetime | None:
    from email.utils import parsedate_to_datetime

    raw = _raw_values(message, "Date")
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(" ".join(_clean(raw[0])[:200].split()))
    except _EMAIL_ERRORS:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def subject_reference(subject: str, prefix: str = "HD") -> str | None:
    """The first ticket reference in brackets in `subject` ("Re: [HD-1042] VPN" -> "HD-1042"), any letter case."""
    match = re.search(_REFERENCE.format(prefix=re.escape(prefix)), subject, re.IGNORECASE)
    return match.group(1).upper() if match else None


# Loops and floods -------------------------------------------------------------------------------------------


def _token(value: str) -> str:
    return value.split(";", 1)[0].strip().strip('"').lower()


def automatic_reason(message: Message, *, desk_domain: str | None = None) -> str | None:
    """Why no person wrote `message` (a short reason), or None for a person's mail.

    List mail counts as automatic (List-Id or List-Unsubscribe): newsletters carry them, and answering a list
    would mail everyone on it; a person's own client does not add them. This desk's own mail is recognised by the
    Message-ID mime.py writes at `desk_domain` (32 hex digits, or a ticket's signed `t<id>.<mac>.<hash>`), not by
    the domain alone: the people of the desk's organisation mail from that domain too.
    """
    if _content_type(message) == "multipart/report":
        report_type = _token(_param(message, "report-type"))
        if report_type == "disposition-notification":
            return "read receipt (multipart/report)"
        return "bounce (multipart/report)"
    auto_submitted = _token(header_value(message, "Auto-Submitted"))
    if auto_submitted and auto_submitted != "no":
        return f"auto-submitted: {auto_submitted[:40]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _raw_values(message, name) and _token(header_value(message, name)) not in ("no", "false"):
            return name.lower()
    precedence = _token(header_value(message, "Precedence"))
    if precedence in PRECEDENCE_AUTOMATIC:
        return f"precedence: {precedence}"
    if _raw_values(message, "X-Auto-Response-Suppress"):
        return "x-auto-response-suppress"
    if _raw_values(message, "List-Id"):
        return "mailing list (list-id)"
    if _raw_values(message, "List-Unsubscribe"):
        return "mailing list (list-unsubscribe)"
    return_path = header_values(message, "Return-Path")
    if return_path and return_path[0].strip() in ("<>", ""):
        return "null return path (bounce)"
    for _, address in _mailboxes(message, "From") + _mailboxes(message, "Sender"):
        if address.split("@", 1)[0].strip('"').lower() in DAEMON_SENDERS:
            return "mailer-daemon sender"
    if desk_domain:
        for message_id in _message_ids(_clean(" ".join(_raw_values(message, "Message-ID")))[:HEADER_LIMIT]):
            local, _, domain = message_id[1:-1].rpartition("@")
            own = _DESK_ID_LOCAL.match(local) or SENT_MESSAGE_LOCAL.fullmatch(local.lower())
            if domain.lower() == desk_domain.lower() and own:
                return "sent by this desk"
    return None


# Structure --------------------------------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    value = part.get_content_type().lower()
    return value if _CONTENT_TYPE.match(value) else "application/octet-stream"


def _param(part: Message, name: str) -> str:
    value = part.get_param(name)
    if isinstance(value, tuple):  # an RFC 2231 (charset, language, value) triple under compat32
        value = value[2]
    return _clean(str(value)) if value is not None else ""


def _leaves(message: Message) -> list[Message]:
    """The message's leaf parts in order (a message/rfc822 part is a leaf); UnreadableMail beyond the limits."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > PART_LIMIT:
            raise UnreadableMail(f"the message has more than {PART_LIMIT} parts")
        if depth > DEPTH_LIMIT:
            raise UnreadableMail(f"the message's parts are nested more than {DEPTH_LIMIT} deep")
        payload = part.get_payload()
        if part.is_multipart() and part.get_content_maintype() != "message" and isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if not isinstance(child, str))
        else:
            leaves.append(part)
    return leaves


def _is_attachment_disposition(part: Message) -> bool:
    return (part.get_content_disposition() or "") == "attachment"


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except _EMAIL_ERRORS:
        name = None
    if name is None:
        return None
    return _decode_raw_header(str(name)) if "=?" in str(name) else _clean(str(name))


def _is_text(part: Message) -> bool:
    return _content_type(part) in TEXT_TYPES and not _is_attachment_disposition(part) and _filename(part) is None


def _payload_bytes(part: Message) -> bytes:
    if not part.is_multipart():
        data = part.get_payload(decode=True)
        return data if isinstance(data, bytes) else b""
    from email.policy import compat32

    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else [payload]  # message/rfc822: one; delivery-status: several
    policy = compat32.clone(linesep="\r\n")
    data = []
    for block in blocks:
        if isinstance(block, str):
            data.append(block.encode("utf-8", "surrogateescape"))
            continue
        try:
            data.append(block.as_bytes(policy=policy))
        except _EMAIL_ERRORS:
            data.append(_clean(block.as_string(policy=policy)).encode("utf-8"))
    return b"".join(data)


def _text_of(part: Message) -> str:
    return decode_bytes(_payload_bytes(part), _param(part, "charset") or None)


def _attachment(part: Message, number: int) -> InboundAttachment:
    content_type = _content_type(part)
    content_id = header_value(part, "Content-ID").strip().strip("<>").strip() or None
    disposition = part.get_content_disposition()
    return InboundAttachment(
        filename=safe_filename(_filename(part), number, content_type),
        content_type=content_type,
        content_id=header_text(content_id, 250) if content_id else None,
        inline=disposition == "inline" or (disposition is None and content_id is not None),
        data=_payload_bytes(part),
    )


# Reading ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Body:
    text: str
    html_converted: bool
    attachments: tuple[InboundAttachment, ...]


def _body(message: Message) -> _Body:
    from chalicelib.mail.html_text import html_to_text

    leaves = _leaves(message)
    texts = [part for part in leaves if _is_text(part)]
    plain = next((part for part in texts if _content_type(part) == "text/plain" and _text_of(part).strip()), None)
    html = next((part for part in texts if _content_type(part) == "text/html"), None)
    if plain is not None:
        text, converted = _text_of(plain), False
    elif html is not None:
        text, converted = html_to_text(_text_of(html)), True
    else:
        text, converted = "", False
    others = [part for part in leaves if not _is_text(part)]
    attachments = tuple(_attachment(part, number) for number, part in enumerate(others, start=1))
    return _Body(_body_text(text), converted, attachments)


def _sender(message: Message) -> tuple[str, str]:
    mailboxes = _mailboxes(message, "From")
    if not mailboxes:
        raise UnreadableMail("the message has no sender address (From)")
    if len({normalise_email(address) for _, address in mailboxes}) > 1:
        raise UnreadableMail("the message has more than one sender address (From)")
    name, address = mailboxes[0]
    address = normalise_email(address)
    if not _usable(address):
        raise UnreadableMail("the sender's address (From) is not a valid email address")
    return header_text(_decode_raw_header(name) if "=?" in name else name, NAME_LIMIT), address


def _read(message: Message, desk_domain: str | None) -> InboundMail:
    if not message.keys():
        raise UnreadableMail("the message has no headers")
    sender_name, sender_address = _sender(message)
    body = _body(message)
    text, truncated = _truncate(body.text)
    references_raw = _clean(" ".join(_raw_values(message, "References")))
    return InboundMail(
        sender_name=sender_name,
        sender_address=sender_address,
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        delivered_to=_addresses(message, "Delivered-To", "X-Original-To"),
        subject=header_text(header_value(message, "Subject"), SUBJECT_LIMIT),
        message_id=_first_id(message, "Message-ID"),
        in_reply_to=_first_id(message, "In-Reply-To"),
        references=tuple(_message_ids(references_raw[-HEADER_LIMIT:])[-REFERENCES_LIMIT:]),
        text=text,
        html_converted=body.html_converted,
        text_truncated=truncated,
        attachments=body.attachments,
        automatic=automatic_reason(message, desk_domain=desk_domain),
        date=_date(message),
    )


def read_mail(raw: bytes, *, desk_domain: str | None = None) -> InboundMail:
    """The mail in `raw`; UnreadableMail when the desk cannot act on it (never another exception)."""
    import email
    from email.policy import compat32, default

    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise UnreadableMail("the message is empty")
    failure: BaseException | None = None
    for policy in (default, compat32):
        try:
            return _read(email.message_from_bytes(bytes(raw), policy=policy), desk_domain)
        except UnreadableMail:
            raise
        except _EMAIL_ERRORS as error:  # the structured policy failed on this message: the legacy one does not
            failure = error
    if isinstance(failure, RecursionError):
        raise UnreadableMail("the message's parts are nested too deeply") from failure
    raise UnreadableMail(f"the message cannot be read ({type(failure).__name__})") from failure
