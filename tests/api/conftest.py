"""Fixtures for the API end to end: chalice's test client over moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from tests.api.mail_fixtures import mailbox  # noqa: F401 - a fixture for every API test module
from tests.streams import Stream


class Api:
    """The chalice test client with JSON helpers and an agent's token."""

    def __init__(self, client: Client, token: str) -> None:
        self.client = client
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "agent",
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token == "agent":
            sent["Authorization"] = f"Bearer {self.token}"
        elif token:
            sent["Authorization"] = f"Bearer {token}"
        payload = body if isinstance(body, str) else json.dumps(body) if body is not None else None
        return getattr(self.client.http, method.lower())(path, headers=sent, body=payload)

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        response = self.request(method, path, body, **kwargs)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        return response.status_code, json.loads(text) if text else None

    def form(self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> Any:
        from urllib.parse import urlencode

        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.client.http.post(path, headers=sent, body=urlencode(fields))

    def open(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "type": "question",
            "subject": "Printer offline",
            "description": "The office printer shows as offline.",
            "requester_name": "Rosa Diaz",
            "requester_email": "rosa@example.org",
            **overrides,
        }
        status, answer = self.json("POST", "/tickets", body, token=None)
        assert status == 201, answer
        return dict(answer)

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        status, answer = self.json("GET", f"/tickets/{ticket_id}")
        assert status == 200, answer
        return dict(answer)

    def move(self, ticket_id: str, to: str, **extra: Any) -> tuple[int, Any]:
        version = extra.pop("version", None) or self.ticket(ticket_id)["version"]
        return self.json("POST", f"/tickets/{ticket_id}/transitions", {"to": to, "version": version, **extra})


DEFECT_FIELDS = {"product": "Billing", "version_affected": "4.2", "steps_to_reproduce": "Open an invoice; press Save."}


@pytest.fixture
def admin_token(aws: dict[str, str]) -> str:
    _, token = wiring.desk().create_agent({"name": "Ada Admin", "email": "ada@example.org", "role": "admin"})
    return token


@pytest.fixture
def api(admin_token: str) -> Iterator[Api]:
    from app import app

    with Client(app) as client:
        yield Api(client, admin_token)


@pytest.fixture
def stream(api: Api, aws: dict[str, str]) -> Stream:
    """The tickets table's stream, processed by the real handler when a test drains it."""
    return Stream(api.client, aws["TicketsTableStreamArn"])
