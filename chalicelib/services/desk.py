"""The desk's use cases: open, read, move, edit and comment on tickets; configure the desk; manage agents."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import sla
from chalicelib.domain import tickets as rules
from chalicelib.domain.agents import Agent, check_new_agent
from chalicelib.domain.config import DeskConfig, PublicHolidays, Transition, default_config, parse_config
from chalicelib.domain.durations import duration_text
from chalicelib.domain.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    MalformedRequestError,
    NotFoundError,
    StaleVersionError,
    StatusInUseError,
    TransitionNotAllowedError,
    ValidationError,
)
from chalicelib.domain.tickets import AGENT, MAIL, REQUESTER, Actor, Comment, Ticket
from chalicelib.domain.tokens import hash_agent_token, new_agent_token, sign_link, verify_link
from chalicelib.services.limits import Limits
from chalicelib.services.ports import (
    Clock,
    DeskStore,
    EventStore,
    HistoryPage,
    IdempotencyClaim,
    IdempotencyKeyTaken,
    IdSource,
    QueuePage,
    QueueQuery,
    TicketStore,
)

logger = logging.getLogger("helpdesk")
PORTAL = "portal"
MAX_PAGE = 100
MAX_HISTORY_PAGE = 500
OPENING = "opening"  # names, among a ticket's mails, the one that opened it (the others are named by comment id)
ID_LIMIT = 64
# What GET /admin/config answers may be sent back as it is: its read-only keys are ignored.
CONFIG_REQUEST_KEYS = {"config", "version", "status_mapping", "priority_mapping", "updated_at", "updated_by"}


@dataclass(frozen=True)
class Opened:
    ticket: Ticket
    portal_token: str
    created: bool


@dataclass(frozen=True)
class SlaState:
    """A ticket's SLA timers and time per status as of one moment."""

    timers: list[sla.TimerView]
    time_in_status: list[sla.StatusTime]


@dataclass(frozen=True)
class TicketDetail:
    ticket: Ticket
    comments: list[Comment]
    allowed: list[Transition]
    config: DeskConfig
    sla: SlaState | None = None


@dataclass(frozen=True)
class Queue:
    page: QueuePage
    cursor: str | None
    sla: dict[str, SlaState]
    config: DeskConfig


@dataclass(frozen=True)
class QueueRequest:
    statuses: tuple[str, ...] = ()
    state: str | None = None
    priority: str | None = None
    type: str | None = None
    assignee: str | None = None
    team: str | None = None
    requester: str | None = None
    limit: str | None = None
    cursor: str | None = None


def agent_actor(agent: Agent) -> Actor:
    return Actor(role=AGENT, id=agent.id, name=agent.name)


def requester_actor(ticket: Ticket) -> Actor:
    return Actor(role=REQUESTER, id=ticket.requester_email, name=ticket.requester_name)


def _fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def is_plausible_id(value: Any) -> bool:
    """Ids and references are short; anything else is not one (and would exceed DynamoDB's key limits)."""
    return isinstance(value, str) and 0 < len(value) <= ID_LIMIT and value.isprintable()


def is_whole_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²', which int() then refuses."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _encode_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ValidationError("the cursor is not valid", {"cursor": "is not a cursor this desk gave out"}) from None
    if not isinstance(after, str):
        raise ValidationError("the cursor is not valid", {"cursor": "is not a cursor this desk gave out"})
    return after


