"""Entry glue for mail in: SES's notification (over SNS) to the stored message, then to the inbound service."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.adapters.raw_mail import RawMailStore
    from chalicelib.services.inbound import Inbound

logger = logging.getLogger("helpdesk.inbound")
# SES's verdicts, by the name the inbound service is given (`receipt.<name>Verdict.status`).
VERDICTS = ("spam", "virus", "spf", "dkim", "dmarc")
# Mail SES judged so is dropped before it is read: scanning is on for the desk's receipt rule.
DROPPED = ("spam", "virus")
MESSAGE_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


class MalformedNotificationError(ValueError):
    """The SNS message is not an SES "Received" notification of an S3 action: redelivering it would not help."""


# Headers that say no person wrote the mail (RFC 3834 and the usual responders'): a message too large to read is
# answered only when none of them is there. SES's notification carries the headers, so the message is not read.
AUTOMATIC_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-reply", "x-auto-response-suppress", "list-id")
AUTOMATIC_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")
DAEMONS = ("mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster")


@dataclass(frozen=True)
class Notification:
    ses_message_id: str
    bucket: str
    key: str
    verdicts: dict[str, str]
    recipients: tuple[str, ...] = ()  # the envelope's (receipt.recipients)
    source: str = ""  # the envelope's sender (mail.source, the Return-Path); "" for a bounce
    automatic: bool = False  # the notification's headers say no person wrote it


def _automatic(mail: dict[str, Any], source: str) -> bool:
    """Whether SES's copy of the headers (mail.headers, mail.commonHeaders) marks the mail automatic."""
    if not source.strip().strip("<>") or source.rpartition("@")[0].lower() in DAEMONS:
        return True
    headers = mail.get("headers")
    for header in headers if isinstance(headers, list) else []:
        name = str(header.get("name", "")).lower() if isinstance(header, dict) else ""
        value = str(header.get("value", "")).split(";", 1)[0].strip().lower() if isinstance(header, dict) else ""
        if name == "auto-submitted" and value not in ("", "no"):
            return True
        if name == "precedence" and value in AUTOMATIC_PRECEDENCE:
            return True
        if name in AUTOMATIC_HEADERS and value not in ("no", "false"):
            return True
    return False


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def parse_notification(event_message: str) -> Notification:
    try:
        document = json.loads(event_message)
    except (TypeError, ValueError):
        raise MalformedNotificationError("the SNS message is not JSON") from None
    if not isinstance(document, dict) or document.get("notificationType") != "Received":
        kind = document.get("notificationType") if isinstance(document, dict) else None
        raise MalformedNotificationError(f"not an SES Received notification (notificationType {kind!r})")
    mail, receipt = document.get("mail"), document.get("receipt")
    if not isinstance(mail, dict) or not isinstance(receipt, dict):
        raise MalformedNotificationError("the notification has no mail or receipt object")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not MESSAGE_ID.match(message_id):
        raise MalformedNotificationError(f"mail.messageId {message_id!r} is not an SES message id")
    action = receipt.get("action")
    if not isinstance(action, dict) or action.get("type") != "S3":
        raise MalformedNotificationError("receipt.action is not the S3 action (type S3, bucketName, objectKey)")
    bucket, key = action.get("bucketName"), action.get("objectKey")
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise MalformedNotificationError("receipt.action names no bucketName and objectKey")
    verdicts = {}
    for name in VERDICTS:
        verdict = receipt.get(f"{name}Verdict")
        status = verdict.get("status") if isinstance(verdict, dict) else None
        if isinstance(status, str):
            verdicts[name] = status.upper()
    source = mail.get("source") if isinstance(mail.get("source"), str) else ""
    return Notification(
        message_id,
        bucket,
        key,
        verdicts,
        recipients=_strings(receipt.get("recipients")),
        source=str(source),
        automatic=_automatic(mail, str(source)),
    )


def inbound_mail(event_message: str) -> dict[str, Any]:
    """Handle one notification: the outcome, or an exception only where a retry could succeed (S3 or DynamoDB down).

    SNS (through Lambda's asynchronous retries) delivers again when this raises, so a message that can never be
    read — malformed, foreign, too large, gone — is logged and answered, not raised.
    """
    from chalicelib.adapters.raw_mail import ForeignMailError, MailGoneError, MailTooLargeError

    try:
        notification = parse_notification(event_message)
    except MalformedNotificationError as error:
        logger.error("inbound notification ignored: %s", error)
        return {"ignored": "malformed", "reason": str(error)}
    message_id = notification.ses_message_id
    failed = [name for name in DROPPED if notification.verdicts.get(name) == "FAIL"]
    if failed:
        logger.warning("inbound message %s dropped: SES's %s verdict is FAIL", message_id, " and ".join(failed))
        return {"ses_message_id": message_id, "dropped": failed[0]}
    store = raw_mail_store()
    try:
        raw = store.fetch(notification.bucket, notification.key)
    except ForeignMailError as error:
        logger.error("inbound message %s refused: %s", message_id, error)
        return {"ses_message_id": message_id, "refused": "foreign"}
    except MailTooLargeError as error:
        logger.warning("inbound message %s opens nothing: %s", message_id, error)
        answered = False
        if notification.automatic:
            logger.info("inbound message %s is automatic mail: the refusal is not answered", message_id)
        else:
            answered = inbound_service().answer_too_large(message_id, notification.source, error.size, error.limit)
        return {
            "ses_message_id": message_id,
            "refused": "too_large",
            "size": error.size,
            "limit": error.limit,
            "answered": answered,
        }
    except MailGoneError as error:
        logger.error("inbound message %s lost: %s", message_id, error)
        return {"ses_message_id": message_id, "refused": "gone"}
    return inbound_service().receive(
        message_id, raw, notification.verdicts, recipients=notification.recipients, key=notification.key
    )


def raw_mail_store() -> RawMailStore:
    from chalicelib.adapters.raw_mail import RawMailSettings, RawMailStore

    return RawMailStore(RawMailSettings.from_env(os.environ))


def inbound_service() -> Inbound:
    """The inbound service on the desk table, with the desk's clock (the local run's moves when told to), its
    signing key (the reply addresses and Message-IDs it signs), its outbox (the answer to a too large mail) and
    the attachments service, handed over unbuilt: only a mail with files builds it (and loads S3's client)."""
    from chalicelib import wiring
    from chalicelib.adapters import inbound_store
    from chalicelib.services.inbound import Inbound, MailSettings

    settings = wiring.settings()
    desk = wiring.desk()
    inbound_store.bind(settings.desk_table, settings.region)
    postman, _ = wiring.mail()
    mail = MailSettings(
        inbound_address=settings.inbound_address,
        sender_address=settings.sender_email,
        secret=desk.store.signing_secret,
        form_url=f"{settings.public_url or wiring.LOCAL_URL}/form",
    )
    return Inbound(inbound_store.DynamoInboundLog(), desk.clock, desk, mail, postman.post, wiring.attachments)
