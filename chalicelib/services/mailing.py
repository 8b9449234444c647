"""Mail: notices addressed and put into words (letters), recorded in the outbox, sent, and retried with back-off."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from chalicelib.domain.calendar import local_text
from chalicelib.domain.config import DeskConfig, fill_placeholders
from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.domain.notices import TO_ASSIGNEE, TO_REQUESTER, Notice
from chalicelib.domain.tickets import REQUESTER, Ticket
from chalicelib.domain.tokens import sign_link
from chalicelib.services.desk import PORTAL, is_plausible_id, is_whole_number
from chalicelib.services.ports import (
    FAILED,
    PENDING,
    SENT,
    Clock,
    DeskStore,
    Mailer,
    MailNotSent,
    OutboxItem,
    OutboxStore,
    SentMail,
)

logger = logging.getLogger("helpdesk.mail")
MAX_ATTEMPTS = 8  # the first try and seven more over about ten hours (5 min, doubling, at most 6 h apart)
FIRST_RETRY = timedelta(minutes=5)
LONGEST_WAIT = timedelta(hours=6)
RETRY_BATCH = 100
LISTING_LIMIT = 500
EXCERPT = 600
QUOTE_LIMIT = 6000
OUTBOX_KEY_BYTES = 1000
SURVEY = "survey"
UNSUBSCRIBE = "unsubscribe"
UNSUBSCRIBE_DAYS = 365
AUTOMATED = frozenset({"reminder", "team_reminder", "sla", "survey"})
TIMER_LABELS = {"first_response": "first response", "resolution": "resolution"}


def retry_wait(attempts: int) -> timedelta:
    """How long after attempt number `attempts` the next one is due."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


@dataclass(frozen=True)
class Sender:
    address: str
    name: str
    reply_to: str | None


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
        next_attempt_at=now,
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
    ) -> None:
        self.outbox = outbox
        self.mailer = mailer
        self.composer = composer
        self.clock = clock
        self.sender_address = sender_address
        self.on_sent = on_sent

    def post(self, letters: list[Letter], config: DeskConfig) -> dict[str, int]:
        """Record every letter not recorded before, then try to send those; what became of them."""
        sender = Sender(self.sender_address, config.desk.name, config.email.reply_to)
        fresh: list[OutboxItem] = []
        for letter in letters:
            now = self.clock.now()
            try:
                composed = self.composer.compose(letter, sender, now)
            except ValueError as error:
                self._unsendable(letter, str(error), now)
                continue
            item = _outbox_item(letter, composed, now)
            try:
                added = self.outbox.add(item)
            except ValueError as error:
                self._unsendable(letter, str(error), now)  # kept as failed, small, so the stream record goes on
                continue
            if added:
                fresh.append(item)
        tally = {"recorded": len(fresh), "already_recorded": len(letters) - len(fresh)}
        for item in fresh:
            outcome = self.deliver(item)
            tally[outcome] = tally.get(outcome, 0) + 1
        return tally

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
            message_id = self.mailer.send(self.sender_address, claimed.to, claimed.raw)
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
                    raw=claimed.raw,
                    message_id=message_id,
                    sent_at=sent_at,
                )
            )
        return SENT

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


class Notifier:
    """Turns notices into letters: who gets them (requester, assignee, team, one agent), and what they say."""

    def __init__(self, store: DeskStore, postman: Postman, links: Links) -> None:
        self.store = store
        self.postman = postman
        self.links = links

    def notify(self, config: DeskConfig, ticket: Ticket, notices: list[Notice]) -> dict[str, int]:
        letters = [letter for notice in notices for letter in self.letters(config, ticket, notice)]
        return self.postman.post(letters, config) if letters else {}

    # who ------------------------------------------------------------------------------------------

    def recipients(self, config: DeskConfig, ticket: Ticket, audience: str) -> list[Recipient]:
        if audience == TO_REQUESTER:
            return [Recipient(ticket.requester_email, ticket.requester_name)]
        if audience.startswith("agent:"):
            agent = self.store.get_agent(audience.split(":", 1)[1])
            return [Recipient(agent.email, agent.name)] if agent is not None and agent.active else []
        if audience == TO_ASSIGNEE and ticket.assignee:
            agent = self.store.get_agent(ticket.assignee)
            if agent is not None and agent.active:
                return [Recipient(agent.email, agent.name)]
        team = config.teams.get(ticket.team or "")
        if team is not None and team.email:
            return [Recipient(team.email, team.label)]
        # No team address: every active agent hears of it, so nothing waits unseen.
        return [Recipient(a.email, a.name) for a in self.store.list_agents() if a.active]

    # what -----------------------------------------------------------------------------------------

    def letters(self, config: DeskConfig, ticket: Ticket, notice: Notice) -> list[Letter]:
        audience = notice.audience
        letters = []
        for recipient in self.recipients(config, ticket, audience):
            context = self.context(config, ticket, notice, recipient)
            key = notice.key if audience == TO_REQUESTER else f"{notice.key}#{recipient.email}"
            letters.append(
                Letter(
                    ticket_id=ticket.id,
                    key=key,
                    kind=notice.kind,
                    to=recipient.email,
                    to_name=recipient.name,
                    context=context,
                    automated=notice.kind in AUTOMATED,
                    unsubscribe_url=context.get("unsubscribe_url"),
                )
            )
        return letters

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
        if kind == "acknowledgement":
            context["description"] = _quoted(ticket.description)
        elif kind in ("reply", "requester_comment"):
            context["author_name"] = str(data.get("author_name", ""))
            context["body"] = _quoted(str(data.get("body", "")))
        elif kind == "status":
            status = str(data["status"])
            context["message"] = self._message(config, ticket, config.email.status_messages.get(status, ""), status)
            context["actions"] = self._actions(config, ticket, status, days)
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


def _quoted(text: str) -> str:
    """A description or comment as a mail quotes it: whole up to QUOTE_LIMIT characters, which keeps the worst
    case (text, HTML with every character escaped, and the MIME of both) well inside an outbox item's 400 KB."""
    if len(text) <= QUOTE_LIMIT:
        return text
    return text[:QUOTE_LIMIT].rstrip() + "\n\n[…] The rest is on the ticket."


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"
