"""Events out: every history event written goes to the event bus and to the webhooks that want it, signed,
retried with back-off, logged for admins; a webhook failing for a day is switched off and the admins told once.

Nothing written is left unpublished, even when a function dies half-way, and nothing is published twice by a rerun:
before the events are written, each ticket's share is recorded as a delivery to the bus (the key taken already by an
earlier run: nothing to put) and put; after the write, the webhooks' deliveries are recorded for every event given,
new or not, under keys of the webhook and the event (so a redelivered record records and sends nothing twice). A
delivery to the bus that was not put (the function died, the bus refused or was out of reach) is due for the outbox
job, which puts it as it retries a webhook's."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import webhooks as rules
from chalicelib.domain.agents import Agent
from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.sla import Tracker
from chalicelib.domain.tickets import Ticket, stamp
from chalicelib.domain.webhooks import Webhook
from chalicelib.services.ports import Clock, DueTracker, EventStore, HistoryPage, IdSource

logger = logging.getLogger("helpdesk.webhooks")
PENDING = "pending"
SENT = "sent"
FAILED = "failed"  # given up: tried for a day, or its webhook was deleted or switched off
SECRET_SHOWN_FOR = timedelta(minutes=15)  # the console's one showing of a new webhook's secret, after its redirect
MAX_WEBHOOKS = 20  # each event is recorded once per webhook that wants it: the fan-out stays small
RETRY_BATCH = 100
# Deliveries per webhook_sender invocation: even if every receiver takes its whole 5 s, one invocation ends well
# within the function's 20 s (what a timed-out invocation had claimed is due again for the outbox job).
HANDOFF_BATCH = 3
OWNER = "desk#webhooks"  # the outbox partition of the admins' mails about webhooks
# The "webhook" of the deliveries the bus refused: stored and retried as a webhook's, sent with PutEvents. Never a
# webhook's id (those are 26-character ULIDs); its deliveries are in no webhook's log.
BUS = "eventbridge"


@dataclass(frozen=True)
class DeliveryKey:
    """Where a delivery is stored: the ticket's partition, `hook#<webhook id>#<event key>`."""

    ticket_id: str
    webhook_id: str
    event_key: str


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook, with the exact body that is signed and sent at every attempt."""

    ticket_id: str
    webhook_id: str
    event_key: str
    event_id: str
    kind: str
    ref: str
    body: str
    created_at: datetime
    state: str = PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None

    @property
    def key(self) -> DeliveryKey:
        return DeliveryKey(self.ticket_id, self.webhook_id, self.event_key)


@dataclass(frozen=True)
class Attempt:
    """One line of a webhook's delivery log: what was sent when and what came back, no personal data."""

    webhook_id: str
    at: datetime
    event_id: str
    kind: str
    ref: str
    attempt: int
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return rules.succeeded(self.status)


@dataclass(frozen=True)
class Posted:
    """What a receiver answered: its status code, or why there was none (timeout, refused, TLS ...)."""

    status: int | None
    error: str | None
    duration_ms: int


class WebhookStore(Protocol):
    def all(self) -> list[Webhook]:
        """Every webhook, with one Query."""

    def get(self, webhook_id: str) -> Webhook | None: ...

    def add(self, webhook: Webhook) -> None: ...

    def delete(self, webhook_id: str) -> bool:
        """Whether there was one to delete."""

    def failing(self, webhook_id: str, since: datetime) -> None:
        """Note the first failure since the last success (kept if one is noted already)."""

    def recovered(self, webhook_id: str) -> None: ...

    def switch_off(self, webhook_id: str, now: datetime) -> bool:
        """Switch an active webhook off; False when it was off already (someone else switched it)."""


class DeliveryStore(Protocol):
    def record(self, delivery: Delivery) -> bool:
        """Store it unless its key is taken (a redelivered record); whether it was new."""

    def get(self, key: DeliveryKey) -> Delivery | None: ...

    def claim(self, delivery: Delivery, retry_at: datetime) -> Delivery | None:
        """Take the next attempt: +1 attempt and the next one due at `retry_at` (so an attempt that dies is tried
        again), conditional on the attempts read; None when another deliverer took it first."""

    def done(self, delivery: Delivery, state: str, status: int | None, error: str | None) -> None:
        """After an attempt: sent, still pending (due at its claimed retry time) or given up."""

    def due(self, now: datetime, limit: int) -> list[Delivery]: ...


class SecretOffers(Protocol):
    def offer(self, session: str, webhook_id: str, until: datetime) -> None: ...

    def take(self, session: str, webhook_id: str, now: datetime) -> bool:
        """Remove the offer if it is there and not past; whether this call took it."""


