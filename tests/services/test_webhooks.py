"""The deliverer and the publishing history store with in-memory fakes: claims keep two deliverers from both
sending, a switch-off tells the admins once, and only newly written events are published."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.webhooks import Webhook
from chalicelib.services.webhooks import (
    PENDING,
    Attempt,
    Deliverer,
    Delivery,
    DeliveryKey,
    Posted,
    PublishingEventStore,
    hand_over,
)
from tests.clocks import ManualClock

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Hooks:
    def __init__(self, *hooks: Webhook) -> None:
        self.hooks = {h.id: h for h in hooks}

    def all(self) -> list[Webhook]:
        return list(self.hooks.values())

    def get(self, webhook_id: str) -> Webhook | None:
        return self.hooks.get(webhook_id)

    def add(self, webhook: Webhook) -> None:
        self.hooks[webhook.id] = webhook

    def delete(self, webhook_id: str) -> bool:
        return self.hooks.pop(webhook_id, None) is not None

    def failing(self, webhook_id: str, since: datetime) -> None:
        hook = self.hooks[webhook_id]
        if hook.failing_since is None:
            self.hooks[webhook_id] = replace(hook, failing_since=since)

    def recovered(self, webhook_id: str) -> None:
        self.hooks[webhook_id] = replace(self.hooks[webhook_id], failing_since=None)

    def switch_off(self, webhook_id: str, now: datetime) -> bool:
        hook = self.hooks[webhook_id]
        if not hook.active:
            return False
        self.hooks[webhook_id] = replace(hook, active=False, switched_off_at=now)
        return True


class Deliveries:
    """Claims are conditional on the attempts read, as DynamoDB's conditional update is."""

    def __init__(self) -> None:
        self.items: dict[DeliveryKey, Delivery] = {}

    def record(self, delivery: Delivery) -> bool:
        return self.items.setdefault(delivery.key, delivery) is delivery

    def get(self, key: DeliveryKey) -> Delivery | None:
        return self.items.get(key)

    def claim(self, delivery: Delivery, retry_at: datetime) -> Delivery | None:
        stored = self.items[delivery.key]
        if stored.state != PENDING or stored.attempts != delivery.attempts:
            return None
        claimed = replace(stored, attempts=stored.attempts + 1, next_attempt_at=retry_at)
        self.items[delivery.key] = claimed
        return claimed

    def done(self, delivery: Delivery, state: str, status: int | None, error: str | None) -> None:
        stored = self.items[delivery.key]
        if stored.attempts == delivery.attempts and stored.state == PENDING:
            self.items[delivery.key] = replace(stored, state=state, last_status=status, last_error=error)

    def due(self, now: datetime, limit: int) -> list[Delivery]:
        return [d for d in self.items.values() if d.state == PENDING and (d.next_attempt_at or now) <= now][:limit]


class Log:
    def __init__(self) -> None:
        self.attempts: list[Attempt] = []

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def recent(self, webhook_id: str, limit: int) -> list[Attempt]:
        return [a for a in reversed(self.attempts) if a.webhook_id == webhook_id][:limit]


class Receiver:
    def __init__(self, status: int | None = 204, during: Any = None) -> None:
        self.status = status
        self.during = during  # called while the POST is "in flight"
        self.posts: list[dict[str, str]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Posted:
        self.posts.append(headers)
        if self.during is not None:
            during, self.during = self.during, None
            during()
        return Posted(self.status, None if self.status else "no answer within 5 s", 3)


def hook(**changes: Any) -> Webhook:
    base = Webhook("W1", "https://h.example.org", (), "json", "s3cret", True, AT, "agent:A1")
    return replace(base, **changes)


def delivery(event_key: str = "k1") -> Delivery:
    return Delivery("T1", "W1", event_key, "evt_1", "created", "HD-1", "{}", AT, next_attempt_at=AT)


def deliverer(hooks: Hooks, store: Deliveries, poster: Receiver, clock: ManualClock, told: list[Webhook]) -> Deliverer:
    return Deliverer(hooks, store, Log(), poster, clock, lambda keys: None, told.append)


def test_two_deliverers_handed_the_same_delivery_send_it_once(clock: ManualClock) -> None:
    clock.current = AT
    hooks, store, told = Hooks(hook()), Deliveries(), []
    store.record(delivery())
    other = Receiver()
    second = deliverer(hooks, store, other, clock, told)
    first = deliverer(
        hooks, store, Receiver(during=lambda: outcomes.append(second.deliver([delivery().key]))), clock, told
    )
    outcomes: list[dict[str, int]] = []

    assert first.deliver([delivery().key]) == {"sent": 1}
    assert outcomes == [{"not_due": 1}]  # the first one's claim moved its next attempt on
    assert other.posts == []


def test_a_switch_off_tells_the_admins_once_however_many_deliveries_fail_with_it(clock: ManualClock) -> None:
    clock.current = AT + timedelta(days=1, minutes=1)
    hooks, store, told = Hooks(hook(failing_since=AT)), Deliveries(), []
    for key in ("k1", "k2", "k3"):
        store.record(delivery(key))
    sender = deliverer(hooks, store, Receiver(status=500), clock, told)

    tally = sender.deliver([DeliveryKey("T1", "W1", k) for k in ("k1", "k2", "k3")])

    assert tally == {"switched_off": 1, "given_up": 2}
    assert [w.id for w in told] == ["W1"]
    assert hooks.hooks["W1"].active is False
    assert all(d.state == "failed" for d in store.items.values())


def test_a_success_after_failures_clears_the_failing_mark(clock: ManualClock) -> None:
    clock.current = AT + timedelta(hours=3)
    hooks, store, told = Hooks(hook(failing_since=AT)), Deliveries(), []
    store.record(delivery())
    receiver = Receiver()

    assert deliverer(hooks, store, receiver, clock, told).deliver([delivery().key]) == {"sent": 1}
    assert hooks.hooks["W1"].failing_since is None
    assert told == []
    assert set(receiver.posts[0]) >= {"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}


class Events:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    def add(self, events: list[HistoryEvent]) -> int:
        fresh = [e for e in events if e.key not in self.keys]
        self.keys |= {e.key for e in fresh}
        return len(fresh)


class Published:
    def __init__(self) -> None:
        self.events: list[str] = []

    def published(self, events: list[HistoryEvent]) -> dict[str, int]:
        self.events += [e.key for e in events]
        return {}


def test_only_events_written_for_the_first_time_are_published() -> None:
    published = Published()
    store = PublishingEventStore(Events(), lambda: published)  # type: ignore[arg-type]
    first = HistoryEvent("T1", "k1", "created", AT, "requester:r@example.org")
    second = HistoryEvent("T1", "k2", "reply", AT, "agent:A1")

    assert store.add([first]) == 1
    assert store.add([first, second]) == 1
    assert store.add([first, second]) == 0
    assert published.events == ["k1", "k2"]


def test_deliveries_are_handed_on_per_webhook_a_few_at_a_time() -> None:
    calls: list[list[str]] = []
    keys = [DeliveryKey("T1", w, str(n)) for n in range(4) for w in ("W1", "W2")]

    assert hand_over(lambda batch: calls.append([f"{k.webhook_id}/{k.event_key}" for k in batch]), keys) == 8
    assert calls == [["W1/0", "W1/1", "W1/2"], ["W1/3"], ["W2/0", "W2/1", "W2/2"], ["W2/3"]]
