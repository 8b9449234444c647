"""What the services need from the outside world; DynamoDB adapters and test fakes implement these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.agents import Agent
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.sla import Tracker
from chalicelib.domain.tickets import Comment, Ticket

if TYPE_CHECKING:  # the report modules load only where reports are made or counted
    from chalicelib.domain.attachments import Attachment
    from chalicelib.domain.reports import Row
    from chalicelib.domain.stats import Contribution


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdSource(Protocol):
    def new_id(self) -> str: ...


@dataclass(frozen=True)
class QueueQuery:
    """A queue request after the service resolved config names (priority -> rank)."""

    statuses: tuple[str, ...] = ()
    state: str = "open"  # "open", "done" or "all"; ignored when statuses are named
    priority: str | None = None
    priority_rank: int | None = None
    done_statuses: frozenset[str] = frozenset()  # which of `statuses` are done statuses
    type: str | None = None
    assignee: str | None = None
    team: str | None = None
    requester: str | None = None
    limit: int = 25
    after: str | None = None


@dataclass(frozen=True)
class QueuePage:
    tickets: list[Ticket]
    next_after: str | None


@dataclass(frozen=True)
class IdempotencyClaim:
    key: str
    fingerprint: str


@dataclass(frozen=True)
class StoredConfig:
    version: int
    document: dict[str, Any]
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class PreviousTicket:
    """The ticket an earlier request with the same idempotency key opened."""

    ticket_id: str
    fingerprint: str


class TicketStore(Protocol):
    def create(self, ticket: Ticket, claim: IdempotencyClaim | None) -> None:
        """Write a new ticket; with a claim, atomically with it (IdempotencyConflict if taken)."""

    def get(self, ticket_id: str) -> Ticket | None: ...

    def get_with_comments(self, ticket_id: str) -> tuple[Ticket, list[Comment]] | None: ...

    def id_for_ref(self, ref: str) -> str | None: ...

    def save(self, ticket: Ticket, expected_version: int, comment: Comment | None = None) -> Ticket:
        """Write a changed ticket if it is still at `expected_version` (else StaleVersionError).

        With a comment, the comment is written in the same transaction: both or neither.
        """

    def add_comment(self, ticket: Ticket, comment: Comment) -> None: ...

    def queue(self, query: QueueQuery) -> QueuePage: ...

    def in_status(self, status: str, ticket_type: str | None, limit: int | None = None) -> list[Ticket]:
        """Tickets in a status (of one type, if given); index reads may lag a write by a moment."""

    def with_rank(self, state: str, rank: int) -> list[Ticket]:
        """Open or done tickets whose stored priority rank is `rank`."""

    def open_with_priority(self, priority: str) -> list[Ticket]:
        """Open tickets with this priority key, whatever rank they were stored with (reads every open ticket)."""

    def open_ids(self) -> list[str]:
        """Every open ticket's id (its cost grows with the open backlog, never with closed tickets)."""

    def recently_done(self, limit: int, after: str | None) -> QueuePage:
        """Done tickets, the most recently closed first; `after` is the page's `next_after` before."""

    def backlog(self, status: str) -> list[tuple[str, str, datetime]]:
        """(ticket id, priority, created_at) of every ticket in a status."""


class DeskStore(Protocol):
    def current_config(self) -> StoredConfig | None: ...

    def store_config(self, document: dict[str, Any], expected_version: int, actor: str, now: datetime) -> int:
        """Store a new version if the current one is `expected_version` (else StaleVersionError)."""

    def previous_ticket(self, key: str) -> PreviousTicket | None: ...

    def count_new_ticket(self, requester_email: str, hour: str, limit: int, expires_at: datetime) -> bool:
        """Count one more ticket for this requester this hour; False once `limit` is reached."""

    def next_ref_number(self) -> int: ...

    def signing_secret(self) -> bytes: ...

    def create_agent(self, agent: Agent, token_hash: str) -> None: ...

    def get_agent(self, agent_id: str) -> Agent | None: ...

    def list_agents(self) -> list[Agent]: ...

    def agent_for_token(self, token_hash: str) -> Agent | None: ...

    def revoke_agent(self, agent_id: str) -> bool: ...

    def set_agent_role(self, agent_id: str, role: str) -> Agent | None:
        """The agent with its new role; None if there is no such agent."""

    def set_agent_shortcuts(self, agent_id: str, on: bool) -> None: ...

    def config_versions(self, limit: int) -> list[StoredConfig]:
        """Stored configuration versions, newest first."""


@dataclass(frozen=True)
class HistoryPage:
    events: list[HistoryEvent]
    next_after: str | None


class EventStore(Protocol):
    """What the stream pipeline derives from the tickets table: history events and per-ticket trackers."""

    def add(self, events: list[HistoryEvent]) -> int:
        """Write each event unless its key is already there (a redelivery); how many were new."""

    def all_events(self, ticket_id: str) -> list[HistoryEvent]:
        """Every event of a ticket, in key order."""

    def history(self, ticket_id: str, limit: int, after: str | None) -> HistoryPage: ...

    def tracker(self, ticket_id: str) -> Tracker | None: ...

    def trackers(self, ticket_ids: list[str]) -> dict[str, Tracker]: ...

    def save_tracker(self, tracker: Tracker) -> bool:
        """Store it unless the stored one was computed from more events; whether it was stored.

        What the SLA sweep noted on the stored one (the levels it warned about) is kept."""

    def due_trackers(self, now: datetime, limit: int) -> list[DueTracker]:
        """Trackers whose next at-risk or breach moment has come, with what was already warned about."""

    def note_alerts(self, tracker: Tracker, notified: frozenset[str], next_due_at: datetime | None) -> bool:
        """Record the levels warned about and when to look again, unless the tracker changed since read."""


