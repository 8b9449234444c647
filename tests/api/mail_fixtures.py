"""A mailbox for end-to-end tests: the sender verified in moto's SES, every accepted mail recorded."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.services.ports import SentMail
from tests.clocks import ManualClock

SENDER = "desk@example.org"
BASE = "https://desk.example.org/api"  # HELPDESK_PUBLIC_URL in these tests: the base of every link in mail
REQUESTER = "rosa@example.org"  # Api.open()'s requester
ADMIN = "ada@example.org"  # the admin_token fixture's agent
DEFECT_TO_CLIENT_TESTING = (
    "in_review",
    "approved",
    "in_progress",
    "ready_to_test",
    "in_testing",
    "ready_to_install",
    "client_testing",
)
CONSULTATION_TO_ESTIMATE = ("needs_estimate", "estimate_ready", "estimate_pending_approval")


class Mailbox:
    def __init__(self) -> None:
        self.sent: list[SentMail] = []

    def record(self, mail: SentMail) -> None:
        self.sent.append(mail)

    def to(self, address: str, kind: str | None = None) -> list[SentMail]:
        return [m for m in self.sent if m.to == address and (kind is None or m.kind == kind)]

    def kinds(self) -> list[str]:
        return [m.kind for m in self.sent]


@pytest.fixture
def mailbox(aws: dict[str, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    import boto3

    monkeypatch.setenv("HELPDESK_SENDER_EMAIL", SENDER)
    monkeypatch.setenv("HELPDESK_PUBLIC_URL", BASE)
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=SENDER)
    box = Mailbox()
    wiring.reset(clock=clock, on_sent=box.record)
    return box


def run_job(api_client: object, name: str) -> dict[str, object]:
    """Invoke a schedule handler as EventBridge does."""
    from chalice.test import Client

    assert isinstance(api_client, Client)
    event = api_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    payload = api_client.lambda_.invoke(name, event).payload
    assert isinstance(payload, dict), payload
    return payload


JobRunner = Callable[[str], dict[str, object]]


def parsed(mail: SentMail) -> EmailMessage:
    """The mail as a mail client reads it."""
    message = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def links(text: str) -> list[str]:
    return re.findall(r"https://desk\.example\.org/api/[^\s\"<>]+", text)


def path_of(url: str) -> str:
    """A link in a mail as a path for the test client (the public URL's stage prefix taken off)."""
    assert url.startswith(BASE + "/"), url
    return url[len(BASE) :]


def new_agent(api: Any, name: str, address: str) -> tuple[str, str]:
    """An agent made by the admin: its id and token."""
    code, answer = api.json("POST", "/admin/agents", {"name": name, "email": address, "role": "agent"})
    assert code == 201, answer
    return str(answer["agent"]["id"]), str(answer["token"])
