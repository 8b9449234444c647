"""One mailbox, however it is spelled: the key the desk counts an address's posts under.

Common providers deliver `ro.sa+x@gmail.com` to `rosa@gmail.com`; counting the spellings apart would let one
person multiply a per-address limit by the number of tags they care to type.
"""

from __future__ import annotations

# Providers that ignore everything after a tag separator in the local part, and the separator they use.
TAGS = {
    "gmail.com": "+",
    "googlemail.com": "+",
    "outlook.com": "+",
    "hotmail.com": "+",
    "live.com": "+",
    "yahoo.com": "-",
    "icloud.com": "+",
    "me.com": "+",
    "fastmail.com": "+",
    "proton.me": "+",
    "protonmail.com": "+",
}
DOTLESS = frozenset({"gmail.com", "googlemail.com"})  # providers that ignore dots in the local part
SAME_AS = {"googlemail.com": "gmail.com"}


def normalised_address(email: str) -> str:
    """The address lowercased, with the provider's tag and (for Gmail) dots removed; other domains keep their
    local part as written, lowercased, since only the receiving domain knows what it ignores."""
    local, at, domain = email.strip().lower().rpartition("@")
    if not at:
        return domain
    separator = TAGS.get(domain)
    if separator and separator in local:
        local = local.split(separator, 1)[0] or local
    if domain in DOTLESS:
        local = local.replace(".", "") or local
    return f"{local}@{SAME_AS.get(domain, domain)}"
