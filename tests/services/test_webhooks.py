"""The deliverer and the publishing history store with in-memory fakes: claims keep two deliverers from both
sending, a switch-off tells the admins once, and every event written is published, even by a run that died."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.webhooks import Webhook, event_id
from chalicelib.services.webhooks import (
    BUS,
    PENDING,
    Attempt,
    Deliverer,
    Delivery,
    DeliveryKey,
    EventsOut,
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
    return Deliverer(hooks, store, Log(), poster, clock, lambda keys: None, lambda hook, last: told.append(hook))


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
    """The history's store; `die_after_write` makes the next add write its events and then fail, as a function
    killed between the write and what follows it."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.die_after_write = False

    def add(self, events: list[HistoryEvent]) -> int:
        fresh = [e for e in events if e.key not in self.keys]
        self.keys |= {e.key for e in fresh}
        if self.die_after_write:
            self.die_after_write = False
            raise TimeoutError("the function ran out of time")
        return len(fresh)


class Bus:
    """The event bus: refuses the ids in `refusing` (once each), or cannot be reached while `down`."""

    def __init__(self, refusing: tuple[str, ...] = (), down: bool = False) -> None:
        self.refusing = set(refusing)
        self.down = down
        self.taken: list[str] = []

    def put(self, events: list[dict[str, Any]]) -> list[str]:
        if self.down:
            raise ConnectionError("no route to the bus")
        refused = [str(e["id"]) for e in events if e["id"] in self.refusing]
        self.refusing -= set(refused)
        self.taken += [str(e["id"]) for e in events if e["id"] not in refused]
        return refused


def publishing(
    clock: ManualClock, bus: Bus, *hooks: Webhook
) -> tuple[PublishingEventStore, Events, Deliveries, list[str]]:
    events, store, handed = Events(), Deliveries(), []
    out = EventsOut(
        Hooks(*hooks), store, lambda ticket_id: None, clock, lambda keys: handed.extend(k.event_key for k in keys), bus
    )
    return PublishingEventStore(events, lambda: out), events, store, handed


def test_an_event_written_by_a_run_that_died_is_published_by_the_rerun_and_delivered_once(clock: ManualClock) -> None:
    clock.current = AT
    bus = Bus()
    history, events, deliveries, handed = publishing(clock, bus, hook())
    first = HistoryEvent("T1", "k1", "created", AT, "requester:r@example.org")
    events.die_after_write = True

    with pytest.raises(TimeoutError):
        history.add([first])  # written, then the function died before its deliveries were recorded
    assert "k1" in events.keys
    assert [k for k in deliveries.items if k.webhook_id != BUS] == []

    assert history.add([first]) == 0  # the redelivered record: nothing new to write, the delivery still recorded
    assert history.add([first]) == 0  # and once more: nothing recorded or handed twice
    assert [(k.webhook_id, k.event_key) for k in deliveries.items] == [(BUS, "k1"), ("W1", "k1")]
    assert handed == ["k1"]
    assert bus.taken == [event_id("T1", "k1")]  # put before the write, and not again by the reruns
    assert deliveries.items[DeliveryKey("T1", BUS, "k1")].state == "sent"


def test_what_the_bus_refuses_is_kept_and_put_again_by_the_deliverer(clock: ManualClock) -> None:
    clock.current = AT
    refused = event_id("T2", "k2")
    bus = Bus(refusing=(refused,))
    history, _, deliveries, handed = publishing(clock, bus)
    written = [HistoryEvent("T1", "k1", "note", AT, "agent:A1"), HistoryEvent("T2", "k2", "note", AT, "agent:A1")]

    assert history.add(written) == 2
    assert bus.taken == [event_id("T1", "k1")]
    kept = deliveries.items[DeliveryKey("T2", BUS, "k2")]
    assert (kept.state, kept.event_id, handed) == (PENDING, refused, [])
    assert kept.next_attempt_at is not None
    assert kept.next_attempt_at > AT
    sender = Deliverer(Hooks(), deliveries, Log(), Receiver(), clock, lambda keys: None, lambda w, last: None, bus=bus)

    assert sender.deliver([kept.key]) == {"not_due": 1}
    clock.current = kept.next_attempt_at
    assert sender.deliver([kept.key]) == {"sent": 1}
    assert bus.taken == [event_id("T1", "k1"), refused]
    assert deliveries.items[kept.key].state == "sent"
    assert history.add(written) == 0  # a rerun: nothing put again
    assert bus.taken == [event_id("T1", "k1"), refused]


def test_a_bus_out_of_reach_keeps_every_event_for_the_retry_and_the_write_goes_on(clock: ManualClock) -> None:
    clock.current = AT
    bus = Bus(down=True)
    history, events, deliveries, _ = publishing(clock, bus)

    assert history.add([HistoryEvent("T1", "k1", "note", AT, "agent:A1")]) == 1
    assert "k1" in events.keys
    assert [(k.webhook_id, k.event_key) for k in deliveries.items] == [(BUS, "k1")]
    clock.current = AT + timedelta(days=1, minutes=1)
    sender = Deliverer(Hooks(), deliveries, Log(), Receiver(), clock, lambda keys: None, lambda w, last: None, bus=bus)
    assert sender.deliver([DeliveryKey("T1", BUS, "k1")]) == {"given_up": 1}  # a day out of reach: given up


def test_deliveries_are_handed_on_per_webhook_a_few_at_a_time() -> None:
    calls: list[list[str]] = []
    keys = [DeliveryKey("T1", w, str(n)) for n in range(4) for w in ("W1", "W2")]

    assert hand_over(lambda batch: calls.append([f"{k.webhook_id}/{k.event_key}" for k in batch]), keys) == 8
    assert calls == [["W1/0", "W1/1", "W1/2"], ["W1/3"], ["W2/0", "W2/1", "W2/2"], ["W2/3"]]