class DeliveryLog(Protocol):
    def add(self, attempt: Attempt) -> None: ...

    def recent(self, webhook_id: str, limit: int) -> list[Attempt]:
        """Newest first."""


class Poster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Posted:
        """One POST; never raises for what the receiver or the network did."""


class Bus(Protocol):
    def put(self, events: list[dict[str, Any]]) -> list[str]:
        """Publish the events (in batches the bus takes); the ids of those it refused. Raises when the bus could
        not be reached at all."""


Handoff = Callable[[list[DeliveryKey]], None]


@dataclass(frozen=True)
class Created:
    webhook: Webhook
    secret: str  # shown in this answer only


class WebhookAdmin:
    """The admins' webhooks: add (the secret shown once), list, delete, and each one's delivery log."""

    def __init__(
        self,
        store: WebhookStore,
        log: DeliveryLog,
        clock: Clock,
        ids: IdSource,
        new_secret: Callable[[], str],
        *,
        local: bool,
        offers: SecretOffers | None = None,
    ) -> None:
        self.store = store
        self.log = log
        self.clock = clock
        self.ids = ids
        self.new_secret = new_secret
        self.local = local
        self.offers = offers

    def offer_secret(self, webhook: Webhook, session: str) -> None:
        """Let one console session see the new webhook's secret once more, on the page its add redirects to (so a
        reload never adds a second webhook, and the secret never travels in a URL)."""
        if self.offers is not None:
            self.offers.offer(session, webhook.id, webhook.created_at + SECRET_SHOWN_FOR)

    def secret_once(self, webhook: Webhook, session: str) -> str | None:
        """The secret, if this session was offered it and has not been shown it yet; never again after that."""
        if self.offers is None or not self.offers.take(session, webhook.id, self.clock.now()):
            return None
        return webhook.secret

    def create(self, raw: Any, admin: Agent) -> Created:
        wanted = rules.webhook_request(raw, local=self.local)
        if len(self.store.all()) >= MAX_WEBHOOKS:
            raise ConflictError(f"a desk has at most {MAX_WEBHOOKS} webhooks; delete one first")
        secret = self.new_secret()
        webhook = Webhook(
            id=self.ids.new_id(),
            url=wanted.url,
            kinds=wanted.kinds,
            format=wanted.format,
            secret=secret,
            active=True,
            created_at=self.clock.now(),
            created_by=f"agent:{admin.id}",
            description=wanted.description,
        )
        self.store.add(webhook)
        return Created(webhook, secret)

    def listing(self) -> list[Webhook]:
        return sorted(self.store.all(), key=lambda w: w.created_at)

    def get(self, webhook_id: str) -> Webhook:
        webhook = self.store.get(webhook_id) if _plausible(webhook_id) else None
        if webhook is None:
            raise NotFoundError(f"no webhook {webhook_id}")
        return webhook

    def delete(self, webhook_id: str) -> None:
        """Its pending deliveries are given up when they come due (the deliverer finds no webhook)."""
        if not _plausible(webhook_id) or not self.store.delete(webhook_id):
            raise NotFoundError(f"no webhook {webhook_id}")

    def deliveries(self, webhook_id: str, limit: Any = None) -> list[Attempt]:
        self.get(webhook_id)
        return self.log.recent(webhook_id, _limit(limit))


def _plausible(webhook_id: str) -> bool:
    return 0 < len(webhook_id) <= 64 and webhook_id.isalnum()


def _limit(raw: Any) -> int:
    if raw is None or raw == "":
        return rules.LOG_LIMIT
    text = str(raw)
    if not text.isdigit() or not 1 <= int(text) <= rules.LOG_LIMIT:
        raise ValidationError("limit is not valid", {"limit": f"must be a whole number from 1 to {rules.LOG_LIMIT}"})
    return int(text)


