"""DynamoDB outbox: one item per email, keyed by its cause, in the due index while it is pending or failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.adapters.records import OutboxRecord, claim_attempt, is_condition_failure, updated_if
from chalicelib.domain.tickets import stamp
from chalicelib.services.ports import FAILED, PENDING, SENT, OutboxItem

MAIL_PREFIX = "mail#"
PENDING_SHARD = "outbox"
FAILED_SHARD = "outbox_failed"
ERROR_LIMIT = 500


def _item(record: OutboxRecord) -> OutboxItem:
    files = record.attachment_ids
    return OutboxItem(
        ticket_id=record.pk,
        key=str(record.sk)[len(MAIL_PREFIX) :],
        kind=record.kind,
        to=record.to,
        subject=record.subject,
        text=record.text,
        html=record.html,
        raw=bytes(record.raw or b""),
        created_at=record.created_at,
        state=record.state,
        attempts=int(record.attempts),
        next_attempt_at=record.next_attempt_at,
        last_error=record.last_error,
        sent_at=record.sent_at,
        message_id=record.message_id,
        attachment_ids=tuple(str(attachment_id) for attachment_id in files or ()),
    )


def _key(item: OutboxItem) -> OutboxRecord:
    return OutboxRecord(pk=item.ticket_id, sk=MAIL_PREFIX + item.key)


class DynamoOutboxStore:
    def add(self, item: OutboxItem) -> bool:
        due = item.next_attempt_at or item.created_at
        record = OutboxRecord(
            pk=item.ticket_id,
            sk=MAIL_PREFIX + item.key,
            kind=item.kind,
            to=item.to,
            subject=item.subject,
            text=item.text,
            html=item.html,
            raw=item.raw or None,
            created_at=item.created_at,
            state=PENDING,
            attempts=0,
            next_attempt_at=due,
            due_shard=PENDING_SHARD,
            next_due_at=stamp(due),
            attachment_ids=list(item.attachment_ids) or None,
        )
        try:
            record.save(condition=OutboxRecord.sk.does_not_exist())
        except PutError as error:
            if is_condition_failure(error):
                return False
            if getattr(error, "cause_response_code", None) == "ValidationException" and "size" in str(
                getattr(error, "cause_response_message", "")
            ):
                raise ValueError("the mail is larger than the outbox can keep (400 KB)") from error
            raise
        return True

    def _update(self, item: OutboxItem, actions: list[Any], condition: Any) -> bool:
        return updated_if(_key(item), actions, condition)

    def claim(self, item: OutboxItem, retry_at: datetime) -> OutboxItem | None:
        if not claim_attempt(_key(item), item.attempts, retry_at, PENDING):
            return None
        return OutboxItem(**{**item.__dict__, "attempts": item.attempts + 1, "next_attempt_at": retry_at})

    def sent(self, item: OutboxItem, message_id: str, now: datetime) -> None:
        _key(item).update(
            actions=[
                OutboxRecord.state.set(SENT),
                OutboxRecord.sent_at.set(now),
                OutboxRecord.message_id.set(message_id),
                OutboxRecord.next_attempt_at.remove(),
                OutboxRecord.due_shard.remove(),
                OutboxRecord.next_due_at.remove(),
            ]
        )

    def not_sent(self, item: OutboxItem, error: str, failed: bool, now: datetime) -> None:
        actions: list[Any] = [OutboxRecord.last_error.set(error[:ERROR_LIMIT])]
        if failed:
            actions += [
                OutboxRecord.state.set(FAILED),
                OutboxRecord.next_attempt_at.remove(),
                OutboxRecord.due_shard.set(FAILED_SHARD),
                OutboxRecord.next_due_at.set(stamp(now)),
            ]
        # Only while this attempt is still the latest: a later claim has its own say.
        self._update(item, actions, (OutboxRecord.state == PENDING) & (OutboxRecord.attempts == item.attempts))

    def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        results = OutboxRecord.by_due.query(
            PENDING_SHARD, OutboxRecord.next_due_at <= stamp(now), limit=limit, page_size=limit
        )
        return [_item(r) for r in results]

    def listing(self, state: str, limit: int) -> list[OutboxItem]:
        shard = FAILED_SHARD if state == FAILED else PENDING_SHARD
        return [_item(r) for r in OutboxRecord.by_due.query(shard, limit=limit, page_size=limit)]

    def get(self, ticket_id: str, key: str) -> OutboxItem | None:
        try:
            return _item(OutboxRecord.get(ticket_id, MAIL_PREFIX + key, consistent_read=True))
        except DoesNotExist:
            return None

    def requeue(self, item: OutboxItem, now: datetime) -> bool:
        return self._update(
            item,
            [
                OutboxRecord.state.set(PENDING),
                OutboxRecord.attempts.set(0),
                OutboxRecord.next_attempt_at.set(now),
                OutboxRecord.due_shard.set(PENDING_SHARD),
                OutboxRecord.next_due_at.set(stamp(now)),
            ],
            OutboxRecord.state == FAILED,
        )
