"""The DynamoDB store of the report aggregates under moto: differences applied once, in steps when large."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.stats import DynamoStatsStore
from chalicelib.domain.reports import Row
from chalicelib.domain.stats import ALL, OPEN, Cell, CommentKey, Contribution
from chalicelib.services.ports import StoredContribution

MON, TUE, WED, THU, FRI = "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"
SUN_BEFORE, SAT_AFTER = "2026-11-22", "2026-11-28"


@pytest.fixture
def store(aws: dict[str, str]) -> DynamoStatsStore:
    from chalicelib import wiring

    wiring.desk()  # binds the models (and the transaction connection) to the stack's tables
    return DynamoStatsStore()


class Transactions:
    """Counts the store's TransactWriteItems calls (and their sizes); can make one of them fail."""

    def __init__(self, client: Any, fail_on: int | None = None) -> None:
        self.client = client
        self.real = client.transact_write_items
        self.sizes: list[int] = []
        self.fail_on = fail_on

    def __call__(self, **kwargs: Any) -> Any:
        self.sizes.append(len(kwargs["TransactItems"]))
        if self.fail_on == len(self.sizes):
            error = {"Error": {"Code": "InternalServerError", "Message": "the service had a bad moment"}}
            raise ClientError(error, "TransactWriteItems")
        return self.real(**kwargs)


@pytest.fixture
def spy(store: DynamoStatsStore, monkeypatch: pytest.MonkeyPatch) -> Transactions:
    client = store._client
    spy = Transactions(client)
    monkeypatch.setattr(client, "transact_write_items", spy)
    return spy


def comment(ticket_id: str, text: str, rating: int = 4) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "ref": "HD-1", "rating": rating, "comment": text, "assignee": "ag_1"}


FIRST = Contribution(
    {
        Cell(ALL, MON, ALL): {"opened": 1, "dwell/submitted/3600": 1},
        Cell(ALL, TUE, ALL): {"resolved": 1},
        Cell("team", MON, "support"): {"opened": 1},
        Cell("team", TUE, "support"): {"resolved": 1},
        Cell(ALL, SUN_BEFORE, ALL): {"survey_sent": 1},
        Cell(ALL, "", ALL): {OPEN: 1},
        Cell("status", "", "in_progress"): {OPEN: 1},
    },
    {CommentKey(MON, "t_1"): comment("t_1", "Quick, thanks.")},
)


def test_a_first_contribution_is_written_with_revision_one(store: DynamoStatsStore) -> None:
    assert store.stored("t_1") is None

    assert store.apply("t_1", 3, None, FIRST) is True

    assert store.stored("t_1") == StoredContribution(1, 3, FIRST)
    assert store.cells(ALL, MON, TUE) == [
        Row(MON, ALL, {"opened": 1, "dwell/submitted/3600": 1}),
        Row(TUE, ALL, {"resolved": 1}),
    ]  # Sunday's cell is outside the range
    assert store.cells(ALL, SUN_BEFORE, SUN_BEFORE) == [Row(SUN_BEFORE, ALL, {"survey_sent": 1})]
    assert store.cells("team", TUE, TUE) == [Row(TUE, "support", {"resolved": 1})]
    assert store.cells("team", WED, FRI) == []
    assert store.cells("assignee", MON, TUE) == []
    assert store.open_counts() == {(ALL, ALL): 1, ("status", "in_progress"): 1}
    assert store.comments(MON, MON, 10, None) == ([{**comment("t_1", "Quick, thanks."), "day": MON}], None)


