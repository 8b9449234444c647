"""Mail in: each message SES delivered becomes a ticket or a comment once, whatever the number of deliveries.

The rules (DESIGN.md §6):
* A new message opens a ticket: requester from From, subject, the message's own text as the description, the type
  by the address it was sent to (`desk.inbound_aliases`) or the desk's default; required intake fields may be
  missing (the acknowledgement's portal link is where the requester adds them).
* A reply is matched to its ticket by the signed reply address it was sent to or a signed Message-ID in its
  In-Reply-To/References; failing those, by the `[HD-…]` reference in its subject. It becomes a comment only if its
  sender is that ticket's requester, or (signed matches only) an active agent: a public reply, or an internal note
  when it starts with `#note`. Anyone else's reply opens a new ticket that mentions the reference. The comment holds
  only the new text (chalicelib/mail/replies.py); the original message stays in S3 and agents can download it.
* Automatic mail (auto-replies, bounces, lists, the desk's own) opens nothing and is answered by nothing.
* A sender over the per-address new-ticket limit: the message is recorded as refused and logged, never answered
  (an answer would be the flood).
* Idempotent: the receipt is claimed first but marked done only after the ticket or comment is stored; a redelivery
  of a done message changes nothing, of an unfinished one is handled again, and the writes it repeats are
  conditional (the ticket's idempotency claim `mail:<SES id>`, the comment's id and time taken from the message).
* Files (every attachment and inline image, DESIGN.md §7) are kept on the ticket within the desk's limits: a new
  ticket's after it is opened (`comment_id` None), a comment's before the comment is written (so whatever reads the
  comment finds them). Their ids come from the message, so a redelivery stores none twice. A file not kept is
  logged and named in one line at the end of the description or comment; the mail itself is never lost for it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.addresses import normalised_address
from chalicelib.domain.attachments import AttachmentTooLargeError, size_text
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import RateLimitedError, ValidationError
from chalicelib.domain.threading import ticket_of_address, ticket_of_message_id
from chalicelib.domain.tickets import (
    AGENT,
    COMMENT_LIMIT,
    DESCRIPTION_LIMIT,
    REQUESTER,
    SUBJECT_LIMIT,
    Actor,
    Ticket,
    normalise_email,
    valid_email,
)
from chalicelib.services.limits import KEEP, Limits, window
from chalicelib.services.ports import Clock

if TYPE_CHECKING:
    from chalicelib.domain.attachments import Attachment, AttachmentLimits
    from chalicelib.mail.inbound import InboundAttachment, InboundMail
    from chalicelib.services.desk import Desk
    from chalicelib.services.mailing import Letter

logger = logging.getLogger("helpdesk.inbound")
MAX_LOGGED_CHARS = 200  # a header is logged only this far: a hostile subject cannot flood the log
NOTE_PREFIX = "#note"
NO_TEXT = "(This mail had no text of its own. An agent can open the original message from the ticket.)"
NO_SUBJECT = "(no subject)"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as the desk's ids (chalicelib/adapters/ids.py)
_NOTE = re.compile(r"^\s*#note\b[ \t:]*", re.IGNORECASE)
NAMED_REFUSALS = 10  # the files not kept named one by one in the line about them; the rest are counted
NO_FILES = "this desk keeps no files from mail"  # the reason when the service was built without attachments


@dataclass(frozen=True)
class Receipt:
    """What the inbound log knows of a message: recorded just now, handled already, and when it first arrived."""

    first: bool
    done: bool
    received_at: datetime


class InboundLog(Protocol):
    def claim(self, ses_message_id: str, sender: str, subject: str, size: int, at: datetime) -> Receipt:
        """Record the message unless it is recorded already; the record as it stands."""
        ...

    def finish(
        self, ses_message_id: str, outcome: str, ticket_id: str | None, comment_id: str | None, at: datetime
    ) -> None:
        """Mark the message handled."""
        ...


class MailFiles(Protocol):
    """The attachments service as mail in uses it (chalicelib/services/attachments.py's Attachments)."""

    @property
    def limits(self) -> AttachmentLimits: ...

    def store_bytes(
        self,
        ticket_id: str,
        comment_id: str | None,
        filename: str | None,
        declared_type: str | None,
        data: bytes,
        by: str,
        attachment_id: str | None = None,
    ) -> Attachment:
        """Check, store and record one file; with `attachment_id`, a second call answers the file stored."""
        ...


@dataclass(frozen=True)
class NotKept:
    """A file of the mail that is not on the ticket, and why (the words the agent reads)."""

    index: int  # its place among the mail's files, from 0
    filename: str
    size: int
    reason: str


@dataclass(frozen=True)
class _Plan:
    """The mail's files split by the limits before anything is stored: (place, part) to keep, and the rest."""

    kept: tuple[tuple[int, InboundAttachment], ...]
    refused: tuple[NotKept, ...]


@dataclass(frozen=True)
class MailSettings:
    """Where the desk's mail comes from and goes to, and the key that signs what names a ticket in it."""

    inbound_address: str | None  # the desk's address (reply addresses are it with a +tag); None: no signed ones
    sender_address: str  # the desk's From: its Message-IDs are at this domain
    secret: Callable[[], bytes]
    form_url: str  # offered in the answer to a message too large to read

    @property
    def domain(self) -> str:
        return self.sender_address.rpartition("@")[2].lower()


def headers_of(raw: bytes) -> tuple[str, str]:
    """The sender's address and the subject, read from the headers alone (the body is never parsed here)."""
    message = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    try:
        sender = parseaddr(str(message.get("From", "")))[1]
        subject = str(message.get("Subject", ""))
    except (ValueError, IndexError, TypeError):  # a header the parser cannot make sense of
        return "", ""
    return sender.strip().lower(), " ".join(subject.split())


def mail_id(ses_message_id: str, at: datetime) -> str:
    """A comment id made from the message (ULID layout: its arrival's milliseconds, then a hash of its SES id):
    every delivery of one message gives the same id."""
    randomness = int.from_bytes(hashlib.sha256(f"mail\n{ses_message_id}".encode()).digest()[:10], "big")
    value = (int(at.timestamp() * 1000) << 80) | randomness
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def file_id(ses_message_id: str, at: datetime, index: int) -> str:
    """The attachment id of the mail's file at `index` (ULID layout: the arrival's milliseconds, a hash of the SES
    id, then the place): every delivery gives the same ids, and one mail's files sort in the mail's order."""
    digest = int.from_bytes(hashlib.sha256(f"file\n{ses_message_id}".encode()).digest()[:8], "big")
    value = (int(at.timestamp() * 1000) << 80) | (digest << 16) | (index & 0xFFFF)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _plan(parts: tuple[InboundAttachment, ...], limits: AttachmentLimits, room: int | None) -> _Plan:
    """Which files the limits let in, decided from the mail alone so that every delivery decides the same: an
    empty file or one over the size a file is not kept, nor those past the count one message may bring, nor
    (with `room`, what the ticket can still hold) those that would pass the ticket's total."""
    kept: list[tuple[int, InboundAttachment]] = []
    refused: list[NotKept] = []
    for index, part in enumerate(parts):
        reason = None
        if part.size == 0:
            reason = "empty"
        elif part.size > limits.max_file_bytes:
            reason = f"over the {size_text(limits.max_file_bytes)} limit for a file"
        elif len(kept) >= limits.max_files_per_comment:
            reason = f"over the {limits.max_files_per_comment} files one message may bring"
        elif room is not None and part.size > room:
            reason = _full_reason(limits.max_ticket_bytes)
        if reason is not None:
            refused.append(NotKept(index, part.filename, part.size, reason))
            continue
        kept.append((index, part))
        if room is not None:
            room -= part.size
    return _Plan(tuple(kept), tuple(refused))


def _full_reason(max_ticket_bytes: int) -> str:
    return f"past the {size_text(max_ticket_bytes)} a ticket's files may come to"


def _not_kept_line(refused: Iterable[NotKept]) -> str:
    """The line the description or comment ends with, naming the files not kept ("" when every file was)."""
    ordered = sorted(refused, key=lambda item: item.index)
    if not ordered:
        return ""
    named = [
        f"{item.filename}, {item.reason}"
        if item.size == 0
        else f"{item.filename}, {size_text(item.size)}, {item.reason}"
        for item in ordered[:NAMED_REFUSALS]
    ]
    rest = len(ordered) - len(named)
    if rest:
        named.append(f"and {rest} more {'file' if rest == 1 else 'files'}")
    return f"(Not kept: {'; '.join(named)}.)"


def _ending_with(text: str, line: str, limit: int) -> str:
    """`text` with `line` after a blank line at its end, `text` cut short if both would pass `limit`."""
    if not line:
        return text
    ending = f"\n\n{line[: limit // 2]}"
    return text[: limit - len(ending)].rstrip() + ending


def _local_parts(address: str) -> list[str]:
    """The local part of an address, and its +label if it has one ("help+bugs@…": "help+bugs", "bugs")."""
    local = address.strip().lower().rpartition("@")[0]
    parts = [local]
    if "+" in local:
        parts.append(local.split("+", 1)[1])
    return parts


@dataclass(frozen=True)
class _Match:
    ticket: Ticket
    signed: bool  # by the signed reply address or Message-ID, not only by the reference in the subject


class Inbound:
    def __init__(
        self,
        log: InboundLog,
        clock: Clock,
        desk: Desk,
        settings: MailSettings,
        post: Callable[[list[Letter], DeskConfig], Any],
        files: Callable[[], MailFiles] | None = None,
    ) -> None:
        """`files`: the attachments service, built when a mail first has files (most have none, and building
        it loads S3's client); None keeps no files (each is named as not kept)."""
        self.log = log
        self.clock = clock
        self.desk = desk
        self.settings = settings
        self.post = post  # the postman's post: the outbox records each letter once under its key
        self._files = files

    def receive(
        self,
        ses_message_id: str,
        raw: bytes,
        verdicts: Mapping[str, str],
        *,
        recipients: Iterable[str] = (),
        key: str | None = None,
    ) -> dict[str, Any]:
        """The outcome of one delivery of a message; one handled already is reported as a duplicate.

        `recipients`: the envelope's (SES's receipt.recipients); `key`: where the raw message is stored in S3."""
        sender, subject = headers_of(raw)
        receipt = self.log.claim(ses_message_id, sender, subject, len(raw), self.clock.now())
        if receipt.done:
            logger.info("inbound message %s delivered again: already handled", ses_message_id)
            return {"ses_message_id": ses_message_id, "duplicate": True}
        logger.info(
            "inbound message %s received%s from %r, subject %r (%d bytes; verdicts %s)",
            ses_message_id,
            "" if receipt.first else " again, unfinished before",
            sender[:MAX_LOGGED_CHARS],
            subject[:MAX_LOGGED_CHARS],
            len(raw),
            ", ".join(f"{name} {status}" for name, status in sorted(verdicts.items())) or "none",
        )
        result = self._handle(ses_message_id, raw, verdicts, tuple(recipients), key, receipt.received_at)
        self.log.finish(
            ses_message_id, result["outcome"], result.get("ticket_id"), result.get("comment_id"), self.clock.now()
        )
        return {
            "ses_message_id": ses_message_id,
            "duplicate": False,
            "received": True,
            "sender": sender,
            "subject": subject,
            "size": len(raw),
            **result,
        }

    # what one message becomes -------------------------------------------------------------------------------

    def _handle(
        self,
        ses_message_id: str,
        raw: bytes,
        verdicts: Mapping[str, str],
        recipients: tuple[str, ...],
        key: str | None,
        received_at: datetime,
    ) -> dict[str, Any]:
        from chalicelib.mail.inbound import UnreadableMail, read_mail
        from chalicelib.mail.replies import new_text

        try:
            mail = read_mail(raw, desk_domain=self.settings.domain)
        except UnreadableMail as error:
            logger.warning("inbound message %s opens nothing: %s", ses_message_id, error)
            return {"outcome": "unreadable", "reason": str(error)}
        if mail.automatic:
            logger.info(
                "inbound message %s is automatic (%s): opens nothing, answered by nothing",
                ses_message_id,
                mail.automatic,
            )
            return {"outcome": "automatic", "reason": mail.automatic}
        config = self.desk.config()
        text = new_text(mail.text)
        match = self._match(mail, recipients, config)
        mail_key = key or f"ses:{ses_message_id}"
        if match is not None:
            ticket = match.ticket
            actor: Actor | None = None
            public = True
            if _forged(verdicts):
                pass  # SES says the sender's domain disowns the mail: its From names no one
            elif mail.sender_address == ticket.requester_email:
                actor = Actor(role=REQUESTER, id=ticket.requester_email, name=ticket.requester_name)
            elif match.signed:
                agent = self.desk.active_agent_with_email(mail.sender_address)
                if agent is not None:
                    actor = Actor(role=AGENT, id=agent.id, name=agent.name)
                    if _NOTE.match(text):
                        text, public = _NOTE.sub("", text, count=1).strip(), False
            if actor is not None:
                comment_id = mail_id(ses_message_id, received_at)
                by = AGENT if actor.role == AGENT else REQUESTER
                stored, refused = self._keep_files(ses_message_id, received_at, mail, ticket.id, comment_id, by)
                comment, created = self.desk.mail_comment(
                    ticket.id,
                    _ending_with(text or NO_TEXT, _not_kept_line(refused), COMMENT_LIMIT),
                    actor=actor,
                    public=public,
                    comment_id=comment_id,
                    at=received_at,
                    mail_key=mail_key,
                )
                logger.info(
                    "inbound message %s %s %s as %s's %s",
                    ses_message_id,
                    "is on" if created else "was already on",
                    ticket.ref,
                    actor.label,
                    "note" if not comment.public else "comment",
                )
                return {
                    "outcome": "comment",
                    "ticket_id": ticket.id,
                    "ref": ticket.ref,
                    "comment_id": comment.id,
                    "public": comment.public,
                    "author": actor.label,
                    "created": created,
                    "files": stored,
                    "not_kept": [item.filename for item in refused],
                }
            logger.warning(
                "inbound message %s names %s but is not from its requester: it opens a ticket of its own",
                ses_message_id,
                ticket.ref,
            )
        mentioned = match.ticket if match else None
        return self._open(ses_message_id, received_at, mail, text, recipients, config, mail_key, mentioned)

    def _open(
        self,
        ses_message_id: str,
        received_at: datetime,
        mail: InboundMail,
        text: str,
        recipients: tuple[str, ...],
        config: DeskConfig,
        mail_key: str,
        mentioned: Ticket | None,
    ) -> dict[str, Any]:
        subject = mail.subject
        description = text or mail.text.strip() or NO_TEXT
        if mentioned is not None:
            # The other ticket's reference is kept out of this one's subject, so that answers to this ticket's
            # mail find this ticket; the description says what the sender named.
            subject = re.sub(rf"\[\s*{re.escape(mentioned.ref)}\s*\]", "", subject, flags=re.IGNORECASE)
            note = f"\n\n(Sent as an answer about {mentioned.ref}, but not by its requester, so it opened this ticket.)"
            description = description[: DESCRIPTION_LIMIT - len(note)].rstrip() + note
        plan = self._plan_files(ses_message_id, mail, new_ticket=True)
        description = _ending_with(description, _not_kept_line(plan.refused), DESCRIPTION_LIMIT)
        subject = " ".join(subject.split())[:SUBJECT_LIMIT].strip() or NO_SUBJECT
        raw = {
            "type": self._type_for(mail, recipients, config),
            "subject": subject,
            "description": description,
            "requester_name": mail.sender_name or mail.sender_address.partition("@")[0],
            "requester_email": mail.sender_address,
        }
        try:
            opened = self.desk.open_ticket(
                raw, from_form=False, idempotency_key=f"mail:{ses_message_id}", mail_key=mail_key
            )
        except RateLimitedError as error:
            logger.warning(
                "inbound message %s refused, not answered: %s (%r)",
                ses_message_id,
                error,
                mail.sender_address[:MAX_LOGGED_CHARS],
            )
            return {"outcome": "refused", "reason": "rate_limited"}
        except ValidationError as error:
            logger.warning("inbound message %s opens nothing: %s %s", ses_message_id, error, error.errors)
            return {"outcome": "refused", "reason": "invalid", "errors": dict(error.errors)}
        ticket = opened.ticket
        logger.info(
            "inbound message %s %s %s (%s)",
            ses_message_id,
            "opened" if opened.created else "had opened",
            ticket.ref,
            ticket.type,
        )
        stored, late = self._store(ses_message_id, received_at, ticket.id, None, REQUESTER, plan.kept)
        if late:  # only if the limits changed since the plan: the description, written already, cannot say so
            logger.warning(
                "inbound message %s: %d of its files were refused after %s was opened",
                ses_message_id,
                len(late),
                ticket.ref,
            )
        result: dict[str, Any] = {
            "outcome": "ticket",
            "ticket_id": ticket.id,
            "ref": ticket.ref,
            "type": ticket.type,
            "created": opened.created,
            "files": stored,
            "not_kept": [item.filename for item in sorted((*plan.refused, *late), key=lambda item: item.index)],
        }
        if mentioned is not None:
            result["mentions"] = mentioned.ref
        return result

    # the mail's files ---------------------------------------------------------------------------------------------

    def _plan_files(self, ses_message_id: str, mail: InboundMail, *, new_ticket: bool) -> _Plan:
        """The mail's files to keep, each one not kept logged. The service is built only here, for a mail that
        has files. A new ticket holds nothing yet, so its whole total is room, and its description (which must be
        the same on every delivery: the idempotency claim fingerprints it) can name each file not kept; a reply's
        room is known only to the service, which refuses past it when the file is stored."""
        if not mail.attachments:
            return _Plan((), ())
        if self._files is None:
            plan = _Plan((), tuple(NotKept(i, p.filename, p.size, NO_FILES) for i, p in enumerate(mail.attachments)))
        else:
            limits = self._files().limits
            plan = _plan(mail.attachments, limits, limits.max_ticket_bytes if new_ticket else None)
        for item in plan.refused:
            _log_refusal(ses_message_id, item)
        return plan

    def _keep_files(
        self, ses_message_id: str, at: datetime, mail: InboundMail, ticket_id: str, comment_id: str, by: str
    ) -> tuple[int, list[NotKept]]:
        """A reply's files stored under its comment before the comment is written: how many are kept, and those
        that are not (by the limits, or because the ticket's total is reached), in the mail's order."""
        plan = self._plan_files(ses_message_id, mail, new_ticket=False)
        stored, late = self._store(ses_message_id, at, ticket_id, comment_id, by, plan.kept)
        return stored, sorted((*plan.refused, *late), key=lambda item: item.index)

    def _store(
        self,
        ses_message_id: str,
        at: datetime,
        ticket_id: str,
        comment_id: str | None,
        by: str,
        kept: tuple[tuple[int, InboundAttachment], ...],
    ) -> tuple[int, list[NotKept]]:
        """Store each planned file under its id from the message (one stored already is answered, not stored or
        counted again); the service's refusals are returned, anything else (S3 or DynamoDB down) is raised so the
        delivery is retried."""
        if not kept or self._files is None:  # nothing planned to keep (the plan named every file)
            return 0, []
        service = self._files()
        stored, refused = 0, []
        for index, part in kept:
            try:
                service.store_bytes(
                    ticket_id,
                    comment_id,
                    part.filename,
                    part.content_type,
                    part.data,
                    by,
                    attachment_id=file_id(ses_message_id, at, index),
                )
            except AttachmentTooLargeError as error:
                limit = int(error.details.get("limit", 0))
                full = "used" in error.details
                reason = _full_reason(limit) if full else f"over the {size_text(limit)} limit for a file"
                refused.append(NotKept(index, part.filename, part.size, reason))
            except ValidationError as error:
                refused.append(NotKept(index, part.filename, part.size, error.message))
            else:
                stored += 1
                continue
            _log_refusal(ses_message_id, refused[-1])
        return stored, refused

    def _match(self, mail: InboundMail, recipients: tuple[str, ...], config: DeskConfig) -> _Match | None:
        """The ticket the mail answers: by a signed reply address, a signed Message-ID, else the subject's reference."""
        from chalicelib.mail.inbound import subject_reference

        secret = self.settings.secret()
        if self.settings.inbound_address:
            for address in dict.fromkeys((*recipients, *mail.recipients)):
                ticket_id = ticket_of_address(address, self.settings.inbound_address, secret)
                found = self.desk.tickets.get(ticket_id) if ticket_id else None
                if found is not None:
                    return _Match(found, signed=True)
        ids = [*([mail.in_reply_to] if mail.in_reply_to else []), *reversed(mail.references)]
        for message_id in dict.fromkeys(ids):
            ticket_id = ticket_of_message_id(message_id, self.settings.domain, secret)
            found = self.desk.tickets.get(ticket_id) if ticket_id else None
            if found is not None:
                return _Match(found, signed=True)
        ref = subject_reference(mail.subject, config.desk.ref_prefix)
        ticket_id = self.desk.tickets.id_for_ref(ref) if ref else None
        found = self.desk.tickets.get(ticket_id) if ticket_id else None
        return _Match(found, signed=False) if found is not None else None

    def _type_for(self, mail: InboundMail, recipients: tuple[str, ...], config: DeskConfig) -> str:
        """The type named by the first address the mail was sent to that `desk.inbound_aliases` knows."""
        aliases = config.desk.inbound_aliases
        domain = (self.settings.inbound_address or "").rpartition("@")[2].lower()
        for address in dict.fromkeys((*recipients, *mail.recipients)):
            if domain and address.strip().lower().rpartition("@")[2] != domain:
                continue
            for local in _local_parts(address):
                if local in aliases:
                    return aliases[local]
        return config.desk.default_type

    # a message too large to read ------------------------------------------------------------------------------

    def answer_too_large(self, ses_message_id: str, to: str, size: int, limit: int) -> bool:
        """One short answer to the sender of a message over the size limit (the caller has checked it is not
        automatic mail); at most `desk.new_tickets_per_hour` an hour per address and within the desk's
        acknowledgement ceiling. Whether an answer was sent or recorded (a redelivery does not send it again)."""
        from chalicelib.services.mailing import Letter

        address = normalise_email(to)
        if not valid_email(address):
            logger.info("inbound message %s was too large; its sender %r cannot be answered", ses_message_id, to[:80])
            return False
        config = self.desk.config()
        now = self.clock.now()
        counted = self.desk.store.count_new_ticket(
            f"too_large#{normalised_address(address)}", window(now), config.desk.new_tickets_per_hour, now + KEEP
        )
        if not counted or not Limits(self.desk.store).admit_acknowledgement(config, now):
            logger.warning("inbound message %s was too large; over the hour's answers, not answered", ses_message_id)
            return False
        letter = Letter(
            ticket_id=f"inbound#{ses_message_id}",
            key="too_large",
            kind="too_large",
            to=address,
            to_name="",
            context={
                "desk_name": config.desk.name,
                "recipient_name": "",
                "size_text": size_text(size),
                "limit_text": size_text(limit),
                "link": self.settings.form_url,
            },
            automated=True,
            threaded=False,
        )
        self.post([letter], config)
        logger.info("inbound message %s was too large: %s was told so", ses_message_id, address[:MAX_LOGGED_CHARS])
        return True


def _log_refusal(ses_message_id: str, item: NotKept) -> None:
    """A file not kept, logged by its name and size (never its content)."""
    logger.warning(
        "inbound message %s: file %d %r (%d bytes) not kept: %s",
        ses_message_id,
        item.index + 1,
        item.filename[:MAX_LOGGED_CHARS],
        item.size,
        item.reason,
    )


def _forged(verdicts: Mapping[str, str]) -> bool:
    """SES found the sender's domain does not vouch for the mail (SPF and DKIM failed, or DMARC did)."""
    return verdicts.get("dmarc") == "FAIL" or (verdicts.get("spf") == "FAIL" and verdicts.get("dkim") == "FAIL")
