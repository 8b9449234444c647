"""History events: what changed on a ticket, derived from its state before and after a write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.calendar import business_time
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.tickets import AGENT, Comment, Ticket, stamp

CREATED = "created"
STATUS_CHANGED = "status_changed"
PRIORITY_CHANGED = "priority_changed"
ASSIGNEE_CHANGED = "assignee_changed"
TEAM_CHANGED = "team_changed"
SUBJECT_CHANGED = "subject_changed"
FIELDS_CHANGED = "fields_changed"
REPLY = "reply"  # a public comment by an agent
NOTE = "note"  # an internal note, never shown to the requester
REQUESTER_COMMENT = "requester_comment"
# What the scheduled jobs and the survey record; keyed "<time>#j#<what>" so a rerun rewrites the same key.
JOB_MARK = "#j#"
REMINDER_SENT = "reminder_sent"
SLA_AT_RISK = "sla_at_risk"
SLA_BREACHED = "sla_breached"
SURVEY_SENT = "survey_sent"
SURVEY_ANSWERED = "survey_answered"
ERASED = "erased"  # a person's data was taken out of the ticket (chalicelib/services/personal_data.py)
ERASER = "system:erasure"  # who writes an erasure: its ticket write records no change in the history
# Within one write, events sort in this order; a comment made with a transition sorts after it.
ORDER = {
    CREATED: 0,
    STATUS_CHANGED: 1,
    PRIORITY_CHANGED: 2,
    ASSIGNEE_CHANGED: 3,
    TEAM_CHANGED: 4,
    SUBJECT_CHANGED: 5,
    FIELDS_CHANGED: 6,
}
EXCERPT_LIMIT = 280


@dataclass(frozen=True)
class HistoryEvent:
    """One immutable change. `key` is unique per ticket and sorts the history: a redelivery rewrites the same key."""

    ticket_id: str
    key: str
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any] = field(default_factory=dict)


def _event(ticket: Ticket, kind: str, data: dict[str, Any]) -> HistoryEvent:
    at = ticket.status_since if kind == STATUS_CHANGED else ticket.updated_at
    if kind == CREATED:
        at = ticket.created_at
    key = f"{stamp(at)}#{ticket.version:010d}#{ORDER[kind]}"
    return HistoryEvent(ticket_id=ticket.id, key=key, kind=kind, at=at, actor=ticket.changed_by, data=data)


def ticket_events(config: DeskConfig, old: Ticket | None, new: Ticket) -> list[HistoryEvent]:
    """The visible changes between two states of a ticket; none when only counters or derived keys changed.

    An erasure's write records none either: its `erased` event is written beside it, and an event from the
    old and new subject would put back what was erased."""
    if new.changed_by == ERASER:
        return []
    if old is None:
        return [
            _event(
                new,
                CREATED,
                {
                    "status": new.status,
                    "category": config.status(new.status).category,
                    "priority": new.priority,
                    "type": new.type,
                    "team": new.team,
                    "assignee": new.assignee,
                    "subject": new.subject,
                    "fields": dict(new.fields),
                },
            )
        ]
    events: list[HistoryEvent] = []
    if new.status != old.status:
        calendar = config.sla.calendar
        events.append(
            _event(
                new,
                STATUS_CHANGED,
                {
                    "from": old.status,
                    "to": new.status,
                    "from_category": config.status(old.status).category,
                    "to_category": config.status(new.status).category,
                    "since": stamp(old.status_since),
                    "wall_seconds": _seconds(new.status_since - old.status_since),
                    "business_seconds": _seconds(business_time(calendar, old.status_since, new.status_since)),
                },
            )
        )
    for kind, name in (
        (PRIORITY_CHANGED, "priority"),
        (ASSIGNEE_CHANGED, "assignee"),
        (TEAM_CHANGED, "team"),
        (SUBJECT_CHANGED, "subject"),
    ):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            events.append(_event(new, kind, {"from": before, "to": after}))
    if old.fields != new.fields:
        changed = {
            name: {"from": old.fields.get(name), "to": new.fields.get(name)}
            for name in sorted(set(old.fields) | set(new.fields))
            if old.fields.get(name) != new.fields.get(name)
        }
        events.append(_event(new, FIELDS_CHANGED, {"fields": changed}))
    return events


def comment_event(comment: Comment) -> HistoryEvent:
    if comment.author_role == AGENT:
        kind = REPLY if comment.public else NOTE
    else:
        kind = REQUESTER_COMMENT
    body = comment.body if len(comment.body) <= EXCERPT_LIMIT else comment.body[: EXCERPT_LIMIT - 1] + "…"
    return HistoryEvent(
        ticket_id=comment.ticket_id,
        # "c" sorts after the digits of a ticket write's version: a comment made with a transition follows it.
        key=f"{stamp(comment.created_at)}#c#{comment.id}",
        kind=kind,
        at=comment.created_at,
        actor=f"{comment.author_role}:{comment.author_id}",
        data={"comment_id": comment.id, "public": comment.public, "author_name": comment.author_name, "excerpt": body},
    )


def _seconds(span: timedelta) -> float:
    return round(span.total_seconds(), 6)


def job_event(ticket_id: str, kind: str, at: datetime, cause: str, actor: str, data: dict[str, Any]) -> HistoryEvent:
    """An event a job or the survey made: its key comes from its cause, so doing it again writes nothing new."""
    return HistoryEvent(
        ticket_id=ticket_id, key=f"{stamp(at)}{JOB_MARK}{cause}", kind=kind, at=at, actor=actor, data=data
    )
