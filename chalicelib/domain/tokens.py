"""Signed, expiring links (requester portal) and agent bearer tokens; standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from chalicelib.domain.errors import AuthenticationError

AGENT_TOKEN_PREFIX = "hd_"  # noqa: S105 - a prefix that makes leaked tokens recognisable, not a secret


def _mac(secret: bytes, purpose: str, subject: str, expires: int) -> str:
    message = f"{purpose}\n{subject}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_link(secret: bytes, purpose: str, subject: str, expires_at: datetime) -> str:
    """A token that opens `subject` for `purpose` until `expires_at`; the purpose is part of the MAC."""
    expires = int(expires_at.timestamp())
    return f"{subject}.{expires}.{_mac(secret, purpose, subject, expires)}"


def verify_link(secret: bytes, purpose: str, token: str, now: datetime) -> str:
    """The subject the token was signed for, or AuthenticationError if forged, altered or expired."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()) or len(parts[1]) > 12:
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
    """Agent tokens are stored only as this hash; they are random, so a plain SHA-256 suffices."""
    return hashlib.sha256(token.encode()).hexdigest()