class Desk:
    def __init__(
        self,
        tickets: TicketStore,
        store: DeskStore,
        clock: Clock,
        ids: IdSource,
        events: EventStore,
        public_holidays: PublicHolidays | None = None,  # for calendars that name a country
    ) -> None:
        self.tickets = tickets
        self.public_holidays = public_holidays
        self.store = store
        self.events = events
        self.clock = clock
        self.ids = ids
        self._parsed: tuple[int, DeskConfig] | None = None

    # configuration -------------------------------------------------------------------------

    def config(self) -> DeskConfig:
        return self._current()[1]

    def _current(self) -> tuple[int, DeskConfig]:
        """The stored version (0: none yet, the shipped default) and its configuration, parsed once per version."""
        stored = self.store.current_config()
        version = stored.version if stored else 0
        if self._parsed is None or self._parsed[0] != version:
            self._parsed = (
                version,
                parse_config(stored.document, self.public_holidays) if stored else default_config(),
            )
        return self._parsed

    def config_document(self) -> dict[str, Any]:
        stored = self.store.current_config()
        if stored is None:
            return {"version": 0, "config": default_config().document, "updated_at": None, "updated_by": None}
        return {
            "version": stored.version,
            "config": stored.document,
            "updated_at": stored.updated_at.isoformat(),
            "updated_by": stored.updated_by,
        }

    def seed_config(self, document: dict[str, Any] | None = None) -> None:
        """Store the shipped default (or `document`) as version 1 if the desk has no configuration yet."""
        if self.store.current_config() is None:
            parsed = parse_config(document, self.public_holidays) if document is not None else default_config()
            with contextlib.suppress(StaleVersionError):
                self.store.store_config(parsed.document, 0, "system:seed", self.clock.now())

    def replace_config(self, body: Any, admin: Agent) -> dict[str, Any]:
        """Validate and store a new configuration; statuses still holding tickets need a mapping."""
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            raise ValidationError(
                'send the configuration as {"config": {...}, "version": n}',
                {"config": "is required and must be an object"},
            )
        unknown = sorted(set(body) - CONFIG_REQUEST_KEYS)
        if unknown:
            raise ValidationError("unknown settings", dict.fromkeys(unknown, "is not a known field"))
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValidationError("the version is required", {"version": "must be the version you last read"})
        mapping = body.get("status_mapping") or {}
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ValidationError("bad status mapping", {"status_mapping": "must map status keys to status keys"})
        priority_mapping = body.get("priority_mapping") or {}
        if not isinstance(priority_mapping, dict) or not all(isinstance(v, str) for v in priority_mapping.values()):
            raise ValidationError(
                "bad priority mapping", {"priority_mapping": "must map priority keys to priority keys"}
            )
        current_version, current = self._current()
        if current_version != version:
            raise StaleVersionError("the configuration changed since you read it", current_version=current_version)
        new = parse_config(body["config"], self.public_holidays)
        moves = self._status_moves(current, new, mapping)
        reprioritised = self._priority_moves(current, new, priority_mapping)
        actor = agent_actor(admin)
        now = self.clock.now()
        new_version = self.store.store_config(new.document, version, actor.label, now)
        moved: dict[str, int] = {}
        not_moved: dict[str, int] = {}
        for ticket, target in moves:

            def remap(fresh: Ticket, source: str = ticket.status, target: str = target) -> Ticket | None:
                return rules.remap_status(new, fresh, target, actor, now) if fresh.status == source else None

            tally = moved if self._rewrite(ticket.id, remap) else not_moved
            tally[ticket.status] = tally.get(ticket.status, 0) + 1
        for ticket, priority in reprioritised:
            if not self._save_refreshed(new, ticket, actor, priority):
                not_moved[ticket.priority] = not_moved.get(ticket.priority, 0) + 1
        self._reindex(current, new, actor)
        return {"version": new_version, "moved": moved, "not_moved": not_moved}

    def _priority_moves(
        self, current: DeskConfig, new: DeskConfig, mapping: dict[str, str]
    ) -> list[tuple[Ticket, str]]:
        """Open tickets whose priority the new configuration lacks, with the priority the mapping gives them.

        A priority named in the mapping is looked for even if the stored configuration no longer has it,
        so sending the same change again finishes one that was cut short.
        """
        moves: list[tuple[Ticket, str]] = []
        errors: dict[str, str] = {}
        for key in dict.fromkeys([*current.priorities, *mapping]):
            if key in new.priorities or not is_plausible_id(key):
                continue
            if key in current.priorities:
                rank = current.priorities[key].rank
                stranded = [t for t in self.tickets.with_rank("open", rank) if t.priority == key]
            else:
                stranded = self.tickets.open_with_priority(key)
            if not stranded:
                continue
            target = mapping.get(key)
            if target not in new.priorities:
                errors[f"priority_mapping.{key}"] = f"open tickets have priority {key!r}; map it to a new priority"
            else:
                moves.extend((ticket, target) for ticket in stranded)
        if errors:
            raise StatusInUseError("open tickets still have priorities this configuration removes", errors=errors)
        return moves

    def _reindex(self, current: DeskConfig, new: DeskConfig, actor: Actor) -> None:
        """Keep the open queues' order and open/done right when a priority's rank or a status's category changes.

        Closed tickets keep the rank they closed with; the queue filters closed tickets by priority key.
        """
        for key, priority in current.priorities.items():
            if key in new.priorities and new.priorities[key].rank != priority.rank:
                for ticket in self.tickets.with_rank("open", priority.rank):
                    if ticket.priority == key:
                        self._save_refreshed(new, ticket, actor)
        for key, status in current.statuses.items():
            if key in new.statuses and new.statuses[key].is_open != status.is_open:
                for ticket in self.tickets.in_status(key, None):
                    self._save_refreshed(new, ticket, actor)

    def _save_refreshed(self, config: DeskConfig, ticket: Ticket, actor: Actor, priority: str | None = None) -> bool:
        now = self.clock.now()
        return self._rewrite(ticket.id, lambda fresh: rules.refresh_from_config(config, fresh, actor, priority, now))

    def _rewrite(self, ticket_id: str, change: Callable[[Ticket], Ticket | None], attempts: int = 5) -> bool:
        """Apply an administrative change to the latest copy of a ticket, retrying if an agent saves it meanwhile."""
        for _ in range(attempts):
            fresh = self.tickets.get(ticket_id)
            changed = change(fresh) if fresh is not None else None
            if fresh is None or changed is None:
                return True  # gone, or no longer in the state the change was for: nothing left to do
            try:
                self.tickets.save(changed, fresh.version)
                return True
            except StaleVersionError:
                continue
        logger.error("ticket %s kept changing; the configuration change was not applied to it", ticket_id)
        return False

    def _status_moves(self, current: DeskConfig, new: DeskConfig, mapping: dict[str, str]) -> list[tuple[Ticket, str]]:
        """Tickets left in a status their type's new workflow lacks, with where the mapping moves them.

        A status named in the mapping is looked for even if the stored workflow no longer has it, so
        sending the same change again finishes one that was cut short. A mapping keeps closed tickets
        closed and open ones open.
        """
        moves: list[tuple[Ticket, str]] = []
        errors: dict[str, str] = {}
        for type_key, ticket_type in current.types.items():
            candidates = dict.fromkeys([*current.workflows[ticket_type.workflow].statuses, *mapping])
            new_type = new.types.get(type_key)
            kept = set(new.workflows[new_type.workflow].statuses) if new_type else set()
            for status in candidates:
                if status in kept or not is_plausible_id(status):
                    continue
                stranded = self.tickets.in_status(status, type_key, limit=None if status in mapping else 1)
                if not stranded:
                    continue
                target = mapping.get(status)
                path = f"status_mapping.{status}"
                if new_type is None:
                    errors[f"types.{type_key}"] = "tickets of this type exist; it cannot be removed"
                elif target is None:
                    errors[path] = f"{type_key} tickets are in {status!r}; map it to a status of the new workflow"
                elif target not in kept:
                    errors[path] = f"{target!r} is not a status of the new {type_key} workflow"
                elif any(new.status(target).is_open != t.is_open for t in stranded):
                    errors[path] = "map a done status to a done status and an open one to an open one"
                else:
                    moves.extend((ticket, target) for ticket in stranded)
        if errors:
            raise StatusInUseError("tickets still sit in statuses this configuration removes", errors=errors)
        return moves

    # agents ----------------------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Agent:
        if not token:
            raise AuthenticationError("an agent token is required (Authorization: Bearer …)")
        agent = self.store.agent_for_token(hash_agent_token(token))
        if agent is None or not agent.active:
            raise AuthenticationError("the agent token is not valid")
        return agent

    def create_agent(self, raw: Any, *, token: str | None = None) -> tuple[Agent, str]:
        """Create an agent or admin; the token is returned once and stored only as its hash."""
        if not isinstance(raw, dict):
            raise ValidationError("send the agent as an object", {"": "must be an object"})
        name, email, role = check_new_agent(raw)
        agent = Agent(id=self.ids.new_id(), name=name, email=email, role=role, created_at=self.clock.now())
        secret = token or new_agent_token()
        self.store.create_agent(agent, hash_agent_token(secret))
        return agent, secret

    def revoke_agent(self, agent_id: str, admin: Agent) -> Agent:
        if not is_plausible_id(agent_id):
            raise NotFoundError("no such agent")
        if agent_id == admin.id:
            raise ConflictError("an admin cannot revoke their own token")
        agent = self.store.get_agent(agent_id)
        if agent is None or not agent.active:
            raise NotFoundError(f"no active agent {agent_id!r}")
        self.store.revoke_agent(agent_id)
        return replace(agent, active=False)

    def list_agents(self) -> list[Agent]:
        return self.store.list_agents()

    # opening tickets ---------------------------------------------------------------------------

    def open_ticket(
        self,
        raw: dict[str, Any],
        *,
        from_form: bool,
        idempotency_key: str | None,
        source_ip: str | None = None,
        mail_key: str | None = None,
    ) -> Opened:
        """Open a ticket from an anonymous post. A retried post with the same idempotency key answers the first
        ticket before anything is counted, so retries never use up the caller's limits.

        `mail_key`: the ticket comes from a mail (stored at that S3 key), which cannot carry intake fields."""
        config = self.config()
        submission = rules.check_submission(config, raw, from_form=from_form, from_mail=mail_key is not None)
        now = self.clock.now()
        claim = None
        if idempotency_key is not None:
            claim = IdempotencyClaim(idempotency_key, _fingerprint(raw))
            earlier = self._earlier_ticket(claim, config)
            if earlier is not None:
                return earlier
        Limits(self.store).admit_ticket(config, source_ip, submission.requester_email, now)
        ref = f"{config.desk.ref_prefix}-{self.store.next_ref_number()}"
        ticket = rules.open_ticket(config, submission, ticket_id=self.ids.new_id(), ref=ref, now=now)
        if mail_key is not None:
            ticket = replace(ticket, mail_key=mail_key)
        try:
            self.tickets.create(ticket, claim)
        except IdempotencyKeyTaken:
            earlier = self._earlier_ticket(claim, config) if claim else None
            if earlier is None:
                raise ConflictError("a request with this Idempotency-Key is still being processed") from None
            return earlier
        return Opened(ticket=ticket, portal_token=self.portal_token(ticket, config), created=True)

    def _earlier_ticket(self, claim: IdempotencyClaim, config: DeskConfig) -> Opened | None:
        previous = self.store.previous_ticket(claim.key)
        if previous is None:
            return None
        if previous.fingerprint != claim.fingerprint:
            raise ConflictError("this Idempotency-Key was already used for a different request")
        ticket = self.tickets.get(previous.ticket_id)
        if ticket is None:
            return None
        return Opened(ticket=ticket, portal_token=self.portal_token(ticket, config), created=False)

    # the requester portal -----------------------------------------------------------------------

    def portal_token(self, ticket: Ticket, config: DeskConfig) -> str:
        expires = self.clock.now() + timedelta(days=config.desk.portal_link_days)
        return sign_link(self.store.signing_secret(), PORTAL, ticket.id, expires)

    def portal_ticket(self, ticket_id: str, token: str | None) -> TicketDetail:
        """The ticket a portal token opens; a token for another ticket is refused like a forged one."""
        if not token:
            raise AuthenticationError("this page needs the link from your email")
        opened = verify_link(self.store.signing_secret(), PORTAL, token, self.clock.now())
        if opened != ticket_id or not is_plausible_id(ticket_id):
            raise ForbiddenError("this link does not open that ticket")
        found = self.tickets.get_with_comments(ticket_id)
        if found is None:
            raise NotFoundError("the ticket no longer exists")
        ticket, comments = found
        config = self.config()
        public = [c for c in comments if c.public]
        return TicketDetail(ticket, public, rules.allowed_transitions(config, ticket, REQUESTER), config)

    def portal_comment(
        self,
        ticket_id: str,
        token: str | None,
        body: Any,
        source_ip: str | None = None,
        comment_id: str | None = None,
        before_write: Callable[[], None] | None = None,
    ) -> Comment:
        """`comment_id`: the id the comment's files are stored under (Desk.new_comment_id); `before_write` stores
        them once the token, the limits and the text have passed, before the comment is written."""
        detail = self.portal_ticket(ticket_id, token)
        ticket = detail.ticket
        Limits(self.store).admit_comment(detail.config, source_ip, ticket.requester_email, self.clock.now())
        text = rules.check_comment_body(body)
        if before_write is not None:
            before_write()
        return self._comment(ticket, text, public=True, actor=requester_actor(ticket), comment_id=comment_id)

    def portal_transition(self, ticket_id: str, token: str | None, raw: Any) -> Ticket:
        detail = self.portal_ticket(ticket_id, token)
        ticket = detail.ticket
        body = self._object(raw, {"to", "comment", "version"})
        to = self._status_key(body)
        version = self._version(body)
        return self._transition(detail.config, ticket, to, version, body.get("comment"), True, requester_actor(ticket))

    # mail in -------------------------------------------------------------------------------------

    def active_agent_with_email(self, email: str) -> Agent | None:
        """The active agent with this address (addresses are unique among active agents), from one Query."""
        wanted = rules.normalise_email(email)
        return next((a for a in self.store.list_agents() if a.active and a.email == wanted), None)

    def mail_comment(
        self, ticket_id: str, text: str, *, actor: Actor, public: bool, comment_id: str, at: datetime, mail_key: str
    ) -> tuple[Comment, bool]:
        """A comment that came by mail, once: its id and time come from the message, so a redelivery finds it
        (False) and a second write of it fails its condition. A requester's reply to a ticket in a status with
        `on_requester_reply` moves it there with the comment, as the requester (one transaction)."""
        for _ in range(5):
            found = self.tickets.get_with_comments(ticket_id)
            if found is None:
                raise NotFoundError(f"no ticket {ticket_id!r}")
            ticket, comments = found
            earlier = next((c for c in comments if c.id == comment_id), None)
            if earlier is not None:
                return earlier, False
            config = self.config()
            now = self.clock.now()
            updated, comment = rules.add_comment(
                ticket, text, public=public, actor=actor, comment_id=comment_id, now=now, source=MAIL, mail_key=mail_key
            )
            comment = replace(comment, created_at=at)
            target = config.status(ticket.status).on_requester_reply if actor.role == REQUESTER else None
            if target is None:
                self.tickets.add_comment(updated, comment)
                return comment, True
            try:
                moved = rules.automatic_transition(config, updated, target, actor, now)
            except TransitionNotAllowedError:  # the ticket's workflow has no such step (its type changed workflow)
                self.tickets.add_comment(updated, comment)
                return comment, True
            try:
                self.tickets.save(moved, ticket.version, comment)
            except StaleVersionError:
                continue  # an agent saved the ticket meanwhile: read it again
            return comment, True
        raise ConflictError("the ticket kept changing; the mail's comment was not added yet")

    def original_mail_key(self, id_or_ref: str, message: str) -> str:
        """The S3 key of a mail this ticket got: a comment's (by its id) or, for OPENING, the one that opened it."""
        found = self.tickets.get_with_comments(self._resolve_id(id_or_ref))
        if found is None:
            raise NotFoundError(f"no ticket {id_or_ref!r}")
        ticket, comments = found
        if message == OPENING:
            key = ticket.mail_key
        else:
            key = next((c.mail_key for c in comments if c.id == message), None)
        if not key:
            raise NotFoundError("this ticket has no such mail")
        return key

    # agents' work on tickets -------------------------------------------------------------------

    def ticket_detail(self, id_or_ref: str, agent: Agent) -> TicketDetail:
        found = self.tickets.get_with_comments(self._resolve_id(id_or_ref))
        if found is None:
            raise NotFoundError(f"no ticket {id_or_ref!r}")
        ticket, comments = found
        config = self.config()
        tracker = self.events.tracker(ticket.id)
        state = self._sla_states(config, [ticket], {ticket.id: tracker} if tracker else {}).get(ticket.id)
        return TicketDetail(ticket, comments, rules.allowed_transitions(config, ticket, AGENT), config, state)

    def history(self, id_or_ref: str, limit: str | None, cursor: str | None) -> tuple[Ticket, HistoryPage, str | None]:
        """A ticket's changes, oldest first, as the stream pipeline recorded them."""
        ticket = self._ticket(id_or_ref)
        size = 100
        if limit is not None:
            if not is_whole_number(limit) or not 1 <= int(limit) <= MAX_HISTORY_PAGE:
                raise ValidationError(
                    "the limit is not valid", {"limit": f"must be a whole number from 1 to {MAX_HISTORY_PAGE}"}
                )
            size = int(limit)
        after = _decode_cursor(cursor) if cursor else None
        page = self.events.history(ticket.id, size, after)
        return ticket, page, _encode_cursor(page.next_after) if page.next_after else None

    def _sla_states(
        self, config: DeskConfig, tickets: list[Ticket], trackers: dict[str, sla.Tracker]
    ) -> dict[str, SlaState]:
        """Each ticket's SLA state now. A ticket the pipeline has not seen yet is known exactly from the
        ticket item while it is unchanged since opening; otherwise it has no state until the pipeline catches up."""
        now = self.clock.now()
        calendar = config.sla.calendar
        states: dict[str, SlaState] = {}
        for ticket in tickets:
            tracker = trackers.get(ticket.id)
            if tracker is None and ticket.version == 1:
                tracker = sla.track(config, sla.unchanged_timeline(ticket, config.status(ticket.status).category))
            if tracker is None:
                continue
            states[ticket.id] = SlaState(
                timers=[sla.view(calendar, t, now) for t in tracker.timers],
                time_in_status=sla.time_in_status(calendar, tracker, now),
            )
        return states

    def transition(self, id_or_ref: str, raw: Any, agent: Agent, comment_id: str | None = None) -> Ticket:
        body = self._object(raw, {"to", "comment", "public", "version"})
        to = self._status_key(body)
        public = body.get("public", False)
        if not isinstance(public, bool):
            raise ValidationError("public must be true or false", {"public": "must be true or false"})
        ticket = self._ticket(id_or_ref)
        version = self._version(body)
        return self._transition(
            self.config(), ticket, to, version, body.get("comment"), public, agent_actor(agent), comment_id
        )

    def change(self, id_or_ref: str, raw: Any, agent: Agent) -> Ticket:
        body = self._object(raw, None)
        version = self._version(body)
        changes = {k: v for k, v in body.items() if k != "version"}
        if changes.get("assignee") == "me":
            changes["assignee"] = agent.id
        ticket = self._ticket(id_or_ref)
        self._check_version(ticket, version)
        agent_ids: set[str] = set()
        if is_plausible_id(changes.get("assignee")):
            assignee = self.store.get_agent(changes["assignee"])
            if assignee is not None and assignee.active:
                agent_ids.add(assignee.id)
        changed = rules.change_details(
            self.config(), ticket, changes, agent_actor(agent), self.clock.now(), agent_ids=agent_ids
        )
        return self.tickets.save(changed, version)

    def new_comment_id(self) -> str:
        """An id for a comment not yet written: its files are stored under it first, so that whatever reads the
        comment (the page, the mail about it) finds them already there."""
        return self.ids.new_id()

    def comment(self, id_or_ref: str, raw: Any, agent: Agent, comment_id: str | None = None) -> Comment:
        body = self._object(raw, {"body", "public"})
        public = body.get("public", False)
        if not isinstance(public, bool):
            raise ValidationError("public must be true or false", {"public": "must be true or false"})
        text = rules.check_comment_body(body.get("body"))
        return self._comment(
            self._ticket(id_or_ref), text, public=public, actor=agent_actor(agent), comment_id=comment_id
        )

    def queue(self, request: QueueRequest) -> Queue:
        config = self.config()
        errors: dict[str, str] = {}
        for status in request.statuses:
            if status not in config.statuses:
                errors["status"] = f"unknown status {status!r}"
        if request.priority is not None and request.priority not in config.priorities:
            errors["priority"] = f"must be one of {', '.join(config.priorities)}"
        if request.type is not None and request.type not in config.types:
            errors["type"] = f"must be one of {', '.join(config.types)}"
        if request.assignee is not None and not is_plausible_id(request.assignee):
            errors["assignee"] = "must be an agent id"
        if request.team is not None and request.team not in config.teams:
            errors["team"] = f"must be one of {', '.join(config.teams)}"
        state = request.state or "open"
        if state not in ("open", "done", "all"):
            errors["state"] = "must be open, done or all"
        limit = 25
        if request.limit is not None:
            if not is_whole_number(request.limit) or not 1 <= int(request.limit) <= MAX_PAGE:
                errors["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
            else:
                limit = int(request.limit)
        if errors:
            raise ValidationError("the queue filters are not valid", errors)
        after = _decode_cursor(request.cursor) if request.cursor else None
        page = self.tickets.queue(
            QueueQuery(
                statuses=tuple(dict.fromkeys(request.statuses)),
                state=state,
                priority=request.priority,
                priority_rank=config.priorities[request.priority].rank if request.priority else None,
                done_statuses=frozenset(s for s in request.statuses if not config.status(s).is_open),
                type=request.type,
                assignee=request.assignee,
                team=request.team,
                requester=rules.normalise_email(request.requester) if request.requester else None,
                limit=limit,
                after=after,
            )
        )
        cursor = _encode_cursor(page.next_after) if page.next_after else None
        trackers = self.events.trackers([t.id for t in page.tickets])
        return Queue(page, cursor, self._sla_states(config, page.tickets, trackers), config)

    def backlog(self) -> dict[str, Any]:
        """Open tickets per status and priority, the age of the oldest in each status, and how many have an SLA
        timer at risk or breached now (from their trackers: one batch read per hundred open tickets)."""
        config = self.config()
        now = self.clock.now()
        calendar = config.sla.calendar
        found = {key: self.tickets.backlog(key) for key in config.open_statuses()}
        trackers = self.events.trackers([ticket_id for rows in found.values() for ticket_id, _, _ in rows])
        rows = []
        totals = {"open": 0, "at_risk": 0, "breached": 0}
        for key, tickets in found.items():
            if not tickets:
                continue
            counts = {p.key: 0 for p in config.priorities_by_rank()}
            at_risk = breached = 0
            for ticket_id, priority, _ in tickets:
                counts[priority] = counts.get(priority, 0) + 1
                tracker = trackers.get(ticket_id)
                # Only clocks still to be met count: a first response answered late is history, not backlog.
                views = [sla.view(calendar, t, now) for t in tracker.timers] if tracker else []
                views = [v for v in views if v.state in ("running", "paused")]
                if any(v.breached for v in views):
                    breached += 1
                elif any(v.at_risk for v in views):
                    at_risk += 1
            oldest = min(created for _, _, created in tickets)
            age = int((now - oldest).total_seconds())
            totals["open"] += len(tickets)
            totals["at_risk"] += at_risk
            totals["breached"] += breached
            rows.append(
                {
                    "status": key,
                    "label": config.status(key).label,
                    "category": config.status(key).category,
                    "count": len(tickets),
                    "by_priority": counts,
                    "oldest_created_at": oldest,
                    "oldest_age_seconds": age,
                    "oldest_age_text": duration_text(age),
                    "at_risk": at_risk,
                    "breached": breached,
                }
            )
        return {**totals, "statuses": rows, "as_of": now}

    # shared steps --------------------------------------------------------------------------------

    def _transition(
        self,
        config: DeskConfig,
        ticket: Ticket,
        to: str,
        version: Any,
        comment: Any,
        public: bool,
        actor: Actor,
        comment_id: str | None = None,
    ) -> Ticket:
        self._check_version(ticket, version)
        text = rules.check_comment_body(comment) if comment not in (None, "") else None
        now = self.clock.now()
        moved = rules.transition(config, ticket, to, actor, now)
        note = None
        if text is not None:
            moved, note = rules.add_comment(
                moved, text, public=public, actor=actor, comment_id=comment_id or self.ids.new_id(), now=now
            )
        return self.tickets.save(moved, ticket.version, note)

    def _comment(
        self, ticket: Ticket, text: str, *, public: bool, actor: Actor, comment_id: str | None = None
    ) -> Comment:
        updated, comment = rules.add_comment(
            ticket, text, public=public, actor=actor, comment_id=comment_id or self.ids.new_id(), now=self.clock.now()
        )
        self.tickets.add_comment(updated, comment)
        return comment

    def _resolve_id(self, id_or_ref: str) -> str:
        if not is_plausible_id(id_or_ref):
            raise NotFoundError("no such ticket")
        if "-" in id_or_ref and id_or_ref.split("-", 1)[1].isdigit():
            found = self.tickets.id_for_ref(id_or_ref.upper())
            if found is None:
                raise NotFoundError(f"no ticket {id_or_ref!r}")
            return found
        return id_or_ref

    def _ticket(self, id_or_ref: str) -> Ticket:
        ticket = self.tickets.get(self._resolve_id(id_or_ref))
        if ticket is None:
            raise NotFoundError(f"no ticket {id_or_ref!r}")
        return ticket

    @staticmethod
    def _object(raw: Any, allowed: set[str] | None) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise MalformedRequestError("the body must be a JSON object")
        if allowed is not None:
            unknown = sorted(set(raw) - allowed)
            if unknown:
                raise ValidationError("unknown fields", dict.fromkeys(unknown, "is not a known field"))
        return raw

    @staticmethod
    def _status_key(body: dict[str, Any]) -> str:
        to = body.get("to")
        if not isinstance(to, str) or not to:
            raise ValidationError("say which status to move to", {"to": "is required"})
        return to

    @staticmethod
    def _version(body: dict[str, Any]) -> int:
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValidationError(
                "the version the change is based on is required", {"version": "must be the ticket's version you read"}
            )
        return version

    @staticmethod
    def _check_version(ticket: Ticket, version: Any) -> None:
        if version != ticket.version:
            raise StaleVersionError(
                "the ticket changed since you read it; reload it and try again", current_version=ticket.version
            )
