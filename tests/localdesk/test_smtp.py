"""Mail in, locally: a real SMTP server delivers as SES does (raw message in S3, notification to the handler)."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import boto3
import pytest
from chalice.local import LambdaContext

from chalicelib.adapters.clock import AdjustableClock
from chalicelib.adapters.raw_mail import RawMailSettings, RawMailStore
from localdesk.server import Gate
from localdesk.smtp import InboundAddress, InboundDelivery, SMTPListen, start_smtp
from tests.localrun import LocalRun, free_port

ADDRESS = "help@desk.example.org"
LIMIT = 4000


def mail(subject: str = "The printer jams", to: str = ADDRESS, body: str = "Every second page.") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ada Requester <ada@example.org>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


class Recorder:
    """The deployed handler, with each event it was given and its answer kept (to deliver one again)."""

    def __init__(self) -> None:
        from app import app

        self.function = app.handler_map["inbound_mail"]
        self.context = LambdaContext("inbound_mail", memory_size=512)
        self.events: list[dict[str, Any]] = []
        self.outcomes: list[Any] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        outcome = self.function(event, self.context)
        self.outcomes.append(outcome)
        return outcome


@pytest.fixture
def server(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SMTPListen, Recorder, str]]:
    """The local run's SMTP server in this process, on moto's bucket and tables; (where it listens, handler, bucket)."""
    bucket = aws["RawMailBucketName"]
    monkeypatch.setenv("HELPDESK_RAW_MAIL_BUCKET", bucket)
    monkeypatch.setenv("HELPDESK_MAX_INBOUND_BYTES", str(LIMIT))
    store = RawMailStore(
        RawMailSettings.from_env({"HELPDESK_RAW_MAIL_BUCKET": bucket, "HELPDESK_MAX_INBOUND_BYTES": str(LIMIT)})
    )
    recorder = Recorder()
    delivery = InboundDelivery(store, recorder, InboundAddress(ADDRESS), Gate().turn, AdjustableClock().now)
    listen = SMTPListen("127.0.0.1", free_port(), chosen=True)
    controller = start_smtp(delivery, listen)
    try:
        yield listen, recorder, bucket
    finally:
        controller.stop()


def test_a_mail_sent_over_smtp_is_stored_in_s3_and_received_once(server: tuple[SMTPListen, Recorder, str]) -> None:
    listen, recorder, bucket = server
    with smtplib.SMTP(listen.host, listen.port) as smtp:
        refused = smtp.send_message(mail())

    [outcome] = recorder.outcomes
    stored = (
        boto3.client("s3", region_name="us-east-1")
        .get_object(Bucket=bucket, Key=f"inbound/{outcome['ses_message_id']}")["Body"]
        .read()
    )
    assert refused == {}
    assert (outcome["received"], outcome["sender"], outcome["subject"]) == (True, "ada@example.org", "The printer jams")
    assert stored.startswith(b"Return-Path: <ada@example.org>\r\nReceived: from ")
    assert b"Subject: The printer jams" in stored


def test_the_same_notification_delivered_again_is_a_duplicate(server: tuple[SMTPListen, Recorder, str]) -> None:
    listen, recorder, _ = server
    with smtplib.SMTP(listen.host, listen.port) as smtp:
        smtp.send_message(mail())

    again = recorder(recorder.events[0])  # SNS delivers at least once

    assert recorder.outcomes[0]["duplicate"] is False
    assert again == {"ses_message_id": recorder.outcomes[0]["ses_message_id"], "duplicate": True}


def test_a_plus_labelled_address_is_the_desks_too(server: tuple[SMTPListen, Recorder, str]) -> None:
    listen, recorder, _ = server
    with smtplib.SMTP(listen.host, listen.port) as smtp:
        smtp.sendmail("ada@example.org", ["Help+Billing@desk.example.org"], mail().as_bytes(policy=SMTP))
    assert recorder.outcomes[0]["received"] is True


@pytest.mark.parametrize("recipient", ["someone@example.org", "help@example.org", "helpdesk@desk.example.org"])
def test_mail_for_any_other_address_is_refused_with_550(
    server: tuple[SMTPListen, Recorder, str], recipient: str
) -> None:
    listen, recorder, _ = server
    with smtplib.SMTP(listen.host, listen.port) as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.sendmail("ada@example.org", [recipient], mail(to=recipient).as_bytes(policy=SMTP))
    assert refused.value.recipients[recipient][0] == 550
    assert recorder.events == []


def test_a_mail_over_the_size_limit_is_refused_with_552_and_never_stored(
    server: tuple[SMTPListen, Recorder, str],
) -> None:
    listen, recorder, _ = server
    with smtplib.SMTP(listen.host, listen.port) as smtp:
        smtp.ehlo()
        advertised = smtp.esmtp_features.get("size")
        # No SIZE declared in MAIL FROM: the server counts the data itself.
        code, _ = smtp.docmd("MAIL FROM:<ada@example.org>")
        smtp.docmd(f"RCPT TO:<{ADDRESS}>")
        refused, _ = smtp.data(mail(body=("x" * 70 + "\n") * (LIMIT // 50)).as_bytes(policy=SMTP))
    assert (code, advertised) == (250, str(LIMIT))
    assert refused == 552
    assert recorder.events == []


def test_a_declared_size_over_the_limit_is_refused_before_the_data(server: tuple[SMTPListen, Recorder, str]) -> None:
    listen, _, _ = server
    with smtplib.SMTP(listen.host, listen.port) as smtp:
        smtp.ehlo()
        code, _ = smtp.docmd(f"MAIL FROM:<ada@example.org> SIZE={LIMIT + 1}")
    assert code == 552


# the local run as a person starts it ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_run() -> Iterator[tuple[LocalRun, int, str]]:
    """A local desk of its own: its SMTP port is chosen (2525 may be another desk's), and so is its address."""
    port = free_port()
    run = LocalRun(extra_env={"HELPDESK_SMTP_PORT": str(port), "HELPDESK_INBOUND_ADDRESS": "support@desk.test"})
    try:
        yield run, port, run.wait_ready()
    finally:
        run.close(graceful=False)


def test_the_local_run_prints_the_inbound_address_and_the_smtp_port(local_run: tuple[LocalRun, int, str]) -> None:
    run, port, _ = local_run
    assert re.search(rf"Mail in\s+support@desk\.test at smtp://127\.0\.0\.1:{port}\b", run.output)


def test_the_local_runs_smtp_server_takes_mail_for_its_address_only(local_run: tuple[LocalRun, int, str]) -> None:
    _, port, _ = local_run
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        accepted = smtp.send_message(mail(to="support@desk.test"))
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.send_message(mail(to=ADDRESS))
    assert accepted == {}


def test_post_local_inbound_delivers_a_raw_message_as_smtp_does(local_run: tuple[LocalRun, int, str]) -> None:
    _, _, url = local_run
    raw = mail("Sent by a script", to="support@desk.test").as_bytes(policy=SMTP)
    status, answer = _post_raw(f"{url}/_local/inbound", raw)
    empty_status, empty = _post_raw(f"{url}/_local/inbound", b"")
    assert status == 202
    assert answer["outcome"]["subject"] == "Sent by a script"
    assert answer["key"] == f"inbound/{answer['ses_message_id']}"
    assert (empty_status, empty["error"]["code"]) == (400, "malformed_request")


def _post_raw(url: str, raw: bytes) -> tuple[int, Any]:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=raw, headers={"Content-Type": "message/rfc822"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
