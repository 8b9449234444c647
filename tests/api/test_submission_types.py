"""POST /tickets refuses top-level values of the wrong JSON type with a 422 naming the field, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

BASE = {
    "subject": "Printer offline",
    "description": "The office printer shows as offline.",
    "requester_name": "Rosa Diaz",
    "requester_email": "rosa@example.org",
}


@pytest.mark.parametrize(
    ("name", "value"),
    [("type", 7), ("type", None), ("type", ["question"]), ("type", {"key": "question"}), ("type", False),
     ("subject", 12), ("requester_email", ["rosa@example.org"]), ("priority", {}), ("fields", "x")],
)  # fmt: skip
def test_a_value_of_the_wrong_json_type_is_a_422_naming_it(api: Api, name: str, value: Any) -> None:
    code, answer = api.json("POST", "/tickets", {**BASE, name: value}, token=None)
    assert code == 422, answer
    assert name in answer["error"]["errors"], answer
