"""A mailbox for end-to-end tests: the sender verified in moto's SES, every accepted mail recorded."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib import wiring
from chalicelib.services.ports import SentMail
from tests.clocks import ManualClock

SENDER = "desk@example.org"


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
    monkeypatch.setenv("HELPDESK_PUBLIC_URL", "https://desk.example.org/api")
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
