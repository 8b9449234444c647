"""The console's use cases on top of the desk: queue views and their counts, presence, replies that respect what
others did meanwhile (the traffic cop), bulk changes and search. No rule of the desk lives here; it calls Desk."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import sla
from chalicelib.domain.agents import Agent
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import ConflictError, HelpdeskError, StaleVersionError, ValidationError
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.tickets import Comment, Ticket, normalise_email, valid_email
from chalicelib.services.desk import Desk, Queue, QueueRequest, SlaState, is_plausible_id
from chalicelib.services.ports import QueuePage
from chalicelib.services.sessions import Presence

PRESENT_FOR = timedelta(seconds=50)  # heartbeats come every 20 s while a ticket is open and visible
UNASSIGNED = "-"
BULK_LIMIT = 50
SLA_VIEW_LIMIT = 100
WAITING = "Waiting on requester"  # the view of every waiting status, when there are several (or none)


class PresenceStore(Protocol):
    def beat(self, agent_id: str, ticket_id: str, typing: bool, now: datetime) -> None: ...

    def leave(self, agent_id: str, ticket_id: str) -> None: ...

    def everyone(self, since: datetime) -> list[Presence]: ...


class ChangeMarks(Protocol):
    def bump(self, now: datetime) -> None:
        """One more change to some ticket (the stream pipeline calls it once per batch)."""

    def current(self) -> int: ...


@dataclass(frozen=True)
class View:
    key: str
    label: str
    count: int | None
    group: str  # "mine", "status" or "sla": how the sidebar groups it


@dataclass(frozen=True)
class Listing:
    view: str
    tickets: list[Ticket]
    sla: dict[str, SlaState]
    cursor: str | None
    config: DeskConfig


@dataclass(frozen=True)
class Seen:
    """What the agent's page showed: the ticket's version, how many comments, and when."""

    version: int
    comments: int
    at: datetime


@dataclass(frozen=True)
class Change:
    """Something another person (or the desk) did to a ticket after the agent opened it."""

    at: datetime
    by: str
    what: str
    comment: Comment | None = None


class EditConflictError(ConflictError):
    """The ticket changed since the agent saw it; nothing was written. `changes` says what happened meanwhile."""

    code = "edited_meanwhile"

    def __init__(self, message: str, changes: list[Change], current_version: int, comment_count: int) -> None:
        super().__init__(message, current_version=current_version)
        self.changes = changes
        self.current_version = current_version
        self.comment_count = comment_count


@dataclass(frozen=True)
class BulkOutcome:
    ticket_id: str
    ref: str
    ok: bool
    message: str


class Console:
    def __init__(
        self,
        desk: Desk,
        presence: PresenceStore,
        marks: ChangeMarks,
        open_counts: Callable[[], dict[tuple[str, str], int]],
    ) -> None:
        self.desk = desk
        self.presence_store = presence
        self.marks = marks
        self.open_counts = open_counts

    # the sidebar and the lists ----------------------------------------------------------------

    def views(self, agent: Agent, *, with_sla: bool = True) -> list[View]:
        """The sidebar with its counts: from the open-now gauges the stream keeps (one Query), and SLA counts
        from the backlog's trackers (what GET /queues reads), so no ticket is read to count it."""
        config = self.desk.config()
        gauges = self.open_counts()
        waiting = [s for s in config.open_statuses() if config.status(s).category == "waiting"]
        # Named as the status is when it is the only waiting one, so the sidebar says one thing in one way.
        waiting_label = config.status(waiting[0]).label if len(waiting) == 1 else WAITING
        shown = [
            View("mine", "Mine", gauges.get(("assignee", agent.id), 0), "mine"),
            View("unassigned", "Unassigned", gauges.get(("assignee", UNASSIGNED), 0), "mine"),
            View("open", "All open", gauges.get(("all", "all"), 0), "mine"),
            View("waiting", waiting_label, sum(gauges.get(("status", s), 0) for s in waiting), "mine"),
        ]
        if with_sla:
            levels = self._sla_levels(config)
            shown += [
                View("at_risk", "SLA at risk", sum(1 for v in levels.values() if v == "at_risk"), "sla"),
                View("breached", "SLA breached", sum(1 for v in levels.values() if v == "breached"), "sla"),
            ]
        shown.append(View("done", "Recently done", None, "sla"))
        for key in config.open_statuses():
            shown.append(View(f"status:{key}", config.status(key).label, gauges.get(("status", key), 0), "status"))
        return shown

    def listing(self, agent: Agent, view: str, filters: dict[str, str | None], cursor: str | None) -> Listing:
        config = self.desk.config()
        if view == "done":
            page = self._done(cursor)
            return Listing(view, page.tickets, {}, _cursor(page.next_after), config)
        if view in ("at_risk", "breached"):
            return self._at_sla(view, config)
        request = self._request(agent, view, filters, cursor, config)
        queue: Queue = self.desk.queue(request)
        return Listing(view, queue.page.tickets, queue.sla, queue.cursor, config)

    def _request(
        self, agent: Agent, view: str, filters: dict[str, str | None], cursor: str | None, config: DeskConfig
    ) -> QueueRequest:
        statuses: tuple[str, ...] = ()
        assignee = filters.get("assignee")
        if assignee == "me":
            assignee = agent.id
        if view == "mine":
            assignee = agent.id
        elif view == "unassigned":
            assignee = UNASSIGNED
        elif view == "waiting":
            statuses = tuple(s for s in config.open_statuses() if config.status(s).category == "waiting")
        elif view.startswith("status:"):
            statuses = (view.partition(":")[2],)
        elif view != "open":
            raise ValidationError("unknown view", {"view": "is not a view of the console"})
        if filters.get("status"):
            statuses = (str(filters["status"]),)
        return QueueRequest(
            statuses=statuses,
            priority=filters.get("priority"),
            type=filters.get("type"),
            team=filters.get("team"),
            assignee=assignee,
            limit="25",
            cursor=cursor,
        )

    def _done(self, cursor: str | None) -> QueuePage:
        from chalicelib.services.desk import _decode_cursor

        return self.desk.tickets.recently_done(25, _decode_cursor(cursor) if cursor else None)

    def _sla_levels(self, config: DeskConfig) -> dict[str, str]:
        """Open tickets whose running or paused timer is at risk or breached now, from their trackers: one keys-only
        Query of the open tickets and a batch read of their trackers; the cost grows with the open backlog only."""
        now = self.desk.clock.now()
        ids = self.desk.tickets.open_ids()
        trackers = self.desk.events.trackers(ids)
        levels: dict[str, str] = {}
        for ticket_id in ids:
            tracker = trackers.get(ticket_id)
            views = [sla.view(config.sla.calendar, t, now) for t in tracker.timers] if tracker else []
            live = [v for v in views if v.state in ("running", "paused")]
            if any(v.breached for v in live):
                levels[ticket_id] = "breached"
            elif any(v.at_risk for v in live):
                levels[ticket_id] = "at_risk"
        return levels

    def _at_sla(self, view: str, config: DeskConfig) -> Listing:
        """The SLA views: at most SLA_VIEW_LIMIT tickets, by priority, then oldest first."""
        chosen = [ticket_id for ticket_id, level in self._sla_levels(config).items() if level == view]
        tickets = [t for t in (self.desk.tickets.get(i) for i in chosen[:SLA_VIEW_LIMIT]) if t is not None]
        tickets.sort(key=lambda t: (t.priority_rank, t.created_at))
        trackers = self.desk.events.trackers([t.id for t in tickets])
        states = self.desk._sla_states(config, tickets, trackers)
        return Listing(view, tickets, states, None, config)

    def change_token(
        self, agent: Agent, view: str, filters: dict[str, str | None], present: list[Presence] | None = None
    ) -> str:
        """What a poll compares: the desk's change mark and who is where. An unchanged queue costs one small
        read of the mark and one of the presence items, and the browser re-renders nothing. A page that already
        read the presence items passes them."""
        seen = self.present() if present is None else present
        present_now = sorted((p.agent_id, p.ticket_id, p.typing) for p in seen)
        text = json.dumps([self.marks.current(), present_now, view, sorted(filters.items())], default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # presence ---------------------------------------------------------------------------------

    def beat(self, agent: Agent, ticket_id: str, typing: bool) -> list[Presence]:
        """Note that `agent` has the ticket open (and whether typing); the others who have it open now."""
        if not is_plausible_id(ticket_id):
            raise ValidationError("no such ticket", {"ticket": "is not a ticket id"})
        now = self.desk.clock.now()
        self.presence_store.beat(agent.id, ticket_id, typing, now)
        return [p for p in self.presence_store.everyone(now - PRESENT_FOR) if p.agent_id != agent.id]

    def present(self) -> list[Presence]:
        return self.presence_store.everyone(self.desk.clock.now() - PRESENT_FOR)

    # working a ticket -------------------------------------------------------------------------

    def changes_since(self, ticket: Ticket, comments: list[Comment], seen: Seen, me: Agent) -> list[Change]:
        """What others did to the ticket since the agent's page showed it: the comments after the ones it showed,
        and the recorded changes of later versions (or, for the desk's jobs, later times), oldest first."""
        mine = f"agent:{me.id}"
        ordered = sorted(comments, key=lambda c: (c.created_at, c.id))
        found = [
            Change(c.created_at, c.author_name, _said(c), c)
            for c in ordered[seen.comments :]
            if f"{c.author_role}:{c.author_id}" != mine
        ]
        names = {f"agent:{a.id}": a.name for a in self.desk.list_agents()}
        config = self.desk.config()
        for event in self.desk.events.history(ticket.id, 500, None).events:
            if event.actor == mine or event.kind in ("reply", "note", "requester_comment"):
                continue
            parts = event.key.split("#")
            later = int(parts[1]) > seen.version if len(parts) > 2 and parts[1].isdigit() else event.at > seen.at
            if later:
                found.append(
                    Change(event.at, names.get(event.actor, _actor_name(event.actor, ticket)), _what(config, event))
                )
        found.sort(key=lambda c: c.at)
        return found

    def reply(
        self,
        agent: Agent,
        ticket_id: str,
        body: Any,
        *,
        public: bool,
        move_to: str | None,
        seen: Seen,
        priority: str | None = None,
        comment_id: str | None = None,
    ) -> Ticket:
        """A reply or note, optionally with a move. If the ticket changed since the agent saw it (a new comment
        or any change), nothing is sent: EditConflictError says what changed; the agent resends on purpose."""
        found = self.desk.tickets.get_with_comments(self.desk._resolve_id(ticket_id))
        if found is None:
            raise ValidationError("no such ticket", {"ticket": "does not exist"})
        ticket, comments = found
        if ticket.version != seen.version or ticket.comment_count != seen.comments:
            raise EditConflictError(
                "someone changed this ticket after you opened it; nothing was sent",
                self.changes_since(ticket, comments, seen, agent),
                ticket.version,
                ticket.comment_count,
            )
        try:
            if priority and priority != ticket.priority:
                ticket = self.desk.change(ticket.id, {"priority": priority, "version": ticket.version}, agent)
            if move_to:
                return self.desk.transition(
                    ticket.id,
                    {"to": move_to, "comment": body, "public": public, "version": ticket.version},
                    agent,
                    comment_id,
                )
            self.desk.comment(ticket.id, {"body": body, "public": public}, agent, comment_id)
        except StaleVersionError:
            fresh = self.desk.tickets.get_with_comments(ticket.id)
            current, current_comments = fresh if fresh else (ticket, comments)
            raise EditConflictError(
                "someone changed this ticket a moment ago; nothing was sent",
                self.changes_since(current, current_comments, seen, agent),
                current.version,
                current.comment_count,
            ) from None
        return self.desk._ticket(ticket.id)

    def bulk(self, agent: Agent, action: str, value: str, seen: list[tuple[str, int]]) -> list[BulkOutcome]:
        """One change to each selected ticket, each with the version the agent saw: a ticket that refuses (a move
        its status does not allow, a stale version) is reported with its reason; the others still go through."""
        if not seen:
            raise ValidationError("choose at least one ticket", {"tickets": "none selected"})
        if len(seen) > BULK_LIMIT:
            raise ValidationError("too many tickets at once", {"tickets": f"at most {BULK_LIMIT}"})
        if action not in ("assign", "priority", "transition", "team"):
            raise ValidationError("choose what to do", {"action": "must be assign, team, priority or transition"})
        outcomes = []
        for ticket_id, version in seen:
            ref = ticket_id
            try:
                ticket = self.desk._ticket(ticket_id)
                ref = ticket.ref
                if action == "transition":
                    self.desk.transition(ticket.id, {"to": value, "version": version}, agent)
                    message = f"moved to {self.desk.config().status(value).label}"
                else:
                    name = {"assign": "assignee", "priority": "priority", "team": "team"}[action]
                    change = None if value == "" else agent.id if value == "me" else value
                    self.desk.change(ticket.id, {name: change, "version": version}, agent)
                    message = "changed"
                outcomes.append(BulkOutcome(ticket_id, ref, True, message))
            except HelpdeskError as error:
                outcomes.append(BulkOutcome(ticket_id, ref, False, _refusal(error, self.desk.config())))
        return outcomes

    def conversation(
        self, ticket: Ticket, comments: list[Comment]
    ) -> tuple[list[tuple[datetime, str, Any]], dict[str, str]]:
        """Comments and the desk's events (moves, reminders, SLA alerts, surveys), oldest first; plus actor names."""
        events = self.desk.events.history(ticket.id, 500, None).events
        entries: list[tuple[datetime, str, Any]] = [(c.created_at, "comment", c) for c in comments]
        entries += [(e.at, "event", e) for e in events if e.kind not in ("reply", "note", "requester_comment")]
        entries.sort(key=lambda entry: entry[0])
        names = {f"agent:{a.id}": a.name for a in self.desk.list_agents()}
        names[f"requester:{ticket.requester_email}"] = ticket.requester_name
        return entries, names

    def search(self, query: str) -> list[Ticket]:
        """By reference (the by_ref index), requester email (by_requester) or words of the subject among open
        tickets (the open queue, read in pages: its cost grows with the open backlog, never with closed tickets)."""
        text = query.strip()
        if not text:
            return []
        if len(text) > 200:
            raise ValidationError("the search is too long", {"q": "at most 200 characters"})
        head, _, tail = text.partition("-")
        if tail.isdigit() and head.isalpha():
            ticket_id = self.desk.tickets.id_for_ref(text.upper())
            found = self.desk.tickets.get(ticket_id) if ticket_id else None
            return [found] if found else []
        if "@" in text and valid_email(normalise_email(text)):
            email = normalise_email(text)
            return self.desk.queue(QueueRequest(requester=email, state="all", limit="50")).page.tickets
        words = text.lower().split()
        matches: list[Ticket] = []
        cursor = None
        for _ in range(20):
            queue = self.desk.queue(QueueRequest(limit="100", cursor=cursor))
            matches += [t for t in queue.page.tickets if all(w in t.subject.lower() for w in words)]
            cursor = queue.cursor
            if cursor is None or len(matches) >= 50:
                break
        return matches[:50]


def _cursor(after: str | None) -> str | None:
    from chalicelib.services.desk import _encode_cursor

    return _encode_cursor(after) if after else None


def _said(comment: Comment) -> str:
    if not comment.public:
        return "added an internal note"
    return "replied" if comment.author_role == "agent" else "wrote"


def _actor_name(actor: str, ticket: Ticket) -> str:
    role, _, _ = actor.partition(":")
    if role == "requester":
        return ticket.requester_name
    if role == "system":
        return "The desk"
    return "Someone"


def _what(config: DeskConfig, event: HistoryEvent) -> str:
    data = event.data
    if event.kind == "status_changed":
        return f"moved it to {config.status(str(data.get('to'))).label}"
    if event.kind == "priority_changed":
        priority = config.priorities.get(str(data.get("to")))
        return f"set the priority to {priority.label if priority else data.get('to')}"
    if event.kind == "assignee_changed":
        return "changed the assignee"
    if event.kind == "team_changed":
        return f"set the team to {data.get('to') or 'none'}"
    if event.kind == "subject_changed":
        return "changed the subject"
    if event.kind == "fields_changed":
        return "changed the details"
    return event.kind.replace("_", " ")


def _refusal(error: HelpdeskError, config: DeskConfig) -> str:
    """A refusal in the agent's words: where a refused move could go, by the statuses' labels (not the moves')."""
    if isinstance(error, StaleVersionError):
        return "someone changed it after you loaded the list; reload and try again"
    allowed = error.details.get("allowed")
    if allowed:
        targets = (str(a.get("to")) if isinstance(a, dict) else str(a) for a in allowed)
        labels = ", ".join(dict.fromkeys(config.status(key).label for key in targets))
        return f"{error.message}; it can go to: {labels}"
    return error.message
