"""Tickets and comments, and the rules for opening, moving and editing them."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from chalicelib.domain.config import EMAIL_PATTERN, DeskConfig, FieldSpec, TicketType, Transition
from chalicelib.domain.errors import TransitionNotAllowedError, ValidationError

URL_PATTERN = re.compile(r"^https?://[^\s<>\"]+$", re.IGNORECASE)
NUMBER_PATTERN = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$")
DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
NUMBER_LIMIT = 1e15
SUBJECT_LIMIT = 200
DESCRIPTION_LIMIT = 20000
NAME_LIMIT = 200
EMAIL_LIMIT = 254
COMMENT_LIMIT = 20000

AGENT = "agent"
REQUESTER = "requester"
SYSTEM = "system"


def stamp(moment: datetime) -> str:
    """An instant as stored and shown: UTC, microseconds, "Z"; these strings sort as the instants do."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an agent (by id) or the ticket's requester."""

    role: str
    id: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.role}:{self.id}"


@dataclass(frozen=True)
class Ticket:
    id: str
    ref: str
    type: str
    status: str
    priority: str
    priority_rank: int
    is_open: bool
    subject: str
    description: str
    requester_name: str
    requester_email: str
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    status_since: datetime
    changed_by: str
    version: int = 1
    assignee: str | None = None
    team: str | None = None
    first_response_at: datetime | None = None
    comment_count: int = 0
    last_public_by: str | None = None  # who wrote the latest public comment: "agent" or "requester"
    mail_key: str | None = None  # opened by mail: the S3 key of the original message (agents can download it)


@dataclass(frozen=True)
class Comment:
    ticket_id: str
    id: str
    body: str
    public: bool
    author_role: str
    author_id: str
    author_name: str
    created_at: datetime
    source: str | None = None  # MAIL when it came by mail; None: the API, the console or the portal
    mail_key: str | None = None  # by mail: the S3 key of the original message (agents can download it)


MAIL = "mail"


@dataclass(frozen=True)
class Submission:
    """A validated request to open a ticket, before it has an id or a reference."""

    type: str
    subject: str
    description: str
    requester_name: str
    requester_email: str
    priority: str
    fields: dict[str, Any] = field(default_factory=dict)


def _text(errors: dict[str, str], raw: dict[str, Any], name: str, limit: int, *, required: bool = True) -> str:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = "is required"
        return ""
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return ""
    if len(value) > limit:
        errors[name] = f"must be at most {limit} characters"
    return value.strip()


def normalise_email(value: str) -> str:
    return value.strip().lower()


def valid_email(value: str) -> bool:
    return len(value) <= EMAIL_LIMIT and bool(EMAIL_PATTERN.match(value))


# Joiners that Persian, Indic scripts and emoji sequences need; every other format character is refused.
_JOINERS = frozenset("\u200c\u200d")
# Control (Cc), format (Cf: bidi overrides and isolates, zero-width spaces, BOM ...), lone surrogate (Cs),
# line and paragraph separators (Zl, Zp): invisible or layout-changing characters that spoof a name in a mail
# header or on a page.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def hidden_character(name: str) -> str | None:
    """The first character of `name` a reader cannot see or that changes the text around it, as U+XXXX."""
    for char in name:
        if char not in _JOINERS and unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


def without_hidden_characters(text: str) -> str:
    """`text` without the characters hidden_character names: for what arrives by mail, which is kept, not refused."""
    return "".join(c for c in text if c in _JOINERS or unicodedata.category(c) not in _REFUSED_CATEGORIES)


def _refuse_hidden(errors: dict[str, str], field: str, value: str) -> None:
    hidden = hidden_character(value)
    if hidden is not None:
        errors[field] = f"must not contain control or invisible formatting characters (found {hidden})"


