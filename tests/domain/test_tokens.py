"""Signed, expiring portal links and hashed agent tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# one spelling per token --------------------------------------------------------------------------------


def _with_expiry(token: str, expiry: str) -> str:
    subject, _expires, mac = token.split(".")
    return f"{subject}.{expiry}.{mac}"


@pytest.mark.parametrize(
    "spelling",
    ["0{}", "00{}", "+{}", " {}", "{} ", "\t{}", "{}\n", "-0{}", "١٢٣"],
)
def test_an_expiry_spelled_otherwise_than_it_was_signed_is_refused(spelling: str) -> None:
    token = _token()
    expires = token.split(".")[1]
    altered = _with_expiry(token, spelling.format(expires))

    with pytest.raises(AuthenticationError, match="not valid"):
        verify_link(SECRET, "portal", altered, NOW)


def test_an_expiry_with_digit_group_underscores_is_refused() -> None:
    token = _token()
    expires = token.split(".")[1]
    grouped = f"{expires[:-3]}_{expires[-3:]}"
    assert int(grouped) == int(expires)  # Python's int() would take it as the same number

    with pytest.raises(AuthenticationError, match="not valid"):
        verify_link(SECRET, "portal", _with_expiry(token, grouped), NOW)


def test_an_expiry_in_other_scripts_digits_is_refused() -> None:
    token = _token()
    expires = token.split(".")[1]
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in expires)
    assert int(arabic_indic) == int(expires)

    with pytest.raises(AuthenticationError, match="not valid"):
        verify_link(SECRET, "portal", _with_expiry(token, arabic_indic), NOW)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=16))
def test_only_the_canonical_expiry_text_verifies(expiry: str) -> None:
    token = _token()
    canonical = token.split(".")[1]
    candidate = _with_expiry(token, expiry)
    if expiry == canonical:
        assert verify_link(SECRET, "portal", candidate, NOW) == "t_01HZX"
    else:
        with pytest.raises(AuthenticationError, match="not valid"):
            verify_link(SECRET, "portal", candidate, NOW)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10**11), st.sampled_from(["0", "00", "+", " ", "\u0660"]))
def test_a_signed_expiry_with_any_padding_is_refused(seconds: int, pad: str) -> None:
    expires_at = datetime.fromtimestamp(seconds, tz=UTC)
    token = sign_link(SECRET, "portal", "t_1", expires_at)
    subject, expires, mac = token.split(".")

    assert verify_link(SECRET, "portal", token, datetime.fromtimestamp(0, tz=UTC)) == "t_1"
    with pytest.raises(AuthenticationError, match="not valid"):
        verify_link(SECRET, "portal", f"{subject}.{pad}{expires}.{mac}", NOW)


@pytest.mark.parametrize("subject", ["", "t.1", "t\n1", "t 1", "zoë", "a" * 129])
def test_a_subject_that_would_make_the_token_ambiguous_is_never_signed(subject: str) -> None:
    with pytest.raises(ValueError, match="URL-safe"):
        sign_link(SECRET, "portal", subject, EXPIRES)


@pytest.mark.parametrize("wrap", [" {}", "{} ", "{}\n", "{}=", "{}A", "A{}"])
def test_a_token_with_anything_around_or_added_to_its_mac_is_refused(wrap: str) -> None:
    subject, expires, mac = _token().split(".")

    with pytest.raises(AuthenticationError, match="not valid"):
        verify_link(SECRET, "portal", f"{subject}.{expires}.{wrap.format(mac)}", NOW)


@pytest.mark.parametrize("token", [" {}", "{} ", "{}\r\n", "\ud800{}", "{}\ud800"])
def test_a_token_with_stray_characters_around_it_is_refused_not_an_error(token: str) -> None:
    with pytest.raises(AuthenticationError, match="not valid"):
        verify_link(SECRET, "portal", token.format(_token()), NOW)


def test_an_agent_token_with_a_lone_surrogate_hashes_instead_of_failing() -> None:
    assert len(hash_agent_token("hd_\ud800")) == 64
    assert hash_agent_token("hd_zoë") == hash_agent_token("hd_zoë")
