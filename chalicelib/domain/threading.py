"""Signed reply addresses and Message-IDs: what names a ticket in the desk's mail, so no one can forge or guess it."""

from __future__ import annotations

import hashlib
import hmac
import re

# The MAC's purpose: a reply tag is never a portal, survey or unsubscribe token (chalicelib/domain/tokens.py).
PURPOSE = "reply"
MAC_LENGTH = 16  # hex digits: 64 bits, the first half of an HMAC-SHA256
LOCAL_PART_LIMIT = 64  # RFC 5321 4.5.3.1.1
HASH_LENGTH = 16  # hex digits of a mail's own part of its Message-ID
# Ticket ids are upper-case Crockford base32 (chalicelib/adapters/ids.py). A tag carries them in lower case:
# mail systems may lower-case a local part, so a tag is all lower-case and read back case-insensitively.
_TICKET_ID = re.compile(r"[0-9A-Z]{1,26}")
_TAG = re.compile(r"t([0-9a-z]{1,26})\.([0-9a-f]{16})")
_MESSAGE_LOCAL = re.compile(r"t([0-9a-z]{1,26})\.([0-9a-f]{16})(?:\.[0-9a-f]{16})?")
# The local part of a Message-ID of a mail the desk sent about a ticket (not the thread root, which no mail has).
SENT_MESSAGE_LOCAL = re.compile(r"t[0-9a-z]{1,26}\.[0-9a-f]{16}\.[0-9a-f]{16}")


def can_sign(ticket_id: str) -> bool:
    """Whether `ticket_id` survives being carried in lower case (upper-case letters and digits, as ULIDs are)."""
    return bool(_TICKET_ID.fullmatch(ticket_id))


def _mac(secret: bytes, ticket_id: str) -> str:
    return hmac.new(secret, f"{PURPOSE}\n{ticket_id}".encode(), hashlib.sha256).hexdigest()[:MAC_LENGTH]


def ticket_tag(secret: bytes, ticket_id: str) -> str:
    """`t<ticket id, lower case>.<mac>`: the ticket, signed. ValueError for an id `can_sign` refuses."""
    if not can_sign(ticket_id):
        raise ValueError(f"a ticket id of upper-case letters and digits is needed to sign it: {ticket_id!r}")
    return f"t{ticket_id.lower()}.{_mac(secret, ticket_id)}"


def _verified(ticket_part: str, mac: str, secret: bytes) -> str | None:
    ticket_id = ticket_part.upper()
    return ticket_id if hmac.compare_digest(_mac(secret, ticket_id), mac) else None


def ticket_of_tag(tag: str, secret: bytes) -> str | None:
    """The ticket id of a validly signed tag (in any case), else None."""
    match = _TAG.fullmatch(tag.lower()) if tag.isascii() else None
    return _verified(match[1], match[2], secret) if match else None


def _split(address: str) -> tuple[str, str] | None:
    local, at, domain = address.strip().lower().rpartition("@")
    return (local, domain) if at and local and domain and address.isascii() else None


def reply_address(inbound_address: str, secret: bytes, ticket_id: str) -> str:
    """`local+<tag>@domain` of the desk's inbound address: an answer to it names its ticket, signed.

    ValueError when the ticket id cannot be signed, or the local part would exceed RFC 5321's 64 characters
    (an inbound local part longer than 19 characters, with a 26-character ticket id): the caller uses the plain
    inbound address then, and the reply is matched by its In-Reply-To or References instead.
    """
    parts = _split(inbound_address)
    if parts is None:
        raise ValueError(f"not an email address: {inbound_address!r}")
    local = f"{inbound_address.rpartition('@')[0]}+{ticket_tag(secret, ticket_id)}"
    if len(local) > LOCAL_PART_LIMIT:
        raise ValueError(f"the reply address's local part would be {len(local)} characters, over {LOCAL_PART_LIMIT}")
    return f"{local}@{inbound_address.rpartition('@')[2]}"


def ticket_of_address(address: str, inbound_address: str, secret: bytes) -> str | None:
    """The ticket id if `address` is a validly signed reply address of `inbound_address` (same local part before
    the tag, same domain, in any case), else None."""
    parts, inbound = _split(address), _split(inbound_address)
    if parts is None or inbound is None or parts[1] != inbound[1]:
        return None
    base, plus, tag = parts[0].rpartition("+")
    if not plus or base != inbound[0]:
        return None
    return ticket_of_tag(tag, secret)


def _check_tag(tag: str) -> None:
    if not _TAG.fullmatch(tag):
        raise ValueError(f"not a ticket tag: {tag!r}")


def message_id(tag: str, message_key: str, domain: str) -> str:
    """The Message-ID of one mail about the tag's ticket: the same key always gives the same id (a resend too).
    ValueError for a tag `ticket_tag` did not make."""
    _check_tag(tag)
    digest = hashlib.sha256(message_key.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    return f"<{tag}.{digest}@{domain}>"


def thread_root_id(tag: str, domain: str) -> str:
    """The id every mail about the tag's ticket points at in In-Reply-To and References (no mail has it)."""
    _check_tag(tag)
    return f"<{tag}@{domain}>"


def ticket_of_message_id(message_id: str, domain: str, secret: bytes) -> str | None:
    """The ticket id if `message_id` (with or without its angle brackets) is a validly signed id of a mail this
    desk sent from `domain`, or of its thread root; else None."""
    value = message_id.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    parts = _split(value)
    if parts is None or parts[1] != domain.strip().lower():
        return None
    match = _MESSAGE_LOCAL.fullmatch(parts[0])
    return _verified(match[1], match[2], secret) if match else None
