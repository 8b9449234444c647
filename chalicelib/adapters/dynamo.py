"""DynamoDB implementations of the ticket and desk stores; every read is a key or index lookup."""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.records import (
    AgentEmailRecord,
    AgentRecord,
    CommentRecord,
    ConfigRecord,
    CounterRecord,
    IdempotencyRecord,
    SecretRecord,
    TicketRecord,
    TokenRecord,
    is_condition_failure,
    transaction_connection,
)
from chalicelib.domain.agents import Agent, email_taken
from chalicelib.domain.errors import StaleVersionError
from chalicelib.domain.tickets import Comment, Ticket, stamp
from chalicelib.services.ports import (
    IdempotencyClaim,
    IdempotencyKeyTaken,
    PreviousTicket,
    QueuePage,
    QueueQuery,
    StoredConfig,
)

TICKET_SK = "ticket"
UNASSIGNED = "-"  # the by_assignee partition of tickets nobody has: the "Unassigned" queue is a key lookup
CLOSED = "done"
HIGH = "~"  # sorts after every character a queue key contains
QUERY_PAGE = 50  # items per Query request while filling a page: fewer round trips when a filter drops many


def _state(ticket: Ticket) -> str:
    return "open" if ticket.is_open else "done"


def queue_sort(ticket: Ticket) -> str:
    """Priority rank, then age, then id: the queue order, as one string every queue index sorts by."""
    return f"{ticket.priority_rank:02d}#{stamp(ticket.created_at)}#{ticket.id}"


def _index_keys(ticket: Ticket) -> dict[str, Any]:
    state = _state(ticket)
    return {
        "state": state,
        "queue_sort": queue_sort(ticket),
        "assignee_state": f"{ticket.assignee or UNASSIGNED}#{state}",
        "team_state": f"{ticket.team}#{state}" if ticket.team else None,
        "type_state": f"{ticket.type}#{state}",
        "requester_state": f"{ticket.requester_email}#{state}",
        "closed": None if ticket.is_open else CLOSED,
        "closed_sort": None if ticket.is_open else f"{stamp(ticket.status_since)}#{ticket.id}",
    }


def _record(ticket: Ticket) -> TicketRecord:
    return TicketRecord(
        pk=ticket.id,
        sk=TICKET_SK,
        ref=ticket.ref,
        type=ticket.type,
        status=ticket.status,
        priority=ticket.priority,
        priority_rank=ticket.priority_rank,
        subject=ticket.subject,
        description=ticket.description,
        requester_name=ticket.requester_name,
        requester_email=ticket.requester_email,
        fields=ticket.fields,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        status_since=ticket.status_since,
        first_response_at=ticket.first_response_at,
        changed_by=ticket.changed_by,
        version=ticket.version,
        comment_count=ticket.comment_count,
        assignee=ticket.assignee,
        team=ticket.team,
        last_public_by=ticket.last_public_by,
        mail_key=ticket.mail_key,
        **_index_keys(ticket),
    )


def ticket_from_record(record: TicketRecord) -> Ticket:
    fields = record.fields.as_dict() if isinstance(record.fields, MapAttribute) else record.fields
    return Ticket(
        id=record.pk,
        ref=record.ref,
        type=record.type,
        status=record.status,
        priority=record.priority,
        priority_rank=int(record.priority_rank),
        is_open=record.state == "open",
        subject=record.subject,
        description=record.description,
        requester_name=record.requester_name,
        requester_email=record.requester_email,
        fields=dict(fields or {}),
        created_at=record.created_at,
        updated_at=record.updated_at,
        status_since=record.status_since,
        first_response_at=record.first_response_at,
        changed_by=record.changed_by,
        version=int(record.version),
        comment_count=int(record.comment_count or 0),
        assignee=record.assignee,
        team=record.team,
        last_public_by=record.last_public_by,
        mail_key=record.mail_key,
    )


def comment_from_record(record: CommentRecord) -> Comment:
    return Comment(
        ticket_id=record.pk,
        id=record.id,
        body=record.body,
        public=bool(record.public),
        author_role=record.author_role,
        author_id=record.author_id,
        author_name=record.author_name,
        created_at=record.created_at,
        source=record.source,
        mail_key=record.mail_key,
    )


