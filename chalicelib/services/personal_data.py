"""A person's data: everything the desk holds about them as one document, their erasure, and the retention job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.addresses import normalised_address
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import StaleVersionError
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.personal_data import (
    ERASED,
    ERASED_ADDRESS,
    ERASER,
    Erasure,
    Redactor,
    erased_event,
    erased_fields,
    erasure_key,
    refused,
    requester_email,
    retention_cutoff,
)
from chalicelib.domain.tickets import REQUESTER, Comment, Ticket
from chalicelib.services.ports import SurveyAnswer, SurveyStore

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.domain.attachments import Attachment
    from chalicelib.services.desk import Desk

ERASE_BATCH = 10  # tickets per erasure request: each is a few dozen writes, well inside API Gateway's 29 s
RETENTION_BATCH = 20  # tickets per retention run (hourly, inside the stale sweep)
ATTEMPTS = 3  # re-reads of a ticket an agent keeps changing during its erasure
# The desk table's per-address items (chalicelib/services/limits.py): the hour counters of new tickets,
# portal comments and too-large-mail answers, keyed by the address as normalised for counting.
RATE_PREFIXES = ("rate#addr#", "rate#comments#", "rate#too_large#")


class PersonalDataStore(Protocol):
    """chalicelib/adapters/personal_data.py; every read a key or index lookup."""

    def requester_ticket_ids(self, email: str, limit: int) -> list[str]: ...

    def done_before(self, cutoff: datetime, after: str | None, limit: int) -> list[tuple[str, str]]: ...

    def ticket(self, ticket_id: str) -> Ticket | None: ...

    def scrub_ticket_partition(self, ticket_id: str, email: str, redact: Redactor) -> list[str]: ...

    def scrub_event_partition(self, ticket_id: str, email: str, redact: Redactor) -> int: ...

    def mails_to(self, ticket_id: str, email: str) -> list[dict[str, Any]]: ...

    def save_erased(self, ticket: Ticket, expected_version: int) -> None: ...

    def desk_items(self, pk: str) -> list[dict[str, Any]]: ...

    def delete_desk_partition(self, pk: str) -> int: ...

    def forget_inbound(self, ses_message_id: str) -> None: ...

    def erasure(self, key: str) -> Erasure | None: ...

    def save_erasure(self, erasure: Erasure) -> None: ...

    def retention_mark(self) -> str | None: ...

    def save_retention_mark(self, after: str) -> None: ...

    def delete_raw_mail(self, key: str) -> None: ...

    def raw_mail_name(self, key: str) -> str | None: ...


class TicketFiles(Protocol):
    """The attachments service, as the erasure needs it."""

    def listing(self, ticket_id: str, for_requester: bool) -> list[Attachment]: ...

    def discard(self, attachment: Attachment) -> None: ...

    def clear_abandoned(self, ticket_id: str) -> int: ...


@dataclass(frozen=True)
class ErasureResult:
    tickets_erased: int  # by this erasure of the person, over every call so far
    erased_now: int
    complete: bool
    changing: tuple[str, ...] = ()  # tickets an agent kept changing: the next call tries them again


class PersonalData:
    def __init__(
        self,
        desk: Desk,
        store: PersonalDataStore,
        surveys: SurveyStore,
        files: Callable[[], TicketFiles],
        refresh: Callable[[str, DeskConfig], Any] | None = None,
    ) -> None:
        self.desk = desk
        self.store = store
        self.surveys = surveys
        self.files = files  # built on first use: S3 loads only when a ticket is exported or erased
        # Recounts the ticket's share of the reports from its (now scrubbed) history: the survey comment leaves
        # the satisfaction report's list, every count and rating stays.
        self.refresh = refresh

    # export ---------------------------------------------------------------------------------------------------

    def export(self, email_value: Any) -> dict[str, Any]:
        """Everything the desk holds about the person: their tickets with comments, files (as links), history,
        the mail sent to them and survey answers, and their survey opt-out. An unknown address gives empty lists."""
        email = requester_email(email_value)
        tickets = []
        for ticket_id in self.store.requester_ticket_ids(email, limit=10_000):
            found = self.desk.tickets.get_with_comments(ticket_id)
            if found is None:
                continue
            ticket, comments = found
            tickets.append(
                ExportedTicket(
                    ticket,
                    comments,
                    self.files().listing(ticket.id, for_requester=False),
                    self.desk.events.all_events(ticket.id),
                    self.store.mails_to(ticket.id, email),
                    self.surveys.get(ticket.id),
                )
            )
        opt_outs = [str(item["sk"]["S"]) for item in self.store.desk_items(f"optout#{email}")]
        return {"email": email, "tickets": tickets, "survey_opt_outs": opt_outs}

    # erasure --------------------------------------------------------------------------------------------------

    def erase(self, email_value: Any, confirm: Any, limit: int = ERASE_BATCH) -> ErasureResult:
        """Erase up to `limit` of the person's tickets, then (once none is left) their per-address items.

        Resumable: an erased ticket leaves the person's index entries, so each call finds only what is left, and
        the progress is kept under a hash of the address. A call that finds nothing left changes nothing."""
        email = requester_email(email_value)
        if confirm is not True:
            raise refused("an erasure cannot be undone; confirm it", "confirm", "must be true")
        now = self.desk.clock.now()
        key = erasure_key(email)
        progress = self.store.erasure(key)
        ids = self.store.requester_ticket_ids(email, limit + 1)
        erased, changing = 0, []
        for ticket_id in ids[:limit]:
            try:
                if self.erase_ticket(ticket_id, scope="requester"):
                    erased += 1
            except StaleVersionError:
                changing.append(ticket_id)
        complete = len(ids) <= limit and not changing
        removed = self._forget_address(email) if complete else 0
        # A finished erasure that finds new tickets (the person wrote again) is a new erasure: its own count.
        ongoing = progress if progress is not None and not (progress.complete and erased) else None
        total = (ongoing.tickets_erased if ongoing else 0) + erased
        if progress is None or erased or removed or progress.complete != complete:
            started = ongoing.started_at if ongoing else now
            self.store.save_erasure(Erasure(key, total, complete, started, now))
        return ErasureResult(total, erased, complete, tuple(changing))

    def _forget_address(self, email: str) -> int:
        """What the desk keeps per address rather than per ticket: the opt-out and the hourly counters."""
        counted = normalised_address(email)
        removed = self.store.delete_desk_partition(f"optout#{email}")
        for prefix in RATE_PREFIXES:
            removed += self.store.delete_desk_partition(f"{prefix}{counted}")
        return removed

    def erase_ticket(self, ticket_id: str, scope: str) -> bool:
        """Take the requester's data out of one ticket and everything derived from it; False if there was
        nothing left to erase. The ticket item is written last, conditional on the version read, so an erasure
        cut short is found and finished by the next call, and an agent's edit meanwhile is never overwritten
        (StaleVersionError after a few attempts)."""
        for _ in range(ATTEMPTS):
            ticket = self.store.ticket(ticket_id)
            if ticket is None or ticket.requester_email == ERASED_ADDRESS:
                return False
            self._scrub(ticket)
            erased = replace(
                ticket,
                subject=ERASED,
                description=ERASED,
                requester_name=ERASED,
                requester_email=ERASED_ADDRESS,
                fields=erased_fields(ticket.fields),
                changed_by=ERASER,
                mail_key=None,
            )
            try:
                self.store.save_erased(erased, ticket.version)
            except StaleVersionError:
                continue  # an agent changed it meanwhile: read it again and erase what it holds now
            # After the ticket's write: the event is published to webhooks, whose copy must not name the person.
            self.desk.events.add([erased_event(ticket_id, self.desk.clock.now(), ticket.version, scope)])
            return True
        raise StaleVersionError(f"ticket {ticket_id} kept changing while it was being erased")

    def settle(self, before: Ticket) -> int:
        """The second pass of a ticket's erasure, when the stream brings the erasure's own write (`before` is the
        ticket as it was). A change made just before the erasure may have been handled by the stream after the
        first pass had scrubbed, adding its history events, mail or deliveries with the person in them; the stream
        keeps one item's records in order, so by now every such change of the ticket is in, and it is scrubbed
        with what the ticket held before. How many items it changed (none, mostly)."""
        return self._scrub(before)

    def _scrub(self, ticket: Ticket) -> int:
        """Everything of one ticket but the ticket item: comments, raw mail, files, history, mail, deliveries;
        then the reports' share is counted again from the scrubbed history."""
        found = self.desk.tickets.get_with_comments(ticket.id)
        comments = found[1] if found else []
        redact = self._redactor(ticket, comments)
        mail_keys = self.store.scrub_ticket_partition(ticket.id, ticket.requester_email, redact)
        for key in mail_keys + [k for k in (ticket.mail_key,) if k]:
            self._forget_mail(key)
        self._erase_files(ticket.id)
        touched = self.store.scrub_event_partition(ticket.id, ticket.requester_email, redact)
        if self.refresh is not None:
            self.refresh(ticket.id, self.desk.config())
        return touched + len(mail_keys)

    def _redactor(self, ticket: Ticket, comments: list[Comment]) -> Redactor:
        texts = [ticket.subject, ticket.description]
        texts += [str(v) for v in ticket.fields.values() if isinstance(v, str)]
        texts += [c.body for c in comments if c.author_role == REQUESTER]
        answer = self.surveys.get(ticket.id)
        if answer is not None and answer.comment:
            texts.append(answer.comment)
        return Redactor(ticket.requester_email, ticket.requester_name, texts)

    def _forget_mail(self, key: str) -> None:
        name = self.store.raw_mail_name(key)
        self.store.delete_raw_mail(key)
        if name:
            self.store.forget_inbound(name)

    def _erase_files(self, ticket_id: str) -> None:
        files = self.files()
        files.clear_abandoned(ticket_id)
        for attachment in files.listing(ticket_id, for_requester=False):
            files.discard(attachment)

    # retention ------------------------------------------------------------------------------------------------

    def retention_sweep(self, limit: int = RETENTION_BATCH) -> dict[str, Any]:
        """Erase the tickets done longer ago than the desk's retention, oldest first, `limit` per run; off (and
        free: no read beyond the configuration; an empty summary) unless the configuration sets `retention`.
        A mark keeps where the last run stopped, so erased tickets are never read again."""
        days = self.desk.config().retention_days
        if days is None:
            return {}
        cutoff = retention_cutoff(self.desk.clock.now(), days)
        mark = self.store.retention_mark()
        due = self.store.done_before(cutoff, mark, limit)
        erased, changing = 0, 0
        for ticket_id, closed_sort in due:
            try:
                if self.erase_ticket(ticket_id, scope="retention"):
                    erased += 1
            except StaleVersionError:
                changing += 1
                break  # it is being worked on: the next run starts with it again
            mark = closed_sort
        if mark is not None and due:
            self.store.save_retention_mark(mark)
        return {"due": len(due), "erased": erased, "changing": changing}


@dataclass(frozen=True)
class ExportedTicket:
    ticket: Ticket
    comments: list[Comment]
    files: list[Attachment]
    history: list[HistoryEvent]
    mails: list[dict[str, Any]]
    survey: SurveyAnswer | None
