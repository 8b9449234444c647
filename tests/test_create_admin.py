"""The documented command that creates the first admin of a deployed desk."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from tools.create_admin import main


def test_the_command_creates_an_admin_in_the_stacks_desk_table_and_prints_the_token_once(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stack", "helpdesk", "--name", "Ada Lovelace", "--email", "ada@example.org"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    admin = wiring.desk().authenticate(token)
    assert admin.is_admin
    assert admin.email == "ada@example.org"


def test_the_command_refuses_a_bad_email(aws: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--desk-table", aws["DeskTableName"], "--name", "Ada", "--email", "not-an-address"]) == 2
    assert "email" in capsys.readouterr().err


def test_the_command_refuses_an_address_an_active_agent_has(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--desk-table", aws["DeskTableName"], "--name", "Ada", "--email", "ada@example.org"]) == 0
    capsys.readouterr()

    assert main(["--desk-table", aws["DeskTableName"], "--name", "Ada Again", "--email", "ADA@example.org"]) == 2
    captured = capsys.readouterr()
    assert "email: an active agent has this email address already" in captured.err
    assert "hd_" not in captured.out
    assert [a.name for a in wiring.desk().list_agents()] == ["Ada"]


@pytest.mark.parametrize("name", ["Ada\x1b[2J", "Ada\u202e", "Ada\tLovelace"])
def test_the_command_refuses_a_name_with_control_characters(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["--desk-table", aws["DeskTableName"], "--name", name, "--email", "ada@example.org"]) == 2
    assert "name: must not contain control" in capsys.readouterr().err
    assert wiring.desk().list_agents() == []
