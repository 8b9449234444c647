"""DynamoDB stores of webhooks (desk table), their deliveries (events table, in the ticket's partition) and logs."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from chalicelib.adapters.records import ByDue, _Meta, claim_attempt, is_condition_failure, updated_if
from chalicelib.domain.tickets import stamp
from chalicelib.domain.webhooks import Webhook
from chalicelib.services.webhooks import FAILED, PENDING, Attempt, Delivery, DeliveryKey

WEBHOOK_PK = "webhook"
LOG_PREFIX = "webhook-log#"
OFFER_PREFIX = "webhook-offer#"
HOOK_PREFIX = "hook#"
DUE_SHARD = "webhook"  # the sparse by_due index's partition of deliveries waiting for their next attempt
FAILED_SHARD = "webhook_failed"
LOG_KEPT = timedelta(days=30)


class WebhookRecord(Model):
    """pk = "webhook", sk = the webhook's id: every webhook in one partition, listed by one Query."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    url = UnicodeAttribute()
    kinds = ListAttribute(of=UnicodeAttribute, null=True)  # none: every kind
    format = UnicodeAttribute()
    secret = UnicodeAttribute()  # kept to sign; shown only in the answer that made it
    active = BooleanAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    failing_since = UTCDateTimeAttribute(null=True)
    switched_off_at = UTCDateTimeAttribute(null=True)


class WebhookLogRecord(Model):
    """pk = "webhook-log#<webhook id>", sk = "<time>#<event id>#<attempt>": a webhook's attempts, newest last."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    event_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    ref = UnicodeAttribute()
    attempt = NumberAttribute()
    status = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    duration_ms = NumberAttribute()
    expires_at = TTLAttribute()


class SecretOfferRecord(Model):
    """pk = "webhook-offer#<session hash>", sk = the webhook's id: the console session that added the webhook may
    be shown its secret once, before `expires_at` (the page it is redirected to after the add)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute()


