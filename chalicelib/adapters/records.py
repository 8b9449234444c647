"""PynamoDB models of the two tables; only the persistence adapter uses them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.domain.tickets import stamp

if TYPE_CHECKING:
    from datetime import datetime


class _Meta:
    table_name = "unbound"
    region = "us-east-1"
    # API Gateway gives up after 29 s; fail fast instead of PynamoDB's 30 s x 3 defaults.
    connect_timeout_seconds = 3
    read_timeout_seconds = 5
    max_retry_attempts = 2


class ByStatus(GlobalSecondaryIndex["TicketRecord"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    queue_sort = UnicodeAttribute(range_key=True)


class ByState(GlobalSecondaryIndex["TicketRecord"]):
    class Meta:
        index_name = "by_state"
        projection = AllProjection()

    state = UnicodeAttribute(hash_key=True)
    queue_sort = UnicodeAttribute(range_key=True)


class ByAssignee(GlobalSecondaryIndex["TicketRecord"]):
    class Meta:
        index_name = "by_assignee"
        projection = AllProjection()

    assignee_state = UnicodeAttribute(hash_key=True)
    queue_sort = UnicodeAttribute(range_key=True)


class ByTeam(GlobalSecondaryIndex["TicketRecord"]):
    class Meta:
        index_name = "by_team"
        projection = AllProjection()

    team_state = UnicodeAttribute(hash_key=True)
    queue_sort = UnicodeAttribute(range_key=True)


class ByType(GlobalSecondaryIndex["TicketRecord"]):
    class Meta:
        index_name = "by_type"
        projection = AllProjection()

    type_state = UnicodeAttribute(hash_key=True)
    queue_sort = UnicodeAttribute(range_key=True)


class ByRequester(GlobalSecondaryIndex["TicketRecord"]):
    class Meta:
        index_name = "by_requester"
        projection = AllProjection()

    requester_state = UnicodeAttribute(hash_key=True)
    queue_sort = UnicodeAttribute(range_key=True)


class ByClosed(GlobalSecondaryIndex["TicketRecord"]):
    """Sparse: only done tickets carry `closed`; sorted by when they were closed, for "recently done"."""

    class Meta:
        index_name = "by_closed"
        projection = AllProjection()

    closed = UnicodeAttribute(hash_key=True)
    closed_sort = UnicodeAttribute(range_key=True)


class ByRef(GlobalSecondaryIndex["TicketRecord"]):
    class Meta:
        index_name = "by_ref"
        projection = KeysOnlyProjection()

    ref = UnicodeAttribute(hash_key=True)


class TicketRecord(Model):
    """One item per ticket (sk = "ticket"); comments share its partition."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ref = UnicodeAttribute()
    type = UnicodeAttribute()
    status = UnicodeAttribute()
    state = UnicodeAttribute()
    priority = UnicodeAttribute()
    priority_rank = NumberAttribute()
    subject = UnicodeAttribute()
    description = UnicodeAttribute()
    requester_name = UnicodeAttribute()
    requester_email = UnicodeAttribute()
    fields = MapAttribute[str, Any](default=dict)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    status_since = UTCDateTimeAttribute()
    first_response_at = UTCDateTimeAttribute(null=True)
    changed_by = UnicodeAttribute()
    version = NumberAttribute()
    comment_count = NumberAttribute(default=0)
    assignee = UnicodeAttribute(null=True)
    team = UnicodeAttribute(null=True)
    queue_sort = UnicodeAttribute()
    assignee_state = UnicodeAttribute(null=True)
    team_state = UnicodeAttribute(null=True)
    type_state = UnicodeAttribute()
    requester_state = UnicodeAttribute()
    closed = UnicodeAttribute(null=True)
    closed_sort = UnicodeAttribute(null=True)
    last_public_by = UnicodeAttribute(null=True)
    mail_key = UnicodeAttribute(null=True)  # opened by mail: the original message's S3 key

    by_status = ByStatus()
    by_state = ByState()
    by_assignee = ByAssignee()
    by_team = ByTeam()
    by_type = ByType()
    by_requester = ByRequester()
    by_closed = ByClosed()
    by_ref = ByRef()


