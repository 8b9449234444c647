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