@dataclass(frozen=True)
class StoredContribution:
    """What a ticket last added to the report aggregates, and the revision that guards it."""

    revision: int
    event_count: int
    contribution: Contribution


class StatsStore(Protocol):
    """The report aggregates: per-day counters by dimension, open-now gauges and survey comments."""

    def stored(self, ticket_id: str) -> StoredContribution | None:
        """What the ticket last added to the aggregates, with its revision."""

    def apply(self, ticket_id: str, event_count: int, stored: StoredContribution | None, new: Contribution) -> bool:
        """Replace what the ticket added (`stored`) by `new`; False if `stored` is no longer current."""

    def cells(self, dim: str, first_day: str, last_day: str) -> list[Row]: ...

    def open_counts(self) -> dict[tuple[str, str], int]: ...

    def comments(
        self, first_day: str, last_day: str, limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...


class IdempotencyKeyTaken(Exception):
    """A concurrent request claimed the same idempotency key first."""


class MailNotSent(Exception):
    """The mail provider did not take a message (throttled, rejected, unreachable); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Mailer(Protocol):
    def send(self, sender: str, to: str, raw: bytes) -> str:
        """Send one raw MIME message; the provider's message id. Raises MailNotSent on any failure."""


@dataclass(frozen=True)
class SentMail:
    """A mail the provider accepted, as an observer (the local run) is told of it."""

    key: str
    ticket_id: str
    kind: str
    to: str
    subject: str
    text: str
    html: str
    raw: bytes
    message_id: str
    sent_at: datetime


PENDING = "pending"
SENT = "sent"
FAILED = "failed"


@dataclass(frozen=True)
class OutboxItem:
    """One email, recorded under the key of its cause before it is sent, so it is sent once and never lost."""

    ticket_id: str
    key: str
    kind: str
    to: str
    subject: str
    text: str
    html: str
    raw: bytes
    created_at: datetime
    state: str = PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    message_id: str | None = None
    # The stored files the mail carries, in order (ids on the ticket): their bytes are read at each delivery and
    # never kept here, since an item is at most 400 KB. Chosen when it was recorded; its text names them.
    attachment_ids: tuple[str, ...] = ()


class MailFiles(Protocol):
    """The stored files of a ticket as mail needs them (the attachments service): those that came with one
    comment, to choose what a mail about it carries, and one file's bytes, to put it in the mail sent."""

    def of_comment(self, ticket_id: str, comment_id: str) -> list[Attachment]:
        """The comment's stored files in upload order, whoever may see them (the caller decides that)."""

    def content(self, ticket_id: str, attachment_id: str) -> tuple[Attachment, bytes]:
        """The stored file and its bytes; NotFoundError when it is no longer there."""


class OutboxStore(Protocol):
    def add(self, item: OutboxItem) -> bool:
        """Record it unless its key is already there; whether it was new. ValueError if it is too large to keep."""

    def claim(self, item: OutboxItem, retry_at: datetime) -> OutboxItem | None:
        """Take a pending item for one attempt (attempts + 1, next try at `retry_at` in case this one never
        reports back); None if another sender took it or it is no longer pending."""

    def sent(self, item: OutboxItem, message_id: str, now: datetime) -> None: ...

    def not_sent(self, item: OutboxItem, error: str, failed: bool, now: datetime) -> None:
        """Note a failed attempt; with `failed`, give up and keep it for admins to see."""

    def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        """Pending items whose next attempt is due, oldest first."""

    def listing(self, state: str, limit: int) -> list[OutboxItem]:
        """Pending or failed items, oldest first."""

    def get(self, ticket_id: str, key: str) -> OutboxItem | None: ...

    def requeue(self, item: OutboxItem, now: datetime) -> bool:
        """Make a failed item pending again, due now, with a fresh count of attempts."""


STALE = "stale"
SURVEY = "survey"


@dataclass(frozen=True)
class AgendaEntry:
    """A job's next step for one ticket: a stale reminder or a survey, due at `due_at` (None: nothing left)."""

    ticket_id: str
    job: str  # STALE or SURVEY
    status: str
    since: datetime  # when the ticket entered `status`: the entry holds only for that stay
    step: int  # steps already taken (reminders sent; for a survey, 1 once sent)
    due_at: datetime | None
    last_sent_at: datetime | None = None  # survey: when this ticket was last surveyed
    version: int = 0  # the ticket's version that began the stay: stays are ordered by it, not by time


class AgendaStore(Protocol):
    def plan(self, entry: AgendaEntry) -> bool:
        """Start the entry for a stay begun by a newer ticket version (an older or equal one is left alone);
        whether it was written."""

    def due(self, job: str, now: datetime, limit: int) -> list[AgendaEntry]: ...

    def advance(self, entry: AgendaEntry, step: int, due_at: datetime | None, last_sent_at: datetime | None) -> bool:
        """Record a step taken, if the entry is still the one read (same stay, same step); whether it was."""


@dataclass(frozen=True)
class DueTracker:
    tracker: Tracker
    notified: frozenset[str]  # "first_response:at_risk" … what the SLA sweep already warned about


@dataclass(frozen=True)
class SurveyAnswer:
    ticket_id: str
    rating: int
    comment: str
    answered_at: datetime
    revision: int  # 1 for the first answer, then one more per change


class SurveyStore(Protocol):
    def answer(self, ticket_id: str, rating: int, comment: str | None, now: datetime) -> SurveyAnswer:
        """Record or update the ticket's one answer (a comment of None keeps the one given before);
        an answer equal to the stored one changes nothing."""

    def get(self, ticket_id: str) -> SurveyAnswer | None: ...


class OptOutStore(Protocol):
    def opt_out(self, email: str, now: datetime) -> None: ...

    def opted_out(self, email: str) -> bool: ...
