"""An agent's name is shown in mail headers and on pages: nothing invisible or layout-changing gets in."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.agents import agent_name_problem, check_new_agent
from chalicelib.domain.errors import ValidationError


def _name_error(name: str) -> str:
    with pytest.raises(ValidationError) as caught:
        check_new_agent({"name": name, "email": "ada@example.org"})
    assert set(caught.value.errors) == {"name"}
    return caught.value.errors["name"]


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("Ada\tAgent", "U+0009"),
        ("Ada\x00", "U+0000"),
        ("\x1b[31mAda", "U+001B"),
        ("Ada\rAgent", "U+000D"),
        ("Ada\x7f", "U+007F"),
        ("Ada\x85", "U+0085"),
        ("Ada\u2028Agent", "U+2028"),
        ("Ada\u2029Agent", "U+2029"),
        ("Ada \u202egnp.exe", "U+202E"),
        ("\u202aAda", "U+202A"),
        ("\u2066Ada\u2069", "U+2066"),
        ("Ada\u200bAgent", "U+200B"),
        ("\ufeffAda", "U+FEFF"),
        ("Ada\ud800", "U+D800"),
    ],
)
def test_a_name_with_a_control_or_invisible_character_is_refused_naming_it(name: str, named: str) -> None:
    message = _name_error(name)

    assert named in message
    assert "control" in message


@pytest.mark.parametrize("name", ["Zoë Ångström", "李雷", "محمد", "Ōtsuka Ren", "Nguyễn Thị Minh", "O'Brien-Smith"])
def test_names_in_any_script_are_accepted(name: str) -> None:
    assert check_new_agent({"name": name, "email": "ada@example.org"})[0] == name


def test_a_persian_name_keeps_its_zero_width_non_joiner() -> None:
    name = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # the joiner is part of how the word is written
    assert agent_name_problem(name) is None


@given(st.text(min_size=1, max_size=40))
def test_a_name_is_accepted_exactly_when_it_has_no_refused_character(name: str) -> None:
    refused = any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"} and c not in "\u200c\u200d" for c in name)
    problem = agent_name_problem(name)

    if not name.strip():
        assert problem is not None
    else:
        assert (problem is not None) == refused