def test_a_new_contribution_moves_the_counters_by_the_difference(store: DynamoStatsStore) -> None:
    other = Contribution({Cell(ALL, MON, ALL): {"opened": 1}, Cell(ALL, "", ALL): {OPEN: 1}})
    assert store.apply("t_2", 1, None, other)
    assert store.apply("t_1", 3, None, FIRST)
    stored = store.stored("t_1")
    assert stored is not None

    # reopened: Tuesday's resolution taken back, a reopening on Wednesday, waiting now; the comment withdrawn
    second = Contribution(
        {
            Cell(ALL, MON, ALL): {"opened": 1, "dwell/submitted/3600": 1},
            Cell(ALL, WED, ALL): {"reopened": 1},
            Cell("team", MON, "support"): {"opened": 1},
            Cell(ALL, SUN_BEFORE, ALL): {"survey_sent": 1},
            Cell(ALL, "", ALL): {OPEN: 1},
            Cell("status", "", "waiting_on_requester"): {OPEN: 1},
        }
    )
    assert store.apply("t_1", 5, stored, second) is True

    assert store.stored("t_1") == StoredContribution(2, 5, second)
    rows = {(row.day, row.value): row.counts for row in store.cells(ALL, MON, WED)}
    assert rows[(MON, ALL)] == {"opened": 2, "dwell/submitted/3600": 1}  # t_2's opening kept, t_1's not re-added
    assert rows[(TUE, ALL)].get("resolved", 0) == 0
    assert rows[(WED, ALL)] == {"reopened": 1}
    assert [row.counts.get("resolved", 0) for row in store.cells("team", TUE, TUE)] in ([], [0])
    assert store.open_counts() == {(ALL, ALL): 2, ("status", "waiting_on_requester"): 1}
    assert store.comments(MON, FRI, 10, None) == ([], None)


def test_a_stale_revision_changes_nothing(store: DynamoStatsStore) -> None:
    assert store.apply("t_1", 3, None, FIRST)
    first = store.stored("t_1")
    assert first is not None
    moved = Contribution({Cell(ALL, MON, ALL): {"opened": 1}})
    assert store.apply("t_1", 4, first, moved)
    before = (
        store.stored("t_1"),
        store.cells(ALL, SUN_BEFORE, FRI),
        store.open_counts(),
        store.comments(MON, FRI, 9, None),
    )

    # a refresh that read revision 1, or nothing at all, is too late: revision 2 is current
    assert store.apply("t_1", 5, first, Contribution({Cell(ALL, THU, ALL): {"resolved": 1}})) is False
    assert store.apply("t_1", 5, None, Contribution({Cell(ALL, THU, ALL): {"resolved": 1}})) is False

    after = (
        store.stored("t_1"),
        store.cells(ALL, SUN_BEFORE, FRI),
        store.open_counts(),
        store.comments(MON, FRI, 9, None),
    )
    assert after == before
    assert after[0] == StoredContribution(2, 4, moved)


def test_an_unchanged_contribution_writes_nothing_unless_its_event_count_moved(
    store: DynamoStatsStore, spy: Transactions
) -> None:
    assert store.apply("t_1", 3, None, FIRST)
    stored = store.stored("t_1")

    assert store.apply("t_1", 3, stored, FIRST) is True
    assert spy.sizes == [1 + 7 + 1]  # the first write only: its own item, seven cells, one comment
    assert store.apply("t_1", 4, stored, FIRST) is True
    assert spy.sizes[1:] == [1]  # only its own item, for the new event count

    assert store.stored("t_1") == StoredContribution(2, 4, FIRST)
    assert store.cells(ALL, MON, MON) == [Row(MON, ALL, {"opened": 1, "dwell/submitted/3600": 1})]


def days(count: int, start: date = date(2026, 1, 1)) -> list[str]:
    return [(start + timedelta(days=n)).isoformat() for n in range(count)]


def opened_on(names: list[str]) -> Contribution:
    return Contribution({Cell(ALL, day, ALL): {"opened": 1} for day in names})


def opened_counts(store: DynamoStatsStore) -> dict[str, int]:
    return {row.day: row.counts["opened"] for row in store.cells(ALL, "2026-01-01", "2026-12-31")}


def test_a_large_change_is_applied_in_several_transactions(store: DynamoStatsStore, spy: Transactions) -> None:
    target = opened_on(days(150))

    assert store.apply("t_1", 9, None, target) is True

    # 99 cells and the ticket's own item, then the other 51 cells and the own item again
    assert spy.sizes == [100, 52]
    assert opened_counts(store) == dict.fromkeys(days(150), 1)
    assert store.stored("t_1") == StoredContribution(2, 9, target)


@pytest.mark.parametrize(("cells", "sizes"), [(99, [100]), (100, [100, 2]), (198, [100, 100]), (199, [100, 100, 2])])
def test_each_transaction_takes_at_most_99_changes_beside_the_own_item(
    store: DynamoStatsStore, spy: Transactions, cells: int, sizes: list[int]
) -> None:
    target = opened_on(days(cells))

    assert store.apply("t_1", 1, None, target) is True

    assert spy.sizes == sizes
    assert opened_counts(store) == dict.fromkeys(days(cells), 1)
    assert store.stored("t_1") == StoredContribution(len(sizes), 1, target)