class EventsOut:
    """Publishes the events given: one bus entry each before they are written (`announce`), and after the write
    one delivery per webhook that wants it (`deliver`), recorded under a key of the webhook and the event, so
    nothing is recorded twice, and handed to the deliverer per webhook so that a slow receiver holds up only its
    own deliveries. An error of DynamoDB or of reading the ticket is raised: the stream record or the job is run
    again, and publishes what it had not."""

    def __init__(
        self,
        webhooks: WebhookStore,
        deliveries: DeliveryStore,
        tickets: Callable[[str], Ticket | None],
        clock: Clock,
        handoff: Handoff,
        bus: Bus | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.deliveries = deliveries
        self.tickets = tickets
        self.clock = clock
        self.handoff = handoff
        self.bus = bus

    def announce(self, events: list[HistoryEvent]) -> Announced:
        """The events' bodies, put on the bus once: each ticket's share is first recorded as a delivery to the bus
        (under the key of its first event, due a little later), put, and marked sent. A rerun finds the key taken
        and puts nothing; a run that died before its put leaves the delivery due, and the outbox job puts it. What
        the bus refuses, or all when it cannot be reached, stays due the same way: the stream never waits on it."""
        hooks = [w for w in self.webhooks.all() if w.active] if events else []
        if not events or (self.bus is None and not hooks):
            return Announced(events, [], hooks)
        bodies = self._bodies(events)
        if self.bus is not None:
            self._put_on_bus(self.bus, events, bodies)
        return Announced(events, bodies, hooks)

    def _put_on_bus(self, bus: Bus, events: list[HistoryEvent], bodies: list[dict[str, Any]]) -> None:
        now = self.clock.now()
        shares: dict[str, list[tuple[HistoryEvent, dict[str, Any]]]] = {}
        for event, body in zip(events, bodies, strict=True):
            shares.setdefault(event.ticket_id, []).append((event, body))
        new: list[tuple[Delivery, list[dict[str, Any]]]] = []
        for share in shares.values():
            first, body = share[0]
            entries = [b for _, b in share]
            delivery = _delivery(first, body, BUS, _json(entries), now, now + rules.retry_wait(1))
            if self.deliveries.record(delivery):
                new.append((delivery, entries))
        if not new:
            return
        try:
            refused = set(bus.put([entry for _, entries in new for entry in entries]))
        except Exception:
            logger.exception("the event bus could not be reached; its entries are left for the outbox job")
            return
        for delivery, entries in new:
            # A share with a refused entry is put again whole by the retry: the others repeat, with the same id.
            if not refused & {str(entry["id"]) for entry in entries}:
                self.deliveries.done(delivery, SENT, None, None)

    def deliver(self, announced: Announced) -> int:
        """Record each event's deliveries to the webhooks that want it (a key taken already is a delivery recorded
        by an earlier run: left to its own course) and hand the new ones over; how many were new."""
        if not announced.hooks:
            return 0
        fresh = self._record(announced.hooks, announced.events, announced.bodies)
        hand_over(self.handoff, [d.key for d in fresh])
        return len(fresh)

    def _bodies(self, events: list[HistoryEvent]) -> list[dict[str, Any]]:
        seen: dict[str, Ticket | None] = {}
        for ticket_id in dict.fromkeys(e.ticket_id for e in events):
            seen[ticket_id] = self.tickets(ticket_id)
        return [rules.outgoing(event, seen[event.ticket_id]) for event in events]

    def _record(self, hooks: list[Webhook], events: list[HistoryEvent], bodies: list[dict[str, Any]]) -> list[Delivery]:
        now = self.clock.now()
        fresh: list[Delivery] = []
        for event, body in zip(events, bodies, strict=True):
            for webhook in hooks:
                if not webhook.wants(event.kind):
                    continue
                delivery = _delivery(event, body, webhook.id, wire_body(webhook, body), now, now)
                if self.deliveries.record(delivery):
                    fresh.append(delivery)
        return fresh


@dataclass(frozen=True)
class Announced:
    """Events put on the bus, waiting for their write before the webhooks' deliveries are recorded."""

    events: list[HistoryEvent]
    bodies: list[dict[str, Any]]
    hooks: list[Webhook]


def _delivery(
    event: HistoryEvent, body: dict[str, Any], target: str, wire: str, now: datetime, due: datetime
) -> Delivery:
    return Delivery(
        ticket_id=event.ticket_id,
        webhook_id=target,
        event_key=event.key,
        event_id=str(body["id"]),
        kind=event.kind,
        ref=str(body["ticket"].get("ref") or ""),
        body=wire,
        created_at=now,
        next_attempt_at=due,
    )


def _json(value: dict[str, Any] | list[dict[str, Any]]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def wire_body(webhook: Webhook, event: dict[str, Any]) -> str:
    """What is POSTed (and signed): the event itself, or the chat message made from it."""
    return _json(rules.chat_message(event) if webhook.format == rules.SLACK else event)


class Deliverer:
    """Sends deliveries: claims each (a conditional update, so two deliverers never both send it), POSTs it signed
    with a short timeout, logs the attempt, and keeps it due for a retry with back-off until it succeeds or a day
    has passed. A webhook whose deliveries failed for a day is switched off and the admins are told once."""

    def __init__(
        self,
        webhooks: WebhookStore,
        deliveries: DeliveryStore,
        log: DeliveryLog,
        poster: Poster,
        clock: Clock,
        handoff: Handoff,
        tell_admins: Callable[[Webhook, str], None],
        signing_clock: Clock | None = None,
        timeout: float = rules.TIMEOUT_SECONDS,
        bus: Bus | None = None,
    ) -> None:
        """`signing_clock` stamps `Webhook-Timestamp`: the real time, which receivers compare with theirs, even
        where the desk's own clock is moved (the local run's /_local/clock, the tests). `bus` sends the entries
        the bus refused before."""
        self.webhooks = webhooks
        self.deliveries = deliveries
        self.log = log
        self.poster = poster
        self.clock = clock
        self.handoff = handoff
        self.tell_admins = tell_admins
        self.signing_clock = signing_clock or clock
        self.timeout = timeout
        self.bus = bus

    def deliver(self, keys: Iterable[DeliveryKey]) -> dict[str, int]:
        tally: dict[str, int] = {}
        known: dict[str, Webhook | None] = {}
        for key in keys:
            if key.webhook_id == BUS:
                outcome = self._to_bus(key)
                tally[outcome] = tally.get(outcome, 0) + 1
                continue
            if key.webhook_id not in known:
                known[key.webhook_id] = self.webhooks.get(key.webhook_id)
            outcome = self._one(key, known[key.webhook_id])
            tally[outcome] = tally.get(outcome, 0) + 1
            if outcome == "switched_off":
                known[key.webhook_id] = None
        return tally

    def _pending(self, key: DeliveryKey, now: datetime) -> Delivery | str:
        """The delivery if an attempt at it is due now, else the outcome that says why not."""
        delivery = self.deliveries.get(key)
        if delivery is None or delivery.state != PENDING:
            return "done_before"
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return "not_due"  # another deliverer tried it a moment ago
        return delivery

    def _not_sent(self, claimed: Delivery, now: datetime, status: int | None, error: str) -> bool:
        """After a failed attempt: due again at its claimed retry time, or given up once it is a day old (True)."""
        given_up = now - claimed.created_at >= rules.GIVE_UP_AFTER
        self.deliveries.done(claimed, FAILED if given_up else PENDING, status, error[: rules.ERROR_LIMIT])
        return given_up

    def _one(self, key: DeliveryKey, webhook: Webhook | None) -> str:
        now = self.clock.now()
        delivery = self._pending(key, now)
        if isinstance(delivery, str):
            return delivery
        if webhook is None or not webhook.active:
            claimed = self.deliveries.claim(delivery, now)
            if claimed is not None:
                self.deliveries.done(claimed, FAILED, None, "the webhook was deleted or switched off")
            return "given_up"
        claimed = self.deliveries.claim(delivery, now + rules.retry_wait(delivery.attempts + 1))
        if claimed is None:
            return "taken"
        posted = self._post(webhook, claimed)
        self.log.add(
            Attempt(
                webhook.id,
                now,
                claimed.event_id,
                claimed.kind,
                claimed.ref,
                claimed.attempts,
                posted.status,
                posted.error,
                posted.duration_ms,
            )
        )
        if rules.succeeded(posted.status):
            self.deliveries.done(claimed, SENT, posted.status, None)
            if webhook.failing_since is not None:
                self.webhooks.recovered(webhook.id)
            return "sent"
        error = (posted.error or f"answered {posted.status}")[: rules.ERROR_LIMIT]
        given_up = self._not_sent(claimed, now, posted.status, error)
        if webhook.failing_since is None:
            self.webhooks.failing(webhook.id, now)
        elif rules.should_switch_off(webhook, now) and self.webhooks.switch_off(webhook.id, now):
            logger.warning("webhook %s switched off after a day of failures", webhook.id)
            self.tell_admins(replace(webhook, active=False, switched_off_at=now), error)
            return "switched_off"
        return "given_up" if given_up else "failed"

    def _to_bus(self, key: DeliveryKey) -> str:
        """A ticket's share the bus did not take before, put again; given up (and logged) after a day."""
        now = self.clock.now()
        delivery = self._pending(key, now)
        if isinstance(delivery, str):
            return delivery
        claimed = self.deliveries.claim(delivery, now + rules.retry_wait(delivery.attempts + 1))
        if claimed is None:
            return "taken"
        if self.bus is None:
            self.deliveries.done(claimed, FAILED, None, "no event bus is configured any more")
            return "given_up"
        try:
            error = "the bus refused it" if self.bus.put(list(json.loads(claimed.body))) else None
        except Exception:  # the bus unreachable: the next attempt is due at the claimed time
            logger.exception("the event bus could not be reached", extra={"event_id": claimed.event_id})
            error = "the bus could not be reached"
        if error is None:
            self.deliveries.done(claimed, SENT, None, None)
            return "sent"
        if self._not_sent(claimed, now, None, error):
            logger.error("event %s given up for the bus after a day: %s", claimed.event_id, error)
            return "given_up"
        return "failed"

    def _post(self, webhook: Webhook, delivery: Delivery) -> Posted:
        body = delivery.body.encode()
        timestamp = int(self.signing_clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "helpdesk-webhooks/1",
            "Webhook-Id": delivery.event_id,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": rules.signature(webhook.secret, timestamp, body),
        }
        return self.poster.post(webhook.url, body, headers, self.timeout)

    def retry_due(self) -> dict[str, int]:
        """The deliveries whose next attempt is due, handed to the deliverer per webhook (deployed: one function
        per webhook, invoked without waiting), so this job never waits on a receiver."""
        due = self.deliveries.due(self.clock.now(), RETRY_BATCH)
        return {"due": len(due), "handed": hand_over(self.handoff, [d.key for d in due])}


def hand_over(handoff: Handoff, keys: list[DeliveryKey]) -> int:
    """Hand the deliveries on per webhook, a few at a time, so that one webhook's slow receiver holds up only its
    own; how many were handed (one that is not stays due, for the outbox job)."""
    handed = 0
    for webhook_id in dict.fromkeys(k.webhook_id for k in keys):
        own = [k for k in keys if k.webhook_id == webhook_id]
        for start in range(0, len(own), HANDOFF_BATCH):
            batch = own[start : start + HANDOFF_BATCH]
            try:
                handoff(batch)
                handed += len(batch)
            except Exception:
                logger.exception("deliveries not handed over, left to the outbox job", extra={"webhook": webhook_id})
    return handed


class PublishingEventStore:
    """The history's store, publishing the events it is given, by whichever code path writes them (the stream
    pipeline, the jobs' reminders and SLA alerts, survey answers): to the bus before they are written, to the
    webhooks after. A function that dies after the write leaves events whose rerun (a redelivered record, the job's
    next run) writes nothing new but records their deliveries then: nothing written goes unpublished."""

    def __init__(self, inner: EventStore, events_out: Callable[[], EventsOut]) -> None:
        self.inner = inner
        self.events_out = events_out  # built on the first event written: most requests never write one

    def add(self, events: list[HistoryEvent]) -> int:
        if not events:
            return 0
        out = self.events_out()
        announced = out.announce(events)
        fresh = [event for event in events if self.inner.add([event])]
        out.deliver(announced)
        return len(fresh)

    def all_events(self, ticket_id: str) -> list[HistoryEvent]:
        return self.inner.all_events(ticket_id)

    def history(self, ticket_id: str, limit: int, after: str | None) -> HistoryPage:
        return self.inner.history(ticket_id, limit, after)

    def tracker(self, ticket_id: str) -> Tracker | None:
        return self.inner.tracker(ticket_id)

    def trackers(self, ticket_ids: list[str]) -> dict[str, Tracker]:
        return self.inner.trackers(ticket_ids)

    def save_tracker(self, tracker: Tracker) -> bool:
        return self.inner.save_tracker(tracker)

    def due_trackers(self, now: datetime, limit: int) -> list[DueTracker]:
        return self.inner.due_trackers(now, limit)

    def note_alerts(self, tracker: Tracker, notified: frozenset[str], next_due_at: datetime | None) -> bool:
        return self.inner.note_alerts(tracker, notified, next_due_at)


def switched_off_context(webhook: Webhook, desk_name: str, console_url: str, last_answer: str) -> dict[str, Any]:
    """What the admins' mail says: which webhook, since when it failed, what the receiver last did, where its
    delivery log is; no event contents."""
    return {
        "desk_name": desk_name,
        "url": webhook.url,
        "description": webhook.description,
        "failing_since": f"{webhook.failing_since:%Y-%m-%d %H:%M} UTC" if webhook.failing_since else "",
        "last_answer": last_answer,
        "console_url": console_url,
    }


def switched_off_key(webhook: Webhook) -> str:
    """One mail per admin per switch-off (each admin's address ends the key): a rerun, or two deliverers failing
    together, find the key taken."""
    since = stamp(webhook.failing_since) if webhook.failing_since else "unknown"
    return f"webhook_off#{webhook.id}#{since}"
