"""In-memory fakes of the service ports, keyed and guarded like the DynamoDB tables they stand in for."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.agents import Agent, email_taken
from chalicelib.domain.attachments import Attachment, UploadMissingError
from chalicelib.domain.errors import ConflictError, StaleVersionError
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.sla import Tracker
from chalicelib.domain.tickets import Comment, Ticket
from chalicelib.services.ports import (
    HistoryPage,
    IdempotencyClaim,
    IdempotencyKeyTaken,
    PreviousTicket,
    QueuePage,
    QueueQuery,
    StoredConfig,
)

TICKET_SK = "ticket"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# What DynamoTicketStore.save writes; everything else on the item (comment count, first response,
# description, requester, ref, created_at) is left as stored.
SAVED_FIELDS = (
    "type",
    "status",
    "is_open",
    "priority",
    "priority_rank",
    "subject",
    "fields",
    "updated_at",
    "status_since",
    "changed_by",
    "version",
    "assignee",
    "team",
)

Key = tuple[str, str]


class ConditionFailed(Exception):
    """A write whose condition the real table would refuse, where the real adapter lets the error escape."""


def queue_sort(ticket: Ticket) -> str:
    """The same string as chalicelib.adapters.dynamo.queue_sort: rank, then age, then id."""
    return f"{ticket.priority_rank:02d}#{ticket.created_at.strftime(TIME_FORMAT)}#{ticket.id}"


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _comment_key(comment: Comment) -> Key:
    return (comment.ticket_id, f"comment#{comment.created_at.strftime(TIME_FORMAT)}#{comment.id}")


def _copy(ticket: Ticket) -> Ticket:
    return replace(ticket, fields=dict(ticket.fields))


class SequentialIds:
    """Ids that sort in the order they were made, like ULIDs, and never look like a reference (no dash)."""

    def __init__(self) -> None:
        self.issued = 0

    def new_id(self) -> str:
        self.issued += 1
        return f"id{self.issued:06d}"


class FakeDeskStore:
    """The desk table: one dict of items keyed (pk, sk), each item a dict of attributes."""

    def __init__(self) -> None:
        self.items: dict[Key, dict[str, Any]] = {}

    # configuration

    def current_config(self) -> StoredConfig | None:
        item = self.items.get(("config", "current"))
        if item is None:
            return None
        return StoredConfig(
            version=item["version"],
            document=json.loads(item["document"]),
            updated_at=item["updated_at"],
            updated_by=item["updated_by"],
        )

    def store_config(self, document: dict[str, Any], expected_version: int, actor: str, now: datetime) -> int:
        version = expected_version + 1
        current = self.items.get(("config", "current"))
        if expected_version == 0:
            in_place = current is None
        else:
            in_place = current is not None and current["version"] == expected_version
        snapshot_key = ("config", f"v#{version:08d}")
        if not in_place or snapshot_key in self.items:
            raise StaleVersionError("the configuration changed since you read it")
        item = {"version": version, "document": json.dumps(document), "updated_at": now, "updated_by": actor}
        self.items[snapshot_key] = dict(item)
        self.items[("config", "current")] = item
        return version

    # opening tickets

    def previous_ticket(self, key: str) -> PreviousTicket | None:
        item = self.items.get((f"idem#{_hashed(key)}", "idem"))
        if item is None:
            return None
        return PreviousTicket(ticket_id=item["ticket_id"], fingerprint=item["fingerprint"])

    def count_new_ticket(self, requester_email: str, hour: str, limit: int, expires_at: datetime) -> bool:
        item = self.items.setdefault((f"rate#{requester_email}", hour), {})
        if item.get("count", 0) >= limit:
            return False
        item["count"] = item.get("count", 0) + 1
        item["expires_at"] = expires_at
        return True

    def next_ref_number(self) -> int:
        item = self.items.setdefault(("counter", "ticket_ref"), {"count": 0})
        item["count"] += 1
        return 1000 + int(item["count"])

    def signing_secret(self) -> bytes:
        item = self.items.setdefault(("secret", "portal"), {"value": secrets.token_hex(32)})
        return bytes.fromhex(item["value"])

    # agents

    def create_agent(self, agent: Agent, token_hash: str) -> None:
        agent_key, token_key = ("agent", agent.id), (f"token#{token_hash}", "token")
        if agent_key in self.items or token_key in self.items:
            raise ConditionFailed(f"agent {agent.id} or its token already exists")
        if any(pk == "agent" and i.get("active") and i["email"] == agent.email for (pk, _), i in self.items.items()):
            raise email_taken()  # as the store's claim on the address does
        self.items[agent_key] = {
            "name": agent.name,
            "email": agent.email,
            "role": agent.role,
            "active": agent.active,
            "created_at": agent.created_at,
            "token_hash": token_hash,
        }
        self.items[token_key] = {"agent_id": agent.id}

    def get_agent(self, agent_id: str) -> Agent | None:
        item = self.items.get(("agent", agent_id))
        return _agent(agent_id, item) if item is not None else None

    def list_agents(self) -> list[Agent]:
        return [_agent(sk, item) for (pk, sk), item in sorted(self.items.items()) if pk == "agent"]

    def agent_for_token(self, token_hash: str) -> Agent | None:
        token = self.items.get((f"token#{token_hash}", "token"))
        if token is None:
            return None
        agent = self.get_agent(token["agent_id"])
        return agent if agent is not None and agent.active else None

    def revoke_agent(self, agent_id: str) -> bool:
        item = self.items.get(("agent", agent_id))
        if item is None:
            return False
        item["active"] = False
        self.items.pop((f"token#{item['token_hash']}", "token"), None)
        return True

    def set_agent_role(self, agent_id: str, role: str) -> Agent | None:
        item = self.items.get(("agent", agent_id))
        if item is None:
            return None
        item["role"] = role
        return _agent(agent_id, item)

    def set_agent_shortcuts(self, agent_id: str, on: bool) -> None:
        item = self.items.get(("agent", agent_id))
        if item is not None:
            item["shortcuts"] = on

    def config_versions(self, limit: int) -> list[StoredConfig]:
        versions = sorted(
            ((sk, item) for (pk, sk), item in self.items.items() if pk == "config" and sk != "current"), reverse=True
        )
        return [
            StoredConfig(
                version=item["version"],
                document=json.loads(item["document"]),
                updated_at=item["updated_at"],
                updated_by=item["updated_by"],
            )
            for _, item in versions[:limit]
        ]


def _agent(agent_id: str, item: dict[str, Any]) -> Agent:
    return Agent(
        id=agent_id,
        name=item["name"],
        email=item["email"],
        role=item["role"],
        created_at=item["created_at"],
        active=item["active"],
        shortcuts=item.get("shortcuts", True),
    )


def _has_priority(ticket: Ticket, query: QueueQuery) -> bool:
    return ticket.priority_rank == query.priority_rank if ticket.is_open else ticket.priority == query.priority


class FakeTicketStore:
    """The tickets table: ticket items at (id, "ticket"), comments at (id, "comment#<created>#<comment id>").

    Idempotency markers live in the desk table, as in DynamoDB, so the store is given that table.
    """

    def __init__(self, desk_table: dict[Key, dict[str, Any]]) -> None:
        self.desk_table = desk_table
        self.tickets: dict[Key, Ticket] = {}
        self.comments: dict[Key, Comment] = {}

    def create(self, ticket: Ticket, claim: IdempotencyClaim | None) -> None:
        key = (ticket.id, TICKET_SK)
        if claim is not None:
            marker_key = (f"idem#{_hashed(claim.key)}", "idem")
            if marker_key in self.desk_table or key in self.tickets:
                raise IdempotencyKeyTaken()
            self.desk_table[marker_key] = {
                "ticket_id": ticket.id,
                "fingerprint": claim.fingerprint,
                "expires_at": ticket.created_at + timedelta(days=1),
            }
        elif key in self.tickets:
            raise ConditionFailed(f"ticket {ticket.id} already exists")
        self.tickets[key] = _copy(ticket)

    def get(self, ticket_id: str) -> Ticket | None:
        ticket = self.tickets.get((ticket_id, TICKET_SK))
        return _copy(ticket) if ticket is not None else None

    def get_with_comments(self, ticket_id: str) -> tuple[Ticket, list[Comment]] | None:
        ticket = self.get(ticket_id)
        if ticket is None:
            return None
        comments = [c for (pk, _), c in sorted(self.comments.items()) if pk == ticket_id]
        return ticket, comments

    def id_for_ref(self, ref: str) -> str | None:
        return next((t.id for t in self.tickets.values() if t.ref == ref), None)

    def save(self, ticket: Ticket, expected_version: int, comment: Comment | None = None) -> Ticket:
        key = (ticket.id, TICKET_SK)
        stored = self.tickets.get(key)
        if stored is None or stored.version != expected_version:
            raise StaleVersionError("the ticket changed since you read it; reload it and try again")
        if comment is not None and _comment_key(comment) in self.comments:
            raise StaleVersionError("the ticket changed since you read it; reload it and try again")
        saved = replace(ticket, version=expected_version + 1)
        updated = replace(stored, **{name: getattr(saved, name) for name in SAVED_FIELDS})
        if comment is not None:
            updated = self._with_comment(updated, saved, comment)
        self.tickets[key] = _copy(updated)
        return saved

    def add_comment(self, ticket: Ticket, comment: Comment) -> None:
        key = (ticket.id, TICKET_SK)
        stored = self.tickets.get(key)
        if stored is None or _comment_key(comment) in self.comments:
            raise ConditionFailed(f"ticket {ticket.id} is gone or comment {comment.id} exists")
        updated = replace(stored, updated_at=ticket.updated_at, changed_by=ticket.changed_by)
        self.tickets[key] = self._with_comment(updated, ticket, comment)

    def _with_comment(self, stored: Ticket, ticket: Ticket, comment: Comment) -> Ticket:
        """Write the comment; count it and keep the first response time already stored, as the adapter does."""
        self.comments[_comment_key(comment)] = comment
        return replace(
            stored,
            comment_count=stored.comment_count + 1,
            first_response_at=stored.first_response_at or ticket.first_response_at,
            last_public_by=comment.author_role if comment.public else stored.last_public_by,
        )

    def queue(self, query: QueueQuery) -> QueuePage:
        """Open tickets match a priority by stored rank, closed ones by key: as the indexes do."""
        states = ("open", "done") if query.state == "all" else (query.state,)

        def wanted(ticket: Ticket) -> bool:
            if query.statuses:
                if ticket.status not in query.statuses:
                    return False
            elif ("open" if ticket.is_open else "done") not in states:
                return False
            return (
                (query.priority_rank is None or _has_priority(ticket, query))
                and (query.type is None or ticket.type == query.type)
                and (query.assignee is None or ticket.assignee == (None if query.assignee == "-" else query.assignee))
                and (query.team is None or ticket.team == query.team)
                and (query.requester is None or ticket.requester_email == query.requester)
                and (query.after is None or queue_sort(ticket) > query.after)
            )

        matching = sorted((t for t in self.tickets.values() if wanted(t)), key=queue_sort)
        page = matching[: query.limit]
        more = len(matching) > query.limit
        return QueuePage([_copy(t) for t in page], queue_sort(page[-1]) if more and page else None)

    def open_ids(self) -> list[str]:
        return [t.id for t in sorted(self.tickets.values(), key=queue_sort) if t.is_open]

    def recently_done(self, limit: int, after: str | None) -> QueuePage:
        def closed(ticket: Ticket) -> str:
            return f"{ticket.status_since.strftime(TIME_FORMAT)}#{ticket.id}"

        done = sorted((t for t in self.tickets.values() if not t.is_open), key=closed, reverse=True)
        done = [t for t in done if after is None or closed(t) < after]
        page = done[:limit]
        return QueuePage([_copy(t) for t in page], closed(page[-1]) if len(done) > limit and page else None)

    def in_status(self, status: str, ticket_type: str | None, limit: int | None = None) -> list[Ticket]:
        found = sorted(
            (t for t in self.tickets.values() if t.status == status and ticket_type in (None, t.type)),
            key=queue_sort,
        )
        return [_copy(t) for t in found[:limit]]

    def with_rank(self, state: str, rank: int) -> list[Ticket]:
        found = sorted(
            (t for t in self.tickets.values() if t.is_open == (state == "open") and t.priority_rank == rank),
            key=queue_sort,
        )
        return [_copy(t) for t in found]

    def open_with_priority(self, priority: str) -> list[Ticket]:
        found = sorted((t for t in self.tickets.values() if t.is_open and t.priority == priority), key=queue_sort)
        return [_copy(t) for t in found]

    def backlog(self, status: str) -> list[tuple[str, str, datetime]]:
        ordered = sorted(self.tickets.values(), key=queue_sort)
        return [(t.id, t.priority, t.created_at) for t in ordered if t.status == status]


class FakeEventStore:
    """The events table: history events at (ticket id, "ev#<key>"), one tracker per ticket."""

    def __init__(self) -> None:
        self.events: dict[Key, HistoryEvent] = {}
        self.saved_trackers: dict[str, Tracker] = {}

    def add(self, events: list[HistoryEvent]) -> int:
        added = 0
        for event in events:
            key = (event.ticket_id, event.key)
            if key not in self.events:
                self.events[key] = event
                added += 1
        return added

    def all_events(self, ticket_id: str) -> list[HistoryEvent]:
        return [self.events[k] for k in sorted(k for k in self.events if k[0] == ticket_id)]

    def history(self, ticket_id: str, limit: int, after: str | None) -> HistoryPage:
        events = [e for e in self.all_events(ticket_id) if after is None or e.key > after]
        page = events[:limit]
        return HistoryPage(page, page[-1].key if len(events) > limit and page else None)

    def tracker(self, ticket_id: str) -> Tracker | None:
        return self.saved_trackers.get(ticket_id)

    def trackers(self, ticket_ids: list[str]) -> dict[str, Tracker]:
        return {i: self.saved_trackers[i] for i in ticket_ids if i in self.saved_trackers}

    def save_tracker(self, tracker: Tracker) -> bool:
        stored = self.saved_trackers.get(tracker.ticket_id)
        if stored is not None and stored.event_count > tracker.event_count:
            return False
        self.saved_trackers[tracker.ticket_id] = tracker
        return True


class FakeAttachmentRecords:
    """DynamoAttachmentRecords in memory: a record is added once (a second add is the condition failure), and the
    ticket's total is reserved only while it stays within the limit."""

    def __init__(self) -> None:
        self.records: dict[Key, Attachment] = {}
        self.totals: dict[str, int] = {}

    def add(self, attachment: Attachment) -> None:
        key = (attachment.ticket_id, attachment.id)
        if key in self.records:
            raise ConflictError(f"attachment {attachment.id} exists already")
        self.records[key] = attachment

    def get(self, ticket_id: str, attachment_id: str) -> Attachment | None:
        return self.records.get((ticket_id, attachment_id))

    def of_ticket(self, ticket_id: str) -> list[Attachment]:
        return [a for (t, _), a in sorted(self.records.items()) if t == ticket_id]

    def mark_stored(self, attachment: Attachment) -> bool:
        key = (attachment.ticket_id, attachment.id)
        if key not in self.records or self.records[key].state != "pending":
            return False
        self.records[key] = attachment
        return True

    def remove(self, ticket_id: str, attachment_id: str) -> None:
        self.records.pop((ticket_id, attachment_id), None)

    def used(self, ticket_id: str) -> int:
        return self.totals.get(ticket_id, 0)

    def reserve(self, ticket_id: str, size: int, limit: int) -> bool:
        if self.used(ticket_id) + size > limit:
            return False
        self.totals[ticket_id] = self.used(ticket_id) + size
        return True

    def release(self, ticket_id: str, size: int) -> None:
        if ticket_id in self.totals:
            self.totals[ticket_id] -= size


