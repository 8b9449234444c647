"""The reports end to end, every figure checked against a small week worked out by hand.

The desk is the shipped default: Europe/London (GMT in November, so local time is UTC), open 09:00-17:00
Monday to Friday. Medium questions: first response 8 open hours, resolution 40; high: 4 and 16. Waiting
statuses pause the clocks. Durations are business seconds while the clock ran.

The week of Monday 23 November 2026 (all times local):

* T1, medium question, Bob. Opened Mon 09:00; Bob replies and starts work at 10:00 (first response 3,600 s);
  resolved 13:00; reopened Tue 09:00, resolved 10:00, reopened 11:00, resolved 12:00 - reopened twice.
  Resolution clock ran 1 h + 3 h + 1 h + 1 h = 21,600 s, met Tuesday (the Monday outcome is taken back).
  Stays: submitted 3,600 (Mon), in progress 10,800 (Mon), resolved 14,400 (Mon 13-17, Tue), in progress
  3,600, resolved 3,600, in progress 3,600 (Tue). Survey sent Tue 13:00; rated 2 on Friday, then changed to 4
  with a comment.
* T3, medium question, Bob. Opened Mon 09:30; nobody answers until Tue 10:00. First response was due after
  Tue 09:30 (7.5 h on Monday + 0.5 h): breached Tuesday, answered late (30,600 s). Still in progress, open.
* T2, high question, Cara. Opened Mon 11:00, reply and start at 12:00 (3,600 s); waiting on the requester
  from 14:00 Monday to 14:00 Thursday (86,400 business s); resolved Thu 16:00. The clock ran 1 + 2 + 2 h =
  18,000 s of the 16 h target: met. Counted without the pause the target would have gone by Wednesday 11:00 -
  the breach during the pause that must not count. Survey sent Thu 17:00, rated 5.
* T5, medium question, Cara. Opened Wed 09:00; reply and resolved 10:00 (3,600 s each). Survey sent
  Wed 11:00, never answered.

The week before (16-22 November) has no tickets at all.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.mail_fixtures import Mailbox, links, new_agent, run_job
from tests.clocks import ManualClock
from tests.streams import Stream

WEEK = "from=2026-11-23&to=2026-11-27"
EMPTY_WEEK = "from=2026-11-16&to=2026-11-22"


@dataclass
class Week:
    t1: str
    t2: str
    t3: str
    t5: str
    bob: str
    cara: str


def at(clock: ManualClock, day: int, hour: int, minute: int = 0) -> None:
    moment = datetime(2026, 11, day, hour, minute, tzinfo=UTC)
    assert moment >= clock.now()
    clock.advance(seconds=(moment - clock.now()).total_seconds())


def moved(api: Api, stream: Stream, ticket_id: str, to: str, **extra: Any) -> None:
    code, answer = api.move(ticket_id, to, **extra)
    assert code == 200, answer
    stream.drain()


def patched(api: Api, stream: Stream, ticket_id: str, **changes: Any) -> None:
    version = api.ticket(ticket_id)["version"]
    code, answer = api.json("PATCH", f"/tickets/{ticket_id}", {**changes, "version": version})
    assert code == 200, answer
    stream.drain()


def opened(api: Api, stream: Stream, subject: str, **changes: Any) -> str:
    ticket_id = str(api.open(subject=subject)["id"])
    stream.drain()
    patched(api, stream, ticket_id, **changes)
    return ticket_id


def rate(api: Api, stream: Stream, box: Mailbox, ticket_id: str, rating: int, comment: str | None = None) -> None:
    mail = next(m for m in box.sent if m.kind == "survey" and m.ticket_id == ticket_id)
    token = next(u for u in links(mail.text) if "/surveys/" in u).split("?")[0].rsplit("/", 1)[1]
    body: dict[str, Any] = {"rating": rating}
    if comment is not None:
        body["comment"] = comment
    code, answer = api.json("POST", f"/surveys/{token}", body, token=None)
    assert code == 200, answer
    stream.drain()


def build_week(api: Api, stream: Stream, clock: ManualClock, box: Mailbox) -> Week:
    bob, _ = new_agent(api, "Bob Builder", "bob@example.org")
    cara, _ = new_agent(api, "Cara Carter", "cara@example.org")
    at(clock, 23, 9)
    t1 = opened(api, stream, "VPN drops", assignee=bob)
    at(clock, 23, 9, 30)
    t3 = opened(api, stream, "Password reset", assignee=bob)
    at(clock, 23, 10)
    moved(api, stream, t1, "in_progress", comment="Looking now.", public=True)
    at(clock, 23, 11)
    t2 = opened(api, stream, "Payroll export fails", assignee=cara, priority="high")
    at(clock, 23, 12)
    moved(api, stream, t2, "in_progress", comment="On it.", public=True)
    at(clock, 23, 13)
    moved(api, stream, t1, "resolved")
    at(clock, 23, 14)
    moved(api, stream, t2, "waiting_on_requester", comment="Which month?", public=True)
    at(clock, 24, 9)
    moved(api, stream, t1, "in_progress")
    at(clock, 24, 10)
    moved(api, stream, t1, "resolved")
    moved(api, stream, t3, "in_progress", comment="Sorry for the wait.", public=True)
    at(clock, 24, 11)
    moved(api, stream, t1, "in_progress")
    at(clock, 24, 12)
    moved(api, stream, t1, "resolved")
    at(clock, 25, 9)
    t5 = opened(api, stream, "Where is the manual?", assignee=cara)
    at(clock, 25, 10)
    moved(api, stream, t5, "resolved", comment="Here it is.", public=True)
    at(clock, 26, 14)
    moved(api, stream, t2, "in_progress")
    at(clock, 26, 16)
    moved(api, stream, t2, "resolved")
    at(clock, 26, 17)
    assert run_job(api.client, "survey_sender")["sent"] == 3
    stream.drain()
    at(clock, 27, 10)
    rate(api, stream, box, t1, 2)
    rate(api, stream, box, t2, 5)
    at(clock, 27, 11)
    rate(api, stream, box, t1, 4, "Sorted in the end, thank you.")
    assert run_job(api.client, "sla_sweep")["breached"] == 0  # T3's late first response was counted already
    stream.drain()
    return Week(t1, t2, t3, t5, bob, cara)


@pytest.fixture
def week(api: Api, stream: Stream, clock: ManualClock, mailbox: Mailbox) -> Week:
    return build_week(api, stream, clock, mailbox)


def report(api: Api, path: str) -> dict[str, Any]:
    code, answer = api.json("GET", path)
    assert code == 200, answer
    return dict(answer)


def timer(met: int, breached: int, percent: float | None, measured: int, median: int | None, p90: int | None) -> Any:
    return {
        "met": met,
        "breached": breached,
        "compliance_percent": percent,
        "measured": measured,
        "median_seconds": median,
        "median_text": TEXT[median],
        "p90_seconds": p90,
        "p90_text": TEXT[p90],
    }


# The human form beside each duration in the answers below, written out.
TEXT = {
    None: None,
    3600: "1h",
    10800: "3h",
    12600: "3h 30m",
    16560: "4h 36m",
    17100: "4h 45m",
    18000: "5h",
    19800: "5h 30m",
    20880: "5h 48m",
    21600: "6h",
    22500: "6h 15m",
    25200: "7h",
    27900: "7h 45m",
    30600: "8h 30m",
}


NO_TIMER = timer(0, 0, None, 0, None, None)


# SLA -------------------------------------------------------------------------------------------------------


def test_sla_compliance_medians_and_breaches_for_the_week(api: Api, week: Week) -> None:
    answer = report(api, f"/reports/sla?{WEEK}")
    assert (answer["from"], answer["to"], answer["time_zone"], answer["group_by"]) == (
        "2026-11-23",
        "2026-11-27",
        "Europe/London",
        None,
    )
    # First response: T1, T2, T5 in time (3,600 s each), T3 late (30,600 s): 3 of 4 = 75 %.
    # Median of 3,600 3,600 3,600 30,600 = 3,600; p90 at rank 0.9 x 3 = 2.7: 3,600 + 0.7 x 27,000 = 22,500.
    # Resolution: T1 21,600, T2 18,000, T5 3,600 all in time; median 18,000; p90 at rank 1.8:
    # 18,000 + 0.8 x 3,600 = 20,880. T2's three paused days do not breach it.
    total = {
        "key": "all",
        "label": "All tickets",
        "first_response": timer(3, 1, 75.0, 4, 3600, 22500),
        "resolution": timer(3, 0, 100.0, 3, 18000, 20880),
        "breaches": 1,
    }
    assert answer["total"] == total
    assert answer["groups"] == [total]


def test_sla_by_priority_and_by_assignee(api: Api, week: Week) -> None:
    by_priority = report(api, f"/reports/sla?{WEEK}&group_by=priority")
    assert by_priority["group_by"] == "priority"
    assert by_priority["groups"] == [
        # T2 alone.
        {
            "key": "high",
            "label": "High",
            "first_response": timer(1, 0, 100.0, 1, 3600, 3600),
            "resolution": timer(1, 0, 100.0, 1, 18000, 18000),
            "breaches": 0,
        },
        # T1, T3, T5. First response 2 of 3 = 66.7 %; 3,600 3,600 30,600: median 3,600, p90 at rank 1.8 =
        # 3,600 + 0.8 x 27,000 = 25,200. Resolution T5 3,600 and T1 21,600: median 12,600, p90 at rank 0.9 =
        # 3,600 + 0.9 x 18,000 = 19,800.
        {
            "key": "medium",
            "label": "Medium",
            "first_response": timer(2, 1, 66.7, 3, 3600, 25200),
            "resolution": timer(2, 0, 100.0, 2, 12600, 19800),
            "breaches": 1,
        },
    ]
    by_assignee = report(api, f"/reports/sla?{WEEK}&group_by=assignee")
    assert by_assignee["groups"] == [
        # Bob: T1 in time, T3 late: 50 %; 3,600 and 30,600: median 17,100, p90 3,600 + 0.9 x 27,000 = 27,900.
        {
            "key": week.bob,
            "label": "Bob Builder",
            "first_response": timer(1, 1, 50.0, 2, 17100, 27900),
            "resolution": timer(1, 0, 100.0, 1, 21600, 21600),
            "breaches": 1,
        },
        # Cara: T2 and T5. Resolution 3,600 and 18,000: median 10,800, p90 3,600 + 0.9 x 14,400 = 16,560.
        {
            "key": week.cara,
            "label": "Cara Carter",
            "first_response": timer(2, 0, 100.0, 2, 3600, 3600),
            "resolution": timer(2, 0, 100.0, 2, 10800, 16560),
            "breaches": 0,
        },
    ]
    assert by_assignee["total"] == report(api, f"/reports/sla?{WEEK}")["total"]


def test_sla_day_by_day_shows_where_each_outcome_fell(api: Api, week: Week) -> None:
    monday = report(api, "/reports/sla?from=2026-11-23&to=2026-11-23")["total"]
    # T1 resolved Monday but reopened: its resolution outcome now belongs to Tuesday.
    assert monday["first_response"] == timer(2, 0, 100.0, 2, 3600, 3600)
    assert monday["resolution"] == NO_TIMER
    tuesday = report(api, "/reports/sla?from=2026-11-24&to=2026-11-24")["total"]
    assert tuesday["first_response"] == timer(0, 1, 0.0, 1, 30600, 30600)
    assert tuesday["resolution"] == timer(1, 0, 100.0, 1, 21600, 21600)
    assert tuesday["breaches"] == 1


def test_a_period_with_no_tickets_reports_zeros_not_errors(api: Api, week: Week) -> None:
    sla = report(api, f"/reports/sla?{EMPTY_WEEK}&group_by=team")
    assert sla["groups"] == []
    assert sla["total"]["first_response"] == NO_TIMER
    assert sla["total"]["resolution"] == NO_TIMER
    assert sla["total"]["breaches"] == 0
    statuses = report(api, f"/reports/time-in-status?{EMPTY_WEEK}")
    assert all(s["stays"] == 0 and s["median_seconds"] is None and s["returns"] == 0 for s in statuses["statuses"])
    assert statuses["loops"] == []
    workload = report(api, f"/reports/workload?{EMPTY_WEEK}")
    assert [d["date"] for d in workload["days"]] == [f"2026-11-{n}" for n in range(16, 23)]
    assert all((d["arrivals"], d["resolutions"], d["reopened"]) == (0, 0, 0) for d in workload["days"])
    assert workload["totals"] == {"arrivals": 0, "resolutions": 0, "reopened": 0, "net_change": 0}
    assert workload["backlog"]["trend"] == "steady"
    assert workload["backlog"]["statement"].startswith("Steady: no tickets arrived")
    satisfaction = report(api, f"/reports/satisfaction?{EMPTY_WEEK}")
    assert satisfaction["total"]["sent"] == 0
    assert satisfaction["total"]["response_rate_percent"] is None
    assert satisfaction["total"]["average"] is None
    assert satisfaction["comments"] == []


# time in status --------------------------------------------------------------------------------------------


def test_time_in_status_dwell_and_rework_loops(api: Api, week: Week) -> None:
    answer = report(api, f"/reports/time-in-status?{WEEK}&type=question")
    assert answer["type"] == "question"
    rows = {s["status"]: s for s in answer["statuses"]}
    assert list(rows) == ["submitted", "in_progress", "waiting_on_requester", "resolved"]
    # submitted: T1 3,600, T2 3,600, T3 30,600 (Mon 7.5 h + Tue 1 h), T5 3,600. Median 3,600; p90 at rank 2.7.
    assert rows["submitted"] | {"label": None} == {
        "status": "submitted",
        "label": None,
        "category": "new",
        "stays": 4,
        "median_seconds": 3600,
        "median_text": "1h",
        "p90_seconds": 22500,
        "p90_text": "6h 15m",
        "returns": 0,
    }
    # in progress: T1 10,800 3,600 3,600 and T2 7,200 7,200 -> 3,600 3,600 7,200 7,200 10,800: median 7,200,
    # p90 at rank 3.6: 7,200 + 0.6 x 3,600 = 9,360. Returned to twice by T1 (reopened) and once by T2.
    assert (rows["in_progress"]["stays"], rows["in_progress"]["median_seconds"]) == (5, 7200)
    assert (rows["in_progress"]["p90_seconds"], rows["in_progress"]["returns"]) == (9360, 3)
    # waiting: T2's 86,400 (Mon 3 h, Tue 8, Wed 8, Thu 5).
    assert (rows["waiting_on_requester"]["stays"], rows["waiting_on_requester"]["median_seconds"]) == (1, 86400)
    assert rows["waiting_on_requester"]["median_text"] == "1d"
    # resolved and left again: T1 14,400 and 3,600 -> median 9,000, p90 3,600 + 0.9 x 10,800 = 13,320.
    assert (rows["resolved"]["stays"], rows["resolved"]["median_seconds"]) == (2, 9000)
    assert (rows["resolved"]["p90_seconds"], rows["resolved"]["returns"]) == (13320, 2)
    assert (rows["resolved"]["median_text"], rows["resolved"]["p90_text"]) == ("2h 30m", "3h 42m")
    assert [(loop["from"], loop["to"], loop["count"]) for loop in answer["loops"]] == [
        ("in_progress", "resolved", 2),
        ("resolved", "in_progress", 2),
        ("waiting_on_requester", "in_progress", 1),
    ]
    assert answer["loops"][2]["from_label"] == "Waiting on requester"
    everything = report(api, f"/reports/time-in-status?{WEEK}")
    assert {s["status"]: s["stays"] for s in everything["statuses"] if s["stays"]} == {
        "submitted": 4,
        "in_progress": 5,
        "waiting_on_requester": 1,
        "resolved": 2,
    }
    defects = report(api, f"/reports/time-in-status?{WEEK}&type=defect")
    assert all(s["stays"] == 0 for s in defects["statuses"])


# workload --------------------------------------------------------------------------------------------------


def test_workload_arrivals_resolutions_and_the_backlog_statement(api: Api, week: Week) -> None:
    answer = report(api, f"/reports/workload?{WEEK}")
    assert [(d["date"], d["arrivals"], d["resolutions"], d["reopened"]) for d in answer["days"]] == [
        ("2026-11-23", 3, 1, 0),  # T1, T3, T2 opened; T1 resolved
        ("2026-11-24", 0, 2, 2),  # T1 reopened twice and resolved twice
        ("2026-11-25", 1, 1, 0),  # T5 opened and resolved
        ("2026-11-26", 0, 1, 0),  # T2 resolved
        ("2026-11-27", 0, 0, 0),
    ]
    assert answer["totals"] == {"arrivals": 4, "resolutions": 5, "reopened": 2, "net_change": 1}
    assert answer["backlog"]["trend"] == "growing"
    assert answer["backlog"]["statement"] == (
        "Growing: 4 tickets arrived and 2 were reopened, but 5 were resolved between 23 Nov 2026 and "
        "27 Nov 2026, so the backlog grew by 1."
    )
    # T3 is the only open ticket.
    assert answer["open_now"] == {
        "total": 1,
        "by_assignee": [{"key": week.bob, "label": "Bob Builder", "open": 1}],
        "by_team": [{"key": "support", "label": "Support", "open": 1}],
    }


def test_a_single_day_of_workload(api: Api, week: Week) -> None:
    answer = report(api, "/reports/workload?from=2026-11-25&to=2026-11-25")
    assert answer["totals"] == {"arrivals": 1, "resolutions": 1, "reopened": 0, "net_change": 0}
    assert answer["backlog"]["trend"] == "steady"


# satisfaction ----------------------------------------------------------------------------------------------


def test_satisfaction_counts_the_changed_rating_once(api: Api, week: Week) -> None:
    answer = report(api, f"/reports/satisfaction?{WEEK}")
    # Three surveys sent (T1 Tue, T5 Wed, T2 Thu), two answered: 66.7 %. T1's 2 became a 4: ratings 4 and 5.
    assert answer["total"] == {
        "key": "all",
        "label": "All tickets",
        "sent": 3,
        "answered": 2,
        "response_rate_percent": 66.7,
        "average": 4.5,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1},
    }
    assert answer["scale"] == 5
    assert [(c["ticket_id"], c["rating"], c["comment"], c["day"]) for c in answer["comments"]] == [
        (week.t1, 4, "Sorted in the end, thank you.", "2026-11-24")
    ]
    assert answer["comments"][0]["ref"].startswith("HD-")
    by_assignee = report(api, f"/reports/satisfaction?{WEEK}&group_by=assignee")
    figures = [
        (g["label"], g["sent"], g["answered"], g["response_rate_percent"], g["average"]) for g in by_assignee["groups"]
    ]
    assert figures == [
        ("Bob Builder", 1, 1, 100.0, 4.0),
        ("Cara Carter", 2, 1, 50.0, 5.0),
    ]
    assert by_assignee["comments"][0]["group"] == {"key": week.bob, "label": "Bob Builder"}
    thursday = report(api, "/reports/satisfaction?from=2026-11-26&to=2026-11-26")["total"]
    assert (thursday["sent"], thursday["answered"], thursday["average"]) == (1, 1, 5.0)


# the backlog now -------------------------------------------------------------------------------------------


def test_queues_show_how_many_open_tickets_are_at_risk_or_breached(api: Api, week: Week) -> None:
    # Friday 11:00: T3's resolution clock has run 31.5 + 2 = 33.5 of 40 h, past the 80 % mark (32 h, Friday
    # 09:30): at risk. Its late first response is answered, so it no longer counts as breached.
    code, answer = api.json("GET", "/queues")
    assert code == 200, answer
    assert (answer["open"], answer["at_risk"], answer["breached"]) == (1, 1, 0)
    (row,) = answer["statuses"]
    assert (row["status"], row["count"], row["at_risk"], row["breached"]) == ("in_progress", 1, 1, 0)
    assert row["oldest_created_at"] == "2026-11-23T09:30:00.000000Z"
    # Opened Monday 09:30, read Friday 11:00: 4 days 1.5 hours of wall time.
    assert (row["oldest_age_seconds"], row["oldest_age_text"]) == (4 * 86400 + 5400, "4d 2h")


# idempotency -----------------------------------------------------------------------------------------------


def test_redelivered_records_and_rerun_jobs_change_no_figure(
    api: Api, stream: Stream, clock: ManualClock, mailbox: Mailbox
) -> None:
    records: list[dict[str, Any]] = []
    real_drain = stream.drain

    def keeping_drain() -> list[dict[str, Any]]:
        drained = real_drain()
        records.extend(drained)
        return drained

    stream.drain = keeping_drain  # type: ignore[method-assign]
    build_week(api, stream, clock, mailbox)
    paths = [
        f"/reports/sla?{WEEK}&group_by=assignee",
        f"/reports/time-in-status?{WEEK}",
        f"/reports/workload?{WEEK}",
        f"/reports/satisfaction?{WEEK}&group_by=priority",
    ]
    before = [report(api, p) for p in paths]
    assert stream.deliver(records) == []
    assert stream.deliver(list(reversed(records))) == []
    assert run_job(api.client, "survey_sender")["sent"] == 0
    assert run_job(api.client, "sla_sweep")["breached"] == 0
    assert [report(api, p) for p in paths] == before


# CSV and bad input -----------------------------------------------------------------------------------------


def csv_rows(api: Api, path: str) -> tuple[Any, list[list[str]]]:
    response = api.request("GET", path)
    assert response.status_code == 200, response.body
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    return response, list(csv.reader(io.StringIO(text)))


def test_every_report_is_available_as_csv(api: Api, week: Week) -> None:
    response, rows = csv_rows(api, f"/reports/sla?{WEEK}&group_by=priority&format=csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="sla-2026-11-23-to-2026-11-27.csv"' in response.headers["Content-Disposition"]
    assert rows[0][:3] == ["group", "label", "first_response_met"]
    assert [r[0] for r in rows[1:]] == ["high", "medium", "all"]
    assert rows[2][rows[0].index("first_response_compliance_percent")] == "66.7"
    _, days = csv_rows(api, f"/reports/workload?{WEEK}&format=csv")
    assert days[0] == ["date", "arrivals", "resolutions", "reopened"]
    assert days[1] == ["2026-11-23", "3", "1", "0"]
    assert days[-1] == ["total", "4", "5", "2"]
    _, loops = csv_rows(api, f"/reports/time-in-status?{WEEK}&format=csv&table=loops")
    assert loops[1][0] == "in_progress"
    _, comments = csv_rows(api, f"/reports/satisfaction?{WEEK}&format=csv&table=comments")
    assert comments[1][-1] == "Sorted in the end, thank you."


def test_the_workload_csv_names_unassigned_tickets_plainly(api: Api, stream: Stream) -> None:
    api.open()
    stream.drain()

    _, rows = csv_rows(api, "/reports/workload?format=csv&table=open")

    assert rows[0] == ["dimension", "key", "label", "open"]
    assert rows[1] == ["assignee", "", "Unassigned", "1"]
    assert not any(cell.startswith("'") for row in rows for cell in row)


def test_the_sla_csv_gives_each_duration_in_seconds_and_as_people_read_it(api: Api, week: Week) -> None:
    _, rows = csv_rows(api, f"/reports/sla?{WEEK}&format=csv")
    total = dict(zip(rows[0], rows[-1], strict=True))

    assert (total["first_response_median_seconds"], total["first_response_median_text"]) == ("3600", "1h")
    assert (total["resolution_p90_seconds"], total["resolution_p90_text"]) == ("20880", "5h 48m")


def test_a_formula_typed_into_a_survey_comment_stays_text_in_the_csv(
    api: Api, stream: Stream, clock: ManualClock, mailbox: Mailbox
) -> None:
    ticket_id = str(api.open(subject="Export")["id"])
    stream.drain()
    clock.advance(minutes=1)
    moved(api, stream, ticket_id, "resolved")
    clock.advance(hours=2)
    assert run_job(api.client, "survey_sender")["sent"] == 1
    stream.drain()
    rate(api, stream, mailbox, ticket_id, 1, '=HYPERLINK("http://evil.example","click")')
    _, rows = csv_rows(api, "/reports/satisfaction?format=csv&table=comments")
    assert rows[1][-1] == '\'=HYPERLINK("http://evil.example","click")'


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/reports/sla?from=2026-13-01", "from"),
        ("/reports/sla?from=23/11/2026", "from"),
        ("/reports/sla?to=2026-02-30", "to"),
        ("/reports/workload?to=0001-01-10", "to"),
        ("/reports/sla?from=\uff12\uff10\uff12\uff16-11-01", "from"),
        ("/reports/sla?from=2026-11-30&to=2026-11-01", "from"),
        ("/reports/sla?from=2020-01-01&to=2026-11-01", "from"),
        ("/reports/sla?group_by=colour", "group_by"),
        ("/reports/sla?format=xlsx", "format"),
        ("/reports/sla?format=csv&table=nope", "table"),
        ("/reports/sla?colour=red", "colour"),
        ("/reports/time-in-status?type=unknown", "type"),
        ("/reports/satisfaction?comments_limit=-1", "comments_limit"),
        ("/reports/satisfaction?comments_after=%3Cscript%3E", "comments_after"),
    ],
)
def test_bad_report_parameters_get_a_clear_422(api: Api, path: str, field: str) -> None:
    code, answer = api.json("GET", path)
    assert code == 422, answer
    assert field in answer["error"]["errors"]


def test_reports_need_an_agent_token_and_a_known_name(api: Api) -> None:
    code, _ = api.json("GET", "/reports/sla", token=None)
    assert code == 401
    code, answer = api.json("GET", "/reports/nothing")
    assert code == 404, answer


def test_comments_page_newest_first(api: Api, stream: Stream, clock: ManualClock, mailbox: Mailbox) -> None:
    ids = []
    for n in range(3):
        ticket_id = str(api.open(subject=f"Question {n}")["id"])
        stream.drain()
        moved(api, stream, ticket_id, "resolved")
        clock.advance(hours=2)
        assert run_job(api.client, "survey_sender")["sent"] == 1
        stream.drain()
        rate(api, stream, mailbox, ticket_id, 3, f"Comment {n}")
        ids.append(ticket_id)
        clock.advance(days=1)
    first = report(api, "/reports/satisfaction?comments_limit=2")
    assert [c["comment"] for c in first["comments"]] == ["Comment 2", "Comment 1"]
    assert first["comments_next"]
    second = report(api, f"/reports/satisfaction?comments_limit=2&comments_after={first['comments_next']}")
    assert [c["comment"] for c in second["comments"]] == ["Comment 0"]
    assert second["comments_next"] is None