def test_a_large_change_that_fails_half_way_converges_when_applied_again(
    store: DynamoStatsStore, spy: Transactions
) -> None:
    target = opened_on(days(150))
    spy.fail_on = 2

    with pytest.raises(ClientError):
        store.apply("t_1", 9, None, target)

    # the first step is in, and recorded: its own item says exactly which cells it reached
    half = store.stored("t_1")
    assert half is not None
    assert half.revision == 1
    assert half.contribution == opened_on(days(99))
    assert opened_counts(store) == dict.fromkeys(days(99), 1)

    assert store.apply("t_1", 9, half, target) is True

    assert spy.sizes == [100, 52, 52]
    assert opened_counts(store) == dict.fromkeys(days(150), 1)  # no cell counted twice
    assert store.stored("t_1") == StoredContribution(2, 9, target)


def test_a_large_move_that_fails_half_way_converges_to_the_exact_target(
    store: DynamoStatsStore, spy: Transactions
) -> None:
    old, new = opened_on(days(150)), opened_on(days(150, date(2026, 2, 20)))  # days 51 to 200 of the year
    assert store.apply("t_1", 9, None, old)
    stored = store.stored("t_1")
    spy.fail_on = len(spy.sizes) + 2  # the second step of the next apply

    # 50 days taken back (1 January - 19 February) and 50 added (31 May - 19 July): 100 items, 99 + 1
    with pytest.raises(ClientError):
        store.apply("t_1", 12, stored, new)
    half = store.stored("t_1")
    assert half is not None
    assert store.apply("t_1", 12, half, new) is True

    counts = {day: count for day, count in opened_counts(store).items() if count}
    assert counts == dict.fromkeys(days(150, date(2026, 2, 20)), 1)
    assert set(opened_counts(store).values()) <= {0, 1}
    final = store.stored("t_1")
    assert final is not None
    assert (final.event_count, final.contribution) == (12, new)


def test_comments_read_newest_first_in_pages_within_the_range(store: DynamoStatsStore) -> None:
    placed = [(SUN_BEFORE, "t_0"), (MON, "t_1"), (TUE, "t_2"), (TUE, "t_3"), (WED, "t_4"), (FRI, "t_5")]
    placed += [(SAT_AFTER, "t_6")]
    for day, ticket in placed:
        contribution = Contribution(
            {Cell(ALL, day, ALL): {"survey_answered": 1}}, {CommentKey(day, ticket): comment(ticket, f"from {ticket}")}
        )
        assert store.apply(ticket, 1, None, contribution)

    def tickets(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(doc["day"], doc["ticket_id"]) for doc in docs]

    page, key = store.comments(MON, FRI, 2, None)
    assert tickets(page) == [(FRI, "t_5"), (WED, "t_4")]
    assert page[0] == {**comment("t_5", "from t_5"), "day": FRI}
    assert key == f"{WED}#t_4"

    page, key = store.comments(MON, FRI, 2, key)
    assert tickets(page) == [(TUE, "t_3"), (TUE, "t_2")]
    assert key == f"{TUE}#t_2"

    page, key = store.comments(MON, FRI, 2, key)
    assert tickets(page) == [(MON, "t_1")]
    assert key is None

    # a page that ends exactly at the range's last comment has no next page
    page, key = store.comments(TUE, WED, 3, None)
    assert tickets(page) == [(WED, "t_4"), (TUE, "t_3"), (TUE, "t_2")]
    assert key is None

    page, key = store.comments(THU, THU, 5, None)
    assert (page, key) == ([], None)


def test_a_transaction_conflict_on_a_shared_day_cell_is_answered_as_try_again(
    store: DynamoStatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def conflicting(**kwargs: Any) -> Any:
        reasons = [{"Code": "None"}, {"Code": "TransactionConflict", "Message": "another transaction"}]
        error = {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": reasons,
        }
        raise ClientError(error, "TransactWriteItems")

    monkeypatch.setattr(store._client, "transact_write_items", conflicting)

    assert store.apply("t_1", 3, None, FIRST) is False
