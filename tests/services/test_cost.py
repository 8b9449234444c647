"""The cost estimate with fake counters: every line's arithmetic by hand, the period's checks, the prices configured."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.config import default_config
from chalicelib.domain.cost import FunctionDay, StorageDay
from chalicelib.domain.errors import MalformedRequestError, ValidationError
from chalicelib.domain.prices import Prices
from chalicelib.domain.reports import Row
from chalicelib.services.cost import CostReport
from tests.clocks import ManualClock

GB = 1024**3
NOV = [date(2026, 11, day) for day in range(1, 31)]


class FakeMeter:
    def __init__(self, functions: list[FunctionDay], storage: list[StorageDay], since: date | None = None) -> None:
        self.functions, self.storage, self.since = functions, storage, since
        self.asked: list[tuple[date, date]] = []

    def first_day(self) -> date | None:
        return self.since

    def readings(self, first: date, last: date) -> tuple[list[FunctionDay], list[StorageDay]]:
        self.asked.append((first, last))
        return self.functions, self.storage


class FakeCells:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def cells(self, dim: str, first_day: str, last_day: str) -> list[Row]:
        return [r for r in self.rows if first_day <= r.day <= last_day and dim == "all"]


def month_of_use() -> FakeMeter:
    return FakeMeter(
        [
            FunctionDay(
                NOV[1],
                "api_handler",
                {
                    "invocations": 1000,
                    "api_requests": 1000,
                    "mb_ms": 51_200_000,  # 1000 x 100 ms x 512 MB = 50 GB-s
                    "rru": 2_000_000,
                    "wru": 800_000,
                    "log_bytes": GB / 2,
                },
            ),
            FunctionDay(
                NOV[2], "stale_sweep", {"invocations": 1000, "wru": 200_000, "ses_mails": 2000, "log_bytes": GB / 2}
            ),
            FunctionDay(date(2026, 10, 31), "api_handler", {"invocations": 10**9}),  # before the period
        ],
        [StorageDay(NOV[0], {"tickets_bytes": GB, "tickets_index_bytes": GB, "attachment_bytes": 10 * GB})],
    )


def report(meter: FakeMeter, now: datetime, prices: Prices | None = None) -> CostReport:
    config = default_config() if prices is None else replace(default_config(), prices=prices)
    cells = FakeCells([Row("2026-11-02", "all", {"opened": 50}), Row("2026-11-20", "all", {"opened": 50})])
    return CostReport(meter, cells, lambda: config, ManualClock(now))


def test_a_month_is_priced_line_by_line_as_by_hand() -> None:
    answer = report(month_of_use(), datetime(2026, 12, 5, tzinfo=UTC)).estimate(
        {"from": "2026-11-01", "to": "2026-11-30"}
    )
    cost = {line["key"]: line["cost"] for line in answer["lines"]}

    assert cost["api_gateway.requests"] == pytest.approx(1000 / 1e6 * 3.50)
    assert cost["lambda.requests"] == pytest.approx(2000 / 1e6 * 0.20)
    assert cost["lambda.duration"] == pytest.approx(50 * 0.0000166667)
    assert cost["dynamodb.writes"] == pytest.approx(0.625)
    assert cost["dynamodb.reads"] == pytest.approx(0.25)
    assert cost["dynamodb.storage"] == pytest.approx(2 * 0.25)  # 2 GB (table and index) all month
    assert cost["dynamodb.pitr"] == pytest.approx(1 * 0.20)  # the table's own GB only
    assert cost["ses.mails"] == pytest.approx(0.20)
    assert cost["s3.storage"] == pytest.approx(10 * 0.023)
    assert cost["cloudwatch.logs_ingested"] == pytest.approx(0.50)
    # 0.5 GB kept from the 2nd, 1 GB from the 3rd to the 30th: 28.5 GB-days of a 30-day month
    assert cost["cloudwatch.logs_stored"] == pytest.approx(28.5 / 30 * 0.03)
    assert cost["cloudwatch.alarms"] == pytest.approx(0.10)
    assert answer["total"] == pytest.approx(2.638233335)
    assert (answer["tickets_opened"], answer["per_ticket"]) == (100, pytest.approx(0.02638233335))
    assert sum(s["cost"] for s in answer["services"]) == pytest.approx(answer["total"])
    assert [f["function"] for f in answer["functions"]] == ["api_handler", "stale_sweep"]


def test_time_priced_lines_stop_at_today() -> None:
    answer = report(month_of_use(), datetime(2026, 11, 15, 12, tzinfo=UTC)).estimate(
        {"from": "2026-11-01", "to": "2026-11-30"}
    )
    cost = {line["key"]: line for line in answer["lines"]}

    assert cost["cloudwatch.alarms"]["quantity"] == pytest.approx(0.5)
    assert cost["dynamodb.storage"]["quantity"] == pytest.approx(1.0)  # 2 GB for 15 of 30 days
    assert answer["through"] == "2026-11-15"


def test_the_configured_prices_are_the_ones_used_and_shown() -> None:
    prices = replace(Prices(), dynamodb_per_million_write_units=1.25)

    answer = report(month_of_use(), datetime(2026, 12, 5, tzinfo=UTC), prices).estimate(
        {"from": "2026-11-01", "to": "2026-11-30"}
    )

    assert next(line["cost"] for line in answer["lines"] if line["key"] == "dynamodb.writes") == pytest.approx(1.25)
    assert answer["prices"]["dynamodb_per_million_write_units"] == 1.25


def test_no_tickets_opened_means_no_cost_per_ticket_and_a_month_before_the_desk_costs_nothing() -> None:
    answer = report(FakeMeter([], []), datetime(2026, 12, 5, tzinfo=UTC)).estimate(
        {"from": "2026-10-01", "to": "2026-10-31"}
    )

    assert answer["per_ticket"] is None
    assert answer["total"] == 0  # nothing metered: no desk yet, so no alarm either
    assert answer["leaves_out"]


def test_the_alarm_is_paid_from_the_desks_first_metered_day() -> None:
    answer = report(month_of_use(), datetime(2026, 12, 5, tzinfo=UTC)).estimate(
        {"from": "2026-10-17", "to": "2026-11-30"}
    )

    alarm = next(line for line in answer["lines"] if line["key"] == "cloudwatch.alarms")
    assert alarm["quantity"] == pytest.approx(1 / 31 + 1, abs=1e-5)  # from 31 October (its first record) on


def test_days_without_counts_after_the_desks_first_day_still_pay_for_the_alarm() -> None:
    meter = FakeMeter([], [], since=date(2026, 10, 31))

    answer = report(meter, datetime(2026, 12, 5, tzinfo=UTC)).estimate({"from": "2026-11-10", "to": "2026-11-19"})
    alarm = next(line for line in answer["lines"] if line["key"] == "cloudwatch.alarms")
    assert alarm["quantity"] == pytest.approx(10 / 30, abs=1e-5)  # ten days of November, none of them metered

    # and periods add up: the two halves of the month pay what the month pays
    halves = [
        report(meter, datetime(2026, 12, 5, tzinfo=UTC)).estimate({"from": a, "to": b})["total"]
        for a, b in (("2026-11-01", "2026-11-15"), ("2026-11-16", "2026-11-30"))
    ]
    whole = report(meter, datetime(2026, 12, 5, tzinfo=UTC)).estimate({"from": "2026-11-01", "to": "2026-11-30"})
    assert sum(halves) == pytest.approx(whole["total"]) == pytest.approx(0.10)


def test_the_default_period_is_the_30_days_up_to_today() -> None:
    meter = FakeMeter([], [])

    answer = report(meter, datetime(2026, 11, 30, 23, tzinfo=UTC)).estimate({})

    assert meter.asked == [(date(2026, 11, 1), date(2026, 11, 30))]
    assert (answer["from"], answer["to"], answer["days"]) == ("2026-11-01", "2026-11-30", 30)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-11-31"}, "from"),
        ({"to": "30/11/2026"}, "to"),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "from"),
        ({"month": "11"}, "month"),
    ],
)
def test_a_bad_period_is_refused_naming_the_parameter(params: dict[str, str], field: str) -> None:
    # A wrong value is invalid input (422); a parameter the estimate does not take, a malformed request (400).
    with pytest.raises(MalformedRequestError if field == "month" else ValidationError) as caught:
        report(FakeMeter([], []), datetime(2026, 12, 5, tzinfo=UTC)).estimate(params)

    assert field in caught.value.details["errors"]


def test_a_year_is_the_longest_period() -> None:
    answer = report(FakeMeter([], []), datetime(2026, 12, 5, tzinfo=UTC)).estimate(
        {"from": "2025-01-01", "to": "2026-01-01"}
    )

    assert answer["days"] == 366
