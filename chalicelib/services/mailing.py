"""Mail: notices addressed and put into words (letters), recorded in the outbox, sent, and retried with back-off."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

from chalicelib.domain import notices as rules
from chalicelib.domain.calendar import local_text
from chalicelib.domain.config import DeskConfig, TicketType, fill_placeholders
from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.domain.notices import BREACHED, REPLY_MAY_FOLLOW, TO_ASSIGNEE, TO_REQUESTER, Notice
from chalicelib.domain.threading import can_sign, reply_address, ticket_tag
from chalicelib.domain.tickets import REQUESTER, Ticket, stamp
from chalicelib.domain.tokens import sign_link
from chalicelib.services.desk import PORTAL, is_plausible_id, is_whole_number
from chalicelib.services.limits import Limits, seconds_left, window
from chalicelib.services.ports import (
    FAILED,
    PENDING,
    SENT,
    Clock,
    DeskStore,
    Mailer,
    MailFiles,
    MailNotSent,
    OutboxItem,
    OutboxStore,
    SentMail,
)

if TYPE_CHECKING:
    from chalicelib.domain.agents import Agent
    from chalicelib.domain.attachments import Attachment

logger = logging.getLogger("helpdesk.mail")
MAX_ATTEMPTS = 8  # the first try and seven more over about ten hours (5 min, doubling, at most 6 h apart)
FIRST_RETRY = timedelta(minutes=5)
LONGEST_WAIT = timedelta(hours=6)
RETRY_BATCH = 100
LISTING_LIMIT = 500
EXCERPT = 600
QUOTE_LIMIT = 6000
# What the acknowledgement quotes of what an anonymous caller wrote: the desk's verified sender must not relay
# arbitrary text to whichever address was typed in. The rest is behind the portal link the mail already has.
ACK_EXCERPT = 300
ACK_REST = "[…] The rest is on the ticket. Your whole message is there, behind your private link below."
ACK_SUBJECT = 110  # "[HD-1234] We received your request: " and this stay within 150 characters
OUTBOX_KEY_BYTES = 1000
SURVEY = "survey"
UNSUBSCRIBE = "unsubscribe"
UNSUBSCRIBE_DAYS = 365
# Mails the desk makes, as opposed to a person's words (a reply): Auto-Submitted (RFC 3834), so that responders
# leave them unanswered. The acknowledgement is "auto-replied" (chalicelib/mail/compose.py), the rest generated.
AUTOMATED = frozenset(
    {
        "acknowledgement",
        "status",
        "assigned",
        "requester_comment",
        "reminder",
        "team_reminder",
        "sla",
        "sla_digest",
        "survey",
        "sign_in",
    }
)
TIMER_LABELS = {"first_response": "first response", "resolution": "resolution"}
# How long the status mail of a move made with a comment waits for that comment's record to fold it into the reply.
REPLY_WAIT = timedelta(minutes=2)
FOLDED = "folded into "  # the message id of a mail that was not sent because another one said what it says
DIGEST = "digest#"
ACKNOWLEDGEMENT = "acknowledgement"
CEILING_OWNER = "desk#limits"  # the outbox partition of the admins' mails about the desk's own limits
# The mails about one comment, which carry the files that came with it: an agent's public reply (to the
# requester) and a requester's comment (to whoever works the ticket). Internal notes are never mailed.
COMMENT_KINDS = frozenset({"reply", "requester_comment"})


def retry_wait(attempts: int) -> timedelta:
    """How long after attempt number `attempts` the next one is due."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


@dataclass(frozen=True)
class Sender:
    """Who one mail is from and where an answer to it goes. `reads_replies`: `reply_to` is the desk's own inbound
    address, so the mail carries the reply marker; `thread_tag`: the ticket's signed tag, for its Message-ID."""

    address: str
    name: str
    reply_to: str | None
    reads_replies: bool = False
    thread_tag: str | None = None


@dataclass(frozen=True)
class Letter:
    """A notice addressed to one person and put into words (the template's context), ready to compose."""

    ticket_id: str
    key: str
    kind: str
    to: str
    to_name: str
    context: dict[str, Any]
    automated: bool
    unsubscribe_url: str | None = None
    hold: timedelta = timedelta(0)  # recorded now, first sent this much later (by the outbox job)
    threaded: bool = True  # in the ticket's thread; a mail about no one ticket starts its own
    attachments: tuple[str, ...] = ()  # ids of the ticket's stored files the mail carries, in order


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str
    raw: bytes


