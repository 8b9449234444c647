"""Raw MIME messages for SES: multipart/alternative (text, then HTML), UTF-8, every header value made safe.

Only the standard library's `email` package is used, and only inside `build_message`: importing this module
stays cheap on the Lambda cold path.

The address headers (From, To, Reply-To) are formatted and folded here, not by the `email` package: its folder
drops the quotes of a long display name when it folds one (a 76-character name with a comma became a second,
domain-less mailbox SES refused, and `Bob <mallory@evil.example>, ...` a second recipient). Here a display name
is written as plain atoms, one quoted-string or RFC 2047 encoded-words, and only ever folded between them.
"""

from __future__ import annotations

import hashlib
import string
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain.threading import message_id as signed_message_id
from chalicelib.domain.threading import thread_root_id as signed_root_id

if TYPE_CHECKING:
    from email.policy import Policy

    from chalicelib.mail.render import RenderedMail

ELLIPSIS = "…"
# Characters that end or split a header line, or reorder what a reader sees, though not all are category Cc.
_BREAKING = frozenset("\u0085\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_NOT_IN_ADDRESS = frozenset(' <>,;:"()[]\\')
ADDRESS_LIMIT = 254
# A display name longer than this is cut (with "…"): mail clients show 30 to 60 characters of one, and 100 keeps
# the worst case (100 four-byte characters, base64-encoded) to nine short lines of one header.
NAME_LIMIT = 100
LINE_LIMIT = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters (and MUST be at most 998)
ENCODED_WORD_LIMIT = 75  # RFC 2047 2: an encoded-word is at most 75 characters long
_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")  # RFC 5322 3.2.3
_Q_LITERAL = frozenset(string.ascii_letters + string.digits + "!*+-/")  # RFC 2047 5 (3): as-is in a phrase


@dataclass(frozen=True)
class Envelope:
    sender: str  # address
    sender_name: str  # display name (the desk's name)
    to: str  # address
    to_name: str  # display name ("" for none)
    reply_to: str | None
    message_key: str  # unique per mail -> deterministic Message-ID
    thread_key: str | None  # the ticket id -> same References/In-Reply-To thread root; None: a mail of its own
    automated: bool  # made by the desk, not written by a person: Auto-Submitted: auto-generated
    list_unsubscribe: str | None  # URL; adds List-Unsubscribe + List-Unsubscribe-Post: List-Unsubscribe=One-Click
    reply_to_name: str = ""  # display name of Reply-To
    # The ticket's signed tag (chalicelib/domain/threading.py), made by the caller, who has the key: the
    # Message-ID and the thread root then name the ticket, so a reply's In-Reply-To or References does too.
    thread_tag: str | None = None
    auto_replied: bool = False  # with `automated`: an answer to a message (the acknowledgement), RFC 3834 5.2


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


def message_id(message_key: str, sender: str, thread_tag: str | None = None) -> str:
    """The Message-ID a mail with this key gets: the same key always gives the same id. With a thread tag it is
    `<tag.hash@domain>`, which names the ticket (signed); without, `<32 hex digits@domain>`."""
    domain = _domain(check_address(sender))
    if thread_tag is not None:
        return signed_message_id(thread_tag, message_key, domain)
    return _message_id(message_key, domain)


def thread_root_id(thread_key: str, sender: str, thread_tag: str | None = None) -> str:
    """The id every mail of one thread (one ticket) points at in In-Reply-To and References."""
    domain = _domain(check_address(sender))
    if thread_tag is not None:
        return signed_root_id(thread_tag, domain)
    return _message_id(f"thread:{thread_key}", domain)


def _header_url(url: str) -> str:
    """A URL that fits between the angle brackets of List-Unsubscribe."""
    line = header_text(url, limit=2000)
    return line.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E").replace('"', "%22")


class _Folded(str):
    """A header folded here, written out as it is: to the email policy a value with a `name` is a header object,
    stored unchanged (`header_store_parse`) and written by calling its `fold` (`EmailPolicy.fold`).
    The string itself is the unfolded value, as a header object's is."""

    name: str
    lines: tuple[str, ...]

    def __new__(cls, name: str, lines: list[str]) -> _Folded:
        folded = super().__new__(cls, "".join(lines)[len(name) + 2 :])
        folded.name = name
        folded.lines = tuple(lines)
        return folded

    def fold(self, *, policy: Policy) -> str:
        return policy.linesep.join(self.lines) + policy.linesep


def _folded(head: str, words: list[str]) -> list[str]:
    """`head` and the words, one space apart, on as few lines of at most LINE_LIMIT as the words allow; folded
    only between words (a continuation line starts with the space), never leaving the head alone on a line."""
    lines = [head]
    for word in words:
        if lines[-1] == head or len(lines[-1]) + 1 + len(word) <= LINE_LIMIT:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
    return lines


def _plain_words(field: str, name: str) -> list[str] | None:
    """`name` as RFC 5322 atoms, or as one quoted-string, when it is printable ASCII and every line it takes
    fits; None when it needs encoded-words. A name with "=?" needs them too: readers decode what looks like an
    encoded-word in an atom, and some even in a quoted-string."""
    if "=?" in name or not all(" " <= char <= "~" for char in name):
        return None
    if all(char in _ATEXT or char == " " for char in name):
        words = name.split(" ")  # header_text leaves single spaces only
    else:
        words = ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return words if all(len(line) <= LINE_LIMIT for line in _folded(f"{field}:", words)) else None


def _q(text: str) -> str:
    return "".join(
        char if char in _Q_LITERAL else "_" if char == " " else "".join(f"={byte:02X}" for byte in char.encode())
        for char in text
    )


def _b(text: str) -> str:
    from base64 import b64encode

    return b64encode(text.encode()).decode("ascii")


def _encoded_words(name: str, first_limit: int) -> list[str]:
    """`name` as UTF-8 encoded-words of whole characters, the first at most `first_limit` long (it shares its
    line with the field name), the others ENCODED_WORD_LIMIT; Q or B, whichever is shorter for the name.

    The space between two encoded-words is not part of the name (RFC 2047 6.2): every space of the name is
    inside a word. A word ends after a space of the name where one is in its second half: a reader that keeps
    the space between words (Python's own address parser before gh-128110) then shows two spaces there, not
    one in the middle of a word."""
    encode = _q if len(_q(name)) <= len(_b(name)) else _b
    tag = "q" if encode is _q else "b"

    def word(chunk: str) -> str:
        return f"=?utf-8?{tag}?{encode(chunk)}?="

    words: list[str] = []
    chunk, limit = "", first_limit
    for char in name:
        if chunk and len(word(chunk + char)) > limit:
            cut = chunk.rfind(" ") + 1
            if cut <= len(chunk) // 2 or len(word(chunk[cut:] + char)) > ENCODED_WORD_LIMIT:
                cut = len(chunk)
            words.append(word(chunk[:cut]))
            chunk, limit = chunk[cut:], ENCODED_WORD_LIMIT
        chunk += char
    words.append(word(chunk))
    return words


def address_header(field: str, display_name: str, address: str) -> _Folded:
    """One mailbox header: `address` (already checked) with `display_name` made one line, cut to NAME_LIMIT,
    and written so that no content can add a mailbox or lose the address when the header is unfolded."""
    name = header_text(display_name, NAME_LIMIT)
    if not name:
        return _Folded(field, _folded(f"{field}:", [address]))
    first_limit = min(ENCODED_WORD_LIMIT, LINE_LIMIT - len(field) - 2)
    words = _plain_words(field, name) or _encoded_words(name, first_limit)
    return _Folded(field, _folded(f"{field}:", [*words, f"<{address}>"]))


def build_message(envelope: Envelope, mail: RenderedMail, date: datetime) -> bytes:
    """The raw bytes of one mail (CRLF line ends, non-ASCII headers RFC 2047-encoded, bodies UTF-8).

    ValueError for an address that is not a plain email address or a naive `date`.
    """
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
    message["From"] = address_header("From", envelope.sender_name, sender)
    message["To"] = address_header("To", envelope.to_name, to)
    if reply_to is not None:
        message["Reply-To"] = address_header("Reply-To", envelope.reply_to_name, reply_to)
    message["Subject"] = header_text(mail.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(envelope.message_key, sender, envelope.thread_tag)
    if envelope.thread_key is not None:
        root = thread_root_id(envelope.thread_key, sender, envelope.thread_tag)
        message["In-Reply-To"] = root
        message["References"] = root
    if envelope.automated:
        message["Auto-Submitted"] = "auto-replied" if envelope.auto_replied else "auto-generated"
    # Exchange answers no mail with this (it does not read Auto-Submitted): no out-of-office or other automatic
    # reply, read or delivery receipt. Not "All": that also holds back Exchange's non-delivery reports, which
    # is how a bounce reaches SES (and the desk's bounce handling) when Exchange took the mail first.
    message["X-Auto-Response-Suppress"] = "DR, RN, NRN, OOF, AutoReply"
    if envelope.list_unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{_header_url(envelope.list_unsubscribe)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    for part in message.iter_parts():
        del part["MIME-Version"]  # add_alternative leaves a copy on the moved text part; it belongs on top only
    return message.as_bytes(policy=policy)
