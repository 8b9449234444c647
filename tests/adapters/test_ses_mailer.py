"""The SES mailer under moto: a verified sender's mail is taken, anything SES refuses or cannot take is MailNotSent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.adapters.ses import SesMailer
from chalicelib.mail import Envelope, RenderedMail, build_message
from chalicelib.services.ports import MailNotSent

ROOT = Path(__file__).resolve().parents[2]
REGION = os.environ["AWS_DEFAULT_REGION"]  # set by tests/conftest.py, with fake credentials
SENDER = "desk@example.org"
TO = "ada@example.com"


def raw_mail(
    subject: str = "[HD-1001] We received your request: VPN drops",
    to_name: str = "Ada Lovelace",
    desk_name: str = "Acme Help Desk",
) -> bytes:
    envelope = Envelope(SENDER, desk_name, TO, to_name, SENDER, "t1#ack", "t1", False, None)
    mail = RenderedMail(subject, "Thanks, we have it.\n", "<p>Thanks, we have it.</p>\n")
    return build_message(envelope, mail, datetime(2025, 3, 4, 10, 30, tzinfo=UTC))


@pytest.fixture
def ses() -> Iterator[Any]:
    """moto's SES with the desk's sender verified (SES refuses a sender that is not)."""
    with mock_aws():
        client = botocore.session.get_session().create_client("ses", region_name=REGION)
        client.verify_email_identity(EmailAddress=SENDER)
        yield client


def test_a_verified_sender_sends_and_ses_holds_the_raw_message(ses: Any) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    message_id = SesMailer(REGION).send(SENDER, TO, raw_mail())

    # the one test that looks into moto's internals: what SES received
    sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert [m.id for m in sent] == [message_id]
    assert sent[0].source == SENDER
    assert TO in sent[0].destinations
    assert "Subject: [HD-1001] We received your request: VPN drops" in sent[0].raw_data


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Lovelace" + "x" * 54 + ", Ada Countess", id="76 characters with a comma"),
        pytest.param(
            "Bob <mallory@evil.example>, Eve <eve@evil.example>, and everyone else at the office",
            id="two mailboxes",
        ),
        pytest.param("漢字かな交じり文" * 32, id="250 CJK characters"),
        pytest.param("😀👩‍👩‍👧🎉", id="emoji"),
        pytest.param('"' * 90, id="only quotes"),
        pytest.param("a@b; c@d: (e) [f] \\ g" * 10, id="every special"),
    ],
)
def test_any_display_name_is_delivered_to_exactly_the_one_recipient(ses: Any, name: str) -> None:
    """SES refuses a mail whose To, Cc or Bcc holds an address without a domain, and moto's SES, like SES
    without Destinations, would deliver to every address it finds in them: the headers must hold exactly one."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    message_id = SesMailer(REGION).send(SENDER, TO, raw_mail(to_name=name, desk_name=name))

    (sent,) = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert sent.id == message_id
    assert sorted({parseaddr(address)[1] for address in sent.destinations}) == [TO]


def test_the_client_is_built_on_first_use_and_reused(ses: Any) -> None:
    mailer = SesMailer(REGION)
    first = mailer.send(SENDER, TO, raw_mail())
    client = mailer.client
    second = mailer.send(SENDER, TO, raw_mail())

    assert mailer.client is client
    assert first != second
    assert client.meta.region_name == REGION
    assert client.meta.config.connect_timeout == 3
    assert client.meta.config.read_timeout == 10


def test_an_unverified_sender_is_refused_with_the_reason() -> None:
    with mock_aws(), pytest.raises(MailNotSent) as refused:
        SesMailer(REGION).send("stranger@example.net", TO, raw_mail())

    assert refused.value.reason.startswith("MessageRejected: ")
    assert "stranger@example.net" in refused.value.reason


@pytest.mark.parametrize("code", ["Throttling", "TooManyRequestsException", "SendingPausedException"])
def test_a_throttled_or_paused_send_is_not_sent(ses: Any, code: str) -> None:
    mailer = SesMailer(REGION)
    with Stubber(mailer.client) as stub:
        stub.add_client_error("send_email", service_error_code=code, service_message="Maximum sending rate exceeded.")
        with pytest.raises(MailNotSent) as refused:
            mailer.send(SENDER, TO, raw_mail())
        stub.assert_no_pending_responses()

    assert refused.value.reason == f"{code}: Maximum sending rate exceeded."
    assert isinstance(refused.value.__cause__, ClientError)


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com"), "EndpointConnectionError"),
        (ConnectTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"), "ConnectTimeoutError"),
    ],
)
def test_an_unreachable_ses_is_not_sent(ses: Any, monkeypatch: pytest.MonkeyPatch, error: Exception, name: str) -> None:
    mailer = SesMailer(REGION)

    def unreachable(**kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(mailer.client, "send_email", unreachable)
    with pytest.raises(MailNotSent) as refused:
        mailer.send(SENDER, TO, raw_mail())

    assert refused.value.reason.startswith(f"{name}: ")
    assert "email.us-east-1.amazonaws.com" in refused.value.reason


def test_importing_the_mailer_loads_no_botocore() -> None:
    probe = "import sys, chalicelib.adapters.ses; print('botocore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
