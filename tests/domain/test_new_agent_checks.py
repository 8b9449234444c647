"""Checking what an administrator sends to create an agent."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.agents import check_new_agent
from chalicelib.domain.errors import ValidationError


def _errors_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        check_new_agent(raw)
    return caught.value.errors


def test_a_new_agent_is_an_agent_unless_said_otherwise() -> None:
    assert check_new_agent({"name": " Ada Agent ", "email": "Ada@Example.org"}) == (
        "Ada Agent",
        "ada@example.org",
        "agent",
    )


def test_a_new_agent_can_be_an_admin() -> None:
    assert check_new_agent({"name": "Ada", "email": "ada@example.org", "role": "admin"})[2] == "admin"


def test_an_unknown_role_is_refused() -> None:
    assert set(_errors_of({"name": "Ada", "email": "ada@example.org", "role": "owner"})) == {"role"}


@pytest.mark.parametrize("name", ["", "   ", None, "Ada\nAgent", "a" * 201])
def test_a_bad_name_is_refused(name: Any) -> None:
    assert set(_errors_of({"name": name, "email": "ada@example.org"})) == {"name"}


@pytest.mark.parametrize("email", ["ada", "ada@", None, "ada @example.org"])
def test_a_bad_email_is_refused(email: Any) -> None:
    assert set(_errors_of({"name": "Ada", "email": email})) == {"email"}


def test_an_unknown_field_is_refused() -> None:
    assert set(_errors_of({"name": "Ada", "email": "ada@example.org", "token": "mine"})) == {"token"}
