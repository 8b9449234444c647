"""The report documents, checked against figures worked out by hand from small explicit aggregate rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from chalicelib.domain.config import DeskConfig, default_config
from chalicelib.domain.reports import (
    Period,
    Row,
    group_label,
    ordered_values,
    satisfaction_report,
    sla_report,
    tables,
    time_in_status_report,
    workload_report,
)

CONFIG: DeskConfig = default_config()
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
THREE_DAYS = Period(date(2026, 11, 1), date(2026, 11, 3))
NAMES = {"ag_1": "Zoe Able", "ag_2": "ada Byron", "ag_3": "Ben Carter"}
COMMON = {"from": "2026-11-01", "to": "2026-11-30", "time_zone": "Europe/London"}
# The human form of each figure the tests below expect, written out (the rule itself: test_durations.py).
TEXT = {
    None: None,
    10: "10s",
    11: "11s",
    30: "30s",
    90: "2m",
    120: "2m",
    246: "4m",
    264: "4m",
    600: "10m",
    1500: "25m",
    1900: "32m",
    2000: "33m",
    3280: "55m",
    3600: "1h",
    6480: "1h 48m",
}


def timer(
    met: int, breached: int, compliance: float | None, measured: int, median: int | None, p90: int | None
) -> dict[str, Any]:
    return {
        "met": met,
        "breached": breached,
        "compliance_percent": compliance,
        "measured": measured,
        "median_seconds": median,
        "median_text": TEXT[median],
        "p90_seconds": p90,
        "p90_text": TEXT[p90],
    }


NO_TIMER = timer(0, 0, None, 0, None, None)


# labels and order ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dim", "value", "label"),
    [
        ("priority", "high", "High"),
        ("type", "defect", "Defect"),
        ("team", "services", "Professional services"),
        ("team", "-", "No team"),
        ("assignee", "-", "Unassigned"),
        ("assignee", "ag_1", "Zoe Able"),
        ("assignee", "ag_gone", "ag_gone"),  # an agent without a name reads as the id
        ("team", "old_team", "old_team"),  # no longer configured: the key itself
        ("type", "old_type", "old_type"),
        ("priority", "urgent", "urgent"),
        ("all", "all", "All tickets"),
        (None, "all", "All tickets"),
    ],
)
def test_group_labels(dim: str | None, value: str, label: str) -> None:
    assert group_label(CONFIG, dim, value, NAMES) == label


def test_priorities_order_by_rank_and_unknown_values_come_after_by_key() -> None:
    values = ["low", "zz_old", "critical", "aa_old", "medium"]
    assert ordered_values(CONFIG, "priority", values, NAMES) == ["critical", "medium", "low", "aa_old", "zz_old"]


def test_teams_and_types_order_as_configured_with_no_team_last() -> None:
    teams = ["-", "services", "old", "support"]
    assert ordered_values(CONFIG, "team", teams, NAMES) == ["support", "services", "old", "-"]
    types = ["question", "defect", "gone", "training"]
    assert ordered_values(CONFIG, "type", types, NAMES) == ["defect", "training", "question", "gone"]


def test_assignees_order_by_name_ignoring_case_then_unnamed_ids_then_unassigned() -> None:
    # ada Byron < Ben Carter < Zoe Able ignoring case; ag_9 has no name; "-" last
    values = ["-", "ag_9", "ag_1", "ag_3", "ag_2"]
    assert ordered_values(CONFIG, "assignee", values, NAMES) == ["ag_2", "ag_3", "ag_1", "ag_9", "-"]


# SLA -------------------------------------------------------------------------------------------

SLA_ROWS = [
    Row(
        "2026-11-02",
        "high",
        {
            "first_response_met": 2,
            "first_response_breached": 1,
            "first_response_s/60": 1,
            "first_response_s/120": 1,
            "resolution_met": 1,
            "resolution_s/3600": 1,
        },
    ),
    Row("2026-11-03", "high", {"first_response_met": 1, "first_response_s/300": 1, "resolution_breached": 2}),
    Row(
        "2026-11-02",
        "low",
        {
            "first_response_met": 1,
            "first_response_s/30": 1,
            "resolution_met": 2,
            "resolution_s/1000": 1,
            "resolution_s/2000": 1,
            "opened": 3,  # another report's counter: ignored
        },
    ),
    # everything netted out to zero (a reopened ticket took its outcome back): the group is left out
    Row("2026-11-02", "medium", {"first_response_met": 0, "first_response_s/100": 0, "opened": 5}),
]


def test_sla_by_priority_merges_the_days_of_each_group_and_of_the_total() -> None:
    report = sla_report(CONFIG, NOVEMBER, "priority", SLA_ROWS, NAMES)
    assert report == {
        **COMMON,
        "group_by": "priority",
        "groups": [
            {
                "key": "high",
                "label": "High",
                # met 2+1 = 3, breached 1: 3/4 = 75 %; durations [60, 120, 300]:
                # median = the middle one, 120; p90 at rank 0.9*2 = 1.8: 120 + 0.8*(300-120) = 264
                "first_response": timer(3, 1, 75.0, 3, 120, 264),
                # met 1, breached 2: 1/3 = 33.3 %; one duration 3600
                "resolution": timer(1, 2, 33.3, 1, 3600, 3600),
                "breaches": 3,  # 1 + 2
            },
            {
                "key": "low",
                "label": "Low",
                "first_response": timer(1, 0, 100.0, 1, 30, 30),
                # durations [1000, 2000]: median (1000+2000)/2 = 1500; p90 at rank 0.9: 1000 + 0.9*1000 = 1900
                "resolution": timer(2, 0, 100.0, 2, 1500, 1900),
                "breaches": 0,
            },
        ],
        "total": {
            "key": "all",
            "label": "All tickets",
            # met 4, breached 1: 80 %; durations [30, 60, 120, 300] (not an average of the groups' medians):
            # median at rank 1.5: (60+120)/2 = 90; p90 at rank 2.7: 120 + 0.7*180 = 246
            "first_response": timer(4, 1, 80.0, 4, 90, 246),
            # met 3, breached 2: 60 %; durations [1000, 2000, 3600]: median 2000;
            # p90 at rank 1.8: 2000 + 0.8*1600 = 3280
            "resolution": timer(3, 2, 60.0, 3, 2000, 3280),
            "breaches": 3,
        },
    }


def test_sla_durations_round_halves_up_to_whole_seconds() -> None:
    rows = [Row("2026-11-05", "all", {"first_response_met": 2, "first_response_s/10": 1, "first_response_s/11": 1})]
    report = sla_report(CONFIG, NOVEMBER, None, rows, NAMES)
    # median (10+11)/2 = 10.5 -> 11 (half up, not to even); p90 at rank 0.9: 10 + 0.9 = 10.9 -> 11
    assert report["total"]["first_response"] == timer(2, 0, 100.0, 2, 11, 11)
    assert [g["key"] for g in report["groups"]] == ["all"]
    assert report["groups"][0]["label"] == "All tickets"
    assert report["groups"][0]["first_response"] == report["total"]["first_response"]


def test_sla_with_no_rows_has_no_groups_and_an_empty_total() -> None:
    report = sla_report(CONFIG, NOVEMBER, None, [], NAMES)
    assert report == {
        **COMMON,
        "group_by": None,
        "groups": [],
        "total": {
            "key": "all",
            "label": "All tickets",
            "first_response": NO_TIMER,
            "resolution": NO_TIMER,
            "breaches": 0,
        },
    }


def test_sla_ignores_cells_outside_the_period() -> None:
    rows = [
        Row("2026-10-31", "all", {"first_response_met": 9}),
        Row("2026-12-01", "all", {"first_response_breached": 9}),
        Row("2026-11-30", "all", {"first_response_met": 1}),
    ]
    report = sla_report(CONFIG, NOVEMBER, None, rows, NAMES)
    assert report["total"]["first_response"] == timer(1, 0, 100.0, 0, None, None)


def test_sla_by_assignee_labels_agents_and_unassigned() -> None:
    rows = [
        Row("2026-11-02", "-", {"first_response_breached": 1}),
        Row("2026-11-02", "ag_9", {"resolution_breached": 1}),
        Row("2026-11-02", "ag_1", {"first_response_met": 1}),
        Row("2026-11-02", "ag_2", {"resolution_met": 1}),
    ]
    report = sla_report(CONFIG, NOVEMBER, "assignee", rows, NAMES)
    assert [(g["key"], g["label"], g["breaches"]) for g in report["groups"]] == [
        ("ag_2", "ada Byron", 0),
        ("ag_1", "Zoe Able", 0),
        ("ag_9", "ag_9", 1),
        ("-", "Unassigned", 1),
    ]
    assert report["total"]["breaches"] == 2


# time in status --------------------------------------------------------------------------------

STATUS_ROWS = [
    Row(
        "2026-11-02",
        "question",
        {
            "dwell/submitted/60": 1,
            "dwell/submitted/120": 1,
            "dwell/in_progress/3600": 2,
            "dwell/waiting_on_requester/600": 1,
            "loop/waiting_on_requester/in_progress": 1,
        },
    ),
    Row(
        "2026-11-03",
        "question",
        {
            "dwell/submitted/300": 1,
            "dwell/in_progress/7200": 1,
            "dwell/old_status/10": 1,  # a status since removed from the configuration
            "loop/in_progress/waiting_on_requester": 2,
            "loop/resolved/in_progress": 1,
            "loop/in_progress/submitted": 0,  # taken back: not a loop
            "opened": 4,
        },
    ),
]


def test_time_in_status_for_a_type_lists_its_workflow_then_unknown_statuses() -> None:
    report = time_in_status_report(CONFIG, NOVEMBER, "question", STATUS_ROWS)
    assert {k: report[k] for k in ("from", "to", "time_zone", "type")} == {**COMMON, "type": "question"}
    assert report["statuses"] == [
        # [60, 120, 300]: median 120; p90 at rank 1.8: 120 + 0.8*180 = 264
        {
            "status": "submitted",
            "label": "Submitted",
            "category": "new",
            "stays": 3,
            "median_seconds": 120,
            "median_text": "2m",
            "p90_seconds": 264,
            "p90_text": "4m",
            "returns": 0,
        },
        # [3600, 3600, 7200]: median 3600; p90 at rank 1.8: 3600 + 0.8*3600 = 6480; returns from two loops: 1 + 1
        {
            "status": "in_progress",
            "label": "In progress",
            "category": "active",
            "stays": 3,
            "median_seconds": 3600,
            "median_text": "1h",
            "p90_seconds": 6480,
            "p90_text": "1h 48m",
            "returns": 2,
        },
        {
            "status": "waiting_on_requester",
            "label": "Waiting on requester",
            "category": "waiting",
            "stays": 1,
            "median_seconds": 600,
            "median_text": "10m",
            "p90_seconds": 600,
            "p90_text": "10m",
            "returns": 2,
        },
        {
            "status": "resolved",
            "label": "Resolved",
            "category": "done",
            "stays": 0,
            "median_seconds": None,
            "median_text": None,
            "p90_seconds": None,
            "p90_text": None,
            "returns": 0,
        },
        # not configured: its key as label, and the category config.status() gives an unknown status
        {
            "status": "old_status",
            "label": "old_status",
            "category": "active",
            "stays": 1,
            "median_seconds": 10,
            "median_text": "10s",
            "p90_seconds": 10,
            "p90_text": "10s",
            "returns": 0,
        },
    ]
    assert report["loops"] == [
        {
            "from": "in_progress",
            "from_label": "In progress",
            "to": "waiting_on_requester",
            "to_label": "Waiting on requester",
            "count": 2,
        },
        {"from": "resolved", "from_label": "Resolved", "to": "in_progress", "to_label": "In progress", "count": 1},
        {
            "from": "waiting_on_requester",
            "from_label": "Waiting on requester",
            "to": "in_progress",
            "to_label": "In progress",
            "count": 1,
        },
    ]


def test_time_in_status_for_a_type_follows_its_workflow_order() -> None:
    report = time_in_status_report(CONFIG, NOVEMBER, "consultation", [])
    assert [s["status"] for s in report["statuses"]] == list(CONFIG.workflow_of("consultation").statuses)


def test_time_in_status_for_the_whole_desk_lists_every_configured_status() -> None:
    report = time_in_status_report(CONFIG, NOVEMBER, None, [])
    assert report["type"] is None
    assert [s["status"] for s in report["statuses"]] == list(CONFIG.statuses)
    assert all(s["stays"] == 0 and s["median_seconds"] is None and s["returns"] == 0 for s in report["statuses"])
    assert report["loops"] == []


def test_loops_order_by_count_then_from_then_to() -> None:
    rows = [
        Row("2026-11-02", "all", {"loop/in_review/approved": 2, "loop/submitted/approved": 2, "loop/b/a": 1}),
        Row("2026-11-04", "all", {"loop/approved/in_review": 3, "loop/in_review/approved": 0, "loop/in_review/a": 2}),
    ]
    report = time_in_status_report(CONFIG, NOVEMBER, None, rows)
    moves = [(m["from"], m["to"], m["count"]) for m in report["loops"]]
    assert moves == [
        ("approved", "in_review", 3),
        ("in_review", "a", 2),
        ("in_review", "approved", 2),
        ("submitted", "approved", 2),
        ("b", "a", 1),
    ]
    # the unknown statuses the loops name come after the configured ones, by key
    assert [s["status"] for s in report["statuses"]][-2:] == ["a", "b"]
    assert report["statuses"][-2]["returns"] == 3  # b -> a once, in_review -> a twice


# workload --------------------------------------------------------------------------------------


def test_workload_lists_every_day_and_counts_the_backlog() -> None:
    rows = [
        Row("2026-11-01", "all", {"opened": 7, "resolved": 4, "reopened": 2, "first_response_met": 3}),
        Row("2026-11-03", "all", {"opened": 5, "resolved": 5}),
    ]
    open_counts = {
        ("all", "all"): 7,
        ("assignee", "ag_1"): 3,
        ("assignee", "-"): 2,
        ("assignee", "ag_2"): 1,
        ("assignee", "ag_9"): 0,  # nothing open: left out
        ("team", "support"): 4,
        ("team", "-"): 2,
        ("team", "gone"): 1,
        ("status", "submitted"): 7,
    }
    report = workload_report(CONFIG, THREE_DAYS, rows, open_counts, NAMES)
    assert report == {
        "from": "2026-11-01",
        "to": "2026-11-03",
        "time_zone": "Europe/London",
        "days": [
            {"date": "2026-11-01", "arrivals": 7, "resolutions": 4, "reopened": 2},
            {"date": "2026-11-02", "arrivals": 0, "resolutions": 0, "reopened": 0},
            {"date": "2026-11-03", "arrivals": 5, "resolutions": 5, "reopened": 0},
        ],
        # 7 + 5 = 12 arrived, 2 reopened, 4 + 5 = 9 resolved: 12 + 2 - 9 = 5
        "totals": {"arrivals": 12, "resolutions": 9, "reopened": 2, "net_change": 5},
        "backlog": {
            "trend": "growing",
            "statement": "Growing: 12 tickets arrived and 2 were reopened, but 9 were resolved "
            "between 1 Nov 2026 and 3 Nov 2026, so the backlog grew by 5.",
        },
        "open_now": {
            "total": 7,
            "by_assignee": [
                {"key": "ag_2", "label": "ada Byron", "open": 1},
                {"key": "ag_1", "label": "Zoe Able", "open": 3},
                {"key": "-", "label": "Unassigned", "open": 2},
            ],
            "by_team": [
                {"key": "support", "label": "Support", "open": 4},
                {"key": "gone", "label": "gone", "open": 1},
                {"key": "-", "label": "No team", "open": 2},
            ],
        },
    }


def test_a_period_with_nothing_is_steady_with_a_zero_for_every_day() -> None:
    report = workload_report(CONFIG, THREE_DAYS, [], {}, NAMES)
    assert report["days"] == [
        {"date": f"2026-11-0{n}", "arrivals": 0, "resolutions": 0, "reopened": 0} for n in (1, 2, 3)
    ]
    assert report["totals"] == {"arrivals": 0, "resolutions": 0, "reopened": 0, "net_change": 0}
    assert report["backlog"] == {
        "trend": "steady",
        "statement": "Steady: no tickets arrived, were reopened or were resolved between 1 Nov 2026 and 3 Nov 2026.",
    }
    assert report["open_now"] == {"total": 0, "by_assignee": [], "by_team": []}


@pytest.mark.parametrize(
    ("counts", "trend", "statement"),
    [
        (
            {"opened": 1, "resolved": 4},
            "shrinking",
            (
                "Shrinking: 1 ticket arrived, but 4 were resolved between 1 Nov 2026 and 3 Nov 2026, "
                "so the backlog shrank by 3."
            ),  # 1 - 4 = -3
        ),
        (
            {"opened": 2, "reopened": 1, "resolved": 1},
            "growing",
            (
                "Growing: 2 tickets arrived and 1 was reopened, but 1 was resolved between 1 Nov 2026 and 3 Nov 2026, "
                "so the backlog grew by 2."
            ),  # 2 + 1 - 1 = 2
        ),
        (
            {"opened": 3},
            "growing",
            (
                "Growing: 3 tickets arrived, but none were resolved between 1 Nov 2026 and 3 Nov 2026, "
                "so the backlog grew by 3."
            ),
        ),
        (
            {"resolved": 1},
            "shrinking",
            (
                "Shrinking: no tickets arrived, but 1 was resolved between 1 Nov 2026 and 3 Nov 2026, "
                "so the backlog shrank by 1."
            ),
        ),
        (
            {"opened": 5, "resolved": 5},
            "steady",
            (
                "Steady: 5 tickets arrived and 5 were resolved between 1 Nov 2026 and 3 Nov 2026, "
                "so as many were resolved as arrived."
            ),
        ),
        (
            {"opened": 3, "reopened": 2, "resolved": 5},
            "steady",
            (
                "Steady: 3 tickets arrived and 2 were reopened, and 5 were resolved between 1 Nov 2026 and 3 Nov 2026, "
                "so as many were resolved as arrived or were reopened."
            ),
        ),
    ],
)
def test_backlog_statements(counts: dict[str, int], trend: str, statement: str) -> None:
    report = workload_report(CONFIG, THREE_DAYS, [Row("2026-11-02", "all", counts)], {}, NAMES)
    assert report["backlog"] == {"trend": trend, "statement": statement}


def test_a_one_day_period_is_named_on_its_day() -> None:
    day = Period(date(2026, 12, 24), date(2026, 12, 24))
    report = workload_report(CONFIG, day, [], {}, NAMES)
    statement = "Steady: no tickets arrived, were reopened or were resolved on 24 Dec 2026."
    assert report["backlog"]["statement"] == statement
    assert [d["date"] for d in report["days"]] == ["2026-12-24"]


# satisfaction ----------------------------------------------------------------------------------

SURVEY_ROWS = [
    # one rating was changed from 2 to 4: the rows already hold the net (rating/2 back to 0)
    Row(
        "2026-11-02",
        "support",
        {"survey_sent": 3, "survey_answered": 2, "rating/5": 1, "rating/4": 1, "rating/2": 0},
    ),
    Row("2026-11-05", "support", {"survey_sent": 1, "survey_answered": 1, "rating/7": 1}),  # above a scale of 5
    Row("2026-11-02", "-", {"survey_sent": 2, "survey_answered": 0}),
    Row("2026-11-03", "engineering", {"survey_sent": 0, "survey_answered": 0, "rating/3": 0}),  # all zero: left out
]

COMMENTS: list[dict[str, Any]] = [
    {
        "ticket_id": "t1",
        "ref": "HD-1",
        "rating": 4,
        "comment": "Quick, thanks",
        "answered_at": "2026-11-02T10:00:00Z",
        "type": "question",
        "priority": "low",
        "team": "support",
        "assignee": "ag_1",
        "day": "2026-11-02",
    },
    {
        "ticket_id": "t2",
        "ref": "HD-2",
        "rating": None,
        "comment": '=HYPERLINK("http://x")',
        "answered_at": "2026-11-03T10:00:00Z",
        "type": "defect",
        "priority": "high",
        "team": "-",
        "assignee": "-",
        "day": "2026-11-02",
    },
]


def test_satisfaction_by_team() -> None:
    report = satisfaction_report(CONFIG, NOVEMBER, "team", SURVEY_ROWS, COMMENTS, "next-page", NAMES)
    no_ratings = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    support_ratings = {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1, "7": 1}
    assert report == {
        **COMMON,
        "group_by": "team",
        "scale": 5,
        "groups": [
            {
                "key": "support",
                "label": "Support",
                # sent 3 + 1 = 4, answered 2 + 1 = 3: 75 %; ratings 5, 4, 7: 16 / 3 = 5.333 -> 5.33
                "sent": 4,
                "answered": 3,
                "response_rate_percent": 75.0,
                "average": 5.33,
                "distribution": support_ratings,
            },
            {
                "key": "-",
                "label": "No team",
                "sent": 2,
                "answered": 0,
                "response_rate_percent": 0.0,
                "average": None,
                "distribution": no_ratings,
            },
        ],
        "total": {
            "key": "all",
            "label": "All tickets",
            # sent 6, answered 3: 50 %
            "sent": 6,
            "answered": 3,
            "response_rate_percent": 50.0,
            "average": 5.33,
            "distribution": support_ratings,
        },
        "comments": [
            {
                "ticket_id": "t1",
                "ref": "HD-1",
                "day": "2026-11-02",
                "answered_at": "2026-11-02T10:00:00Z",
                "rating": 4,
                "comment": "Quick, thanks",
                "group": {"key": "support", "label": "Support"},
            },
            {
                "ticket_id": "t2",
                "ref": "HD-2",
                "day": "2026-11-02",
                "answered_at": "2026-11-03T10:00:00Z",
                "rating": None,
                "comment": '=HYPERLINK("http://x")',
                "group": {"key": "-", "label": "No team"},
            },
        ],
        "comments_next": "next-page",
    }


def test_satisfaction_average_of_an_even_count_and_comments_without_groups() -> None:
    rows = [Row("2026-11-02", "all", {"survey_sent": 3, "survey_answered": 2, "rating/4": 1, "rating/5": 1})]
    report = satisfaction_report(CONFIG, NOVEMBER, None, rows, COMMENTS, None, NAMES)
    # (4 + 5) / 2 = 4.5; 2 of 3 answered: 66.666 -> 66.7 %
    assert report["total"]["average"] == 4.5
    assert report["total"]["response_rate_percent"] == 66.7
    assert [g["key"] for g in report["groups"]] == ["all"]
    assert [c["group"] for c in report["comments"]] == [None, None]
    assert report["comments_next"] is None


def test_satisfaction_by_assignee_labels_names() -> None:
    rows = [Row("2026-11-02", "ag_1", {"survey_sent": 1}), Row("2026-11-02", "-", {"survey_sent": 1})]
    report = satisfaction_report(CONFIG, NOVEMBER, "assignee", rows, COMMENTS, None, NAMES)
    assert [(g["key"], g["label"]) for g in report["groups"]] == [("ag_1", "Zoe Able"), ("-", "Unassigned")]
    assert [c["group"] for c in report["comments"]] == [
        {"key": "ag_1", "label": "Zoe Able"},
        {"key": "-", "label": "Unassigned"},
    ]


def test_satisfaction_with_no_rows() -> None:
    report = satisfaction_report(CONFIG, NOVEMBER, "priority", [], [], None, NAMES)
    assert report["groups"] == []
    assert report["comments"] == []
    assert report["total"] == {
        "key": "all",
        "label": "All tickets",
        "sent": 0,
        "answered": 0,
        "response_rate_percent": None,
        "average": None,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }


# tables ----------------------------------------------------------------------------------------


def test_sla_table_has_a_row_per_group_then_the_total() -> None:
    report = sla_report(CONFIG, NOVEMBER, "priority", SLA_ROWS, NAMES)
    found = tables("sla", report)
    assert list(found) == ["groups"]
    header, rows = found["groups"]
    figures = [
        "met",
        "breached",
        "compliance_percent",
        "measured",
        "median_seconds",
        "median_text",
        "p90_seconds",
        "p90_text",
    ]
    assert header == [
        "group",
        "label",
        *(f"first_response_{f}" for f in figures),
        *(f"resolution_{f}" for f in figures),
        "breaches",
    ]
    assert rows == [
        ["high", "High", 3, 1, 75.0, 3, 120, "2m", 264, "4m", 1, 2, 33.3, 1, 3600, "1h", 3600, "1h", 3],
        ["low", "Low", 1, 0, 100.0, 1, 30, "30s", 30, "30s", 2, 0, 100.0, 2, 1500, "25m", 1900, "32m", 0],
        ["all", "All tickets", 4, 1, 80.0, 4, 90, "2m", 246, "4m", 3, 2, 60.0, 3, 2000, "33m", 3280, "55m", 3],
    ]


def test_an_empty_sla_table_has_the_total_with_empty_cells_for_none() -> None:
    _, rows = tables("sla", sla_report(CONFIG, NOVEMBER, None, [], NAMES))["groups"]
    assert rows == [["all", "All tickets", 0, 0, "", 0, "", "", "", "", 0, 0, "", 0, "", "", "", "", 0]]


def test_time_in_status_tables() -> None:
    found = tables("time-in-status", time_in_status_report(CONFIG, NOVEMBER, "question", STATUS_ROWS))
    assert list(found) == ["statuses", "loops"]
    header, rows = found["statuses"]
    assert header == [
        "status",
        "label",
        "category",
        "stays",
        "median_seconds",
        "median_text",
        "p90_seconds",
        "p90_text",
        "returns",
    ]
    assert rows[0] == ["submitted", "Submitted", "new", 3, 120, "2m", 264, "4m", 0]
    assert rows[3] == ["resolved", "Resolved", "done", 0, "", "", "", "", 0]
    header, rows = found["loops"]
    assert header == ["from", "from_label", "to", "to_label", "count"]
    assert rows[0] == ["in_progress", "In progress", "waiting_on_requester", "Waiting on requester", 2]


def test_workload_tables() -> None:
    rows = [Row("2026-11-01", "all", {"opened": 2, "resolved": 1}), Row("2026-11-03", "all", {"reopened": 1})]
    open_counts = {("all", "all"): 3, ("assignee", "ag_1"): 2, ("assignee", "-"): 1, ("team", "-"): 3}
    found = tables("workload", workload_report(CONFIG, THREE_DAYS, rows, open_counts, NAMES))
    assert list(found) == ["days", "open"]
    assert found["days"] == (
        ["date", "arrivals", "resolutions", "reopened"],
        [
            ["2026-11-01", 2, 1, 0],
            ["2026-11-02", 0, 0, 0],
            ["2026-11-03", 0, 0, 1],
            ["total", 2, 1, 1],
        ],
    )
    assert found["open"] == (
        ["dimension", "key", "label", "open"],
        [["assignee", "ag_1", "Zoe Able", 2], ["assignee", "", "Unassigned", 1], ["team", "", "No team", 3]],
    )


def test_satisfaction_tables() -> None:
    report = satisfaction_report(CONFIG, NOVEMBER, "team", SURVEY_ROWS, COMMENTS, None, NAMES)
    found = tables("satisfaction", report)
    assert list(found) == ["groups", "comments"]
    header, rows = found["groups"]
    # rating_7: a rating above the scale keeps its own column
    assert header == [
        "group",
        "label",
        "sent",
        "answered",
        "response_rate_percent",
        "average",
        "rating_1",
        "rating_2",
        "rating_3",
        "rating_4",
        "rating_5",
        "rating_7",
    ]
    assert rows == [
        ["support", "Support", 4, 3, 75.0, 5.33, 0, 0, 0, 1, 1, 1],
        ["", "No team", 2, 0, 0.0, "", 0, 0, 0, 0, 0, 0],
        ["all", "All tickets", 6, 3, 50.0, 5.33, 0, 0, 0, 1, 1, 1],
    ]
    header, rows = found["comments"]
    assert header == ["day", "ref", "ticket_id", "rating", "group", "answered_at", "comment"]
    assert rows == [
        ["2026-11-02", "HD-1", "t1", 4, "support", "2026-11-02T10:00:00Z", "Quick, thanks"],
        ["2026-11-02", "HD-2", "t2", "", "", "2026-11-03T10:00:00Z", '=HYPERLINK("http://x")'],
    ]


def test_satisfaction_table_without_groups_has_empty_group_cells() -> None:
    report = satisfaction_report(CONFIG, NOVEMBER, None, [], COMMENTS, None, NAMES)
    header, rows = tables("satisfaction", report)["groups"]
    assert header[-1] == "rating_5"
    assert rows == [["all", "All tickets", 0, 0, "", "", 0, 0, 0, 0, 0]]
    _, comment_rows = tables("satisfaction", report)["comments"]
    assert [row[4] for row in comment_rows] == ["", ""]


def test_an_unknown_report_has_no_tables() -> None:
    with pytest.raises(ValueError, match="unknown report"):
        tables("nonsense", {})
