"""The DynamoDB event store under moto: events written once, trackers never replaced by staler ones."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.adapters.events import DynamoEventStore
from chalicelib.domain.config import default_config
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.sla import timeline, track
from chalicelib.services.pipeline import Pipeline
from tests.services.test_pipeline import question_writes


def recorded(aws: dict[str, str]) -> DynamoEventStore:
    from chalicelib import wiring

    wiring.desk()  # binds the models to the stack's tables
    store = DynamoEventStore()
    config = default_config()
    for change in question_writes():
        Pipeline(store, lambda: config).apply(change)
    return store


def test_an_event_already_stored_is_not_written_again(aws: dict[str, str]) -> None:
    store = recorded(aws)
    first = store.all_events("t1")[0]
    altered = HistoryEvent(first.ticket_id, first.key, first.kind, first.at, "agent:mallory", {"forged": True})

    assert store.add([altered]) == 0
    assert store.all_events("t1")[0] == first


def test_a_tracker_from_fewer_events_never_replaces_one_from_more(aws: dict[str, str]) -> None:
    store = recorded(aws)
    complete = store.tracker("t1")
    assert complete is not None

    stale = replace(complete, status="in_progress", event_count=complete.event_count - 1)

    assert store.save_tracker(stale) is False
    assert store.tracker("t1") == complete


def test_a_stored_tracker_reads_back_equal_and_is_found_in_batches(aws: dict[str, str]) -> None:
    store = recorded(aws)
    line_tracker = store.tracker("t1")

    assert line_tracker is not None
    assert store.trackers(["t1", "t1", "unknown"]) == {"t1": line_tracker}
    line = timeline("t1", store.all_events("t1"))
    assert line is not None
    assert track(default_config(), line) == line_tracker