SAVED_ATTRIBUTES = (
    "type",
    "status",
    "state",
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
    "queue_sort",
    "assignee_state",
    "team_state",
    "type_state",
    "requester_state",
    "closed",
    "closed_sort",
)


def _comment_record(comment: Comment) -> CommentRecord:
    return CommentRecord(
        pk=comment.ticket_id,
        sk=f"comment#{stamp(comment.created_at)}#{comment.id}",
        id=comment.id,
        body=comment.body,
        public=comment.public,
        author_role=comment.author_role,
        author_id=comment.author_id,
        author_name=comment.author_name,
        created_at=comment.created_at,
        source=comment.source,
        mail_key=comment.mail_key,
    )


def _comment_actions(ticket: Ticket, comment: Comment) -> list[Any]:
    """One more comment; the first public agent reply's time is kept, never overwritten."""
    actions: list[Any] = [TicketRecord.comment_count.add(1)]
    if comment.public:
        actions.append(TicketRecord.last_public_by.set(comment.author_role))
    if ticket.first_response_at is not None:
        actions.append(TicketRecord.first_response_at.set(TicketRecord.first_response_at | ticket.first_response_at))
    return actions


def _transaction_condition_failed(error: Exception) -> bool:
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons if r)


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class DynamoTicketStore:
    def create(self, ticket: Ticket, claim: IdempotencyClaim | None) -> None:
        record = _record(ticket)
        if claim is None:
            record.save(condition=TicketRecord.pk.does_not_exist())
            return
        marker = IdempotencyRecord(
            pk=f"idem#{_hashed(claim.key)}",
            sk="idem",
            ticket_id=ticket.id,
            fingerprint=claim.fingerprint,
            expires_at=ticket.created_at + timedelta(days=1),
        )
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.save(marker, condition=IdempotencyRecord.pk.does_not_exist())
                transaction.save(record, condition=TicketRecord.pk.does_not_exist())
        except TransactWriteError as error:
            if _transaction_condition_failed(error):
                raise IdempotencyKeyTaken() from error
            raise

    def get(self, ticket_id: str) -> Ticket | None:
        try:
            return ticket_from_record(TicketRecord.get(ticket_id, TICKET_SK, consistent_read=True))
        except DoesNotExist:
            return None

    def get_with_comments(self, ticket_id: str) -> tuple[Ticket, list[Comment]] | None:
        ticket = self.get(ticket_id)
        if ticket is None:
            return None
        comments = CommentRecord.query(ticket_id, CommentRecord.sk.startswith("comment#"), consistent_read=True)
        return ticket, [comment_from_record(c) for c in comments]

    def id_for_ref(self, ref: str) -> str | None:
        for record in TicketRecord.by_ref.query(ref, limit=1):
            return str(record.pk)
        return None

    def save(self, ticket: Ticket, expected_version: int, comment: Comment | None = None) -> Ticket:
        """Update only what transitions and edits change, so concurrent comment counts are never overwritten."""
        saved = replace(ticket, version=expected_version + 1)
        record = _record(saved)
        actions = []
        for name in SAVED_ATTRIBUTES:
            attribute = getattr(TicketRecord, name)
            value = getattr(record, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        condition = TicketRecord.pk.exists() & (TicketRecord.version == expected_version)
        try:
            if comment is None:
                record.update(actions=actions, condition=condition)
            else:
                with TransactWrite(connection=transaction_connection()) as transaction:
                    transaction.update(record, actions=actions + _comment_actions(saved, comment), condition=condition)
                    transaction.save(_comment_record(comment), condition=CommentRecord.sk.does_not_exist())
        except (UpdateError, TransactWriteError) as error:
            if is_condition_failure(error) or _transaction_condition_failed(error):
                raise StaleVersionError("the ticket changed since you read it; reload it and try again") from error
            raise
        return saved

    def add_comment(self, ticket: Ticket, comment: Comment) -> None:
        actions = [TicketRecord.updated_at.set(ticket.updated_at), TicketRecord.changed_by.set(ticket.changed_by)]
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.save(_comment_record(comment), condition=CommentRecord.sk.does_not_exist())
            transaction.update(
                TicketRecord(pk=ticket.id, sk=TICKET_SK),
                actions=actions + _comment_actions(ticket, comment),
                condition=TicketRecord.pk.exists(),
            )

    def queue(self, query: QueueQuery) -> QueuePage:
        """Query the most selective index, one partition per state or status, and merge in queue order.

        The cursor is the last sort key returned; each partition resumes after it. Open partitions filter
        a priority by its rank (a key prefix); closed tickets keep the rank they closed with, so closed
        partitions filter by the priority's key instead.
        """
        index, partitions, used = _plan(query)
        filters: list[Condition] = []
        if query.type and used != "type":
            filters.append(TicketRecord.type == query.type)
        if query.assignee == UNASSIGNED and used != "assignee":
            filters.append(TicketRecord.assignee.does_not_exist())
        elif query.assignee and used != "assignee":
            filters.append(TicketRecord.assignee == query.assignee)
        if query.team and used != "team":
            filters.append(TicketRecord.team == query.team)
        if query.requester and used != "requester":
            filters.append(TicketRecord.requester_email == query.requester)
        if query.statuses and used != "status":
            filters.append(TicketRecord.status.is_in(*query.statuses))
        streams = []
        for partition, closed in partitions:
            condition = _range(None if closed else query.priority_rank, query.after)
            if condition is False:
                continue
            wanted = [*filters, TicketRecord.priority == query.priority] if closed and query.priority else filters
            results = index.query(
                partition,
                range_key_condition=condition,
                filter_condition=_all_of(wanted),
                limit=query.limit + 1,
                page_size=max(query.limit + 1, QUERY_PAGE),
            )
            streams.append(list(results))
        merged = list(heapq.merge(*streams, key=lambda r: r.queue_sort))
        page = merged[: query.limit]
        more = len(merged) > query.limit
        return QueuePage([ticket_from_record(r) for r in page], page[-1].queue_sort if more and page else None)

    def in_status(self, status: str, ticket_type: str | None, limit: int | None = None) -> list[Ticket]:
        condition = TicketRecord.type == ticket_type if ticket_type else None
        results = TicketRecord.by_status.query(status, filter_condition=condition, limit=limit)
        return [ticket_from_record(r) for r in results]

    def with_rank(self, state: str, rank: int) -> list[Ticket]:
        results = TicketRecord.by_state.query(state, TicketRecord.queue_sort.startswith(f"{rank:02d}#"))
        return [ticket_from_record(r) for r in results]

    def open_with_priority(self, priority: str) -> list[Ticket]:
        results = TicketRecord.by_state.query("open", filter_condition=TicketRecord.priority == priority)
        return [ticket_from_record(r) for r in results]

    def open_ids(self) -> list[str]:
        """Every open ticket's id: one Query of the open partition of by_state, keys only."""
        return [r.pk for r in TicketRecord.by_state.query("open", attributes_to_get=["pk"])]

    def recently_done(self, limit: int, after: str | None) -> QueuePage:
        """Done tickets, the most recently closed first (the sparse by_closed index)."""
        condition = TicketRecord.closed_sort < after if after else None
        results = list(TicketRecord.by_closed.query(CLOSED, condition, scan_index_forward=False, limit=limit + 1))
        page = results[:limit]
        more = len(results) > limit
        return QueuePage([ticket_from_record(r) for r in page], page[-1].closed_sort if more and page else None)

    def backlog(self, status: str) -> list[tuple[str, str, datetime]]:
        results = TicketRecord.by_status.query(status, attributes_to_get=["pk", "priority", "created_at"])
        return [(r.pk, r.priority, r.created_at) for r in results]


def _plan(query: QueueQuery) -> tuple[Any, list[tuple[str, bool]], str]:
    """The index whose partitions hold the fewest tickets beyond the answer, and its (partition, closed) list."""
    if query.statuses:
        states = sorted({"done" if s in query.done_statuses else "open" for s in query.statuses})
    else:
        states = ["open", "done"] if query.state == "all" else [query.state]
    narrow: list[tuple[str, str | None, Any]] = [
        ("assignee", query.assignee, TicketRecord.by_assignee),
        ("requester", query.requester, TicketRecord.by_requester),
    ]
    broad: list[tuple[str, str | None, Any]] = [
        ("team", query.team, TicketRecord.by_team),
        ("type", query.type, TicketRecord.by_type),
    ]
    for name, value, index in narrow:
        if value:
            return index, [(f"{value}#{s}", s == "done") for s in states], name
    if query.statuses:
        return TicketRecord.by_status, [(s, s in query.done_statuses) for s in query.statuses], "status"
    for name, value, index in broad:
        if value:
            return index, [(f"{value}#{s}", s == "done") for s in states], name
    return TicketRecord.by_state, [(s, s == "done") for s in states], "state"


def _all_of(conditions: list[Condition]) -> Condition | None:
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def _range(priority_rank: int | None, after: str | None) -> Any:
    sort = TicketRecord.queue_sort
    if priority_rank is None:
        return sort > after if after else None
    prefix = f"{priority_rank:02d}#"
    if not after or after < prefix:
        return sort.startswith(prefix)
    if after.startswith(prefix):
        # Every queue key has the same length, so `after + " "` is the first key after `after` (exclusive).
        return sort.between(after + " ", prefix + HIGH)
    return False


class DynamoDeskStore:
    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}
        self._config: StoredConfig | None = None  # the last version read; versions never change once stored

    def current_config(self) -> StoredConfig | None:
        try:
            pointer = ConfigRecord.get("config", "current", consistent_read=True)
        except DoesNotExist:
            return None
        version = int(pointer.version)
        if self._config is None or self._config.version != version:
            record = ConfigRecord.get("config", f"v#{version:08d}", consistent_read=True)
            self._config = StoredConfig(
                version=version,
                document=json.loads(record.document or "{}"),
                updated_at=record.updated_at,
                updated_by=record.updated_by,
            )
        return self._config

    def store_config(self, document: dict[str, Any], expected_version: int, actor: str, now: datetime) -> int:
        version = expected_version + 1
        text = json.dumps(document, separators=(",", ":"))
        snapshot = ConfigRecord(
            pk="config", sk=f"v#{version:08d}", version=version, document=text, updated_at=now, updated_by=actor
        )
        pointer = ConfigRecord(pk="config", sk="current", version=version, updated_at=now, updated_by=actor)
        guard = ConfigRecord.pk.does_not_exist() if expected_version == 0 else ConfigRecord.version == expected_version
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.save(snapshot, condition=ConfigRecord.pk.does_not_exist())
                transaction.save(pointer, condition=guard)
        except TransactWriteError as error:
            raise StaleVersionError("the configuration changed since you read it") from error
        return version

    def previous_ticket(self, key: str) -> PreviousTicket | None:
        try:
            record = IdempotencyRecord.get(f"idem#{_hashed(key)}", "idem", consistent_read=True)
        except DoesNotExist:
            return None
        return PreviousTicket(ticket_id=record.ticket_id, fingerprint=record.fingerprint)

    def count_new_ticket(self, requester_email: str, hour: str, limit: int, expires_at: datetime) -> bool:
        record = CounterRecord(pk=f"rate#{requester_email}", sk=hour)
        try:
            record.update(
                actions=[CounterRecord.tally.add(1), CounterRecord.expires_at.set(expires_at)],
                condition=CounterRecord.tally.does_not_exist() | (CounterRecord.tally < limit),
            )
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def next_ref_number(self) -> int:
        record = CounterRecord(pk="counter", sk="ticket_ref")
        record.update(actions=[CounterRecord.tally.add(1)])
        return 1000 + int(record.tally)

    def signing_secret(self) -> bytes:
        """The portal signing key: made at random on first use, stored in the desk table, cached per container."""
        if "portal" not in self._secrets:
            candidate = SecretRecord(pk="secret", sk="portal", value=secrets.token_hex(32))
            try:
                candidate.save(condition=SecretRecord.pk.does_not_exist())
            except PutError as error:
                if not is_condition_failure(error):
                    raise
                candidate = SecretRecord.get("secret", "portal", consistent_read=True)
            self._secrets["portal"] = bytes.fromhex(candidate.value)
        return self._secrets["portal"]

    def create_agent(self, agent: Agent, token_hash: str) -> None:
        """Store a new agent, its token's lookup and its claim on its (normalised) email address, all or
        nothing. ConflictError (field `email`) if an active agent has the address: the claim's condition
        catches two creates at once; the Query of the agents' partition catches agents stored before claims
        existed, which have none."""
        if any(a.active and a.email == agent.email for a in self.list_agents()):
            raise email_taken()
        record = AgentRecord(
            pk="agent",
            sk=agent.id,
            name=agent.name,
            email=agent.email,
            role=agent.role,
            active=agent.active,
            created_at=agent.created_at,
            token_hash=token_hash,
        )
        claim = AgentEmailRecord(pk=_email_key(agent.email), sk="claim", agent_id=agent.id)
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.save(record, condition=AgentRecord.sk.does_not_exist())
                transaction.save(
                    TokenRecord(pk=f"token#{token_hash}", sk="token", agent_id=agent.id),
                    condition=TokenRecord.pk.does_not_exist(),
                )
                transaction.save(claim, condition=AgentEmailRecord.pk.does_not_exist())
        except TransactWriteError as error:
            if _transaction_condition_failed(error) and self._email_holder(agent.email) not in (None, agent.id):
                raise email_taken() from error
            raise

    def _email_holder(self, email: str) -> str | None:
        try:
            return AgentEmailRecord.get(_email_key(email), "claim", consistent_read=True).agent_id
        except DoesNotExist:
            return None

    def get_agent(self, agent_id: str) -> Agent | None:
        try:
            return _agent(AgentRecord.get("agent", agent_id, consistent_read=True))
        except DoesNotExist:
            return None

    def list_agents(self) -> list[Agent]:
        return [_agent(r) for r in AgentRecord.query("agent")]

    def agent_for_token(self, token_hash: str) -> Agent | None:
        try:
            token = TokenRecord.get(f"token#{token_hash}", "token", consistent_read=True)
        except DoesNotExist:
            return None
        agent = self.get_agent(token.agent_id)
        return agent if agent is not None and agent.active else None

    def revoke_agent(self, agent_id: str) -> bool:
        """Deactivate the agent, drop its token and release its email address (an admin may invite the person
        again as a new agent), in one transaction."""
        try:
            record = AgentRecord.get("agent", agent_id, consistent_read=True)
        except DoesNotExist:
            return False
        holds_email = self._email_holder(record.email) == agent_id  # agents stored before claims hold none
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.update(record, actions=[AgentRecord.active.set(False)])
            transaction.delete(TokenRecord(pk=f"token#{record.token_hash}", sk="token"))
            if holds_email:
                transaction.delete(
                    AgentEmailRecord(pk=_email_key(record.email), sk="claim"),
                    condition=AgentEmailRecord.agent_id == agent_id,
                )
        return True

    def set_agent_role(self, agent_id: str, role: str) -> Agent | None:
        """The agent with its new role; None if there is no such agent."""
        try:
            record = AgentRecord(pk="agent", sk=agent_id)
            record.update(actions=[AgentRecord.role.set(role)], condition=AgentRecord.sk.exists())
        except UpdateError as error:
            if is_condition_failure(error):
                return None
            raise
        return _agent(record)

    def set_agent_shortcuts(self, agent_id: str, on: bool) -> None:
        record = AgentRecord(pk="agent", sk=agent_id)
        with contextlib.suppress(UpdateError):
            record.update(actions=[AgentRecord.shortcuts.set(on)], condition=AgentRecord.sk.exists())

    def config_versions(self, limit: int) -> list[StoredConfig]:
        """The stored configuration versions, newest first (one Query of the config partition)."""
        records = ConfigRecord.query("config", ConfigRecord.sk.startswith("v#"), scan_index_forward=False, limit=limit)
        return [
            StoredConfig(
                version=int(r.version),
                document=json.loads(r.document or "{}"),
                updated_at=r.updated_at,
                updated_by=r.updated_by,
            )
            for r in records
        ]


def _email_key(email: str) -> str:
    """The claim's key: the address as the desk normalised it (lower case, trimmed), so case never doubles one."""
    return f"agent-email#{email}"


def _agent(record: AgentRecord) -> Agent:
    return Agent(
        id=record.sk,
        name=record.name,
        email=record.email,
        role=record.role,
        created_at=record.created_at,
        active=bool(record.active),
        shortcuts=record.shortcuts is not False,
    )
