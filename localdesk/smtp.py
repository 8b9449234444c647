"""Mail in, locally: an SMTP server that delivers as SES does (raw message into the embedded S3, notification to
the deployed `inbound_mail` handler), and the same delivery for POST /_local/inbound."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import string
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.raw_mail import RawMailStore

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope, Session
    from chalice import Chalice

logger = logging.getLogger("localdesk.smtp")
DEFAULT_SMTP_PORT = 2525
LOCAL_TOPIC = "arn:aws:sns:us-east-1:123456789012:helpdesk-inbound-mail"
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class InboundAddress:
    """The desk's address; mail to it, or to it with a +label (help+billing@…), is the desk's, as SES matches it."""

    address: str

    @property
    def local_part(self) -> str:
        return self.address.rsplit("@", 1)[0].lower()

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1].lower()

    def accepts(self, recipient: str) -> bool:
        local, at, domain = recipient.strip().strip("<>").rpartition("@")
        if not at or domain.lower() != self.domain:
            return False
        return local.lower().split("+", 1)[0] == self.local_part


def new_message_id() -> str:
    """An id shaped like SES's (lower-case letters and digits), which also names the stored object."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))


def ses_notification(
    message_id: str, bucket: str, key: str, sender: str, recipients: list[str], raw: bytes, now: datetime
) -> dict[str, Any]:
    """What SES publishes after its S3 action stored a message (scanning on: every verdict PASS locally)."""
    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    passed = {"status": "PASS"}
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": stamp,
            "source": sender,
            "messageId": message_id,
            "destination": recipients,
            "headersTruncated": False,
        },
        "receipt": {
            "timestamp": stamp,
            "processingTimeMillis": 1,
            "recipients": recipients,
            "spamVerdict": passed,
            "virusVerdict": passed,
            "spfVerdict": {"status": "GRAY"},
            "dkimVerdict": {"status": "GRAY"},
            "dmarcVerdict": {"status": "GRAY"},
            "action": {"type": "S3", "topicArn": LOCAL_TOPIC, "bucketName": bucket, "objectKey": key},
        },
    }


def sns_event(notification: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The Lambda event SNS delivers to a subscribed function."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{LOCAL_TOPIC}:local",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": new_message_id(),
                    "TopicArn": LOCAL_TOPIC,
                    "Subject": "Amazon SES Email Receipt Notification",
                    "Message": json.dumps(notification),
                    "Timestamp": now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "MessageAttributes": {},
                },
            }
        ]
    }


class InboundDelivery:
    """SES's part for the local run: store, notify, and hand the notification to the deployed handler."""

    def __init__(
        self,
        store: RawMailStore,
        handler: Callable[[dict[str, Any]], Any],
        address: InboundAddress,
        turn: Callable[[], AbstractContextManager[None]],
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.handler = handler
        self.address = address
        self.turn = turn
        self.now = now

    @classmethod
    def for_app(
        cls,
        app: Chalice,
        store: RawMailStore,
        address: str,
        turn: Callable[[], AbstractContextManager[None]],
        now: Callable[[], datetime],
    ) -> InboundDelivery:
        from chalice.local import LambdaContext

        function = app.handler_map["inbound_mail"]
        context = LambdaContext("inbound_mail", memory_size=512)
        return cls(store, lambda event: function(event, context), InboundAddress(address), turn, now)

    @property
    def max_bytes(self) -> int:
        return self.store.settings.max_bytes

    def deliver(self, raw: bytes, sender: str, recipients: list[str], received_by: str = "") -> dict[str, Any]:
        """Deliver at the gate (the SMTP server's thread); see deliver_now."""
        with self.turn():
            return self.deliver_now(raw, sender, recipients, received_by)

    def deliver_now(self, raw: bytes, sender: str, recipients: list[str], received_by: str = "") -> dict[str, Any]:
        """For a caller that holds the gate's turn already (a /_local/ route): the message id, key and outcome."""
        message_id = new_message_id()
        now = self.now()
        trace = f"Return-Path: <{sender}>\r\nReceived: from {received_by or 'localhost'} by localdesk with SMTP id "
        trace += (
            f"{message_id} for <{recipients[0] if recipients else self.address.address}>; {format_datetime(now)}\r\n"
        )
        stored = trace.encode() + raw  # SES adds its trace headers to what it stores, too
        key = self.store.store(message_id, stored)
        notification = ses_notification(message_id, self.store.settings.bucket, key, sender, recipients, stored, now)
        outcome = self.handler(sns_event(notification, now))
        logger.info("local inbound mail %s delivered: %s", message_id, outcome)
        return {"ses_message_id": message_id, "key": key, "outcome": outcome}


class DeskSMTPHandler:
    """aiosmtpd's handler: only the desk's address (550 for others); delivery happens off the event loop."""

    def __init__(self, delivery: InboundDelivery) -> None:
        self.delivery = delivery

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.delivery.address.accepts(address):
            return f"550 5.1.1 <{address}>: this desk receives mail for {self.delivery.address.address} only"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        body = raw if isinstance(raw, bytes) else raw.encode()
        if len(body) > self.delivery.max_bytes:
            return f"552 5.3.4 the message is over the desk's limit of {self.delivery.max_bytes} bytes"
        sender = envelope.mail_from or ""
        helo = str(session.host_name or "unknown")
        try:
            done = await asyncio.get_running_loop().run_in_executor(
                None, self.delivery.deliver, body, sender, list(envelope.rcpt_tos), helo
            )
        except Exception:
            logger.exception("local inbound mail could not be delivered")
            return "451 4.3.0 the desk could not take the message now; try again later"
        return f"250 2.0.0 OK {done['ses_message_id']}"


@dataclass(frozen=True)
class SMTPListen:
    host: str
    port: int
    chosen: bool  # HELPDESK_SMTP_PORT was set (else the default, or a free port when the default is taken)


def smtp_listen(text: str, host: str = "127.0.0.1") -> SMTPListen:
    """The port from HELPDESK_SMTP_PORT, or 2525; when 2525 is taken (another local desk runs), a free port."""
    from localdesk.environment import SetupError

    text = text.strip()
    if text:
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            raise SetupError(f"HELPDESK_SMTP_PORT must be a TCP port number from 1 to 65535, not {text!r}")
        return SMTPListen(host, int(text), chosen=True)
    if _free(host, DEFAULT_SMTP_PORT):
        return SMTPListen(host, DEFAULT_SMTP_PORT, chosen=False)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return SMTPListen(host, int(probe.getsockname()[1]), chosen=False)


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def start_smtp(delivery: InboundDelivery, listen: SMTPListen) -> Controller:
    """A real SMTP server (aiosmtpd, SIZE advertised: 552 past the limit) in its own thread."""
    from aiosmtpd.controller import Controller

    from localdesk.environment import SetupError

    controller = Controller(
        DeskSMTPHandler(delivery),
        hostname=listen.host,
        port=listen.port,
        data_size_limit=delivery.max_bytes,
        ident="localdesk",
    )
    try:
        controller.start()
    except OSError as exc:
        raise SetupError(
            f"cannot receive mail on {listen.host}:{listen.port} ({exc.strerror or exc}): "
            "set HELPDESK_SMTP_PORT to a free port"
        ) from None
    return controller
