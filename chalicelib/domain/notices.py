"""Who the desk writes to, and why: notices derived from a ticket's changes, stale rules and SLA timers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.calendar import after
from chalicelib.domain.config import BusinessCalendar, DeskConfig, StaleRule
from chalicelib.domain.history import (
    ASSIGNEE_CHANGED,
    CREATED,
    REPLY,
    REQUESTER_COMMENT,
    STATUS_CHANGED,
    HistoryEvent,
)
from chalicelib.domain.sla import Tracker
from chalicelib.domain.tickets import AGENT, REQUESTER, Comment, Ticket, stamp

# Audiences: the requester; the assignee (else the ticket's team); the team; one agent ("agent:<id>").
TO_REQUESTER = "requester"
TO_ASSIGNEE = "assignee"
TO_TEAM = "team"
# Set on a status notice whose write also added an agent's comment: its mail waits a moment for the reply to fold it in.
REPLY_MAY_FOLLOW = "reply_may_follow"
AT_RISK = "at_risk"
COMMENT_WINDOW_MINUTES = 5  # at most one requester-comment mail per ticket and recipient in each such window
BREACHED = "breached"


@dataclass(frozen=True)
class Notice:
    """One mail the desk owes someone. `key` is unique per ticket and comes from the cause, so a redelivered
    record or a rerun job derives the same key and the outbox sends it once."""

    ticket_id: str
    key: str
    kind: str
    audience: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def ticket_notices(config: DeskConfig, old: Ticket | None, new: Ticket, events: list[HistoryEvent]) -> list[Notice]:
    """Mail a ticket write causes: the acknowledgement, a requester-facing status, an assignment."""
    notices: list[Notice] = []
    for event in events:
        if event.kind == CREATED and config.email.acknowledge:
            notices.append(Notice(new.id, f"{event.key}#ack", "acknowledgement", TO_REQUESTER, event.at))
        elif event.kind == STATUS_CHANGED:
            status = str(event.data["to"])
            by_requester = event.actor.startswith(f"{REQUESTER}:")
            if status in config.email.status_messages and not by_requester:
                if old is not None and _may_have_replied(config, old, new):
                    notices.append(
                        Notice(
                            new.id,
                            status_with_comment_key(event.at, status),
                            "status",
                            TO_REQUESTER,
                            event.at,
                            {"status": status, REPLY_MAY_FOLLOW: True},
                        )
                    )
                else:
                    notices.append(
                        Notice(new.id, f"{event.key}#status", "status", TO_REQUESTER, event.at, {"status": status})
                    )
        elif event.kind == ASSIGNEE_CHANGED and config.email.assignments:
            assignee = event.data.get("to")
            if isinstance(assignee, str) and event.actor != f"agent:{assignee}":
                notices.append(
                    Notice(
                        new.id, f"{event.key}#assigned", "assigned", f"agent:{assignee}", event.at, {"by": event.actor}
                    )
                )
    return notices


def _may_have_replied(config: DeskConfig, old: Ticket, new: Ticket) -> bool:
    """Whether the write that changed the status also added an agent's comment that may be a public reply.

    The comment is its own stream record. A ticket image cannot tell a note from a reply once an agent has replied
    before (a note leaves `last_public_by` as it was), so "may": the reply, if it is one, folds this status in.
    """
    return (
        config.email.replies
        and new.comment_count == old.comment_count + 1
        and new.last_public_by == AGENT
        and new.changed_by.startswith(f"{AGENT}:")
    )


def status_with_comment_key(at: datetime, status: str) -> str:
    """The key of the status mail of a move into `status` made at `at` together with a comment. Both stream records
    of that write can compute it (the ticket's version, in the usual key, is not on the comment), so the reply's
    record can find the status mail, or take its place, in either order."""
    return f"{stamp(at)}#with_comment#{status}#status"


def status_entered_with(config: DeskConfig, ticket: Ticket, at: datetime) -> str | None:
    """The requester-facing status an agent's reply made at `at` came with: the one `ticket` entered at that very
    moment (a transition and its comment share the write's time). None when the ticket has moved on since or the
    status has no message for the requester."""
    if ticket.status_since != at or ticket.status not in config.email.status_messages:
        return None
    return ticket.status


def comment_notices(config: DeskConfig, comment: Comment, event: HistoryEvent) -> list[Notice]:
    """A public reply goes to the requester; a requester's comment to whoever works the ticket. Notes go nowhere."""
    data = {"comment_id": comment.id, "author_name": comment.author_name, "body": comment.body}
    if event.kind == REPLY and config.email.replies:
        return [Notice(comment.ticket_id, f"{event.key}#reply", "reply", TO_REQUESTER, event.at, data)]
    if event.kind == REQUESTER_COMMENT and config.email.requester_comments:
        key = f"{comment_window(event.at)}#comment"
        return [Notice(comment.ticket_id, key, "requester_comment", TO_ASSIGNEE, event.at, data)]
    return []


def comment_window(at: datetime) -> str:
    """The window a requester's comment made at `at` falls in. Its notice is keyed by the window, not the comment:
    the first comment of a window is mailed and the later ones find the key taken, so a requester posting twenty
    comments costs each agent one mail per ticket per window, and a redelivered record still sends nothing."""
    minute = at.minute - at.minute % COMMENT_WINDOW_MINUTES
    return f"{stamp(at.replace(minute=minute, second=0, microsecond=0))}#comments"


def first_reminder_due(calendar: BusinessCalendar, rule: StaleRule, since: datetime) -> datetime | None:
    """When the first reminder is due for a ticket in the rule's status since `since`."""
    return after(calendar, since, rule.after.amount, rule.after.unit, rule.after.clock)


def next_step_due(calendar: BusinessCalendar, rule: StaleRule, step: int, done_at: datetime) -> datetime | None:
    """After step `step` was taken at `done_at`: when the next is due (another reminder, or the rule's move),
    `every` later, so a sweep that ran late never crowds two steps together. None when nothing is left."""
    if step >= rule.times + (1 if rule.then else 0):
        return None
    return after(calendar, done_at, rule.every.amount, rule.every.unit, rule.every.clock)


@dataclass(frozen=True)
class SlaAlert:
    timer: str  # "first_response" or "resolution"
    level: str  # AT_RISK or BREACHED
    moment: datetime  # when the timer reached that level


def sla_alerts(
    tracker: Tracker, now: datetime, notified: frozenset[str]
) -> tuple[list[SlaAlert], frozenset[str], datetime | None]:
    """What to warn about now, once per timer and level; the levels then notified; the next moment to look again.

    A timer found already breached gets the breach alert only: its at-risk warning would come too late to help.
    """
    alerts: list[SlaAlert] = []
    done = set(notified)
    upcoming: list[datetime] = []
    for timer in tracker.timers:
        if timer.running_since is None:
            continue
        risk, breach = f"{timer.kind}:{AT_RISK}", f"{timer.kind}:{BREACHED}"
        if timer.breached_at is not None and timer.breached_at < now:
            if breach not in done:
                alerts.append(SlaAlert(timer.kind, BREACHED, timer.breached_at))
            done.update((risk, breach))
        elif timer.at_risk_at is not None and timer.at_risk_at <= now and risk not in done:
            alerts.append(SlaAlert(timer.kind, AT_RISK, timer.at_risk_at))
            done.add(risk)
        for label, moment in ((risk, timer.at_risk_at), (breach, timer.breached_at)):
            if moment is not None and label not in done:
                upcoming.append(moment)
    return alerts, frozenset(done), min(upcoming) if upcoming else None
