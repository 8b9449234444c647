"""Text a requester sends that would spoof a name or subject (bidi overrides, zero-width characters): refused with
422 from the form and the API, cleaned from a mail (refusing it would lose the message)."""

from __future__ import annotations

import pytest

from chalicelib.domain.config import default_config
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.tickets import check_submission

BASE = {
    "type": "question",
    "subject": "Printer",
    "description": "It jams.",
    "requester_name": "Eve Example",
    "requester_email": "eve@example.org",
}


@pytest.mark.parametrize("field", ["requester_name", "subject"])
@pytest.mark.parametrize("hidden", ["\u202e", "\u2066", "\u200b", "\ufeff", "\x1b"])
def test_a_hidden_character_is_refused_by_name(field: str, hidden: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_submission(default_config(), {**BASE, field: f"Eve {hidden}gnp.exe"}, from_form=False)

    assert f"U+{ord(hidden):04X}" in refused.value.details["errors"][field]


def test_names_of_every_script_are_kept() -> None:
    for name in ("Zoë Ångström", "李雷", "محمد", "नमस्ते", "Ana‍ María"):
        assert (
            check_submission(default_config(), {**BASE, "requester_name": name}, from_form=False).requester_name == name
        )


def test_from_a_mail_the_hidden_characters_are_dropped_not_the_mail() -> None:
    raw = {**BASE, "requester_name": "Eve \u202egnp.exe", "subject": "Invoice\u200b due"}

    submission = check_submission(default_config(), raw, from_form=False, from_mail=True)

    assert (submission.requester_name, submission.subject) == ("Eve gnp.exe", "Invoice due")