def check_submission(
    config: DeskConfig, raw: dict[str, Any], *, from_form: bool, from_mail: bool = False
) -> Submission:
    """Validate what a requester sent to open a ticket; every problem is named by its field.

    `from_mail`: a mail cannot carry intake fields, so required ones may be missing (the acknowledgement's portal
    link is where the requester adds them)."""
    errors: dict[str, str] = {}
    allowed = {"type", "subject", "description", "requester_name", "requester_email", "priority", "fields"}
    for name in sorted(set(raw) - allowed):
        errors[name] = "is not a known field"

    # An optional field left out (or a blank form choice) takes the default; one sent must have its JSON type,
    # so a null, number, list or object is named, never silently replaced by the default.
    type_key = raw.get("type", "")
    if isinstance(type_key, str) and not type_key:
        type_key = config.desk.default_type
    ticket_type = config.type_named(type_key) if isinstance(type_key, str) else None
    if ticket_type is None:
        errors["type"] = f"must be one of {', '.join(config.types)}"

    subject = _text(errors, raw, "subject", SUBJECT_LIMIT)
    if from_mail:
        subject = without_hidden_characters(subject)
    if "\n" in subject or "\r" in subject:
        errors["subject"] = "must be a single line"
    else:
        _refuse_hidden(errors, "subject", subject)
    description = _text(errors, raw, "description", DESCRIPTION_LIMIT)
    requester_name = _text(errors, raw, "requester_name", NAME_LIMIT)
    if from_mail:  # a sender's name is kept, cleaned: refusing it would lose the mail
        requester_name = without_hidden_characters(requester_name)
    if "\n" in requester_name or "\r" in requester_name:
        errors["requester_name"] = "must be a single line"
    else:
        _refuse_hidden(errors, "requester_name", requester_name)
    email = normalise_email(_text(errors, raw, "requester_email", EMAIL_LIMIT))
    if email and not valid_email(email):
        errors["requester_email"] = "must be an email address"

    priority = raw.get("priority", "")
    if isinstance(priority, str) and not priority:
        default = ticket_type.default_priority if ticket_type else None
        priority = default or config.desk.default_priority
    elif not config.desk.public_priority:
        errors["priority"] = "cannot be chosen by requesters on this desk"
    elif not isinstance(priority, str) or priority not in config.priorities:
        errors["priority"] = f"must be one of {', '.join(config.priorities)}"

    values = raw.get("fields", {})
    if not isinstance(values, dict):
        errors["fields"] = "must be an object"
        values = {}
    checked = check_fields(ticket_type, values, errors, from_form=from_form, partial=from_mail) if ticket_type else {}

    if errors or ticket_type is None:
        raise ValidationError("the ticket cannot be opened as sent", errors)
    return Submission(
        type=ticket_type.key,
        subject=subject,
        description=description,
        requester_name=requester_name,
        requester_email=email,
        priority=str(priority),
        fields=checked,
    )


