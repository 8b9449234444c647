"""The four report documents (SLA, time in status, workload, satisfaction) read from the aggregate cells.

Pure functions: the caller reads the cells of one dimension for the days of a period (see `stats`) and
passes them in as rows; these functions add the days up, merge the duration histograms (medians are never
averaged), label and order the groups, and shape JSON-ready documents and the tables a spreadsheet gets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.domain.config import DeskConfig
from chalicelib.domain.durations import duration_text
from chalicelib.domain.sla import FIRST_RESPONSE, RESOLUTION
from chalicelib.domain.stats import (
    ALL,
    LOOP_PREFIX,
    NONE,
    OPENED,
    RATING_PREFIX,
    REOPENED,
    RESOLVED,
    SURVEY_ANSWERED_COUNT,
    SURVEY_SENT_COUNT,
    TIMERS,
    breached,
    day_range,
    duration_prefix,
    dwell_prefix,
    histogram,
    merge,
    met,
    percentile,
)

ALL_LABEL = "All tickets"
UNASSIGNED_LABEL = "Unassigned"
NO_TEAM_LABEL = "No team"
REPORTS = ("sla", "time-in-status", "workload", "satisfaction")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DWELL = dwell_prefix("")[:-1]  # "dwell/": the stays of every status


@dataclass(frozen=True)
class Row:
    """One aggregate cell: the counters of one dimension value on one local day."""

    day: str  # "YYYY-MM-DD", a local day in the desk's time zone
    value: str  # "all" for the whole desk, "-" for an unset team or assignee, else a key or an agent id
    counts: dict[str, int]


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    def holds(self, day: str) -> bool:
        return self.first.isoformat() <= day <= self.last.isoformat()


# figures -----------------------------------------------------------------------------------------


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def seconds(values: Mapping[int, int], share: float) -> int | None:
    """A percentile of a duration histogram in whole seconds (halves round up), None when it is empty."""
    found = percentile(values, share)
    return None if found is None else math.floor(found + 0.5)


def duration_figures(values: Mapping[int, int]) -> dict[str, Any]:
    """The median and p90 of a histogram in seconds, each with its human form beside it (`median_text`)."""
    median, p90 = seconds(values, 0.5), seconds(values, 0.9)
    return {
        "median_seconds": median,
        "median_text": duration_text(median),
        "p90_seconds": p90,
        "p90_text": duration_text(p90),
    }


def _positive(values: Mapping[int, int]) -> dict[int, int]:
    return {value: count for value, count in values.items() if count > 0}


def _sum(cells: Iterable[Mapping[str, int]], name: str) -> int:
    return sum(counts.get(name, 0) for counts in cells)


def _merged(cells: Iterable[Mapping[str, int]], prefix: str) -> dict[int, int]:
    return _positive(merge(histogram(counts, prefix) for counts in cells))


def day_label(day: date) -> str:
    """1 Nov 2026: a date no reader can take for another, in whatever country."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _common(config: DeskConfig, period: Period) -> dict[str, Any]:
    return {"from": period.first.isoformat(), "to": period.last.isoformat(), "time_zone": config.sla.calendar.timezone}


def _in_period(period: Period, rows: Iterable[Row]) -> list[Row]:
    return [row for row in rows if period.holds(row.day)]


def _by_value(rows: Iterable[Row]) -> dict[str, list[dict[str, int]]]:
    grouped: dict[str, list[dict[str, int]]] = {}
    for row in rows:
        grouped.setdefault(row.value, []).append(row.counts)
    return grouped


# groups ------------------------------------------------------------------------------------------