class FakeAttachmentBlobs:
    """The attachments bucket in memory, with every put written down (a file stored twice shows as two puts)."""

    def __init__(self) -> None:
        self.objects: dict[Key, bytes] = {}
        self.puts: list[Key] = []

    def put(self, ticket_id: str, attachment_id: str, data: bytes, content_type: str) -> None:
        self.puts.append((ticket_id, attachment_id))
        self.objects[(ticket_id, attachment_id)] = bytes(data)

    def presigned_post(self, ticket_id: str, attachment_id: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        return {"url": f"https://attachments.invalid/{ticket_id}/{attachment_id}", "fields": {}}

    def verify(self, ticket_id: str, attachment_id: str, max_bytes: int) -> tuple[int, bytes]:
        data = self._data(ticket_id, attachment_id)
        return len(data), data[:4096]

    def sha256(self, ticket_id: str, attachment_id: str, max_bytes: int) -> tuple[int, str]:
        data = self._data(ticket_id, attachment_id)
        return len(data), hashlib.sha256(data).hexdigest()

    def open(self, ticket_id: str, attachment_id: str) -> Iterator[bytes]:
        return iter([self._data(ticket_id, attachment_id)])

    def delete(self, ticket_id: str, attachment_id: str) -> None:
        self.objects.pop((ticket_id, attachment_id), None)

    def _data(self, ticket_id: str, attachment_id: str) -> bytes:
        if (ticket_id, attachment_id) not in self.objects:
            raise UploadMissingError("nothing was stored under this key")
        return self.objects[(ticket_id, attachment_id)]
