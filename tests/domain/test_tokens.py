"""Signed, expiring portal links and hashed agent tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import AuthenticationError
from chalicelib.domain.tokens import hash_agent_token, new_agent_token, sign_link, verify_link

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=90)
SECRET = b"a fixed test secret of 32 bytes!"
OTHER_SECRET = b"another fixed secret of 32 bytes"


def _token(subject: str = "t_01HZX", purpose: str = "portal") -> str:
    return sign_link(SECRET, purpose, subject, EXPIRES)


def test_a_signed_link_verifies_to_its_subject() -> None:
    assert verify_link(SECRET, "portal", _token(), NOW) == "t_01HZX"


def test_a_signed_link_still_verifies_on_its_last_second() -> None:
    assert verify_link(SECRET, "portal", _token(), EXPIRES) == "t_01HZX"


def test_signing_is_deterministic() -> None:
    assert _token() == _token()


def test_a_link_with_another_subject_is_refused() -> None:
    _subject, expires, mac = _token().split(".")
    forged = f"t_OTHER.{expires}.{mac}"

    with pytest.raises(AuthenticationError):
        verify_link(SECRET, "portal", forged, NOW)


def test_a_link_with_a_later_expiry_is_refused() -> None:
    subject, expires, mac = _token().split(".")
    forged = f"{subject}.{int(expires) + 86_400}.{mac}"

    with pytest.raises(AuthenticationError):
        verify_link(SECRET, "portal", forged, NOW)


def test_a_link_with_an_altered_signature_is_refused() -> None:
    token = _token()
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")

    with pytest.raises(AuthenticationError):
        verify_link(SECRET, "portal", altered, NOW)


def test_a_link_signed_for_another_purpose_is_refused() -> None:
    survey_token = _token(purpose="survey")

    with pytest.raises(AuthenticationError):
        verify_link(SECRET, "portal", survey_token, NOW)


def test_a_link_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(AuthenticationError):
        verify_link(OTHER_SECRET, "portal", _token(), NOW)


def test_an_expired_link_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="expired"):
        verify_link(SECRET, "portal", _token(), EXPIRES + timedelta(seconds=1))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "t_1..mac", "t_1.123", "t_1.123.mac.extra", "t_1.-5.mac"])
def test_a_malformed_link_is_refused(token: str) -> None:
    with pytest.raises(AuthenticationError):
        verify_link(SECRET, "portal", token, NOW)


def test_a_link_with_a_superscript_digit_as_expiry_is_refused() -> None:
    with pytest.raises(AuthenticationError):
        verify_link(SECRET, "portal", "t_1.².mac", NOW)


def test_an_agent_token_hash_is_stable_and_not_the_token() -> None:
    token = "hd_fixed-token-for-tests"

    hashed = hash_agent_token(token)

    assert hashed == hash_agent_token(token)
    assert hashed != token
    assert token not in hashed
    assert len(hashed) == 64


def test_different_agent_tokens_hash_differently() -> None:
    assert hash_agent_token("hd_one") != hash_agent_token("hd_two")


def test_new_agent_tokens_are_prefixed_and_unguessable() -> None:
    first, second = new_agent_token(), new_agent_token()

    assert first.startswith("hd_")
    assert first != second
    assert len(first) >= 40
