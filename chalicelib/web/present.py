"""How tickets, comments and agents look in JSON: one shape for agents, a narrower one for requesters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chalicelib.domain.agents import Agent
from chalicelib.domain.config import DeskConfig, Transition
from chalicelib.domain.history import STATUS_CHANGED, HistoryEvent
from chalicelib.domain.sla import StatusTime, TimerView
from chalicelib.domain.tickets import MAIL, Comment, Ticket, stamp
from chalicelib.services.desk import OPENING
from chalicelib.services.ports import OutboxItem, SurveyAnswer

if TYPE_CHECKING:
    from chalicelib.services.desk import SlaState


def when(moment: datetime | None) -> str | None:
    return stamp(moment) if moment else None


def _status(config: DeskConfig, key: str) -> dict[str, str]:
    status = config.status(key)
    return {"key": status.key, "label": status.label, "category": status.category}


def _type(config: DeskConfig, key: str) -> dict[str, str]:
    ticket_type = config.type_named(key)
    return {"key": key, "label": ticket_type.label if ticket_type else key}


def transitions(config: DeskConfig, allowed: list[Transition]) -> list[dict[str, str]]:
    return [
        {
            "to": t.to_status,
            "label": t.label or config.status(t.to_status).label,
            "status": config.status(t.to_status).label,
        }
        for t in allowed
    ]


def comment(item: Comment, *, for_agent: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": item.id,
        "body": item.body,
        "public": item.public,
        "author": {"role": item.author_role, "name": item.author_name},
        "created_at": when(item.created_at),
    }
    if for_agent:
        shown["author"]["id"] = item.author_id
        if item.source == MAIL:
            shown["source"] = MAIL
            shown["original_url"] = original_url(item.ticket_id, item.id)
    return shown


def original_url(ticket_id: str, message_id: str) -> str:
    """Where agents download a mail as the desk received it: a comment's, or "opening" for the one that opened it."""
    return f"/console/tickets/{quote(ticket_id)}/messages/{quote(message_id)}"


def ticket_row(config: DeskConfig, ticket: Ticket) -> dict[str, Any]:
    priority = config.priority(ticket.priority)
    return {
        "id": ticket.id,
        "ref": ticket.ref,
        "type": _type(config, ticket.type),
        "status": _status(config, ticket.status),
        "priority": {"key": priority.key, "label": priority.label, "rank": ticket.priority_rank},
        "subject": ticket.subject,
        "requester": {"name": ticket.requester_name, "email": ticket.requester_email},
        "assignee": ticket.assignee,
        "team": ticket.team,
        "created_at": when(ticket.created_at),
        "updated_at": when(ticket.updated_at),
        "status_since": when(ticket.status_since),
        "first_response_at": when(ticket.first_response_at),
        "version": ticket.version,
    }


def seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def timer(item: TimerView) -> dict[str, Any]:
    return {
        "state": item.state,
        "clock": item.clock,
        "target_seconds": seconds(item.target),
        "elapsed_seconds": seconds(item.elapsed),
        "remaining_seconds": seconds(item.remaining),
        "due_at": when(item.due_at),
        "at_risk": item.at_risk,
        "breached": item.breached,
        "met_at": when(item.met_at),
    }


def sla_state(state: SlaState | None) -> dict[str, Any] | None:
    """Per timer (first_response, resolution); null while the pipeline has not yet seen a changed ticket."""
    if state is None:
        return None
    return {t.kind: timer(t) for t in state.timers}


def status_times(config: DeskConfig, times: list[StatusTime]) -> list[dict[str, Any]]:
    return [
        {
            **_status(config, t.status),
            "visits": t.visits,
            "wall_seconds": seconds(t.wall),
            "business_seconds": seconds(t.business),
        }
        for t in times
    ]


def queue_row(config: DeskConfig, ticket: Ticket, state: SlaState | None) -> dict[str, Any]:
    return {**ticket_row(config, ticket), "sla": sla_state(state)}


def history_event(config: DeskConfig, event: HistoryEvent, names: dict[str, str]) -> dict[str, Any]:
    role, _, actor_id = event.actor.partition(":")
    shown: dict[str, Any] = {
        "kind": event.kind,
        "at": when(event.at),
        "by": {
            "role": role,
            "id": actor_id,
            "name": names.get(event.actor, "Desk automation" if role == "system" else None),
        },
        **event.data,
    }
    if event.kind == STATUS_CHANGED:
        shown["from"] = _status(config, str(event.data["from"]))
        shown["to"] = _status(config, str(event.data["to"]))
        shown["time_in_previous"] = {
            "wall_seconds": int(event.data["wall_seconds"]),
            "business_seconds": int(event.data["business_seconds"]),
            "since": event.data.get("since"),
        }
        for moved in ("from_category", "to_category", "wall_seconds", "business_seconds", "since"):
            shown.pop(moved, None)
    return shown


def ticket_detail(
    config: DeskConfig,
    ticket: Ticket,
    comments: list[Comment],
    allowed: list[Transition],
    state: SlaState | None = None,
) -> dict[str, Any]:
    opening = {"original_url": original_url(ticket.id, OPENING)} if ticket.mail_key else {}
    return {
        **ticket_row(config, ticket),
        **opening,
        "sla": sla_state(state),
        "time_in_status": status_times(config, state.time_in_status) if state else None,
        "description": ticket.description,
        "fields": ticket.fields,
        "comment_count": ticket.comment_count,
        "comments": [comment(c, for_agent=True) for c in comments],
        "allowed_transitions": transitions(config, allowed),
    }


def portal_ticket(
    config: DeskConfig, ticket: Ticket, comments: list[Comment], allowed: list[Transition]
) -> dict[str, Any]:
    """What the requester sees: never internal notes, assignees or teams."""
    return {
        "id": ticket.id,
        "ref": ticket.ref,
        "type": _type(config, ticket.type),
        "status": _status(config, ticket.status),
        "subject": ticket.subject,
        "description": ticket.description,
        "fields": ticket.fields,
        "created_at": when(ticket.created_at),
        "updated_at": when(ticket.updated_at),
        "comments": [comment(c, for_agent=False) for c in comments if c.public],
        "allowed_transitions": transitions(config, allowed),
        "version": ticket.version,
    }


def agent(item: Agent) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "email": item.email,
        "role": item.role,
        "active": item.active,
        "created_at": when(item.created_at),
    }


def outbox_item(item: OutboxItem) -> dict[str, Any]:
    """What admins see of a mail: not its bodies, whose links open the requester's ticket."""
    return {
        "id": f"{item.ticket_id}/{item.key}",
        "ticket_id": item.ticket_id,
        "key": item.key,
        "kind": item.kind,
        "to": item.to,
        "subject": item.subject,
        "state": item.state,
        "attempts": item.attempts,
        "created_at": when(item.created_at),
        "next_attempt_at": when(item.next_attempt_at) if item.next_attempt_at else None,
        "last_error": item.last_error,
        "sent_at": when(item.sent_at) if item.sent_at else None,
    }


def survey_answer(answer: SurveyAnswer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {
        "rating": answer.rating,
        "comment": answer.comment,
        "answered_at": when(answer.answered_at),
        "revision": answer.revision,
    }