class Composer(Protocol):
    def compose(self, letter: Letter, sender: Sender, date: datetime) -> Composed:
        """The mail's subject, bodies and raw MIME bytes, from templates."""


class Links:
    """The signed, expiring links a mail carries; they open one ticket each."""

    def __init__(self, base_url: str, secret: Callable[[], bytes], clock: Clock) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.clock = clock

    def _token(self, purpose: str, ticket_id: str, days: int) -> str:
        return sign_link(self.secret(), purpose, ticket_id, self.clock.now() + timedelta(days=days))

    def portal(self, ticket_id: str, days: int) -> str:
        token = self._token(PORTAL, ticket_id, days)
        return f"{self.base_url}/portal/tickets/{quote(ticket_id)}?{urlencode({'token': token})}"

    def action(self, ticket_id: str, to: str, days: int) -> str:
        """The portal page asking the requester to confirm one move (a link alone never changes a ticket:
        mail scanners open links)."""
        return f"{self.portal(ticket_id, days)}&{urlencode({'to': to})}"

    def survey(self, ticket_id: str, days: int) -> str:
        return f"{self.base_url}/surveys/{quote(self._token(SURVEY, ticket_id, days))}"

    def unsubscribe(self, ticket_id: str) -> str:
        return f"{self.base_url}/unsubscribe/{quote(self._token(UNSUBSCRIBE, ticket_id, UNSUBSCRIBE_DAYS))}"

    def console(self, ticket_id: str) -> str:
        """The ticket in the agents' console: no token, the console asks agents to sign in."""
        return f"{self.base_url}/console/tickets/{quote(ticket_id)}"

    def queue(self) -> str:
        """The agents' console queue (it asks agents to sign in)."""
        return f"{self.base_url}/console"


def sign_in_letter(
    agent_email: str, agent_name: str, agent_id: str, link: str, minutes: int, desk_name: str, nonce: str
) -> Letter:
    """The mail with an agent's one-time console sign-in link. Each request is its own outbox item (its nonce),
    so asking again sends a new mail and a redelivered request does not."""
    return Letter(
        ticket_id=f"agent#{agent_id}",
        key=f"signin#{nonce}",
        kind="sign_in",
        to=agent_email,
        to_name=agent_name,
        context={"desk_name": desk_name, "recipient_name": agent_name, "link": link, "minutes": minutes},
        automated=True,
        threaded=False,
    )


def _outbox_item(letter: Letter, composed: Composed, now: datetime) -> OutboxItem:
    return OutboxItem(
        ticket_id=letter.ticket_id,
        key=letter.key,
        kind=letter.kind,
        to=letter.to,
        subject=composed.subject,
        text=composed.text,
        html=composed.html,
        raw=composed.raw,
        created_at=now,
        next_attempt_at=now + letter.hold,
        attachment_ids=letter.attachments,
    )