class DeliveryRecord(Model):
    """pk = ticket id, sk = "hook#<webhook id>#<event key>": the ticket's partition, so that what is erased with a
    ticket's requester includes what was sent about them; in the due index while an attempt is due."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    webhook_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    ref = UnicodeAttribute()
    body = UnicodeAttribute(null=True)  # removed once sent: no copy of the event (and the person) is kept
    created_at = UTCDateTimeAttribute()
    state = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    next_attempt_at = UTCDateTimeAttribute(null=True)
    last_status = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    next_due_at = UnicodeAttribute(null=True)

    by_due: ByDue[DeliveryRecord] = ByDue()


DESK_MODELS: tuple[type[Model], ...] = (WebhookRecord, WebhookLogRecord, SecretOfferRecord)
EVENT_MODELS: tuple[type[Model], ...] = (DeliveryRecord,)


def bind(desk_table: str, events_table: str, region: str) -> None:
    """Point the models at the tables (records.bind_tables binds only the models listed there)."""
    for models, name in ((DESK_MODELS, desk_table), (EVENT_MODELS, events_table)):
        for model in models:
            model.Meta.table_name = name
            model.Meta.region = region
            model._connection = None


def _webhook(record: WebhookRecord) -> Webhook:
    return Webhook(
        id=record.sk,
        url=record.url,
        kinds=tuple(str(kind) for kind in record.kinds or ()),
        format=record.format,
        secret=record.secret,
        active=bool(record.active),
        created_at=record.created_at,
        created_by=record.created_by,
        description=record.description or "",
        failing_since=record.failing_since,
        switched_off_at=record.switched_off_at,
    )


class DynamoWebhookStore:
    def all(self) -> list[Webhook]:
        return [_webhook(r) for r in WebhookRecord.query(WEBHOOK_PK, consistent_read=True)]

    def get(self, webhook_id: str) -> Webhook | None:
        try:
            return _webhook(WebhookRecord.get(WEBHOOK_PK, webhook_id, consistent_read=True))
        except DoesNotExist:
            return None

    def add(self, webhook: Webhook) -> None:
        WebhookRecord(
            pk=WEBHOOK_PK,
            sk=webhook.id,
            url=webhook.url,
            kinds=list(webhook.kinds) or None,
            format=webhook.format,
            secret=webhook.secret,
            active=webhook.active,
            created_at=webhook.created_at,
            created_by=webhook.created_by,
            description=webhook.description or None,
        ).save(condition=WebhookRecord.sk.does_not_exist())

    def delete(self, webhook_id: str) -> bool:
        from pynamodb.exceptions import DeleteError

        try:
            WebhookRecord(pk=WEBHOOK_PK, sk=webhook_id).delete(condition=WebhookRecord.sk.exists())
        except DeleteError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def _update(self, webhook_id: str, actions: list[Any], condition: Any) -> bool:
        try:
            WebhookRecord(pk=WEBHOOK_PK, sk=webhook_id).update(actions=actions, condition=condition)
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def failing(self, webhook_id: str, since: datetime) -> None:
        self._update(
            webhook_id,
            [WebhookRecord.failing_since.set(since)],
            WebhookRecord.sk.exists() & WebhookRecord.failing_since.does_not_exist(),
        )

    def recovered(self, webhook_id: str) -> None:
        self._update(webhook_id, [WebhookRecord.failing_since.remove()], WebhookRecord.sk.exists())

    def switch_off(self, webhook_id: str, now: datetime) -> bool:
        return self._update(
            webhook_id,
            [WebhookRecord.active.set(False), WebhookRecord.switched_off_at.set(now)],
            WebhookRecord.active == True,  # noqa: E712 - a DynamoDB condition, not a comparison
        )


def _sk(key: DeliveryKey) -> str:
    return f"{HOOK_PREFIX}{key.webhook_id}#{key.event_key}"


def _record_key(delivery: Delivery) -> DeliveryRecord:
    return DeliveryRecord(pk=delivery.ticket_id, sk=_sk(delivery.key))


def _delivery(record: DeliveryRecord) -> Delivery:
    prefix = f"{HOOK_PREFIX}{record.webhook_id}#"
    return Delivery(
        ticket_id=record.pk,
        webhook_id=record.webhook_id,
        event_key=str(record.sk)[len(prefix) :],
        event_id=record.event_id,
        kind=record.kind,
        ref=record.ref,
        body=record.body or "",
        created_at=record.created_at,
        state=record.state,
        attempts=int(record.attempts),
        next_attempt_at=record.next_attempt_at,
        last_status=int(record.last_status) if record.last_status is not None else None,
        last_error=record.last_error,
    )


class DynamoDeliveryStore:
    def record(self, delivery: Delivery) -> bool:
        due = delivery.next_attempt_at or delivery.created_at
        record = DeliveryRecord(
            pk=delivery.ticket_id,
            sk=_sk(delivery.key),
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            kind=delivery.kind,
            ref=delivery.ref,
            body=delivery.body,
            created_at=delivery.created_at,
            state=PENDING,
            attempts=0,
            next_attempt_at=due,
            due_shard=DUE_SHARD,
            next_due_at=stamp(due),
        )
        try:
            record.save(condition=DeliveryRecord.sk.does_not_exist())
        except PutError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def get(self, key: DeliveryKey) -> Delivery | None:
        try:
            return _delivery(DeliveryRecord.get(key.ticket_id, _sk(key), consistent_read=True))
        except DoesNotExist:
            return None

    def claim(self, delivery: Delivery, retry_at: datetime) -> Delivery | None:
        if not claim_attempt(_record_key(delivery), delivery.attempts, retry_at, PENDING):
            return None
        return replace(delivery, attempts=delivery.attempts + 1, next_attempt_at=retry_at)

    def done(self, delivery: Delivery, state: str, status: int | None, reason: str | None) -> None:
        actions: list[Any] = [
            DeliveryRecord.state.set(state),
            DeliveryRecord.last_status.set(status) if status is not None else DeliveryRecord.last_status.remove(),
            DeliveryRecord.last_error.set(reason) if reason else DeliveryRecord.last_error.remove(),
        ]
        if state == PENDING:
            pass  # stays in the due index at the retry time its claim set
        elif state == FAILED:
            actions += [DeliveryRecord.next_attempt_at.remove(), DeliveryRecord.due_shard.set(FAILED_SHARD)]
        else:  # sent: the body served its purpose; the key stays (a redelivered record finds it taken)
            actions += [
                DeliveryRecord.next_attempt_at.remove(),
                DeliveryRecord.due_shard.remove(),
                DeliveryRecord.next_due_at.remove(),
                DeliveryRecord.body.remove(),
            ]
        # Only while this attempt is still the latest: a later claim has its own say.
        condition = (DeliveryRecord.state == PENDING) & (DeliveryRecord.attempts == delivery.attempts)
        updated_if(_record_key(delivery), actions, condition)

    def due(self, now: datetime, limit: int) -> list[Delivery]:
        results = DeliveryRecord.by_due.query(
            DUE_SHARD, DeliveryRecord.next_due_at <= stamp(now), limit=limit, page_size=limit
        )
        return [_delivery(r) for r in results]


class DynamoDeliveryLog:
    def add(self, attempt: Attempt) -> None:
        WebhookLogRecord(
            pk=LOG_PREFIX + attempt.webhook_id,
            sk=f"{stamp(attempt.at)}#{attempt.event_id}#{attempt.attempt:04d}",
            at=attempt.at,
            event_id=attempt.event_id,
            kind=attempt.kind,
            ref=attempt.ref,
            attempt=attempt.attempt,
            status=attempt.status,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
            expires_at=attempt.at + LOG_KEPT,
        ).save()

    def recent(self, webhook_id: str, limit: int) -> list[Attempt]:
        results = WebhookLogRecord.query(
            LOG_PREFIX + webhook_id, scan_index_forward=False, limit=limit, page_size=limit
        )
        return [
            Attempt(
                webhook_id=webhook_id,
                at=r.at,
                event_id=r.event_id,
                kind=r.kind,
                ref=r.ref,
                attempt=int(r.attempt),
                status=int(r.status) if r.status is not None else None,
                error=r.error,
                duration_ms=int(r.duration_ms),
            )
            for r in results
        ]


class DynamoSecretOffers:
    """One PutItem to offer, one conditional DeleteItem to take: of two requests taking at once, one gets it."""

    def offer(self, session: str, webhook_id: str, until: datetime) -> None:
        SecretOfferRecord(pk=OFFER_PREFIX + session, sk=webhook_id, expires_at=until).save()

    def take(self, session: str, webhook_id: str, now: datetime) -> bool:
        try:
            SecretOfferRecord(pk=OFFER_PREFIX + session, sk=webhook_id).delete(
                condition=SecretOfferRecord.expires_at > now  # there, and not past (TTL deletes lag by hours)
            )
        except DeleteError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
