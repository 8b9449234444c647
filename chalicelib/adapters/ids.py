"""Time-ordered random identifiers (ULID layout, Crockford base32)."""

from __future__ import annotations

import secrets
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class UlidSource:
    def new_id(self) -> str:
        value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
        chars = []
        for _ in range(26):
            chars.append(ALPHABET[value & 31])
            value >>= 5
        return "".join(reversed(chars))