class Postman:
    """Records each letter in the outbox under its key before sending, sends it, and marks it sent."""

    def __init__(
        self,
        outbox: OutboxStore,
        mailer: Mailer,
        composer: Composer,
        clock: Clock,
        sender_address: str,
        on_sent: Callable[[SentMail], None] | None = None,
        inbound_address: str | None = None,
        secret: Callable[[], bytes] | None = None,
        files: Callable[[], MailFiles] | None = None,
    ) -> None:
        """`files` gives the reader of stored files when a mail carries some (built on first use only: most
        mails carry none, and reading one needs S3)."""
        self.outbox = outbox
        self.mailer = mailer
        self.composer = composer
        self.clock = clock
        self.sender_address = sender_address
        self.on_sent = on_sent
        self.inbound_address = inbound_address
        self.secret = secret  # the desk's signing key: a mail about a ticket names it, signed (purpose "reply")
        self.files = files

    def sender(self, letter: Letter, config: DeskConfig) -> Sender:
        """The sender of one letter. With an inbound address, Reply-To is the desk's, not `email.reply_to`:
        answers must come back to the desk to land on their ticket. A mail about one ticket then gets that
        ticket's signed reply address (the plain inbound address if the ticket id or the address cannot carry a
        tag), any other mail the plain one. Without an inbound address, `email.reply_to` (or none), as before."""
        tag = None
        if letter.threaded and self.secret is not None and can_sign(letter.ticket_id):
            tag = ticket_tag(self.secret(), letter.ticket_id)
        if self.inbound_address is None:
            return Sender(self.sender_address, config.desk.name, config.email.reply_to, thread_tag=tag)
        reply_to = self.inbound_address
        if tag is not None and self.secret is not None:
            try:
                reply_to = reply_address(self.inbound_address, self.secret(), letter.ticket_id)
            except ValueError as error:
                logger.warning("the inbound address %s carries no ticket's tag: %s", self.inbound_address, error)
        return Sender(self.sender_address, config.desk.name, reply_to, reads_replies=True, thread_tag=tag)

    def post(self, letters: list[Letter], config: DeskConfig) -> dict[str, int]:
        """Record every letter not recorded before, then try to send those; what became of them."""
        due, tally = self.record(letters, config)
        self.deliver_all(due, tally)
        return tally

    def record(self, letters: list[Letter], config: DeskConfig) -> tuple[list[OutboxItem], dict[str, int]]:
        """Record every letter not recorded before; those to send now (not the held ones), and a tally."""
        fresh: list[OutboxItem] = []
        held = 0
        for letter in letters:
            item = self._recorded(letter, config)
            if item is None:
                continue
            if letter.hold:
                held += 1
            else:
                fresh.append(item)
        tally = {"recorded": len(fresh) + held, "already_recorded": len(letters) - len(fresh) - held}
        if held:
            tally["held"] = held
        return fresh, tally

    def deliver_all(self, items: list[OutboxItem], tally: dict[str, int]) -> None:
        for item in items:
            outcome = self.deliver(item)
            tally[outcome] = tally.get(outcome, 0) + 1

    def _recorded(self, letter: Letter, config: DeskConfig) -> OutboxItem | None:
        """The letter recorded in the outbox; None if it was there already or cannot become a mail."""
        now = self.clock.now()
        try:
            composed = self.composer.compose(letter, self.sender(letter, config), now)
        except ValueError as error:
            self._unsendable(letter, str(error), now)
            return None
        item = _outbox_item(letter, composed, now)
        try:
            added = self.outbox.add(item)
        except ValueError as error:
            self._unsendable(letter, str(error), now)  # kept as failed, small, so the stream record goes on
            return None
        return item if added else None

    def has(self, ticket_id: str, key: str) -> bool:
        """Whether a mail with this key was recorded, whatever became of it."""
        return self.outbox.get(ticket_id, key) is not None

    def fold(self, letter: Letter, into: str, config: DeskConfig) -> bool:
        """Keep `letter` from going out on its own because mail `into` (same outbox partition) says what it says.

        True when it is folded (now, or by an earlier delivery of the same cause); False when it went out, or may
        be going out, by itself. A letter not recorded yet is recorded first, so its own cause, coming later,
        finds its key taken and sends nothing. Claiming it is conditional, so the outbox job and this never both
        have it.
        """
        item = self.outbox.get(letter.ticket_id, letter.key)
        if item is None:
            self._recorded(replace(letter, hold=max(letter.hold, REPLY_WAIT)), config)
            item = self.outbox.get(letter.ticket_id, letter.key)
        if item is None or item.state == FAILED:
            return False
        if item.state == SENT:
            return (item.message_id or "").startswith(FOLDED)
        if item.attempts:
            return False  # an attempt was made: the requester may have it already
        now = self.clock.now()
        claimed = self.outbox.claim(item, now + retry_wait(1))
        if claimed is None:
            return False
        self.outbox.sent(claimed, f"{FOLDED}{into}", now)
        return True

    def _unsendable(self, letter: Letter, reason: str, now: datetime) -> None:
        """A letter that cannot become a mail (an address SES cannot take) is kept as failed, for admins to see."""
        item = _outbox_item(letter, Composed("", "", "", b""), now)
        if self.outbox.add(item):
            self.outbox.not_sent(item, f"cannot be sent: {reason}", True, now)
            logger.error("mail %s for ticket %s cannot be sent: %s", letter.key, letter.ticket_id, reason)

    def deliver(self, item: OutboxItem) -> str:
        """One attempt: "sent", "pending" (to be retried), "failed" (given up) or "taken" (someone else has it)."""
        now = self.clock.now()
        claimed = self.outbox.claim(item, now + retry_wait(item.attempts + 1))
        if claimed is None:
            return "taken"
        try:
            raw = self.message(claimed)
            message_id = self.mailer.send(self.sender_address, claimed.to, raw)
        except MailNotSent as error:
            failed = claimed.attempts >= MAX_ATTEMPTS
            self.outbox.not_sent(claimed, error.reason, failed, self.clock.now())
            log = logger.error if failed else logger.warning
            log(
                "mail %s for ticket %s not sent (attempt %d of %d): %s",
                claimed.key,
                claimed.ticket_id,
                claimed.attempts,
                MAX_ATTEMPTS,
                error.reason,
                extra={"ticket_id": claimed.ticket_id, "mail_key": claimed.key, "attempts": claimed.attempts},
            )
            return FAILED if failed else PENDING
        sent_at = self.clock.now()
        self.outbox.sent(claimed, message_id, sent_at)
        if self.on_sent is not None:
            self.on_sent(
                SentMail(
                    key=claimed.key,
                    ticket_id=claimed.ticket_id,
                    kind=claimed.kind,
                    to=claimed.to,
                    subject=claimed.subject,
                    text=claimed.text,
                    html=claimed.html,
                    raw=raw,
                    message_id=message_id,
                    sent_at=sent_at,
                )
            )
        return SENT

    def message(self, item: OutboxItem) -> bytes:
        """The bytes sent for an item: its recorded MIME, with the files it carries read now and attached (the
        same item always gives the same mail). A file erased since is left out, and logged: the mail still
        goes. A file that cannot be read now (S3 unreachable) makes this attempt fail, to be retried."""
        if not item.attachment_ids:
            return item.raw
        if self.files is None:
            logger.warning("mail %s for ticket %s carries files but no reader is wired", item.key, item.ticket_id)
            return item.raw
        reader = self.files()
        loaded: list[tuple[Attachment, bytes]] = []
        for attachment_id in item.attachment_ids:
            try:
                loaded.append(reader.content(item.ticket_id, attachment_id))
            except NotFoundError:
                logger.warning(
                    "mail %s for ticket %s goes without file %s: it is no longer stored",
                    item.key,
                    item.ticket_id,
                    attachment_id,
                    extra={"ticket_id": item.ticket_id, "mail_key": item.key, "attachment_id": attachment_id},
                )
            except Exception as error:  # whatever the store raised: this attempt is not sent, a later one may be
                raise MailNotSent(f"file {attachment_id} could not be read: {type(error).__name__}: {error}") from error
        from chalicelib.mail.attach import with_files

        try:
            return with_files(item.raw, loaded)
        except ValueError as error:
            raise MailNotSent(f"the files could not be attached: {error}") from error

    def listing(self, state: Any, limit: Any) -> list[OutboxItem]:
        """Pending or failed mail, oldest first, for admins."""
        errors: dict[str, str] = {}
        if state not in (PENDING, FAILED):
            errors["state"] = "must be pending or failed"
        size = 100 if limit is None else int(limit) if isinstance(limit, str) and is_whole_number(limit) else 0
        if not 1 <= size <= LISTING_LIMIT:
            errors["limit"] = f"must be a whole number from 1 to {LISTING_LIMIT}"
        if errors:
            raise ValidationError("the outbox filters are not valid", errors)
        return self.outbox.listing(str(state), size)

    def retry(self, raw: Any) -> OutboxItem:
        """Send a failed mail again now (after its cause, say a wrong sender, was fixed); it counts attempts anew."""
        mail_id = raw.get("id") if isinstance(raw, dict) else None
        ticket_id, _, key = mail_id.partition("/") if isinstance(mail_id, str) else ("", "", "")
        # A sort key holds at most 1024 bytes; anything longer or odd is not a mail of ours (and not a 500).
        if not is_plausible_id(ticket_id) or not key.isprintable() or not 0 < len(key.encode()) <= OUTBOX_KEY_BYTES:
            raise ValidationError("say which mail to retry", {"id": "must be the id of a mail from the outbox"})
        item = self.outbox.get(ticket_id, key)
        if item is None:
            raise NotFoundError(f"no mail {mail_id!r}")
        if item.state != FAILED:
            raise ConflictError(f"the mail is {item.state}; only a failed mail is retried by hand")
        if not item.raw:
            raise ConflictError("this mail could not be put together at all; it cannot be retried")
        now = self.clock.now()
        if self.outbox.requeue(item, now):
            self.deliver(replace(item, state=PENDING, attempts=0, next_attempt_at=now, last_error=None))
        return self.outbox.get(ticket_id, key) or item

    def retry_due(self) -> dict[str, int]:
        """Every pending mail whose next attempt is due, oldest first."""
        tally: dict[str, int] = {"due": 0}
        for item in self.outbox.due(self.clock.now(), RETRY_BATCH):
            tally["due"] += 1
            outcome = self.deliver(item)
            tally[outcome] = tally.get(outcome, 0) + 1
        return tally


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    agent_id: str | None = None  # None for a team's address


