"""What one ticket adds to the report aggregates, and the small histograms that keep durations.

A ticket's contribution is computed from its whole history, like its tracker, each time the stream
pipeline refreshes it. The store keeps the contribution it last applied beside the tracker and adds only
the difference to the aggregates, so a redelivered record changes nothing, a late record corrects what it
affects, and a reopened ticket takes back its earlier resolution outcome.

Aggregates are counters in cells: one cell per local day and per value of a dimension (and the whole desk),
plus "open now" gauges. Durations are counted in buckets of three significant figures of a second (at most
0.5 % off), so a day's cell stays small however many tickets it counts, and median and 90th percentile can
still be read from the counts.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from chalicelib.domain.config import DeskConfig
from chalicelib.domain.history import (
    ASSIGNEE_CHANGED,
    CREATED,
    PRIORITY_CHANGED,
    STATUS_CHANGED,
    SURVEY_ANSWERED,
    SURVEY_SENT,
    TEAM_CHANGED,
    HistoryEvent,
)
from chalicelib.domain.sla import DONE, FIRST_RESPONSE, RESOLUTION, Tracker
from chalicelib.domain.tickets import stamp

ALL = "all"  # the dimension (and its only value) that counts the whole desk
DIMENSIONS = ("type", "priority", "team", "assignee")
GAUGE_DIMENSIONS = (ALL, "status", *DIMENSIONS)
NONE = "-"  # the value of an unset team or assignee
TIMERS = (FIRST_RESPONSE, RESOLUTION)

OPENED = "opened"
RESOLVED = "resolved"  # entries into a "done" status from an open one
REOPENED = "reopened"  # entries into an open status from a "done" one
SURVEY_SENT_COUNT = "survey_sent"
SURVEY_ANSWERED_COUNT = "survey_answered"
OPEN = "open"  # the gauge's only counter


def met(timer: str) -> str:
    """Timers met within their target, counted on the day they were met."""
    return f"{timer}_met"


def breached(timer: str) -> str:
    """Timers that went over their target, counted on the day they did (whether or not met later)."""
    return f"{timer}_breached"


def duration_prefix(timer: str) -> str:
    """Histogram of the time a met timer used on its clock (business or calendar, as its target), waiting
    statuses excluded, counted on the day it was met."""
    return f"{timer}_s/"


def dwell_prefix(status: str) -> str:
    """Histogram of finished stays in a status (business time), counted on the day the stay ended."""
    return f"dwell/{status}/"


LOOP_PREFIX = "loop/"  # loop/<from>/<to>: a move into a status the ticket had been in before
RATING_PREFIX = "rating/"  # rating/<n>: the latest rating of each answered survey, on the survey's day


def loop(source: str, target: str) -> str:
    return f"{LOOP_PREFIX}{source}/{target}"


def rating(value: int) -> str:
    return f"{RATING_PREFIX}{value}"


# histograms --------------------------------------------------------------------------------------


def bucket(seconds: float) -> int:
    """Whole seconds to three significant figures: 59 -> 59, 5_401 -> 5_400, 123_456 -> 123_000."""
    value = max(0, math.floor(seconds + 0.5))
    if value < 1000:
        return value
    step: int = 10 ** (len(str(value)) - 3)
    return (value + step // 2) // step * step


def histogram(counts: Mapping[str, int], prefix: str) -> dict[int, int]:
    """The buckets under `prefix` in one cell's counters (empty buckets left out)."""
    found: dict[int, int] = {}
    for name, count in counts.items():
        if count and name.startswith(prefix):
            rest = name[len(prefix) :]
            if rest.isdigit():
                found[int(rest)] = found.get(int(rest), 0) + count
    return found


