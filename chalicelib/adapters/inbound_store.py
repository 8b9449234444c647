"""The desk table's record of each message SES delivered: claimed when it arrives, done once it was handled, so
that a message delivered twice is handled once, and one whose handling failed is handled again when redelivered."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.adapters.records import _Meta, is_condition_failure
from chalicelib.services.inbound import Receipt

SORT_KEY = "received"


class InboundMessageRecord(Model):
    """pk = "inbound#<SES message id>", sk = "received"; kept, so a late redelivery is still known."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sender = UnicodeAttribute()
    subject = UnicodeAttribute()
    size = NumberAttribute()
    received_at = UTCDateTimeAttribute()
    # False until handled; records made before handling existed have none and count as done (they were logged).
    done = BooleanAttribute(null=True)
    outcome = UnicodeAttribute(null=True)  # "ticket", "comment", "automatic", "unreadable", "refused"
    ticket_id = UnicodeAttribute(null=True)
    comment_id = UnicodeAttribute(null=True)
    handled_at = UTCDateTimeAttribute(null=True)


def bind(table: str, region: str) -> None:
    """Point the model at the desk table (records.bind_tables binds only the models listed there)."""
    InboundMessageRecord.Meta.table_name = table
    InboundMessageRecord.Meta.region = region
    InboundMessageRecord._connection = None


def _key(ses_message_id: str) -> str:
    return f"inbound#{ses_message_id}"


class DynamoInboundLog:
    def claim(self, ses_message_id: str, sender: str, subject: str, size: int, at: datetime) -> Receipt:
        """Record the message unless it is recorded already (a conditional put); else what the record says."""
        record = InboundMessageRecord(
            _key(ses_message_id), SORT_KEY, sender=sender, subject=subject, size=size, received_at=at, done=False
        )
        try:
            record.save(condition=InboundMessageRecord.pk.does_not_exist())
        except PutError as error:
            if not is_condition_failure(error):
                raise
        else:
            return Receipt(first=True, done=False, received_at=at)
        try:
            earlier = InboundMessageRecord.get(_key(ses_message_id), SORT_KEY, consistent_read=True)
        except DoesNotExist:  # pragma: no cover - records are never deleted
            return Receipt(first=True, done=False, received_at=at)
        return Receipt(first=False, done=earlier.done is not False, received_at=earlier.received_at)

    def finish(
        self, ses_message_id: str, outcome: str, ticket_id: str | None, comment_id: str | None, at: datetime
    ) -> None:
        """Mark the message handled: a later delivery of it changes nothing."""
        record = InboundMessageRecord(_key(ses_message_id), SORT_KEY)
        actions: list[Action] = [
            InboundMessageRecord.done.set(True),
            InboundMessageRecord.outcome.set(outcome),
            InboundMessageRecord.handled_at.set(at),
        ]
        if ticket_id:
            actions.append(InboundMessageRecord.ticket_id.set(ticket_id))
        if comment_id:
            actions.append(InboundMessageRecord.comment_id.set(comment_id))
        record.update(actions=actions, condition=InboundMessageRecord.pk.exists())