def group_label(config: DeskConfig, dim: str | None, value: str, names: Mapping[str, str]) -> str:
    """How a value of a dimension reads: the configured label, an agent's name, or the value itself."""
    if dim in (None, ALL):
        return ALL_LABEL
    if value == NONE and dim == "assignee":
        return UNASSIGNED_LABEL
    if value == NONE and dim == "team":
        return NO_TEAM_LABEL
    if dim == "assignee":
        return names.get(value, value)
    if dim == "priority":
        return config.priority(value).label
    if dim == "type":
        found = config.type_named(value)
        return found.label if found else value
    if dim == "team":
        team = config.teams.get(value)
        return team.label if team else value
    return value


def ordered_values(config: DeskConfig, dim: str | None, values: Iterable[str], names: Mapping[str, str]) -> list[str]:
    """Values in report order: priorities by rank, types and teams as configured, agents by name; then values
    no longer configured (or agents without a name) by key; "-" last."""
    if dim == "priority":
        known = [p.key for p in config.priorities_by_rank()]
    elif dim == "type":
        known = list(config.types)
    elif dim == "team":
        known = list(config.teams)
    elif dim == "assignee":
        known = sorted((v for v in set(values) if v in names), key=lambda v: (names[v].casefold(), names[v], v))
    else:
        known = []
    position = {value: index for index, value in enumerate(known)}

    def order(value: str) -> tuple[int, int, str]:
        if value == NONE:
            return (2, 0, value)
        if value in position:
            return (0, position[value], value)
        return (1, 0, value)

    return sorted(set(values), key=order)


# SLA ---------------------------------------------------------------------------------------------


def _timer(cells: list[dict[str, int]], timer: str) -> dict[str, Any]:
    met_count, breached_count = _sum(cells, met(timer)), _sum(cells, breached(timer))
    spans = _merged(cells, duration_prefix(timer))
    return {
        "met": met_count,
        "breached": breached_count,
        "compliance_percent": percent(met_count, met_count + breached_count),
        "measured": sum(spans.values()),
        **duration_figures(spans),
    }


def _sla_group(key: str, label: str, cells: list[dict[str, int]]) -> dict[str, Any]:
    first, resolution = _timer(cells, FIRST_RESPONSE), _timer(cells, RESOLUTION)
    return {
        "key": key,
        "label": label,
        FIRST_RESPONSE: first,
        RESOLUTION: resolution,
        "breaches": first["breached"] + resolution["breached"],
    }


def _sla_empty(group: Mapping[str, Any]) -> bool:
    return all(not group[t][n] for t in TIMERS for n in ("met", "breached", "measured"))


def sla_report(
    config: DeskConfig, period: Period, group_by: str | None, rows: list[Row], names: Mapping[str, str]
) -> dict[str, Any]:
    """Met and breached first responses and resolutions, with median and p90 business times, per group."""
    rows = _in_period(period, rows)
    grouped = _by_value(rows)
    groups = [
        _sla_group(value, group_label(config, group_by, value, names), grouped[value])
        for value in ordered_values(config, group_by, grouped, names)
    ]
    return {
        **_common(config, period),
        "group_by": group_by,
        "groups": [g for g in groups if not _sla_empty(g)],
        "total": _sla_group(ALL, ALL_LABEL, [row.counts for row in rows]),
    }


# time in status ----------------------------------------------------------------------------------


