"""Signed, expiring links (requester portal) and agent bearer tokens; standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

from chalicelib.domain.errors import AuthenticationError

AGENT_TOKEN_PREFIX = "hd_"  # noqa: S105 - a prefix that makes leaked tokens recognisable, not a secret
EXPIRY_DIGITS = 12  # epoch seconds up to the year 33658: enough, and int() never sees a huge number
_SUBJECT = re.compile(r"[A-Za-z0-9_-]{1,128}")  # ids and hashes: URL-safe, no "." to split on, no line break
_MAC = re.compile(r"[A-Za-z0-9_-]{43}")  # a SHA-256 digest in URL-safe base64 without its padding


def _mac(secret: bytes, purpose: str, subject: str, expires: int) -> str:
    message = f"{purpose}\n{subject}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _is_subject(text: str) -> bool:
    return _SUBJECT.fullmatch(text) is not None


def _is_expiry(text: str) -> bool:
    """Only the canonical form: ASCII digits, no sign, space, underscore or leading zero (as `str(int)` writes it),
    so one expiry has exactly one spelling and an altered spelling is refused like an altered MAC."""
    return 0 < len(text) <= EXPIRY_DIGITS and text.isascii() and text.isdigit() and str(int(text)) == text


def sign_link(secret: bytes, purpose: str, subject: str, expires_at: datetime) -> str:
    """A token that opens `subject` for `purpose` until `expires_at`; the purpose is part of the MAC."""
    if not _is_subject(subject):
        raise ValueError("a link's subject must be 1 to 128 URL-safe characters (A-Z, a-z, 0-9, _ and -)")
    expires = int(expires_at.timestamp())
    return f"{subject}.{expires}.{_mac(secret, purpose, subject, expires)}"


def verify_link(secret: bytes, purpose: str, token: str, now: datetime) -> str:
    """The subject the token was signed for, or AuthenticationError if forged, altered or expired. Every
    malformed part gets the same answer as a forged MAC, so a caller cannot learn which part was wrong."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or not _is_subject(parts[0]) or not _is_expiry(parts[1]) or not _MAC.fullmatch(parts[2]):
        raise AuthenticationError("the link is not valid")
    subject, expires_text, mac = parts
    expected = _mac(secret, purpose, subject, int(expires_text))
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        raise AuthenticationError("the link is not valid")
    if int(expires_text) < now.timestamp():
        raise AuthenticationError("the link has expired; ask the desk for a new one")
    return subject


def new_agent_token() -> str:
    return AGENT_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_agent_token(token: str) -> str:
    """Agent tokens are stored only as this hash; they are random, so a plain SHA-256 suffices. A lone
    surrogate (JSON can carry one) hashes to something no stored token matches instead of failing."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
