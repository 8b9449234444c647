"""Mail in, deployed: SES's notification over SNS to the stored message in S3, then received once by the service."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib import inbound_entry, wiring
from chalicelib.adapters.raw_mail import MailTooLargeError, RawMailSettings, RawMailStore
from chalicelib.services.inbound import Inbound, MailSettings, Receipt, headers_of
from tests.clocks import ManualClock

RAW = (
    b"Return-Path: <ada@example.org>\r\n"
    b"From: Ada Requester <Ada@Example.org>\r\n"
    b"To: help@desk.example.org\r\n"
    b"Subject: The printer\r\n  on floor 2 jams\r\n"
    b"Message-ID: <1@example.org>\r\n"
    b"\r\n"
    b"Every second page since Monday.\r\n"
)


def notification(
    message_id: str = "d6iitobk75ur44p8kdnnp7g2n800",
    bucket: str = "",
    key: str | None = None,
    spam: str = "PASS",
    virus: str = "PASS",
) -> str:
    """An SES "Received" notification of the S3 action, as SES publishes it (docs: receiving-email-notifications)."""
    return json.dumps(
        {
            "notificationType": "Received",
            "mail": {"timestamp": "2026-12-01T09:00:00.000Z", "source": "ada@example.org", "messageId": message_id},
            "receipt": {
                "recipients": ["help@desk.example.org"],
                "spamVerdict": {"status": spam},
                "virusVerdict": {"status": virus},
                "spfVerdict": {"status": "PASS"},
                "dkimVerdict": {"status": "GRAY"},
                "dmarcVerdict": {"status": "PASS"},
                "action": {
                    "type": "S3",
                    "topicArn": "arn:aws:sns:us-east-1:123456789012:inbound",
                    "bucketName": bucket,
                    "objectKey": key if key is not None else f"inbound/{message_id}",
                },
            },
        }
    )


class RecordingS3:
    """The real (moto) S3 client, with the calls made through it written down."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []

    def head_object(self, **kwargs: Any) -> Any:
        self.calls.append("head_object")
        return self.client.head_object(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        self.calls.append("get_object")
        return self.client.get_object(**kwargs)


class UnreachableS3:
    def head_object(self, **kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")


class FakeInboundLog:
    def __init__(self) -> None:
        self.records: dict[str, tuple[str, str, int, datetime]] = {}
        self.done: dict[str, str] = {}

    def claim(self, ses_message_id: str, sender: str, subject: str, size: int, at: datetime) -> Receipt:
        if ses_message_id in self.records:
            return Receipt(False, ses_message_id in self.done, self.records[ses_message_id][3])
        self.records[ses_message_id] = (sender, subject, size, at)
        return Receipt(True, False, at)

    def finish(
        self, ses_message_id: str, outcome: str, ticket_id: str | None, comment_id: str | None, at: datetime
    ) -> None:
        self.done[ses_message_id] = outcome


def service(log: FakeInboundLog, clock: ManualClock) -> Inbound:
    """The inbound service on the desk (moto), with the log in memory."""
    desk = wiring.desk()
    settings = MailSettings("help@desk.example.org", "desk@example.org", desk.store.signing_secret, "https://x/form")
    return Inbound(log, clock, desk, settings, wiring.mail()[0].post)


@pytest.fixture
def bucket(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The raw mail bucket of the stack (infra/template.json), named to the handler as the package names it."""
    name = aws["RawMailBucketName"]
    monkeypatch.setenv("HELPDESK_RAW_MAIL_BUCKET", name)
    monkeypatch.setenv("HELPDESK_RAW_MAIL_PREFIX", "inbound/")
    monkeypatch.delenv("HELPDESK_MAX_INBOUND_BYTES", raising=False)
    return name


def s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def stored(bucket: str, message_id: str = "d6iitobk75ur44p8kdnnp7g2n800", raw: bytes = RAW) -> str:
    key = f"inbound/{message_id}"
    s3().put_object(Bucket=bucket, Key=key, Body=raw)
    return key


# the service ------------------------------------------------------------------------------------------------------


def test_the_service_handles_a_message_once_and_records_it_done(aws: dict[str, str], clock: ManualClock) -> None:
    log = FakeInboundLog()
    inbound = service(log, clock)

    first = inbound.receive("m1", RAW, {"spam": "PASS"})
    again = inbound.receive("m1", RAW, {"spam": "PASS"})

    assert {k: first[k] for k in ("duplicate", "received", "sender", "subject", "size", "outcome", "ref")} == {
        "duplicate": False,
        "received": True,
        "sender": "ada@example.org",
        "subject": "The printer on floor 2 jams",
        "size": len(RAW),
        "outcome": "ticket",
        "ref": "HD-1001",
    }
    assert again == {"ses_message_id": "m1", "duplicate": True}
    assert log.records == {"m1": ("ada@example.org", "The printer on floor 2 jams", len(RAW), clock.now())}
    assert log.done == {"m1": "ticket"}


def test_a_message_without_from_is_recorded_as_unreadable(aws: dict[str, str], clock: ManualClock) -> None:
    log = FakeInboundLog()
    outcome = service(log, clock).receive("m2", b"\r\nno headers at all\r\n", {})
    assert (outcome["received"], outcome["sender"], outcome["subject"], outcome["outcome"]) == (
        True,
        "",
        "",
        "unreadable",
    )
    assert log.done == {"m2": "unreadable"}


def test_headers_are_decoded_from_their_encoded_words() -> None:
    raw = b"From: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>\r\nSubject: =?utf-8?q?Caf=C3=A9_ferm=C3=A9?=\r\n\r\nx"
    assert headers_of(raw) == ("zoe@example.org", "Café fermé")


# the transport, against moto's S3 and the desk table --------------------------------------------------------------


def test_a_stored_message_is_received_once_and_a_redelivery_is_a_duplicate(bucket: str) -> None:
    stored(bucket)

    first = inbound_entry.inbound_mail(notification(bucket=bucket))
    again = inbound_entry.inbound_mail(notification(bucket=bucket))

    assert (first["received"], first["sender"], first["duplicate"]) == (True, "ada@example.org", False)
    assert again == {"ses_message_id": "d6iitobk75ur44p8kdnnp7g2n800", "duplicate": True}


def test_the_deployed_function_handles_sess_notification_through_sns(bucket: str) -> None:
    from chalice.test import Client

    from app import app

    stored(bucket, "viasns0001")
    with Client(app) as client:
        event = client.events.generate_sns_event(message=notification("viasns0001", bucket=bucket), subject="SES")
        answer = client.lambda_.invoke("inbound_mail", event)

    assert answer.payload["received"] is True
    assert answer.payload["subject"] == "The printer on floor 2 jams"


@pytest.mark.parametrize(("spam", "virus", "dropped"), [("FAIL", "PASS", "spam"), ("PASS", "FAIL", "virus")])
def test_mail_ses_judged_spam_or_a_virus_is_dropped_unread(bucket: str, spam: str, virus: str, dropped: str) -> None:
    stored(bucket)

    outcome = inbound_entry.inbound_mail(notification(bucket=bucket, spam=spam, virus=virus))
    after = inbound_entry.inbound_mail(notification(bucket=bucket))  # the same message, had it been clean

    assert outcome == {"ses_message_id": "d6iitobk75ur44p8kdnnp7g2n800", "dropped": dropped}
    assert after["received"] is True  # nothing was recorded for the dropped delivery


def test_a_notification_naming_another_bucket_is_refused_without_reading_it(bucket: str) -> None:
    s3().create_bucket(Bucket="someone-elses-mail")
    s3().put_object(Bucket="someone-elses-mail", Key="inbound/d6iitobk75ur44p8kdnnp7g2n800", Body=RAW)

    outcome = inbound_entry.inbound_mail(notification(bucket="someone-elses-mail"))

    assert outcome == {"ses_message_id": "d6iitobk75ur44p8kdnnp7g2n800", "refused": "foreign"}


@pytest.mark.parametrize("key", ["elsewhere/d6iitobk75ur44p8kdnnp7g2n800", "inbound/../secrets", "inbound/", "x"])
def test_a_key_outside_the_prefix_is_refused(bucket: str, key: str) -> None:
    s3().put_object(Bucket=bucket, Key=key, Body=RAW)
    assert inbound_entry.inbound_mail(notification(bucket=bucket, key=key))["refused"] == "foreign"


def test_a_message_over_the_limit_is_refused_from_its_size_without_downloading_it(
    bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = stored(bucket, raw=RAW + b"x" * 1000)
    settings = RawMailSettings(bucket=bucket, max_bytes=len(RAW) + 999)
    client = RecordingS3(s3())

    with pytest.raises(MailTooLargeError) as refused:
        RawMailStore(settings, client).fetch(bucket, key)
    monkeypatch.setenv("HELPDESK_MAX_INBOUND_BYTES", str(len(RAW) + 999))
    outcome = inbound_entry.inbound_mail(notification(bucket=bucket))

    assert client.calls == ["head_object"]
    assert refused.value.size == len(RAW) + 1000
    assert outcome == {
        "ses_message_id": "d6iitobk75ur44p8kdnnp7g2n800",
        "refused": "too_large",
        "size": len(RAW) + 1000,
        "limit": len(RAW) + 999,
        "answered": True,
    }


def test_a_message_at_the_limit_is_read(bucket: str) -> None:
    key = stored(bucket)
    client = RecordingS3(s3())
    assert RawMailStore(RawMailSettings(bucket=bucket, max_bytes=len(RAW)), client).fetch(bucket, key) == RAW
    assert client.calls == ["head_object", "get_object"]


def test_a_message_no_longer_in_the_bucket_is_logged_not_retried(bucket: str, caplog: pytest.LogCaptureFixture) -> None:
    outcome = inbound_entry.inbound_mail(notification("expired0001", bucket=bucket))
    assert outcome == {"ses_message_id": "expired0001", "refused": "gone"}
    assert "expired0001 lost" in caplog.text


def test_s3_being_unreachable_raises_so_that_the_delivery_is_retried(
    bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = RawMailSettings(bucket=bucket)
    monkeypatch.setattr(inbound_entry, "raw_mail_store", lambda: RawMailStore(settings, UnreachableS3()))
    with pytest.raises(EndpointConnectionError):
        inbound_entry.inbound_mail(notification(bucket=bucket))


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[]",
        json.dumps({"notificationType": "Bounce"}),
        json.dumps({"notificationType": "Received", "mail": {}, "receipt": {}}),
        notification(message_id="../../etc"),
        json.dumps({**json.loads(notification()), "receipt": {"action": {"type": "SNS"}}}),
        json.dumps({**json.loads(notification()), "receipt": {"action": {"type": "S3", "bucketName": 7}}}),
    ],
)
def test_a_malformed_notification_is_logged_and_answered_never_raised(
    bucket: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = inbound_entry.inbound_mail(message)
    assert outcome["ignored"] == "malformed"
    assert "inbound notification ignored" in caplog.text
