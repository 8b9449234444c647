"""Personal data: what of a ticket's items is a person's, and how each is erased while the figures stay."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import history
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.tickets import REQUESTER, Ticket, normalise_email, valid_email

ERASED = "[erased]"
# Where an erased ticket's requester address was: a reserved domain (RFC 2606) no mail can reach, so the
# ticket leaves the person's by_requester partitions and nothing is ever sent to anyone for it.
ERASED_ADDRESS = "erased@erased.invalid"
ERASER = history.ERASER
ERASED_ACTOR = f"{REQUESTER}:{ERASED}"
MIN_TEXT = 8  # shorter texts are not looked for inside other texts (they would match ordinary words)
MIN_NAME_PART = 3


def requester_email(value: Any) -> str:
    """The address an export or an erasure is about, normalised as tickets store it; 422 if it is not one."""
    if not isinstance(value, str) or not value.strip():
        raise refused("an email address is needed", "email", "is required")
    email = normalise_email(value)
    if not valid_email(email) or email == ERASED_ADDRESS:
        raise refused("not an email address", "email", "must be an email address")
    return email


def refused(message: str, field: str, why: str) -> ValidationError:
    """422, naming the field in `errors`: the request was well-formed, a field's value is wrong (a missing or bad
    address, `confirm` not true, a bad `limit`). A malformed request (not JSON, unknown names) stays a 400."""
    return ValidationError(message, {field: why})


def erasure_key(email: str) -> str:
    """The erasure's progress is kept under a hash of the address, never the address itself."""
    return hashlib.sha256(email.encode()).hexdigest()


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Tickets done before this moment are past the desk's retention."""
    return now - timedelta(days=days)


class Redactor:
    """Finds a person's name, address and words inside other text (an agent's reply, a tracker) and blanks them."""

    def __init__(self, email: str, name: str, texts: Iterable[str]) -> None:
        markers = {email, name.strip()}
        markers.update(part for part in re.split(r"\s+", name) if len(part) >= MIN_NAME_PART)
        for text in texts:
            stripped = text.strip()
            if len(stripped) >= MIN_TEXT:
                markers.add(stripped)
                markers.add(stripped[: history.EXCERPT_LIMIT - 1])  # the history's excerpt of a long text
                markers.update(line.strip() for line in stripped.splitlines() if len(line.strip()) >= MIN_TEXT)
        found = sorted((m for m in markers if m and m != ERASED), key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(m) for m in found), re.IGNORECASE) if found else None

    def text(self, value: str) -> str:
        return self._pattern.sub(ERASED, value) if self._pattern is not None else value

    def value(self, value: Any) -> Any:
        """Every string inside a JSON-like value, redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value


def erased_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Intake fields are what the requester told the desk: every value goes, the names stay."""
    return dict.fromkeys(fields, ERASED)


def erased_actor(actor: str, redact: Redactor) -> str:
    return ERASED_ACTOR if actor.startswith(f"{REQUESTER}:") else redact.text(actor)


def erased_event_data(kind: str, data: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    """An event's details without the person: their words and address go, what the timers and reports count
    (statuses, priorities, team, assignee, ratings, durations) stays as it was."""
    kept = dict(data)
    if kind == history.CREATED:
        kept["subject"] = ERASED
        kept["fields"] = erased_fields(dict(data.get("fields") or {}))
    elif kind == history.SUBJECT_CHANGED:
        kept.update({"from": ERASED, "to": ERASED})
    elif kind == history.FIELDS_CHANGED:
        kept["fields"] = {name: {"from": ERASED, "to": ERASED} for name in data.get("fields") or {}}
    elif kind == history.REQUESTER_COMMENT:
        kept.update({"excerpt": ERASED, "author_name": ERASED})
    elif kind in (history.REPLY, history.NOTE):
        kept["excerpt"] = redact.text(str(data.get("excerpt", "")))
    elif kind == history.SURVEY_ANSWERED:
        kept["comment"] = ""
    elif kind not in STRUCTURAL_KINDS:
        kept = {k: v if k in COUNTED else redact.value(v) for k, v in kept.items()}
    return kept


# Events whose details are keys of the configuration and moments, never anyone's words.
STRUCTURAL_KINDS = frozenset(
    {
        history.STATUS_CHANGED,
        history.PRIORITY_CHANGED,
        history.ASSIGNEE_CHANGED,
        history.TEAM_CHANGED,
        history.REMINDER_SENT,
        history.SLA_AT_RISK,
        history.SLA_BREACHED,
        history.SURVEY_SENT,
        history.ERASED,
    }
)
COUNTED = frozenset({"rating", "previous_rating", "revision", "scale"})


@dataclass(frozen=True)
class Erasure:
    """How far an erasure of a person has got: kept under `erasure_key`, so a large one continues where it stopped."""

    key: str
    tickets_erased: int
    complete: bool
    started_at: datetime
    updated_at: datetime


def erased_event(ticket_id: str, at: datetime, version: int, scope: str) -> history.HistoryEvent:
    """The history's record that the ticket's personal data was erased, without any of it."""
    return history.job_event(ticket_id, history.ERASED, at, f"{ERASED_CAUSE}{version:010d}", ERASER, {"scope": scope})


ERASED_CAUSE = "erased_"


def is_erasure(old: Ticket, new: Ticket) -> bool:
    """Whether a ticket's write is the one that erased its requester."""
    return new.changed_by == ERASER and new.requester_email == ERASED_ADDRESS != old.requester_email


def about_erasure(key: str) -> bool:
    """Whether a key that ends with an event's key (a webhook's or the bus's delivery of it) is of an `erased`
    event: what is sent about the erasure names no one, and must survive the erasure's later passes."""
    return f"{history.JOB_MARK}{ERASED_CAUSE}" in key
