"""Signed reply addresses and Message-IDs: they round-trip, survive case changes, and refuse any forgery."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.ids import ALPHABET, UlidSource
from chalicelib.domain.threading import (
    LOCAL_PART_LIMIT,
    can_sign,
    message_id,
    reply_address,
    thread_root_id,
    ticket_of_address,
    ticket_of_message_id,
    ticket_of_tag,
    ticket_tag,
)

INBOUND = "help@desk.example.org"
DOMAIN = "example.org"
ticket_ids = st.text(alphabet=ALPHABET, min_size=26, max_size=26)
secrets = st.binary(min_size=16, max_size=64)
local_bases = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=19)
hex_digits = "0123456789abcdef"


def _swap_case(text: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips + [False] * len(text), strict=False))


@given(ticket_ids, secrets, local_bases)
def test_a_reply_address_names_its_ticket_and_fits_a_local_part(ticket: str, secret: bytes, base: str) -> None:
    inbound = f"{base}@desk.example.org"
    address = reply_address(inbound, secret, ticket)

    assert ticket_of_address(address, inbound, secret) == ticket
    local = address.rpartition("@")[0]
    assert len(local) <= LOCAL_PART_LIMIT
    assert local.startswith(f"{base}+t")
    assert address == address.lower()  # nothing a mail system lower-casing the local part could change


@given(ticket_ids, secrets, st.lists(st.booleans()))
def test_any_change_of_case_of_the_whole_address_still_verifies(ticket: str, secret: bytes, flips: list[bool]) -> None:
    address = reply_address(INBOUND, secret, ticket)

    assert ticket_of_address(_swap_case(address, flips), INBOUND, secret) == ticket
    assert ticket_of_address(address.upper(), INBOUND.upper(), secret) == ticket


@given(ticket_ids, secrets, st.data())
def test_any_change_to_the_ticket_or_the_mac_is_refused(ticket: str, secret: bytes, data: st.DataObject) -> None:
    address = reply_address(INBOUND, secret, ticket)
    local, _, domain = address.rpartition("@")
    base, _, tag = local.rpartition("+")
    position = data.draw(st.integers(min_value=1, max_value=len(tag) - 1).filter(lambda i: tag[i] != "."))
    alphabet = ALPHABET.lower() if position <= len(ticket) else hex_digits
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != tag[position]]))
    forged = f"{base}+{tag[:position]}{replacement}{tag[position + 1 :]}@{domain}"

    assert ticket_of_address(forged, INBOUND, secret) is None


@given(ticket_ids, secrets, secrets)
def test_another_desks_key_verifies_nothing(ticket: str, secret: bytes, other: bytes) -> None:
    if other == secret:
        return
    assert ticket_of_address(reply_address(INBOUND, secret, ticket), INBOUND, other) is None
    assert ticket_of_tag(ticket_tag(secret, ticket), other) is None
    assert ticket_of_message_id(message_id(ticket_tag(secret, ticket), "k", DOMAIN), DOMAIN, other) is None


def test_a_tag_on_another_inbound_address_or_domain_is_refused() -> None:
    ticket = UlidSource().new_id()
    address = reply_address(INBOUND, b"key", ticket)
    tag = address.partition("+")[2].partition("@")[0]

    assert ticket_of_address(address, INBOUND, b"key") == ticket
    assert ticket_of_address(f"sales+{tag}@desk.example.org", INBOUND, b"key") is None
    assert ticket_of_address(f"help+{tag}@desk.example.org.evil.example", INBOUND, b"key") is None
    assert ticket_of_address(f"x.help+{tag}@desk.example.org", INBOUND, b"key") is None
    assert ticket_of_address(INBOUND, INBOUND, b"key") is None
    assert ticket_of_address(f"help+{tag}+{tag}@desk.example.org", INBOUND, b"key") is None
    assert ticket_of_address("not an address", INBOUND, b"key") is None


def test_an_inbound_address_with_a_plus_of_its_own_keeps_it() -> None:
    ticket = UlidSource().new_id()
    inbound = "help+desk@desk.example.org"
    address = reply_address(inbound, b"key", ticket)

    assert address.startswith("help+desk+t")
    assert ticket_of_address(address, inbound, b"key") == ticket
    assert ticket_of_address(address, INBOUND, b"key") is None


def test_an_inbound_local_part_too_long_for_a_tag_is_refused_not_cut() -> None:
    with pytest.raises(ValueError, match="over 64"):
        reply_address("customer-support-team@desk.example.org", b"key", UlidSource().new_id())


@pytest.mark.parametrize("ticket", ["t1", "agent#a1", "", "01JNB4Z7Q9X2M5V8K3T6R1W0YC0", "ÄB"])
def test_an_id_that_lower_case_would_change_is_not_signed(ticket: str) -> None:
    assert not can_sign(ticket)
    with pytest.raises(ValueError, match="upper-case letters and digits"):
        ticket_tag(b"key", ticket)


@given(ticket_ids, secrets, st.text(max_size=40), st.lists(st.booleans()))
def test_message_ids_and_the_thread_root_name_their_ticket_in_any_case(
    ticket: str, secret: bytes, key: str, flips: list[bool]
) -> None:
    tag = ticket_tag(secret, ticket)
    sent, root = message_id(tag, key, DOMAIN), thread_root_id(tag, DOMAIN)

    assert sent != root
    assert message_id(tag, key, DOMAIN) == sent  # a resend has the same id
    for value in (sent, root, sent[1:-1], _swap_case(sent, flips)):
        assert ticket_of_message_id(value, DOMAIN, secret) == ticket
    assert ticket_of_message_id(sent, "elsewhere.example", secret) is None


@given(ticket_ids, secrets, st.data())
def test_a_message_id_with_any_character_of_its_tag_changed_is_refused(
    ticket: str, secret: bytes, data: st.DataObject
) -> None:
    sent = message_id(ticket_tag(secret, ticket), "k", DOMAIN)
    tag_end = sent.index(".", sent.index(".") + 1)  # the tag is <t…>.<mac>; the hash after it is the mail's own
    position = data.draw(st.integers(min_value=2, max_value=tag_end - 1).filter(lambda i: sent[i] != "."))
    alphabet = ALPHABET.lower() if position <= len(ticket) + 1 else hex_digits
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != sent[position]]))

    assert ticket_of_message_id(sent[:position] + replacement + sent[position + 1 :], DOMAIN, secret) is None


@pytest.mark.parametrize(
    "value",
    ["", "<>", "<@example.org>", "<0123456789abcdef0123456789abcdef@example.org>", "<t.x@example.org>", "<é@a.b>"],
)
def test_ids_that_are_not_the_desks_signed_ones_name_no_ticket(value: str) -> None:
    assert ticket_of_message_id(value, DOMAIN, b"key") is None