class Notifier:
    """Turns notices into letters: who gets them (requester, assignee, team, one agent), and what they say."""

    def __init__(
        self, store: DeskStore, postman: Postman, links: Links, files: Callable[[], MailFiles] | None = None
    ) -> None:
        """`files` gives the reader of stored files, asked only about a mail about a comment (None: mail
        carries no files)."""
        self.store = store
        self.postman = postman
        self.links = links
        self.files = files

    def notify(self, config: DeskConfig, ticket: Ticket, notices: list[Notice]) -> dict[str, int]:
        notices = [self._with_status(config, ticket, n) if n.kind == "reply" else n for n in notices]
        letters = [letter for notice in notices for letter in self.letters(config, ticket, notice)]
        acknowledgements = [letter for letter in letters if letter.kind == ACKNOWLEDGEMENT]
        if acknowledgements and not self._may_acknowledge(config, acknowledgements[0]):
            letters = [letter for letter in letters if letter.kind != ACKNOWLEDGEMENT] + self._ceiling_letters(config)
        return self.postman.post(letters, config) if letters else {}

    def _may_acknowledge(self, config: DeskConfig, letter: Letter) -> bool:
        """Whether the desk-wide hourly ceiling leaves room for this acknowledgement. Above it the ticket is open
        but the requester is not mailed: the caller already has the ticket's link from the answer, and a skipped
        mail (not a delayed one) keeps a flood from spilling into the following hours. A redelivered record whose
        acknowledgement is recorded already is not counted twice."""
        if self.postman.has(letter.ticket_id, letter.key):
            return True
        return Limits(self.store).admit_acknowledgement(config, self.postman.clock.now())

    def _ceiling_letters(self, config: DeskConfig) -> list[Letter]:
        """One mail per admin per ceiling-hour: its key is the hour, so the outbox sends it once however many
        acknowledgements are skipped, records redelivered or jobs rerun in that hour."""
        now = self.postman.clock.now()
        hour = window(now)
        context = {
            "desk_name": config.desk.name,
            "limit": config.desk.acknowledgements_per_hour,
            "hour": f"{now:%Y-%m-%d %H}:00 UTC",
            "minutes_left": -(-seconds_left(now) // 60),
            "console_url": self.links.queue(),
        }
        return admin_letters(self.store.list_agents(), CEILING_OWNER, f"ack_ceiling#{hour}", "ack_ceiling", context)

    def _with_status(self, config: DeskConfig, ticket: Ticket, reply: Notice) -> Notice:
        """A reply made with a move into a requester-facing status carries that status's message and decision
        links, and the status mail is folded into it: one mail, not two. Unless the status mail is out already."""
        status = rules.status_entered_with(config, ticket, reply.at)
        if status is None:
            return reply
        key = rules.status_with_comment_key(reply.at, status)
        status_notice = Notice(ticket.id, key, "status", TO_REQUESTER, reply.at, {"status": status})
        letters = self.letters(config, ticket, status_notice)
        if not all(self.postman.fold(letter, reply.key, config) for letter in letters):
            return reply
        return replace(reply, data={**reply.data, "status": status})

    def sla_letters(
        self, config: DeskConfig, alerts: list[tuple[Ticket, Notice]], told: frozenset[tuple[str, str]] = frozenset()
    ) -> list[Letter]:
        """The letters of one sweep's SLA alerts: one per alert and recipient, except that a recipient with alerts
        on several tickets gets one digest listing them all instead.

        `told` are the (ticket id, notice key) of alerts an earlier run already recorded in a mail (their history
        event is written, which happens only after that): they are not mailed again, but still count in the
        digest's key. That key is made of everything found for the recipient, so a rerun after a sweep died
        half-way finds the same alerts, makes the same key, and the outbox, having it, sends nothing.
        """
        groups: dict[str, list[tuple[Recipient, Notice, Letter]]] = {}
        for ticket, notice in alerts:
            for recipient in self.recipients(config, ticket, notice.audience):
                letter = self.letter(config, ticket, notice, recipient)
                groups.setdefault(recipient.email.lower(), []).append((recipient, notice, letter))
        letters: list[Letter] = []
        for group in groups.values():
            new = [row for row in group if (row[2].ticket_id, row[1].key) not in told]
            if len({letter.ticket_id for _, _, letter in group}) < 2:
                letters += [letter for _, _, letter in new]
                continue
            digest = self._digest(config, group, new)
            if len({letter.ticket_id for _, _, letter in new}) > 1:
                letters.append(digest)
            elif new and not self.postman.has(digest.ticket_id, digest.key):
                letters += [letter for _, _, letter in new]  # what is left to tell is about one ticket
        return letters

    def _digest(
        self,
        config: DeskConfig,
        found: list[tuple[Recipient, Notice, Letter]],
        new: list[tuple[Recipient, Notice, Letter]],
    ) -> Letter:
        """One recipient's `new` alerts in one mail, overdue first, keyed by all that was `found` for them."""
        recipient = found[0][0]
        ordered = sorted(new, key=lambda row: (row[1].data["level"] != BREACHED, str(row[1].data["due"])))
        rows = [
            {
                "ref": letter.context["ticket"]["ref"],
                "subject": letter.context["ticket"]["subject"],
                "timer_label": letter.context["timer_label"],
                "level": letter.context["level"],
                "due": letter.context["due"],
                "assignee_name": letter.context["assignee_name"],
                "console_url": letter.context["console_url"],
            }
            for _, _, letter in ordered
        ]
        covered = "\n".join(sorted(f"{letter.ticket_id}/{letter.key}" for _, _, letter in found))
        latest = max(notice.at for _, notice, _ in found)
        key = f"sla#{stamp(latest)}#{hashlib.sha256(covered.encode()).hexdigest()[:16]}"
        breached = sum(1 for row in rows if row["level"] == BREACHED)
        return Letter(
            ticket_id=_digest_owner(recipient),
            key=key,
            kind="sla_digest",
            to=recipient.email,
            to_name=recipient.name,
            context={
                "desk_name": config.desk.name,
                "recipient_name": recipient.name,
                "alerts": rows,
                "tickets": len({letter.ticket_id for _, _, letter in new}),
                "breached": breached,
                "at_risk": len(rows) - breached,
            },
            automated=True,
            threaded=False,
        )

    # who ------------------------------------------------------------------------------------------

    def recipients(self, config: DeskConfig, ticket: Ticket, audience: str) -> list[Recipient]:
        if audience == TO_REQUESTER:
            return [Recipient(ticket.requester_email, ticket.requester_name)]
        if audience.startswith("agent:"):
            agent = self.store.get_agent(audience.split(":", 1)[1])
            return [Recipient(agent.email, agent.name, agent.id)] if agent is not None and agent.active else []
        if audience == TO_ASSIGNEE and ticket.assignee:
            agent = self.store.get_agent(ticket.assignee)
            if agent is not None and agent.active:
                return [Recipient(agent.email, agent.name, agent.id)]
        team = config.teams.get(ticket.team or "")
        if team is not None and team.email:
            return [Recipient(team.email, team.label)]
        # No team address: every active agent hears of it, so nothing waits unseen.
        return [Recipient(a.email, a.name, a.id) for a in self.store.list_agents() if a.active]

    # what -----------------------------------------------------------------------------------------

    def letters(self, config: DeskConfig, ticket: Ticket, notice: Notice) -> list[Letter]:
        recipients = self.recipients(config, ticket, notice.audience)
        files = self._comment_files(ticket, notice) if recipients else []
        return [_with_files(self.letter(config, ticket, notice, r), files) for r in recipients]

    def _comment_files(self, ticket: Ticket, notice: Notice) -> list[Attachment]:
        """The stored files of the comment a notice is about that its audience may see, in upload order (the
        files are stored before the comment, so its stream record finds them). A requester gets only the files
        of a public reply (internal notes are never mailed, and a note's files never reach a requester);
        agents get every file of the comment. None for other notices, or without a reader of files."""
        comment_id = notice.data.get("comment_id")
        if notice.kind not in COMMENT_KINDS or self.files is None or not isinstance(comment_id, str):
            return []
        if notice.audience == TO_REQUESTER and notice.kind != "reply":
            return []
        files = [
            f
            for f in self.files().of_comment(ticket.id, comment_id)
            if f.ticket_id == ticket.id and f.comment_id == comment_id and f.state == "stored"
        ]
        if notice.audience == TO_REQUESTER:
            shown = frozenset({comment_id})  # a reply is public: its own files are the requester's to see
            files = [f for f in files if f.visible_to_requester(shown)]
        return files

    def letter(self, config: DeskConfig, ticket: Ticket, notice: Notice, recipient: Recipient) -> Letter:
        context = self.context(config, ticket, notice, recipient)
        return Letter(
            ticket_id=ticket.id,
            key=notice.key if notice.audience == TO_REQUESTER else f"{notice.key}#{recipient.email}",
            kind=notice.kind,
            to=recipient.email,
            to_name=recipient.name,
            context=context,
            automated=notice.kind in AUTOMATED,
            unsubscribe_url=context.get("unsubscribe_url"),
            hold=REPLY_WAIT if notice.data.get(REPLY_MAY_FOLLOW) else timedelta(0),
        )

    def context(self, config: DeskConfig, ticket: Ticket, notice: Notice, recipient: Recipient) -> dict[str, Any]:
        ticket_type = config.type_named(ticket.type)
        context: dict[str, Any] = {
            "desk_name": config.desk.name,
            "recipient_name": recipient.name,
            "ticket": {
                "ref": ticket.ref,
                "subject": ticket.subject,
                "type_label": ticket_type.label if ticket_type else ticket.type,
                "status_label": config.status(ticket.status).label,
                "priority_label": config.priority(ticket.priority).label,
                "requester_name": ticket.requester_name,
                "requester_email": ticket.requester_email,
            },
        }
        days = config.desk.portal_link_days
        data = notice.data
        kind = notice.kind
        calendar = config.sla.calendar
        if notice.audience == TO_REQUESTER:
            context["portal_url"] = self.links.portal(ticket.id, days)
        else:
            context["console_url"] = self.links.console(ticket.id)  # agents work in the console; requesters never
        if kind == "acknowledgement":
            context["ticket"]["subject"] = _excerpt(ticket.subject, ACK_SUBJECT)
            context["description"] = _acknowledged(ticket.description)
            context["missing_fields"] = _missing_fields(ticket_type, ticket.fields) if ticket_type else []
        elif kind in ("reply", "requester_comment"):
            context["author_name"] = str(data.get("author_name", ""))
            context["body"] = _quoted(str(data.get("body", "")))
            if kind == "reply":
                status = data.get("status")
                context["status_update"] = self._status_update(config, ticket, str(status), days) if status else None
        elif kind == "status":
            update = self._status_update(config, ticket, str(data["status"]), days)
            context["message"], context["actions"] = update["message"], update["actions"]
        elif kind == "assigned":
            context["assigned_by"] = self._name(str(data.get("by", "")))
            context["description_excerpt"] = _excerpt(ticket.description)
            context["first_response_due"] = data.get("first_response_due")
        elif kind == "reminder":
            status = str(data["status"])
            rule = config.stale_rules.get(status)
            text = (rule.message if rule else "") or config.email.status_messages.get(status, "")
            text = text or "We are waiting for your answer on {ref} before we can go on."
            context["message"] = self._message(config, ticket, text, status)
            context["actions"] = self._actions(config, ticket, status, days)
            context["number"] = int(data["number"])
            context["times"] = int(data["times"])
            context["waiting_since"] = local_text(calendar, datetime.fromisoformat(str(data["since"])))
            final_at = data.get("final_at")
            then = data.get("then")
            context["final_notice"] = (
                f"If we do not hear from you by {local_text(calendar, datetime.fromisoformat(str(final_at)))}, "
                f"we will mark this request {config.status(str(then)).label}."
                if final_at and then
                else None
            )
        elif kind == "team_reminder":
            context["status_label"] = config.status(str(data["status"])).label
            context["waiting"] = str(data["waiting"])
            context["since"] = local_text(calendar, datetime.fromisoformat(str(data["since"])))
            context["number"] = int(data["number"])
            context["times"] = int(data["times"])
        elif kind == "sla":
            context["level"] = str(data["level"])
            context["timer_label"] = TIMER_LABELS.get(str(data["timer"]), str(data["timer"]))
            context["due"] = local_text(calendar, datetime.fromisoformat(str(data["due"])))
            assignee = self.store.get_agent(ticket.assignee) if ticket.assignee else None
            context["assignee_name"] = assignee.name if assignee else None
        elif kind == "survey":
            survey = self.links.survey(ticket.id, config.survey.link_days)
            context["ratings"] = [
                {"rating": n, "url": f"{survey}?{urlencode({'rating': n})}"} for n in range(1, config.survey.scale + 1)
            ]
            context["comment_url"] = survey
            context["unsubscribe_url"] = self.links.unsubscribe(ticket.id)
        return context

    def _status_update(self, config: DeskConfig, ticket: Ticket, status: str, days: int) -> dict[str, Any]:
        """What a move into `status` tells the requester: its label, its configured message, their decisions."""
        return {
            "label": config.status(status).label,
            "message": self._message(config, ticket, config.email.status_messages.get(status, ""), status),
            "actions": self._actions(config, ticket, status, days),
        }

    def _message(self, config: DeskConfig, ticket: Ticket, text: str, status: str) -> str:
        values = {
            "ref": ticket.ref,
            "subject": ticket.subject,
            "status": config.status(status).label,
            "desk": config.desk.name,
            "name": ticket.requester_name,
        }
        return fill_placeholders(text, values)

    def _actions(self, config: DeskConfig, ticket: Ticket, status: str, days: int) -> list[dict[str, str]]:
        if ticket.type not in config.types or ticket.status != status:
            return []
        moves = config.workflow_of(ticket.type).transitions_from(status, REQUESTER)
        return [
            {
                "label": t.label or config.status(t.to_status).label,
                "url": self.links.action(ticket.id, t.to_status, days),
            }
            for t in moves
        ]

    def _name(self, actor: str) -> str:
        role, _, actor_id = actor.partition(":")
        if role == "agent":
            agent = self.store.get_agent(actor_id)
            if agent is not None:
                return agent.name
        return "the desk" if role == "system" else actor_id


def _with_files(letter: Letter, files: list[Attachment]) -> Letter:
    """A letter about a comment with its files: those that fit SES's limit attached (chosen now, from the sizes
    recorded, so the text can say so), the others named as waiting on the ticket behind the mail's link."""
    if letter.kind not in COMMENT_KINDS:
        return letter
    carried: list[Attachment] = []
    left: list[Attachment] = []
    if files:
        from chalicelib.mail.attach import carry

        carried, left = carry(files)
    context = {
        **letter.context,
        "files_attached": [{"name": f.filename, "size": f.size} for f in carried],
        "files_on_ticket": [{"name": f.filename, "size": f.size} for f in left],
    }
    return replace(letter, context=context, attachments=tuple(f.id for f in carried))


def _digest_owner(recipient: Recipient) -> str:
    """The outbox partition of a recipient's digests: the agent's id, else the (team) address; hashed when the
    address is too long for an id or has the "/" that separates partition and key in an outbox mail's id."""
    who = recipient.agent_id or recipient.email.lower()
    if "/" in who or not is_plausible_id(DIGEST + who):
        who = hashlib.sha256(who.encode()).hexdigest()[:32]
    return DIGEST + who


def _missing_fields(ticket_type: TicketType, values: dict[str, Any]) -> list[str]:
    """The labels of the type's required intake fields the ticket lacks: a mail cannot carry them, so the
    acknowledgement asks for them (check_submission lets a mail open the ticket without them)."""
    return [
        spec.label
        for spec in ticket_type.fields
        if spec.required and (values.get(spec.name) is None or not str(values[spec.name]).strip())
    ]


def _quoted(text: str) -> str:
    """A description or comment as a mail quotes it: whole up to QUOTE_LIMIT characters, which keeps the worst
    case (text, HTML with every character escaped, and the MIME of both) well inside an outbox item's 400 KB."""
    if len(text) <= QUOTE_LIMIT:
        return text
    return text[:QUOTE_LIMIT].rstrip() + "\n\n[…] The rest is on the ticket."


def _acknowledged(text: str) -> str:
    """What the acknowledgement quotes of a description: one paragraph (no layout of the caller's own), at most
    ACK_EXCERPT characters, and where it is cut, that the whole message is on the ticket."""
    told = " ".join(text.split())
    if len(told) <= ACK_EXCERPT:
        return told
    return f"{_excerpt(told, ACK_EXCERPT)}\n\n{ACK_REST}"


def _excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of `text` in at most `limit` characters, ending in "…" when cut: after the last whole word,
    unless that would drop more than half of it (one long word is cut where the limit falls)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():
        boundary = max((index for index, char in enumerate(cut) if char.isspace()), default=-1)
        if boundary > limit // 2:
            cut = cut[:boundary]
    return cut.rstrip() + "…"


def admin_letters(agents: Iterable[Agent], owner: str, key: str, kind: str, context: dict[str, Any]) -> list[Letter]:
    """One automated mail to each active admin, keyed `<key>#<address>` under `owner`, so the outbox sends each
    once however often the same news is told (a rerun job, two functions noticing it together)."""
    return [
        Letter(
            ticket_id=owner,
            key=f"{key}#{agent.email}",
            kind=kind,
            to=agent.email,
            to_name=agent.name,
            context={**context, "recipient_name": agent.name},
            automated=True,
            threaded=False,
        )
        for agent in agents
        if agent.active and agent.is_admin
    ]
