"""The stream pipeline's use case: turn one written ticket or comment into history and an up-to-date tracker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain import history, sla
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.tickets import Comment, Ticket
from chalicelib.services.ports import EventStore


@dataclass(frozen=True)
class TicketWritten:
    """A ticket item as it was before a write (None when the write created it) and after."""

    old: Ticket | None
    new: Ticket


@dataclass(frozen=True)
class CommentWritten:
    comment: Comment


Change = TicketWritten | CommentWritten


class Pipeline:
    """Idempotent and order-safe: events are keyed by what caused them, trackers recomputed from all events."""

    def __init__(self, events: EventStore, config: Callable[[], DeskConfig]) -> None:
        self.events = events
        self.config = config

    def apply(self, change: Change) -> list[HistoryEvent]:
        """Record what `change` did; the events it derived (already recorded ones included)."""
        config = self.config()
        if isinstance(change, TicketWritten):
            derived = history.ticket_events(config, change.old, change.new)
            ticket_id = change.new.id
        else:
            derived = [history.comment_event(change.comment)]
            ticket_id = change.comment.ticket_id
        if derived:
            self.events.add(derived)
            self.refresh(ticket_id, config)
        return derived

    def refresh(self, ticket_id: str, config: DeskConfig) -> sla.Tracker | None:
        """Recompute a ticket's tracker from every event it has, so late or repeated records converge."""
        line = sla.timeline(ticket_id, self.events.all_events(ticket_id))
        if line is None:
            return None  # its creation has not arrived yet; that record will refresh it
        tracker = sla.track(config, line)
        self.events.save_tracker(tracker)
        return tracker
