"""What-if SLA: the timers of a period's tickets under the configured policy and under a proposed one, side by side.

No arithmetic of its own: a ticket's timers under a policy are `sla.track` of its `sla.timeline` under the
configuration with that policy, brought to a moment by `sla.view`, exactly as the live timers are. What this module
adds is the judging (an outcome per timer), the figures per priority and in all, and the tickets that flip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain import sla
from chalicelib.domain.config import BusinessCalendar, DeskConfig, SlaPolicy
from chalicelib.domain.durations import duration_text
from chalicelib.domain.reports import ALL_LABEL, percent, seconds
from chalicelib.domain.sla import FIRST_RESPONSE, RESOLUTION
from chalicelib.domain.tickets import stamp

TIMERS = (FIRST_RESPONSE, RESOLUTION)
MET, BREACHED, RUNNING, PAUSED, STOPPED = "met", "breached", "running", "paused", "stopped"
CURRENT, PROPOSED = "current", "proposed"


@dataclass(frozen=True)
class Outcome:
    """One timer judged at a moment: met (in time), breached (over its target, whether met later or not), running,
    paused (in a waiting status) or stopped (closed without a reply); `elapsed` on the timer's own clock."""

    outcome: str
    elapsed: timedelta
    met: bool  # it stopped by being met, in time or late: `elapsed` is then the time it took


@dataclass(frozen=True)
class TicketReplay:
    ticket_id: str
    ref: str
    title: str
    priority: str  # the current one, whose target judges both timers
    current: Mapping[str, Outcome]  # timer kind -> outcome; empty for a priority without targets
    proposed: Mapping[str, Outcome]


def with_policy(config: DeskConfig, policy: SlaPolicy) -> DeskConfig:
    """The desk's configuration with another SLA policy: what the proposed timers are computed under."""
    return replace(config, sla=policy)


def judge(calendar: BusinessCalendar, tracker: sla.Tracker, now: datetime) -> dict[str, Outcome]:
    """A tracker's timers at `now`, as the ticket views show them (`sla.view`)."""
    judged: dict[str, Outcome] = {}
    for timer in tracker.timers:
        shown = sla.view(calendar, timer, now)
        state = BREACHED if shown.breached else shown.state
        judged[timer.kind] = Outcome(state, shown.elapsed, timer.met_at is not None)
    return judged


def replay(config: DeskConfig, line: sla.Timeline, now: datetime) -> tuple[sla.Tracker, dict[str, Outcome]]:
    """A ticket's tracker recomputed from its history under `config`, and its timers at `now`."""
    tracker = sla.track(config, line)
    return tracker, judge(config.sla.calendar, tracker, now)


def _timer_figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    counts = {name: sum(1 for o in outcomes if o.outcome == name) for name in (MET, BREACHED, RUNNING, PAUSED, STOPPED)}
    taken: dict[int, int] = {}
    for o in outcomes:
        if o.met:
            whole = int(o.elapsed.total_seconds() + 0.5)
            taken[whole] = taken.get(whole, 0) + 1
    median = seconds(taken, 0.5)
    return {
        "met": counts[MET],
        "breached": counts[BREACHED],
        "running": counts[RUNNING] + counts[PAUSED],
        "paused": counts[PAUSED],
        "stopped": counts[STOPPED],
        "compliance_percent": percent(counts[MET], counts[MET] + counts[BREACHED]),
        "measured": sum(taken.values()),
        "median_seconds": median,
        "median_text": duration_text(median),
    }


def column(replays: Sequence[TicketReplay], side: str) -> dict[str, Any]:
    """One side's figures for a group of tickets."""
    judged = [r.current if side == CURRENT else r.proposed for r in replays]
    return {
        "tickets": len(replays),
        **{kind: _timer_figures([j[kind] for j in judged if kind in j]) for kind in TIMERS},
    }


def _targets(config: DeskConfig, policy: SlaPolicy, key: str) -> dict[str, Any] | None:
    target = policy.targets.get(key)
    if target is None:
        return None
    return {
        "first_response_seconds": target.first_response_minutes * 60,
        "first_response_text": duration_text(target.first_response_minutes * 60),
        "resolution_seconds": target.resolution_minutes * 60,
        "resolution_text": duration_text(target.resolution_minutes * 60),
        "clock": target.clock,
    }


def _priorities(config: DeskConfig, seen: Iterable[str]) -> list[str]:
    """Configured priorities by rank, then those only tickets still have, by key."""
    known = [p.key for p in config.priorities_by_rank()]
    return known + sorted(set(seen) - set(known))


def flips(replays: Iterable[TicketReplay]) -> list[dict[str, Any]]:
    """Timers breached on one side and not on the other, in ticket order, first response first."""
    found: list[dict[str, Any]] = []
    for r in replays:
        for kind in TIMERS:
            before, after = r.current.get(kind), r.proposed.get(kind)
            if before is None or after is None or (before.outcome == BREACHED) == (after.outcome == BREACHED):
                continue
            found.append(
                {
                    "ticket_id": r.ticket_id,
                    "ref": r.ref,
                    "title": r.title,
                    "priority": r.priority,
                    "timer": kind,
                    CURRENT: before.outcome,
                    PROPOSED: after.outcome,
                    "current_elapsed_seconds": round(before.elapsed.total_seconds()),
                    "proposed_elapsed_seconds": round(after.elapsed.total_seconds()),
                }
            )
    return found


def answer(
    config: DeskConfig,
    proposed: SlaPolicy,
    first: date,
    last: date,
    now: datetime,
    replays: Sequence[TicketReplay],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The what-if document: the policies, both columns per priority and in all, and the flipping timers."""

    def group(key: str, label: str, members: Sequence[TicketReplay]) -> dict[str, Any]:
        return {"key": key, "label": label, CURRENT: column(members, CURRENT), PROPOSED: column(members, PROPOSED)}

    groups = [group("all", ALL_LABEL, replays)] + [
        group(key, config.priority(key).label, [r for r in replays if r.priority == key])
        for key in _priorities(config, (r.priority for r in replays))
    ]
    changed = flips(replays)
    counts: dict[str, int] = {}
    for flip in changed:
        name = f"{flip[CURRENT]}_to_{flip[PROPOSED]}"
        counts[name] = counts.get(name, 0) + 1
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "time_zone": config.sla.calendar.timezone,
        "now": stamp(now),
        "tickets": len(replays),
        "targets": [
            {
                "priority": key,
                "label": config.priority(key).label,
                CURRENT: _targets(config, config.sla, key),
                PROPOSED: _targets(config, proposed, key),
            }
            for key in _priorities(config, proposed.targets)
        ],
        "groups": groups,
        "flips": changed,
        "flip_counts": dict(sorted(counts.items())),
        **extra,
    }
