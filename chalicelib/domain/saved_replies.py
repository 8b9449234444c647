"""Saved replies: answers (or macros) an admin writes once and agents insert, with the ticket's details filled in."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.config import DeskConfig, fill_placeholders
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.tickets import Ticket

TITLE_LIMIT = 120
BODY_LIMIT = 20000
QUERY_LIMIT = 200
PLACEHOLDERS = ("requester_name", "ticket_ref", "portal_link", "agent_name", "ticket_subject")
# Every double-braced name, to check it, and a placeholder as it is filled (whitespace inside the braces is allowed).
# The parts of each pattern cannot match the same character, so no body can make them backtrack.
BRACED = re.compile(r"\{\{([^{}]*)\}\}")
FILLED = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
# A known name in single braces (the style of the configuration's messages) would reach the requester as written.
SINGLE_BRACED = re.compile(r"\{\s*(" + "|".join(PLACEHOLDERS) + r")\s*\}")
CONTENT_FIELDS = frozenset({"title", "body", "status", "priority", "public"})
READ_ONLY_FIELDS = frozenset({"id", "version", "updated_at", "updated_by"})
BODY_WHITESPACE = frozenset("\n\r\t")
LINE_SEPARATORS = ("Zl", "Zp")


@dataclass(frozen=True)
class ReplyContent:
    """What an admin writes: the text, and for a macro the status and priority to give the ticket."""

    title: str
    body: str
    status: str | None = None
    priority: str | None = None
    public: bool = True  # a reply to the requester; False: an internal note


@dataclass(frozen=True)
class SavedReply:
    id: str
    title: str
    body: str
    version: int  # 1 when made, one more per change
    updated_at: datetime
    updated_by: str  # the actor label of the admin who made the last change
    status: str | None = None
    priority: str | None = None
    public: bool = True

    @property
    def is_macro(self) -> bool:
        return self.status is not None or self.priority is not None

    @property
    def content(self) -> ReplyContent:
        return ReplyContent(self.title, self.body, self.status, self.priority, self.public)


def new_reply(reply_id: str, content: ReplyContent, actor: str, now: datetime) -> SavedReply:
    return SavedReply(
        id=reply_id,
        title=content.title,
        body=content.body,
        status=content.status,
        priority=content.priority,
        public=content.public,
        version=1,
        updated_at=now,
        updated_by=actor,
    )


def revise(reply: SavedReply, content: ReplyContent, actor: str, now: datetime) -> SavedReply:
    """The reply with new content, one version on; the same reply if the content is what it already says."""
    if content == reply.content:
        return reply
    return replace(
        reply,
        title=content.title,
        body=content.body,
        status=content.status,
        priority=content.priority,
        public=content.public,
        version=reply.version + 1,
        updated_at=now,
        updated_by=actor,
    )


def check_reply(raw: dict[str, Any], config: DeskConfig, *, ignored: frozenset[str] = frozenset()) -> ReplyContent:
    """Validate what an admin sent; every problem is named by its field. Fields in `ignored` are passed over
    (an update may send back what a read answered, read-only fields included)."""
    errors: dict[str, str] = {}
    for name in sorted(set(raw) - CONTENT_FIELDS - ignored):
        errors[name] = "is set by the desk" if name in READ_ONLY_FIELDS else "is not a known field"
    title = _title(raw.get("title"), errors)
    body = _body(raw.get("body"), errors)
    status = _key_of(raw.get("status"), config.statuses, "status", errors)
    priority = _key_of(raw.get("priority"), config.priorities, "priority", errors)
    public = raw.get("public", True)
    if not isinstance(public, bool):
        errors["public"] = "must be true (a reply to the requester) or false (an internal note)"
        public = True
    if errors:
        raise ValidationError("the saved reply cannot be saved as sent", errors)
    return ReplyContent(title, body, status, priority, public)


def _title(value: Any, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors["title"] = f"is required: one line of 1 to {TITLE_LIMIT} characters"
        return ""
    title = value.strip()
    if len(title) > TITLE_LIMIT:
        errors["title"] = f"must be at most {TITLE_LIMIT} characters"
    elif any(_is_control(ch) or unicodedata.category(ch) in LINE_SEPARATORS for ch in title):
        errors["title"] = "must be one line without control characters"
    return title


def _body(value: Any, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors["body"] = f"is required: text of 1 to {BODY_LIMIT} characters"
        return ""
    body = value.strip()
    if len(body) > BODY_LIMIT:
        errors["body"] = f"must be at most {BODY_LIMIT} characters"
    elif any(_is_control(ch) and ch not in BODY_WHITESPACE for ch in body):
        errors["body"] = "must not contain control characters other than line breaks and tabs"
    else:
        problem = placeholder_problem(body)
        if problem:
            errors["body"] = problem
    return body


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs")


def _key_of(value: Any, known: dict[str, Any], name: str, errors: dict[str, str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in known:
        errors[name] = f"must be a {name} of the desk's configuration: {', '.join(known)}"
        return None
    return value


def placeholder_problem(text: str) -> str | None:
    """Why the text's placeholders would not fill (a typo the admin should see, not the requester); None if they do."""
    unknown = sorted({m.group(1).strip() for m in BRACED.finditer(text)} - set(PLACEHOLDERS))
    allowed = ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
    if unknown:
        named = ", ".join("{{" + name + "}}" for name in unknown)
        return f"unknown placeholder{'s' if len(unknown) > 1 else ''} {named}; a saved reply may use {allowed}"
    rest = BRACED.sub("", text)
    if "{{" in rest or "}}" in rest:
        return f"has {{{{ or }}}} that does not make a placeholder; a saved reply may use {allowed}"
    if "{%" in rest:
        return "has {% … %}, which a saved reply never runs: only placeholders are filled in"
    single = SINGLE_BRACED.search(rest)
    if single:
        return f"write {{{{{single.group(1)}}}}} with two braces on each side"
    return None


def fill(reply: SavedReply, values: dict[str, str]) -> str:
    """The body with its placeholders replaced by `values` as plain text (a value is never filled again); a
    placeholder with no value is left as written, so the agent sees it in the composer before anything is sent."""
    known = {name: values[name] for name in PLACEHOLDERS if name in values}
    return fill_placeholders(reply.body, known, FILLED)


def values_for(ticket: Ticket, agent_name: str, portal_link: str) -> dict[str, str]:
    """What each placeholder stands for when `agent_name` answers `ticket`."""
    return {
        "requester_name": ticket.requester_name,
        "ticket_ref": ticket.ref,
        "portal_link": portal_link,
        "agent_name": agent_name,
        "ticket_subject": ticket.subject,
    }


def check_query(value: str | None) -> str | None:
    """A search of titles and bodies: its text, or None to list every reply."""
    if value is None or not value.strip():
        return None
    if len(value) > QUERY_LIMIT:
        raise ValidationError("the search is too long", {"q": f"must be at most {QUERY_LIMIT} characters"})
    return value.strip()


def matches(reply: SavedReply, query: str | None) -> bool:
    """Whether the query is part of the title or the body, whatever the case."""
    if query is None:
        return True
    wanted = query.casefold()
    return wanted in reply.title.casefold() or wanted in reply.body.casefold()


def by_title(replies: list[SavedReply]) -> list[SavedReply]:
    return sorted(replies, key=lambda r: (r.title.casefold(), r.title, r.id))