def merge(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for one in histograms:
        for value, count in one.items():
            total[value] = total.get(value, 0) + count
    return total


def percentile(values: Mapping[int, int], share: float) -> float | None:
    """The `share` percentile (0..1) of a histogram by linear interpolation between the closest ranks.

    The same method as a spreadsheet's PERCENTILE.INC, so the median of an even count is the mean of the two
    middle values. None for an empty histogram.
    """
    ordered = sorted((v, c) for v, c in values.items() if c > 0)
    n = sum(c for _, c in ordered)
    if n == 0:
        return None
    rank = share * (n - 1)
    low, high = math.floor(rank), math.ceil(rank)

    def at(index: int) -> int:
        seen = 0
        for value, count in ordered:
            seen += count
            if index < seen:
                return value
        return ordered[-1][0]

    low_value = at(low)
    return low_value + (rank - low) * (at(high) - low_value)


# contributions -----------------------------------------------------------------------------------


class Cell(NamedTuple):
    """Where a counter lives: a dimension, a local day ("" for the open-now gauges) and the dimension's value."""

    dim: str
    day: str
    value: str

    @property
    def text(self) -> str:
        return f"{self.dim}|{self.day}|{self.value}"

    @staticmethod
    def parse(text: str) -> Cell:
        dim, day, value = text.split("|", 2)
        return Cell(dim, day, value)


class CommentKey(NamedTuple):
    """A survey comment is kept under the survey's day and the ticket."""

    day: str
    ticket_id: str

    @property
    def text(self) -> str:
        return f"{self.day}|{self.ticket_id}"

    @staticmethod
    def parse(text: str) -> CommentKey:
        day, ticket_id = text.split("|", 1)
        return CommentKey(day, ticket_id)


@dataclass(frozen=True)
class Contribution:
    counters: dict[Cell, dict[str, int]] = field(default_factory=dict)
    comments: dict[CommentKey, dict[str, Any]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "counters": {cell.text: dict(sorted(counts.items())) for cell, counts in sorted(self.counters.items())},
            "comments": {key.text: doc for key, doc in sorted(self.comments.items())},
        }

    @staticmethod
    def from_document(doc: Mapping[str, Any] | None) -> Contribution:
        if not doc:
            return Contribution()
        return Contribution(
            {Cell.parse(k): {a: int(n) for a, n in v.items()} for k, v in doc.get("counters", {}).items()},
            {CommentKey.parse(k): dict(v) for k, v in doc.get("comments", {}).items()},
        )


@dataclass(frozen=True)
class Change:
    """What applying a new contribution in place of the old one writes."""

    deltas: dict[Cell, dict[str, int]]
    comment_puts: dict[CommentKey, dict[str, Any]]
    comment_deletes: list[CommentKey]

    @property
    def empty(self) -> bool:
        return not (self.deltas or self.comment_puts or self.comment_deletes)


def difference(old: Contribution, new: Contribution) -> Change:
    deltas: dict[Cell, dict[str, int]] = {}
    for cell in set(old.counters) | set(new.counters):
        before, after = old.counters.get(cell, {}), new.counters.get(cell, {})
        changed = {a: after.get(a, 0) - before.get(a, 0) for a in set(before) | set(after)}
        changed = {a: n for a, n in sorted(changed.items()) if n}
        if changed:
            deltas[cell] = changed
    puts = {key: doc for key, doc in new.comments.items() if old.comments.get(key) != doc}
    deletes = [key for key in old.comments if key not in new.comments]
    return Change(dict(sorted(deltas.items())), dict(sorted(puts.items())), sorted(deletes))


def local_day(zone: ZoneInfo, moment: datetime) -> str:
    return moment.astimezone(zone).date().isoformat()


def day_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class _Dims:
    type: str
    priority: str
    team: str
    assignee: str

    def values(self) -> dict[str, str]:
        return {"type": self.type, "priority": self.priority, "team": self.team, "assignee": self.assignee}


def _value(raw: Any) -> str:
    return NONE if raw in (None, "") else str(raw)


class _Builder:
    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.counters: dict[Cell, dict[str, int]] = {}

    def add(self, moment: datetime, dims: _Dims, name: str, amount: int = 1) -> None:
        day = local_day(self.zone, moment)
        for dim, value in ((ALL, ALL), *dims.values().items()):
            counts = self.counters.setdefault(Cell(dim, day, value), {})
            counts[name] = counts.get(name, 0) + amount

    def gauge(self, values: Mapping[str, str]) -> None:
        for dim, value in values.items():
            self.counters.setdefault(Cell(dim, "", value), {})[OPEN] = 1


def _write_of(event: HistoryEvent) -> str:
    """Events of one ticket write share their key up to the version ("<time>#<version>#<order>"): changes
    made together. A comment's or a job's event is a write of its own."""
    parts = event.key.split("#")
    return "#".join(parts[:2]) if len(parts) == 3 and parts[1].isdigit() else event.key


_DIM_KINDS = {PRIORITY_CHANGED: "priority", ASSIGNEE_CHANGED: "assignee", TEAM_CHANGED: "team"}


def contributions(
    config: DeskConfig,
    tracker: Tracker,
    events: Sequence[HistoryEvent],
    now: datetime,
    ref: str | None = None,
) -> Contribution:
    """Everything this ticket adds to the aggregates, as of `now`.

    Counts are attributed to the ticket's type, priority, team and assignee as they were right after the
    change counted (a change and an assignment made together count under the new assignee). SLA outcomes are
    counted under the priority whose target judged them: the current one.
    """
    calendar = config.sla.calendar
    zone = ZoneInfo(calendar.timezone)
    ordered = sorted(events, key=lambda e: e.key)
    created = next((e for e in ordered if e.kind == CREATED), None)
    if created is None:
        return Contribution()
    build = _Builder(zone)
    dims = _Dims(
        str(created.data["type"]),
        str(created.data["priority"]),
        _value(created.data.get("team")),
        _value(created.data.get("assignee")),
    )
    moments: list[datetime] = []
    snapshots: list[_Dims] = []
    visited = {str(created.data["status"])}
    sends: list[tuple[datetime, _Dims]] = []
    answers: list[HistoryEvent] = []
    index = 0
    while index < len(ordered):
        write = _write_of(ordered[index])
        group = [ordered[index]]
        index += 1
        while index < len(ordered) and _write_of(ordered[index]) == write:
            group.append(ordered[index])
            index += 1
        for event in group:
            name = _DIM_KINDS.get(event.kind)
            if name is not None:
                dims = _Dims(**{**dims.values(), name: _value(event.data.get("to"))})
        moments.append(group[0].at)
        snapshots.append(dims)
        for event in group:
            _count_event(build, event, dims, visited, sends, answers)
    _count_sla(build, tracker, now, moments, snapshots)
    comments = _count_survey(build, sends, answers, moments, snapshots, created.ticket_id, ref)
    if tracker.category != DONE:
        build.gauge({ALL: ALL, "status": tracker.status, **dims.values()})
    return Contribution(build.counters, comments)


def _count_event(
    build: _Builder,
    event: HistoryEvent,
    dims: _Dims,
    visited: set[str],
    sends: list[tuple[datetime, _Dims]],
    answers: list[HistoryEvent],
) -> None:
    if event.kind == CREATED:
        build.add(event.at, dims, OPENED)
    elif event.kind == STATUS_CHANGED:
        source, target = str(event.data["from"]), str(event.data["to"])
        was_done, is_done = event.data.get("from_category") == DONE, event.data.get("to_category") == DONE
        if is_done and not was_done:
            build.add(event.at, dims, RESOLVED)
        elif was_done and not is_done:
            build.add(event.at, dims, REOPENED)
        seconds = float(event.data.get("business_seconds") or 0)
        build.add(event.at, dims, dwell_prefix(source) + str(bucket(seconds)))
        if target in visited:
            build.add(event.at, dims, loop(source, target))
        visited.add(target)
    elif event.kind == SURVEY_SENT:
        build.add(event.at, dims, SURVEY_SENT_COUNT)
        sends.append((event.at, dims))
    elif event.kind == SURVEY_ANSWERED:
        answers.append(event)


def _dims_at(moments: list[datetime], snapshots: list[_Dims], moment: datetime) -> _Dims:
    position = bisect_right(moments, moment) - 1
    return snapshots[max(position, 0)]


def _count_sla(
    build: _Builder,
    tracker: Tracker,
    now: datetime,
    moments: list[datetime],
    snapshots: list[_Dims],
) -> None:
    for timer in tracker.timers:
        if timer.kind not in TIMERS:
            continue
        if timer.breached_at is not None and timer.breached_at < now:
            outcome, moment = breached(timer.kind), timer.breached_at
        elif timer.met_at is not None:
            outcome, moment = met(timer.kind), timer.met_at
        else:
            continue
        dims = _dims_at(moments, snapshots, moment)
        judged = _Dims(dims.type, tracker.priority, dims.team, dims.assignee)
        build.add(moment, judged, outcome)
        if timer.met_at is not None:  # a met timer has stopped: what it used is its duration, on its own clock
            met_dims = _dims_at(moments, snapshots, timer.met_at)
            build.add(
                timer.met_at,
                _Dims(met_dims.type, tracker.priority, met_dims.team, met_dims.assignee),
                duration_prefix(timer.kind) + str(bucket(timer.elapsed.total_seconds())),
            )


def _count_survey(
    build: _Builder,
    sends: list[tuple[datetime, _Dims]],
    answers: list[HistoryEvent],
    moments: list[datetime],
    snapshots: list[_Dims],
    ticket_id: str,
    ref: str | None,
) -> dict[CommentKey, dict[str, Any]]:
    """One answer per ticket: its latest rating, counted on the day of the survey it answered."""
    if not answers:
        return {}
    first, last = answers[0], answers[-1]
    earlier = [(at, dims) for at, dims in sends if at <= first.at]
    moment, dims = earlier[-1] if earlier else (first.at, _dims_at(moments, snapshots, first.at))
    build.add(moment, dims, SURVEY_ANSWERED_COUNT)
    value = last.data.get("rating")
    if isinstance(value, int):
        build.add(moment, dims, rating(value))
    comment = str(last.data.get("comment") or "").strip()
    if not comment:
        return {}
    key = CommentKey(local_day(build.zone, moment), ticket_id)
    return {
        key: {
            "ticket_id": ticket_id,
            "ref": last.data.get("ref") or ref,
            "rating": value if isinstance(value, int) else None,
            "comment": comment,
            "answered_at": stamp(last.at),
            **dims.values(),
        }
    }
