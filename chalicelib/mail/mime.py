"""Raw MIME messages for SES: multipart/alternative (text, then HTML), UTF-8, every header value made safe.

Only the standard library's `email` package is used, and only inside `build_message`: importing this module
stays cheap on the Lambda cold path.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.mail.render import RenderedMail

ELLIPSIS = "…"
# Characters that end or split a header line, or reorder what a reader sees, though not all are category Cc.
_BREAKING = frozenset("\u0085\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_NOT_IN_ADDRESS = frozenset(' <>,;:"()[]\\')
ADDRESS_LIMIT = 254


@dataclass(frozen=True)
class Envelope:
    sender: str  # address
    sender_name: str  # display name (the desk's name)
    to: str  # address
    to_name: str  # display name ("" for none)
    reply_to: str | None
    message_key: str  # unique per mail -> deterministic Message-ID
    thread_key: str | None  # the ticket id -> same References/In-Reply-To thread root; None: a mail of its own
    automated: bool  # reminders, SLA alerts, surveys: Auto-Submitted: auto-generated
    list_unsubscribe: str | None  # URL; adds List-Unsubscribe + List-Unsubscribe-Post: List-Unsubscribe=One-Click


def _is_control(char: str) -> bool:
    return char in _BREAKING or unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp")


def header_text(value: str, limit: int = 200) -> str:
    """One safe header line: CR, LF and every other control character become a space, whitespace is collapsed,
    the ends stripped, and the result cut to `limit` characters (ending in "…" when cut)."""
    cleaned = "".join(" " if _is_control(char) else char for char in value)
    line = " ".join(cleaned.split())
    if len(line) <= limit:
        return line
    if limit <= 0:
        return ""
    return line[: limit - 1].rstrip() + ELLIPSIS


def check_address(address: str) -> str:
    """`address` if it is one plain ASCII email address (local@domain); ValueError otherwise."""
    problem = ""
    if not isinstance(address, str) or not address:
        problem = "is empty"
    elif len(address) > ADDRESS_LIMIT:
        problem = "is too long"
    elif not address.isascii() or any(not char.isprintable() or char in _NOT_IN_ADDRESS for char in address):
        problem = "contains a character a plain address cannot have"
    elif address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
        problem = "is not of the form local@domain"
    if problem:
        raise ValueError(f"not a plain email address ({problem}): {address!r}")
    return address


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[1].lower()


def _message_id(key: str, domain: str) -> str:
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def message_id(message_key: str, sender: str) -> str:
    """The Message-ID a mail with this key gets: the same key always gives the same id."""
    return _message_id(message_key, _domain(check_address(sender)))


def thread_root_id(thread_key: str, sender: str) -> str:
    """The id every mail of one thread (one ticket) points at in In-Reply-To and References."""
    return _message_id(f"thread:{thread_key}", _domain(check_address(sender)))


def _header_url(url: str) -> str:
    """A URL that fits between the angle brackets of List-Unsubscribe."""
    line = header_text(url, limit=2000)
    return line.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E").replace('"', "%22")


def build_message(envelope: Envelope, mail: RenderedMail, date: datetime) -> bytes:
    """The raw bytes of one mail (CRLF line ends, non-ASCII headers RFC 2047-encoded, bodies UTF-8).

    ValueError for an address that is not a plain email address or a naive `date`.
    """
    from email.headerregistry import Address
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import format_datetime

    sender = check_address(envelope.sender)
    to = check_address(envelope.to)
    reply_to = check_address(envelope.reply_to) if envelope.reply_to is not None else None
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the date of a mail must be timezone-aware")

    # 7bit: non-ASCII bodies go out quoted-printable or base64, which every relay takes unchanged.
    policy = SMTP.clone(cte_type="7bit")
    message = EmailMessage(policy=policy)
    message["From"] = Address(display_name=header_text(envelope.sender_name), addr_spec=sender)
    message["To"] = Address(display_name=header_text(envelope.to_name), addr_spec=to)
    if reply_to is not None:
        message["Reply-To"] = Address(addr_spec=reply_to)
    message["Subject"] = header_text(mail.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(envelope.message_key, sender)
    if envelope.thread_key is not None:
        root = thread_root_id(envelope.thread_key, sender)
        message["In-Reply-To"] = root
        message["References"] = root
    if envelope.automated:
        message["Auto-Submitted"] = "auto-generated"
    if envelope.list_unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{_header_url(envelope.list_unsubscribe)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    for part in message.iter_parts():
        del part["MIME-Version"]  # add_alternative leaves a copy on the moved text part; it belongs on top only
    return message.as_bytes(policy=policy)