class CommentRecord(Model):
    """A comment: pk = ticket id, sk = "comment#<created>#<id>"."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    body = UnicodeAttribute()
    public = BooleanAttribute()
    author_role = UnicodeAttribute()
    author_id = UnicodeAttribute()
    author_name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    source = UnicodeAttribute(null=True)  # "mail" when it came by mail
    mail_key = UnicodeAttribute(null=True)  # by mail: the original message's S3 key


class SurveyRecord(Model):
    """The ticket's one satisfaction answer: pk = ticket id, sk = "survey"; on the stream like the ticket."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    rating = NumberAttribute()
    comment = UnicodeAttribute(default="")
    answered_at = UTCDateTimeAttribute()
    revision = NumberAttribute()


class ConfigRecord(Model):
    """pk = "config"; sk = "v#<version>" (each stored version, with its document) or "current".

    "current" holds only the version number, so the read every request makes is one small item;
    the document is read once per container per version.
    """

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    version = NumberAttribute()
    document = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()


class AgentRecord(Model):
    """pk = "agent", sk = agent id."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    email = UnicodeAttribute()
    role = UnicodeAttribute()
    active = BooleanAttribute()
    created_at = UTCDateTimeAttribute()
    token_hash = UnicodeAttribute()
    shortcuts = BooleanAttribute(null=True)  # unset: on


class TokenRecord(Model):
    """pk = "token#<sha256 of the token>", sk = "token": the one lookup that authenticates an agent."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    agent_id = UnicodeAttribute()


class AgentEmailRecord(Model):
    """pk = "agent-email#<normalised email>", sk = "claim": which agent holds an address (one per address),
    written in the same transaction as the agent and released when the agent is revoked."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    agent_id = UnicodeAttribute()


class IdempotencyRecord(Model):
    """pk = "idem#<sha256 of the key>", sk = "idem"; expires after a day."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ticket_id = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    expires_at = TTLAttribute()


class CounterRecord(Model):
    """Atomic counters: the ticket reference sequence, new tickets per requester per hour."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tally = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


class SecretRecord(Model):
    """pk = "secret", sk = purpose: a random key generated on first use, never in code or config."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    value = UnicodeAttribute()


class OptOutRecord(Model):
    """pk = "optout#<email>", sk = what the address wants no more of ("survey")."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()


class SessionRecord(Model):
    """A console session: pk = "session#<sha256 of its id>", sk = "session"; the cookie holds the id, signed."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    agent_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    last_seen_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()  # the absolute end; idle expiry is checked against last_seen_at


class SignInRecord(Model):
    """A one-time sign-in link: pk = "signin#<sha256 of its token>", sk = "signin"; deleted when used."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    agent_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


class PresenceRecord(Model):
    """Who has which ticket open: pk = "presence", sk = agent id (one item per agent, the latest heartbeat)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ticket_id = UnicodeAttribute()
    typing = BooleanAttribute(default=False)
    at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


class ChangeMarkRecord(Model):
    """pk = "changes", sk = "tickets": a number the stream pipeline bumps once per batch that changed tickets,
    so a console's poll learns whether anything changed from one small read."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    seq = NumberAttribute(default=0)
    at = UTCDateTimeAttribute(null=True)


class SavedReplyRecord(Model):
    """pk = "saved_reply", sk = the reply's id: every saved reply in one partition, listed by one Query."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    title = UnicodeAttribute()
    body = UnicodeAttribute()
    status = UnicodeAttribute(null=True)  # a macro's status for the ticket
    priority = UnicodeAttribute(null=True)
    public = BooleanAttribute()
    version = NumberAttribute()  # every write is conditional on the version read
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()


_M = TypeVar("_M", bound=Model)


class ByDue(GlobalSecondaryIndex[_M], Generic[_M]):
    """Sparse: only items with work due carry its keys. `due_shard` names the job ("sla", "stale", "survey",
    "outbox", "outbox_failed"); `next_due_at` is when (an instant stamp, so it sorts)."""

    class Meta:
        index_name = "by_due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    next_due_at = UnicodeAttribute(range_key=True)


class EventRecord(Model):
    """A history event: pk = ticket id, sk = "ev#<event key>" (time, then the write or comment that caused it)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()
    data = UnicodeAttribute()  # JSON: the event's details, whatever its kind


class TrackerRecord(Model):
    """pk = ticket id, sk = "tracker": SLA timers and time in status, recomputed from the ticket's events."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    event_count = NumberAttribute()
    state = UnicodeAttribute()  # JSON of the tracker
    notified = UnicodeSetAttribute(null=True)  # what the SLA sweep warned about: "first_response:at_risk" …
    due_shard = UnicodeAttribute(null=True)
    next_due_at = UnicodeAttribute(null=True)

    by_due: ByDue[TrackerRecord] = ByDue()


