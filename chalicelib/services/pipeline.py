"""The stream pipeline's use case: turn one written ticket or comment into history and an up-to-date tracker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.domain import history, notices, sla, stats
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.history import CREATED, STATUS_CHANGED, SURVEY_ANSWERED, HistoryEvent
from chalicelib.domain.personal_data import is_erasure
from chalicelib.domain.tickets import Comment, Ticket
from chalicelib.services.mailing import Notifier
from chalicelib.services.ports import (
    STALE,
    SURVEY,
    AgendaEntry,
    AgendaStore,
    Clock,
    EventStore,
    StatsStore,
    SurveyAnswer,
    TicketStore,
)


@dataclass(frozen=True)
class TicketWritten:
    """A ticket item as it was before a write (None when the write created it) and after."""

    old: Ticket | None
    new: Ticket


@dataclass(frozen=True)
class CommentWritten:
    comment: Comment


@dataclass(frozen=True)
class SurveyWritten:
    """A ticket's survey answer as it was before (None for the first) and after."""

    old: SurveyAnswer | None
    new: SurveyAnswer


Change = TicketWritten | CommentWritten | SurveyWritten
STATS_ATTEMPTS = 5


class StatsConflict(Exception):
    """The ticket's report counters changed under every attempt; the record is retried."""


class Pipeline:
    """Idempotent and order-safe: events are keyed by what caused them, trackers recomputed from all events."""

    def __init__(
        self,
        events: EventStore,
        config: Callable[[], DeskConfig],
        tickets: TicketStore | None = None,
        notifier: Notifier | None = None,
        agenda: AgendaStore | None = None,
        stats: StatsStore | None = None,
        clock: Clock | None = None,
        erased: Callable[[Ticket], Any] | None = None,
    ) -> None:
        """`erased` is told of each ticket's erasure when its write comes, with the ticket as it was before
        (chalicelib/services/personal_data.py's second pass)."""
        self.erased = erased
        self.events = events
        self.config = config
        self.tickets = tickets
        self.notifier = notifier
        self.agenda = agenda
        self.stats = stats
        self.clock = clock

    def apply(self, change: Change) -> list[HistoryEvent]:
        """Record what `change` did; the events it derived (already recorded ones included).

        Then plan the jobs' next steps and send the mail it causes. Mail goes through the outbox under keys
        derived from the change, so a redelivered record sends nothing twice; a send that fails stays
        pending for the outbox job and does not fail the record.
        """
        config = self.config()
        if isinstance(change, SurveyWritten):
            return self._survey_answered(config, change)
        if isinstance(change, TicketWritten):
            derived = history.ticket_events(config, change.old, change.new)
            ticket_id = change.new.id
        else:
            derived = [history.comment_event(change.comment)]
            ticket_id = change.comment.ticket_id
        if derived:
            self.events.add(derived)
            self.refresh(ticket_id, config)
        if isinstance(change, TicketWritten):
            if self.erased is not None and change.old is not None and is_erasure(change.old, change.new):
                self.erased(change.old)
                return derived
            self._plan(config, change.new, derived)
            if self.notifier is not None:
                found = notices.ticket_notices(config, change.old, change.new, derived)
                if found:
                    self.notifier.notify(config, change.new, found)
        elif self.notifier is not None and self.tickets is not None:
            found = notices.comment_notices(config, change.comment, derived[0])
            ticket = self.tickets.get(ticket_id) if found else None
            if ticket is not None:
                self.notifier.notify(config, ticket, found)
        return derived

    def _plan(self, config: DeskConfig, ticket: Ticket, derived: list[HistoryEvent]) -> None:
        """A ticket entering a status starts its stale reminders (or ends the last status's) and, for a
        survey status, its survey; an older record arriving late changes nothing (plan keeps the newest stay)."""
        if self.agenda is None or not any(e.kind in (CREATED, STATUS_CHANGED) for e in derived):
            return
        calendar = config.sla.calendar
        rule = config.stale_rules.get(ticket.status)
        due = notices.first_reminder_due(calendar, rule, ticket.status_since) if rule else None
        self.agenda.plan(
            AgendaEntry(ticket.id, STALE, ticket.status, ticket.status_since, 0, due, None, ticket.version)
        )
        survey = config.survey
        if survey.enabled and ticket.status in survey.statuses:
            due = ticket.status_since + timedelta(minutes=survey.delay_minutes)
            self.agenda.plan(
                AgendaEntry(ticket.id, SURVEY, ticket.status, ticket.status_since, 0, due, None, ticket.version)
            )

    def _survey_answered(self, config: DeskConfig, change: SurveyWritten) -> list[HistoryEvent]:
        new, old = change.new, change.old
        if old is not None and (old.rating, old.comment, old.revision) == (new.rating, new.comment, new.revision):
            return []
        ticket = self.tickets.get(new.ticket_id) if self.tickets is not None else None
        actor = f"requester:{ticket.requester_email}" if ticket is not None else "requester:survey"
        data = {
            "rating": new.rating,
            "previous_rating": old.rating if old is not None else None,
            "comment": new.comment,
            "revision": new.revision,
            "scale": config.survey.scale,
            "ref": ticket.ref if ticket is not None else None,
        }
        event = history.job_event(
            new.ticket_id, SURVEY_ANSWERED, new.answered_at, f"survey_answer_{new.revision:06d}", actor, data
        )
        self.events.add([event])
        self.refresh(new.ticket_id, config)
        return [event]

    def refresh(self, ticket_id: str, config: DeskConfig) -> sla.Tracker | None:
        """Recompute a ticket's tracker and its share of the report aggregates from every event it has, so late
        or repeated records converge."""
        events = self.events.all_events(ticket_id)
        line = sla.timeline(ticket_id, events)
        if line is None:
            return None  # its creation has not arrived yet; that record will refresh it
        tracker = sla.track(config, line)
        self.events.save_tracker(tracker)
        if self.stats is not None and self.clock is not None:
            self._count(self.stats, self.clock, config, line, tracker, events)
        return tracker

    def _count(
        self,
        store: StatsStore,
        clock: Clock,
        config: DeskConfig,
        line: sla.Timeline,
        tracker: sla.Tracker,
        events: list[HistoryEvent],
    ) -> None:
        """Apply what changed in the ticket's contribution; a concurrent refresh (the SLA sweep's) makes us
        look again, and one computed from more events than ours is left as it is."""
        for _ in range(STATS_ATTEMPTS):
            stored = store.stored(tracker.ticket_id)
            if stored is not None and stored.event_count > tracker.event_count:
                return
            new = stats.contributions(config, tracker, events, clock.now())
            if store.apply(tracker.ticket_id, tracker.event_count, stored, new):
                return
        raise StatsConflict(f"ticket {tracker.ticket_id}: the report counters kept changing under this refresh")
