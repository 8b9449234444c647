"""The desk with in-memory fakes of its stores, and the test's clock (from tests/conftest.py)."""

from __future__ import annotations

import pytest

from chalicelib.services.desk import Desk
from tests.clocks import ManualClock

from .fakes import FakeDeskStore, FakeEventStore, FakeTicketStore, SequentialIds


@pytest.fixture
def store() -> FakeDeskStore:
    return FakeDeskStore()


@pytest.fixture
def tickets(store: FakeDeskStore) -> FakeTicketStore:
    return FakeTicketStore(desk_table=store.items)


@pytest.fixture
def events() -> FakeEventStore:
    return FakeEventStore()


@pytest.fixture
def desk(tickets: FakeTicketStore, store: FakeDeskStore, clock: ManualClock, events: FakeEventStore) -> Desk:
    return Desk(tickets, store, clock, SequentialIds(), events)