def _loops(cells: list[dict[str, int]]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for counts in cells:
        for name, count in counts.items():
            if not name.startswith(LOOP_PREFIX):
                continue
            source, slash, target = name[len(LOOP_PREFIX) :].partition("/")
            if source and slash and target:
                found[(source, target)] = found.get((source, target), 0) + count
    return {move: count for move, count in found.items() if count}


def _dwelled(cells: list[dict[str, int]]) -> list[str]:
    """Statuses with a finished stay in the cells, in the order first seen."""
    found: dict[str, int] = {}
    for counts in cells:
        for name, count in counts.items():
            if name.startswith(_DWELL):
                status, _, rest = name[len(_DWELL) :].rpartition("/")
                if status and rest.isdigit():
                    found[status] = found.get(status, 0) + count
    return [status for status, count in found.items() if count > 0]


def time_in_status_report(
    config: DeskConfig, period: Period, ticket_type: str | None, rows: list[Row]
) -> dict[str, Any]:
    """How long finished stays in each status lasted, how often tickets came back to one, and which moves
    went back to a status a ticket had been in before."""
    cells = [row.counts for row in _in_period(period, rows)]
    if ticket_type is not None and ticket_type in config.types:
        listed = list(config.workflow_of(ticket_type).statuses)
    else:
        listed = list(config.statuses)
    loops = _loops(cells)
    seen = set(_dwelled(cells)) | {s for move in loops for s in move}
    extra = sorted(seen - set(listed))
    statuses = []
    for key in [*listed, *extra]:
        status = config.status(key)
        stays = _merged(cells, dwell_prefix(key))
        statuses.append(
            {
                "status": key,
                "label": status.label,
                "category": status.category,
                "stays": sum(stays.values()),
                **duration_figures(stays),
                "returns": sum(count for (_, target), count in loops.items() if target == key),
            }
        )
    ordered = sorted(loops.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
    return {
        **_common(config, period),
        "type": ticket_type,
        "statuses": statuses,
        "loops": [
            {
                "from": source,
                "from_label": config.status(source).label,
                "to": target,
                "to_label": config.status(target).label,
                "count": count,
            }
            for (source, target), count in ordered
        ],
    }


# workload ----------------------------------------------------------------------------------------


def _tickets(count: int, verb: str, *, noun: bool) -> str:
    """'1 ticket arrived', '3 were resolved', 'no tickets arrived', 'none were resolved'."""
    if count == 0:
        return f"no tickets {verb}" if noun else f"none were {verb}"
    if noun:
        return f"{count} ticket{'' if count == 1 else 's'} {verb}"
    return f"{count} {'was' if count == 1 else 'were'} {verb}"


def backlog_statement(period: Period, arrivals: int, reopened: int, resolutions: int) -> tuple[str, str]:
    """The backlog's trend over the period and a sentence a manager reads at a glance."""
    if period.first == period.last:
        span = f"on {day_label(period.first)}"
    else:
        span = f"between {day_label(period.first)} and {day_label(period.last)}"
    if not (arrivals or reopened or resolutions):
        return "steady", f"Steady: no tickets arrived, were reopened or were resolved {span}."
    came = _tickets(arrivals, "arrived", noun=True)
    if reopened:
        came += f" and {_tickets(reopened, 'reopened', noun=False)}"
    went = _tickets(resolutions, "resolved", noun=False)
    net = arrivals + reopened - resolutions
    if net > 0:
        return "growing", f"Growing: {came}, but {went} {span}, so the backlog grew by {net}."
    if net < 0:
        return "shrinking", f"Shrinking: {came}, but {went} {span}, so the backlog shrank by {-net}."
    joined = f"{came}, and {went}" if reopened else f"{came} and {went}"
    source = "arrived or were reopened" if reopened else "arrived"
    return "steady", f"Steady: {joined} {span}, so as many were resolved as {source}."


def _open_list(
    config: DeskConfig, dim: str, open_counts: Mapping[tuple[str, str], int], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    values = [value for (d, value), count in open_counts.items() if d == dim and count > 0]
    return [
        {"key": value, "label": group_label(config, dim, value, names), "open": open_counts[(dim, value)]}
        for value in ordered_values(config, dim, values, names)
    ]


def workload_report(
    config: DeskConfig,
    period: Period,
    rows: list[Row],
    open_counts: Mapping[tuple[str, str], int],
    names: Mapping[str, str],
) -> dict[str, Any]:
    """Arrivals, resolutions and reopenings day by day, whether the backlog grew, and what is open now."""
    by_day: dict[str, list[dict[str, int]]] = {}
    for row in _in_period(period, rows):
        by_day.setdefault(row.day, []).append(row.counts)
    days: list[dict[str, Any]] = []
    for day in day_range(period.first, period.last):
        cells = by_day.get(day.isoformat(), [])
        days.append(
            {
                "date": day.isoformat(),
                "arrivals": _sum(cells, OPENED),
                "resolutions": _sum(cells, RESOLVED),
                "reopened": _sum(cells, REOPENED),
            }
        )
    arrivals: int = sum(d["arrivals"] for d in days)
    resolutions: int = sum(d["resolutions"] for d in days)
    reopened: int = sum(d["reopened"] for d in days)
    trend, statement = backlog_statement(period, arrivals, reopened, resolutions)
    return {
        **_common(config, period),
        "days": days,
        "totals": {
            "arrivals": arrivals,
            "resolutions": resolutions,
            "reopened": reopened,
            "net_change": arrivals + reopened - resolutions,
        },
        "backlog": {"trend": trend, "statement": statement},
        "open_now": {
            "total": open_counts.get((ALL, ALL), 0),
            "by_assignee": _open_list(config, "assignee", open_counts, names),
            "by_team": _open_list(config, "team", open_counts, names),
        },
    }


# satisfaction ------------------------------------------------------------------------------------


def _satisfaction_group(key: str, label: str, cells: list[dict[str, int]], scale: int) -> dict[str, Any]:
    sent, answered = _sum(cells, SURVEY_SENT_COUNT), _sum(cells, SURVEY_ANSWERED_COUNT)
    ratings = _merged(cells, RATING_PREFIX)
    rated = sum(ratings.values())
    distribution = {str(n): ratings.get(n, 0) for n in sorted(set(range(1, scale + 1)) | set(ratings))}
    return {
        "key": key,
        "label": label,
        "sent": sent,
        "answered": answered,
        "response_rate_percent": percent(answered, sent),
        "average": round(sum(n * c for n, c in ratings.items()) / rated, 2) if rated else None,
        "distribution": distribution,
    }


def _satisfaction_empty(group: Mapping[str, Any]) -> bool:
    return not (group["sent"] or group["answered"] or any(group["distribution"].values()))


def satisfaction_report(
    config: DeskConfig,
    period: Period,
    group_by: str | None,
    rows: list[Row],
    comments: list[dict[str, Any]],
    comments_next: str | None,
    names: Mapping[str, str],
) -> dict[str, Any]:
    """Surveys sent and answered, the average rating and its distribution per group, and the comments."""
    rows = _in_period(period, rows)
    scale = config.survey.scale
    grouped = _by_value(rows)
    groups = [
        _satisfaction_group(value, group_label(config, group_by, value, names), grouped[value], scale)
        for value in ordered_values(config, group_by, grouped, names)
    ]

    def group_of(comment: Mapping[str, Any]) -> dict[str, str] | None:
        if group_by in (None, ALL):
            return None
        raw = comment.get(group_by)
        value = NONE if raw in (None, "") else str(raw)
        return {"key": value, "label": group_label(config, group_by, value, names)}

    return {
        **_common(config, period),
        "group_by": group_by,
        "scale": scale,
        "groups": [g for g in groups if not _satisfaction_empty(g)],
        "total": _satisfaction_group(ALL, ALL_LABEL, [row.counts for row in rows], scale),
        "comments": [
            {
                "ticket_id": c.get("ticket_id"),
                "ref": c.get("ref"),
                "day": c.get("day"),
                "answered_at": c.get("answered_at"),
                "rating": c.get("rating"),
                "comment": c.get("comment"),
                "group": group_of(c),
            }
            for c in comments
        ],
        "comments_next": comments_next,
    }


# tables ------------------------------------------------------------------------------------------

Table = tuple[list[str], list[list[Any]]]

# The human forms sit beside the seconds: a reader sees "3h 5m", a formula still sums the seconds.
_FIGURES = (
    "met",
    "breached",
    "compliance_percent",
    "measured",
    "median_seconds",
    "median_text",
    "p90_seconds",
    "p90_text",
)


def _cells(values: Iterable[Any]) -> list[Any]:
    return ["" if value is None else value for value in values]


def _key_cell(key: str) -> str:
    """A group's key as a table shows it: empty for "no assignee" or "no team", whose label ("Unassigned",
    "No team") says it plainly; "-" would reach a spreadsheet as the defused text "'-"."""
    return "" if key == NONE else key


def _with_total(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The groups then the total; ungrouped, the one group is the total already."""
    groups: list[Mapping[str, Any]] = list(report["groups"])
    if report.get("group_by") in (None, ALL) and groups:
        return groups
    return [*groups, report["total"]]


def _sla_tables(report: Mapping[str, Any]) -> dict[str, Table]:
    header = ["group", "label"]
    for timer in TIMERS:
        header += [f"{timer}_{name}" for name in _FIGURES]
    header.append("breaches")
    rows = []
    for group in _with_total(report):
        row = [_key_cell(group["key"]), group["label"]]
        for timer in TIMERS:
            row += [group[timer][name] for name in _FIGURES]
        row.append(group["breaches"])
        rows.append(_cells(row))
    return {"groups": (header, rows)}


def _time_in_status_tables(report: Mapping[str, Any]) -> dict[str, Table]:
    status_header = [
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
    loop_header = ["from", "from_label", "to", "to_label", "count"]
    return {
        "statuses": (status_header, [_cells(s[name] for name in status_header) for s in report["statuses"]]),
        "loops": (loop_header, [_cells(move[name] for name in loop_header) for move in report["loops"]]),
    }


def _workload_tables(report: Mapping[str, Any]) -> dict[str, Table]:
    day_header = ["date", "arrivals", "resolutions", "reopened"]
    days = [_cells(day[name] for name in day_header) for day in report["days"]]
    totals = report["totals"]
    days.append(["total", totals["arrivals"], totals["resolutions"], totals["reopened"]])
    open_now = report["open_now"]
    open_rows = [
        _cells([dim, _key_cell(item["key"]), item["label"], item["open"]])
        for dim, items in (("assignee", open_now["by_assignee"]), ("team", open_now["by_team"]))
        for item in items
    ]
    return {"days": (day_header, days), "open": (["dimension", "key", "label", "open"], open_rows)}


def _satisfaction_tables(report: Mapping[str, Any]) -> dict[str, Table]:
    groups = _with_total(report)
    ratings = sorted(
        set(range(1, int(report["scale"]) + 1)) | {int(n) for g in groups for n in g["distribution"]},
    )
    header = ["group", "label", "sent", "answered", "response_rate_percent", "average"]
    header += [f"rating_{n}" for n in ratings]
    rows = [
        _cells(
            [_key_cell(g["key"]), g["label"], g["sent"], g["answered"], g["response_rate_percent"], g["average"]]
            + [g["distribution"].get(str(n), 0) for n in ratings]
        )
        for g in groups
    ]
    comment_header = ["day", "ref", "ticket_id", "rating", "group", "answered_at", "comment"]
    comment_rows = [
        _cells(
            [
                c["day"],
                c["ref"],
                c["ticket_id"],
                c["rating"],
                _key_cell(c["group"]["key"]) if c["group"] else None,
                c["answered_at"],
                c["comment"],
            ]
        )
        for c in report["comments"]
    ]
    return {"groups": (header, rows), "comments": (comment_header, comment_rows)}


def tables(name: str, report: Mapping[str, Any]) -> dict[str, Table]:
    """The spreadsheet tables of a report, by table name; the first is the one a download gets by default."""
    if name == "sla":
        return _sla_tables(report)
    if name == "time-in-status":
        return _time_in_status_tables(report)
    if name == "workload":
        return _workload_tables(report)
    if name == "satisfaction":
        return _satisfaction_tables(report)
    raise ValueError(f"unknown report {name!r}; one of {', '.join(REPORTS)}")