def check_fields(
    ticket_type: TicketType,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    from_form: bool,
    partial: bool,
) -> dict[str, Any]:
    """Check intake field values against the type; with `partial`, absent required fields pass."""
    checked: dict[str, Any] = {}
    for name in sorted(values):
        if ticket_type.field_named(name) is None:
            errors[f"fields.{name}"] = f"is not a field of a {ticket_type.label.lower()} ticket"
    for spec in ticket_type.fields:
        path = f"fields.{spec.name}"
        if spec.name not in values and partial:
            continue
        value = values.get(spec.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                errors[path] = "is required"
            elif partial and spec.name in values:
                checked[spec.name] = None
            continue
        try:
            checked[spec.name] = _field_value(spec, value, from_form=from_form)
        except ValueError as exc:
            errors[path] = str(exc)
    return checked


def _field_value(spec: FieldSpec, value: Any, *, from_form: bool) -> Any:
    if spec.type == "number":
        if isinstance(value, bool):
            raise ValueError("must be a number")
        if isinstance(value, int):
            if abs(value) >= NUMBER_LIMIT:
                raise ValueError(f"must be a number below {NUMBER_LIMIT:.0e}")
            return value
        if isinstance(value, float):
            if not math.isfinite(value) or abs(value) >= NUMBER_LIMIT:
                raise ValueError(f"must be a number below {NUMBER_LIMIT:.0e}")
            if value != round(value, 6):
                raise ValueError("must have at most 6 decimal places")
            return value
        if isinstance(value, str) and NUMBER_PATTERN.match(value.strip()):
            text = value.strip()
            return float(text) if "." in text else int(text)
        raise ValueError("must be a number")
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    if len(text) > spec.max_length:
        raise ValueError(f"must be at most {spec.max_length} characters")
    if spec.type == "text" and ("\n" in text or "\r" in text):
        raise ValueError("must be a single line")
    if spec.type == "email":
        text = normalise_email(text)
        if not valid_email(text):
            raise ValueError("must be an email address")
    elif spec.type == "url" and not URL_PATTERN.match(text):
        raise ValueError("must be an http or https URL")
    elif spec.type == "date":
        try:
            if not DATE_PATTERN.match(text):
                raise ValueError
            date.fromisoformat(text)
        except ValueError:
            raise ValueError("must be a date as YYYY-MM-DD") from None
    elif spec.type == "choice" and text not in spec.choices:
        raise ValueError(f"must be one of {', '.join(spec.choices)}")
    return text


def open_ticket(config: DeskConfig, submission: Submission, *, ticket_id: str, ref: str, now: datetime) -> Ticket:
    ticket_type = config.types[submission.type]
    workflow = config.workflows[ticket_type.workflow]
    return Ticket(
        id=ticket_id,
        ref=ref,
        type=submission.type,
        status=workflow.initial,
        priority=submission.priority,
        priority_rank=config.priority(submission.priority).rank,
        is_open=True,
        subject=submission.subject,
        description=submission.description,
        requester_name=submission.requester_name,
        requester_email=submission.requester_email,
        fields=dict(submission.fields),
        created_at=now,
        updated_at=now,
        status_since=now,
        changed_by=f"{REQUESTER}:{submission.requester_email}",
        team=ticket_type.team,
    )


def allowed_transitions(config: DeskConfig, ticket: Ticket, role: str) -> list[Transition]:
    if ticket.type not in config.types:
        return []
    return config.workflow_of(ticket.type).transitions_from(ticket.status, role)


def transition(config: DeskConfig, ticket: Ticket, to: str, actor: Actor, now: datetime) -> Ticket:
    """The one place a ticket's status changes: only along the workflow, only for the role it grants."""
    allowed = allowed_transitions(config, ticket, actor.role)
    if not any(t.to_status == to for t in allowed):
        current = config.status(ticket.status).label
        target = config.statuses[to].label if to in config.statuses else repr(to)  # a key no status has: quoted
        who = "an agent" if actor.role == AGENT else "the requester"
        raise TransitionNotAllowedError(
            f"{who} cannot move this ticket from {current} to {target}",
            current=ticket.status,
            allowed=[{"to": t.to_status, "label": t.label or config.status(t.to_status).label} for t in allowed],
        )
    return _moved(config, ticket, to, actor, now)


def automatic_transition(config: DeskConfig, ticket: Ticket, to: str, actor: Actor, now: datetime) -> Ticket:
    """A move the desk makes itself (a stale rule's last step): any step of the workflow, whoever may make it."""
    if ticket.type not in config.types or not any(
        t.from_status == ticket.status and t.to_status == to for t in config.workflow_of(ticket.type).transitions
    ):
        raise TransitionNotAllowedError(
            f"the workflow has no step from {ticket.status!r} to {to!r}", current=ticket.status, allowed=[]
        )
    return _moved(config, ticket, to, actor, now)


def remap_status(config: DeskConfig, ticket: Ticket, to: str, actor: Actor, now: datetime) -> Ticket:
    """Move a ticket out of a status an administrator removed from its workflow (not a workflow step)."""
    return _moved(config, ticket, to, actor, now)


def refresh_from_config(
    config: DeskConfig, ticket: Ticket, actor: Actor, priority: str | None = None, now: datetime | None = None
) -> Ticket:
    """Re-derive what a ticket stores from the configuration (rank, open or done) after it changed.

    A new priority (a removed one mapped to another) is a change of the ticket, made `now`.
    """
    key = priority or ticket.priority
    moved = key != ticket.priority and now is not None
    return replace(
        ticket,
        priority=key,
        priority_rank=config.priority(key).rank,
        is_open=config.status(ticket.status).is_open,
        changed_by=actor.label,
        updated_at=now if moved and now is not None else ticket.updated_at,
    )


def _moved(config: DeskConfig, ticket: Ticket, to: str, actor: Actor, now: datetime) -> Ticket:
    return replace(
        ticket,
        status=to,
        is_open=config.status(to).is_open,
        status_since=now,
        updated_at=now,
        changed_by=actor.label,
    )


def change_details(
    config: DeskConfig,
    ticket: Ticket,
    changes: dict[str, Any],
    actor: Actor,
    now: datetime,
    *,
    agent_ids: set[str],
) -> Ticket:
    """Apply an agent's edit of priority, assignee, team, subject or intake fields."""
    errors: dict[str, str] = {}
    allowed = {"priority", "assignee", "team", "subject", "fields"}
    for name in sorted(set(changes) - allowed):
        errors[name] = "cannot be changed here" if name in {"status", "type", "ref", "id"} else "is not a known field"
    updates: dict[str, Any] = {}
    if "priority" in changes:
        if not isinstance(changes["priority"], str) or changes["priority"] not in config.priorities:
            errors["priority"] = f"must be one of {', '.join(config.priorities)}"
        else:
            updates["priority"] = changes["priority"]
            updates["priority_rank"] = config.priorities[changes["priority"]].rank
    if "assignee" in changes:
        assignee = changes["assignee"]
        if assignee is not None and (not isinstance(assignee, str) or not assignee or assignee not in agent_ids):
            errors["assignee"] = "must be the id of an active agent, or null"
        else:
            updates["assignee"] = assignee
    if "team" in changes:
        team = changes["team"]
        if team is not None and (not isinstance(team, str) or team not in config.teams):
            errors["team"] = f"must be one of {', '.join(config.teams)}, or null"
        else:
            updates["team"] = team
    if "subject" in changes:
        subject = _text(errors, changes, "subject", SUBJECT_LIMIT)
        if "\n" in subject or "\r" in subject:
            errors["subject"] = "must be a single line"
        updates["subject"] = subject
    if "fields" in changes:
        values = changes["fields"]
        ticket_type = config.type_named(ticket.type)
        if not isinstance(values, dict):
            errors["fields"] = "must be an object"
        elif ticket_type is not None:
            checked = check_fields(ticket_type, values, errors, from_form=False, partial=True)
            merged = {**ticket.fields, **checked}
            updates["fields"] = {k: v for k, v in merged.items() if v is not None}
    if errors:
        raise ValidationError("the ticket cannot be changed as sent", errors)
    if not updates:
        raise ValidationError("nothing to change", {"": "send at least one of " + ", ".join(sorted(allowed))})
    return replace(ticket, **updates, updated_at=now, changed_by=actor.label)


def check_comment_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationError("the comment is empty", {"body": "is required"})
    if len(body) > COMMENT_LIMIT:
        raise ValidationError("the comment is too long", {"body": f"must be at most {COMMENT_LIMIT} characters"})
    return body.strip()


def add_comment(
    ticket: Ticket,
    body: str,
    *,
    public: bool,
    actor: Actor,
    comment_id: str,
    now: datetime,
    source: str | None = None,
    mail_key: str | None = None,
) -> tuple[Ticket, Comment]:
    """A public agent comment is a reply and counts as the first response; a requester's is always public."""
    is_public = public or actor.role == REQUESTER
    comment = Comment(
        ticket_id=ticket.id,
        id=comment_id,
        body=body,
        public=is_public,
        author_role=actor.role,
        author_id=actor.id,
        author_name=actor.name,
        created_at=now,
        source=source,
        mail_key=mail_key,
    )
    first_response = ticket.first_response_at
    if first_response is None and is_public and actor.role == AGENT:
        first_response = now
    updated = replace(
        ticket,
        comment_count=ticket.comment_count + 1,
        first_response_at=first_response,
        updated_at=now,
        changed_by=actor.label,
        last_public_by=actor.role if is_public else ticket.last_public_by,
    )
    return updated, comment