class OutboxRecord(Model):
    """One email: pk = ticket id, sk = "mail#<key of its cause>"; in the due index while pending or failed."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    to = UnicodeAttribute()
    subject = UnicodeAttribute()
    text = UnicodeAttribute()
    html = UnicodeAttribute()
    raw = BinaryAttribute(legacy_encoding=False, null=True)
    created_at = UTCDateTimeAttribute()
    state = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    next_attempt_at = UTCDateTimeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    next_due_at = UnicodeAttribute(null=True)
    # The files the mail carries (built into it at each delivery; the item never holds their bytes). Absent on
    # mails without files and on items recorded before mail carried files: they load with none.
    attachment_ids = ListAttribute(of=UnicodeAttribute, null=True)

    by_due: ByDue[OutboxRecord] = ByDue()


class AgendaRecord(Model):
    """A job's next step for a ticket: pk = ticket id, sk = "agenda#<job>"; in the due index while a step is due."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    since = UnicodeAttribute()  # stamp of when the ticket entered `status`
    step = NumberAttribute()
    version = NumberAttribute(default=0)  # the ticket version that began the stay
    due_at = UTCDateTimeAttribute(null=True)
    last_sent_at = UTCDateTimeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    next_due_at = UnicodeAttribute(null=True)

    by_due: ByDue[AgendaRecord] = ByDue()


TICKET_MODELS: tuple[type[Model], ...] = (TicketRecord, CommentRecord, SurveyRecord)
DESK_MODELS: tuple[type[Model], ...] = (
    ConfigRecord,
    AgentRecord,
    TokenRecord,
    AgentEmailRecord,
    IdempotencyRecord,
    CounterRecord,
    SecretRecord,
    OptOutRecord,
    SessionRecord,
    SignInRecord,
    PresenceRecord,
    ChangeMarkRecord,
    SavedReplyRecord,
)
EVENT_MODELS: tuple[type[Model], ...] = (EventRecord, TrackerRecord, OutboxRecord, AgendaRecord)


_transactions: list[Connection] = []


def bind_tables(tickets_table: str, desk_table: str, events_table: str, region: str) -> None:
    """Point every model at the deployed tables; called once with the settings, before first use."""
    from chalicelib.adapters import meter

    meter.watch_pynamodb()  # every PynamoDB connection's client counts what it consumes (chalicelib/adapters/meter.py)
    for models, name in ((TICKET_MODELS, tickets_table), (DESK_MODELS, desk_table), (EVENT_MODELS, events_table)):
        for model in models:
            model.Meta.table_name = name
            model.Meta.region = region
            model._connection = None
    _transactions[:] = [
        Connection(
            region=region,
            connect_timeout_seconds=_Meta.connect_timeout_seconds,
            read_timeout_seconds=_Meta.read_timeout_seconds,
            max_retry_attempts=_Meta.max_retry_attempts,
        )
    ]


def is_condition_failure(error: Exception) -> bool:
    """Whether a PynamoDB write error is DynamoDB refusing its condition (not a fault to raise)."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def updated_if(record: Model, actions: list[Any], condition: Any) -> bool:
    """One conditional UpdateItem; False when the condition did not hold (another writer changed it first)."""
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def claim_attempt(record: Model, attempts_read: int, retry_at: datetime, pending: str) -> bool:
    """The claim of the mail outbox and of webhook deliveries (items with `state`, `attempts`, `next_attempt_at`
    and the due index's `next_due_at`): one attempt more, the next one due at `retry_at` (so an attempt that dies
    is tried again), only while the item is still pending at the attempts read, so two senders never both send."""
    model: Any = type(record)
    actions = [
        model.attempts.set(attempts_read + 1),
        model.next_attempt_at.set(retry_at),
        model.next_due_at.set(stamp(retry_at)),
    ]
    return updated_if(record, actions, (model.state == pending) & (model.attempts == attempts_read))


def transaction_connection() -> Connection:
    """The connection TransactWrite needs (PynamoDB asks for one explicitly)."""
    if not _transactions:
        raise RuntimeError("bind_tables() must run before the first transaction")
    return _transactions[0]
