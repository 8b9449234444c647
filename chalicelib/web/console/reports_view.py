"""The console's reports page: the existing reports as pictures read at a glance, each with its table and CSV."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from chalice.app import Request
from markupsafe import Markup

from chalicelib import wiring
from chalicelib.domain.errors import ValidationError
from chalicelib.web import charts
from chalicelib.web.http import public_base_url, query

WEEKS = 8


def _svg(markup: str) -> Markup:
    """charts.py escapes every value it puts in its SVG (agent and team names are user input)."""
    return Markup(markup)  # noqa: S704 - built from escaped parts only; see tests/web/test_charts.py


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value}%"


def _weeks(today: date) -> list[tuple[date, date]]:
    """The last WEEKS weeks, Monday to Sunday, the current (partial) one last."""
    monday = today - timedelta(days=today.weekday())
    starts = [monday - timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]
    return [(start, min(start + timedelta(days=6), today)) for start in starts]


def context(request: Request) -> dict[str, Any]:
    reports = wiring.reports()
    desk = wiring.desk()
    config = desk.config()
    params = {k: v for k in ("from", "to") if (v := query(request, k))}
    try:
        workload = reports.workload(params)
    except ValidationError:
        params = {}
        workload = reports.workload(params)
    period = {"from": workload["from"], "to": workload["to"]}
    today = date.fromisoformat(workload["to"])
    base = public_base_url(request)

    def csv(name: str, **extra: str) -> str:
        return f"{base}/console/reports/{name}/csv?{urlencode({**period, 'format': 'csv', **extra})}"

    weeks = _weeks(today)
    labels = [f"{start.day} {start.strftime('%b')}" for start, _ in weeks]
    # Both timers, all priorities together: a desk's first weeks have first responses long before resolutions,
    # and a chart of resolutions alone said "No data" beside a CSV full of them. The table splits by priority.
    by_week = [reports.sla({"from": s.isoformat(), "to": e.isoformat()}) for s, e in weeks]
    compliance = [
        (label, [doc["total"][timer]["compliance_percent"] for doc in by_week])
        for timer, label in (("first_response", "First response"), ("resolution", "Resolution"))
    ]
    priorities = config.priorities_by_rank()
    satisfaction_weeks = [reports.satisfaction({"from": s.isoformat(), "to": e.isoformat()}) for s, e in weeks]
    ratings: list[float | None] = [doc["total"]["average"] for doc in satisfaction_weeks]

    backlog = desk.backlog()
    stacked = [
        (row["label"], [float(row["by_priority"].get(p.key, 0)) for p in priorities]) for row in backlog["statuses"]
    ]
    time_doc = reports.time_in_status(params)
    dwell = [(s["label"], float(s["median_seconds"] or 0)) for s in time_doc["statuses"] if s["stays"]]
    sla_doc = reports.sla({**params, "group_by": "priority"})
    open_by_agent = [(row["label"], float(row["open"])) for row in workload["open_now"]["by_assignee"]]

    return {
        "period": period,
        "charts": [
            {
                "title": "SLA compliance by week: first response and resolution",
                "svg": _svg(
                    charts.line_chart(
                        "sla-weeks",
                        "First response and resolution SLA compliance, by week",
                        f"Percent of first responses and of resolutions within target, all priorities, per week, "
                        f"last {WEEKS} weeks",
                        labels,
                        compliance,
                        y_max=100,
                        unit="%",
                    )
                ),
                "csv": csv("sla", group_by="priority"),
                "table": {
                    "head": [
                        "Priority",
                        "First response met",
                        "breached",
                        "compliance",
                        "Resolution met",
                        "breached",
                        "compliance",
                    ],
                    "rows": [
                        [
                            g["label"],
                            g["first_response"]["met"],
                            g["first_response"]["breached"],
                            _percent(g["first_response"]["compliance_percent"]),
                            g["resolution"]["met"],
                            g["resolution"]["breached"],
                            _percent(g["resolution"]["compliance_percent"]),
                        ]
                        for g in sla_doc["groups"]
                    ],
                },
            },
            {
                "title": "Backlog per status",
                "svg": _svg(
                    charts.stacked_bar_chart(
                        "backlog",
                        "Open tickets per status",
                        "Open tickets now, per status, split by priority",
                        stacked,
                        [p.label for p in priorities],
                    )
                ),
                "csv": None,
                "table": {
                    "head": ["Status", "Open", "Oldest", "At risk", "Breached"],
                    "rows": [
                        [
                            r["label"],
                            r["count"],
                            charts.human_duration(r["oldest_age_seconds"]),
                            r["at_risk"],
                            r["breached"],
                        ]
                        for r in backlog["statuses"]
                    ],
                },
            },
            {
                "title": "Time in each status",
                "svg": _svg(
                    charts.bar_chart(
                        "dwell",
                        "Median time in each status",
                        "Median business time of the stays that ended in the period",
                        dwell,
                        value_format=charts.human_duration,
                    )
                ),
                "csv": csv("time-in-status"),
                "table": {
                    "head": ["Status", "Stays", "Median", "90th percentile", "Returns"],
                    "rows": [
                        [
                            s["label"],
                            s["stays"],
                            charts.human_duration(s["median_seconds"] or 0),
                            charts.human_duration(s["p90_seconds"] or 0),
                            s["returns"],
                        ]
                        for s in time_doc["statuses"]
                        if s["stays"]
                    ],
                },
            },
            {
                "title": "Satisfaction by week",
                "svg": _svg(
                    charts.line_chart(
                        "satisfaction",
                        "Average satisfaction rating",
                        f"Average rating per week, last {WEEKS} weeks",
                        labels,
                        [("Average rating", ratings)],
                        y_max=float(config.survey.scale),
                    )
                ),
                "csv": csv("satisfaction"),
                "table": {
                    "head": ["Week from", "Sent", "Answered", "Average"],
                    "rows": [
                        [label, d["total"]["sent"], d["total"]["answered"], d["total"]["average"] or "—"]
                        for label, d in zip(labels, satisfaction_weeks, strict=True)
                    ],
                },
            },
            {
                "title": "Workload per agent",
                "svg": _svg(
                    charts.bar_chart(
                        "workload",
                        "Open tickets per agent",
                        "Open tickets now, per assignee",
                        open_by_agent,
                    )
                ),
                "csv": csv("workload", table="open"),
                "table": {"head": ["Assignee", "Open"], "rows": [[label, int(n)] for label, n in open_by_agent]},
            },
        ],
        "statement": workload["backlog"]["statement"],
        "totals": workload["totals"],
    }
