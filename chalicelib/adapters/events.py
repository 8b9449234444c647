"""DynamoDB store of what the stream pipeline derives: history events and per-ticket trackers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.adapters.records import EventRecord, TrackerRecord, is_condition_failure
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.sla import StatusTime, Timer, Tracker
from chalicelib.domain.tickets import stamp
from chalicelib.services.ports import DueTracker, HistoryPage

EVENT_PREFIX = "ev#"
TRACKER_SK = "tracker"
SLA_SHARD = "sla"  # one partition of the sparse due index: it holds only running timers, a small desk's handful
BATCH_GET_LIMIT = 100


def _stamp(moment: datetime | None) -> str | None:
    return stamp(moment) if moment else None


def _moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text)) if text else None


def _required_moment(text: Any) -> datetime:
    moment = _moment(text)
    if moment is None:
        raise ValueError("a stored tracker lacks a required time")
    return moment


def _span(seconds: Any) -> timedelta:
    return timedelta(microseconds=int(seconds))


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def tracker_document(tracker: Tracker) -> dict[str, Any]:
    return {
        "opened_at": _stamp(tracker.opened_at),
        "priority": tracker.priority,
        "status": tracker.status,
        "category": tracker.category,
        "status_since": _stamp(tracker.status_since),
        "event_count": tracker.event_count,
        "time_in_status": [
            {"status": s.status, "visits": s.visits, "wall_us": _micros(s.wall), "business_us": _micros(s.business)}
            for s in tracker.time_in_status
        ],
        "timers": [
            {
                "kind": t.kind,
                "target_us": _micros(t.target),
                "clock": t.clock,
                "elapsed_us": _micros(t.elapsed),
                "running_since": _stamp(t.running_since),
                "met_at": _stamp(t.met_at),
                "stopped": t.stopped,
                "at_risk_at": _stamp(t.at_risk_at),
                "breached_at": _stamp(t.breached_at),
            }
            for t in tracker.timers
        ],
    }


def tracker_from_document(ticket_id: str, doc: dict[str, Any]) -> Tracker:
    return Tracker(
        ticket_id=ticket_id,
        opened_at=_required_moment(doc["opened_at"]),
        priority=doc["priority"],
        status=doc["status"],
        category=doc["category"],
        status_since=_required_moment(doc["status_since"]),
        event_count=int(doc["event_count"]),
        time_in_status=tuple(
            StatusTime(s["status"], int(s["visits"]), _span(s["wall_us"]), _span(s["business_us"]))
            for s in doc["time_in_status"]
        ),
        timers=tuple(
            Timer(
                kind=t["kind"],
                target=_span(t["target_us"]),
                clock=t["clock"],
                elapsed=_span(t["elapsed_us"]),
                running_since=_moment(t["running_since"]),
                met_at=_moment(t["met_at"]),
                stopped=bool(t["stopped"]),
                at_risk_at=_moment(t["at_risk_at"]),
                breached_at=_moment(t["breached_at"]),
            )
            for t in doc["timers"]
        ),
    )


def _event_key(record: EventRecord) -> str:
    return str(record.sk)[len(EVENT_PREFIX) :]


def _event(record: EventRecord) -> HistoryEvent:
    return HistoryEvent(
        ticket_id=record.pk,
        key=_event_key(record),
        kind=record.kind,
        at=record.at,
        actor=record.actor,
        data=json.loads(record.data),
    )


class DynamoEventStore:
    def add(self, events: list[HistoryEvent]) -> int:
        """One conditional put per event: a redelivered record finds its events there and writes nothing."""
        added = 0
        for event in events:
            record = EventRecord(
                pk=event.ticket_id,
                sk=EVENT_PREFIX + event.key,
                kind=event.kind,
                at=event.at,
                actor=event.actor,
                data=json.dumps(event.data, sort_keys=True, ensure_ascii=False),
            )
            try:
                record.save(condition=EventRecord.sk.does_not_exist())
                added += 1
            except PutError as error:
                if not is_condition_failure(error):
                    raise
        return added

    def all_events(self, ticket_id: str) -> list[HistoryEvent]:
        results = EventRecord.query(ticket_id, EventRecord.sk.startswith(EVENT_PREFIX), consistent_read=True)
        return [_event(r) for r in results]

    def history(self, ticket_id: str, limit: int, after: str | None) -> HistoryPage:
        """Oldest first; `after` is the last key of the previous page (event keys are ASCII, below "~")."""
        condition: Condition = (
            EventRecord.sk.between(EVENT_PREFIX + after, EVENT_PREFIX + "~")
            if after
            else EventRecord.sk.startswith(EVENT_PREFIX)
        )
        wanted = limit + 2 if after else limit + 1
        results = list(EventRecord.query(ticket_id, condition, limit=wanted, page_size=wanted))
        events = [_event(r) for r in results if _event_key(r) != after]
        page = events[:limit]
        return HistoryPage(page, page[-1].key if len(events) > limit and page else None)

    def tracker(self, ticket_id: str) -> Tracker | None:
        try:
            record = TrackerRecord.get(ticket_id, TRACKER_SK, consistent_read=True)
        except DoesNotExist:
            return None
        return tracker_from_document(ticket_id, json.loads(record.state))

    def trackers(self, ticket_ids: list[str]) -> dict[str, Tracker]:
        found: dict[str, Tracker] = {}
        unique = list(dict.fromkeys(ticket_ids))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            keys = [(ticket_id, TRACKER_SK) for ticket_id in unique[start : start + BATCH_GET_LIMIT]]
            for record in TrackerRecord.batch_get(keys):
                found[record.pk] = tracker_from_document(record.pk, json.loads(record.state))
        return found

    def save_tracker(self, tracker: Tracker) -> bool:
        """An update, not a put: what the SLA sweep noted on the item stays."""
        due = tracker.next_due_at
        actions: list[Any] = [
            TrackerRecord.event_count.set(tracker.event_count),
            TrackerRecord.state.set(json.dumps(tracker_document(tracker), sort_keys=True)),
        ]
        if due is None:
            actions += [TrackerRecord.due_shard.remove(), TrackerRecord.next_due_at.remove()]
        else:
            actions += [TrackerRecord.due_shard.set(SLA_SHARD), TrackerRecord.next_due_at.set(stamp(due))]
        condition = TrackerRecord.pk.does_not_exist() | (TrackerRecord.event_count <= tracker.event_count)
        try:
            TrackerRecord(pk=tracker.ticket_id, sk=TRACKER_SK).update(actions=actions, condition=condition)
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def due_trackers(self, now: datetime, limit: int) -> list[DueTracker]:
        results = TrackerRecord.by_due.query(
            SLA_SHARD, TrackerRecord.next_due_at <= stamp(now), limit=limit, page_size=limit
        )
        return [
            DueTracker(tracker_from_document(record.pk, json.loads(record.state)), frozenset(record.notified or ()))
            for record in results
        ]

    def note_alerts(self, tracker: Tracker, notified: frozenset[str], next_due_at: datetime | None) -> bool:
        actions: list[Any] = [
            TrackerRecord.notified.set(set(notified)) if notified else TrackerRecord.notified.remove()
        ]
        if next_due_at is None:
            actions += [TrackerRecord.due_shard.remove(), TrackerRecord.next_due_at.remove()]
        else:
            actions += [TrackerRecord.due_shard.set(SLA_SHARD), TrackerRecord.next_due_at.set(stamp(next_due_at))]
        try:
            TrackerRecord(pk=tracker.ticket_id, sk=TRACKER_SK).update(
                actions=actions, condition=TrackerRecord.event_count == tracker.event_count
            )
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
