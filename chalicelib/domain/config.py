"""The desk configuration: ticket types, workflows, priorities, SLA policy, validated on load."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.attachments import AttachmentLimits, parse_limits
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.prices import Prices, parse_cost

CATEGORIES = ("new", "active", "waiting", "done")
ROLES = ("agent", "requester")
FIELD_TYPES = ("text", "long_text", "email", "number", "date", "url", "choice")
CLOCKS = ("business", "calendar")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Names a type's intake field may not take: the form and the JSON body already use them.
RESERVED_FIELD_NAMES = frozenset(
    {
        "type",
        "subject",
        "description",
        "requester_name",
        "requester_email",
        "priority",
        "fields",
        "website",
        "form_token",
        "version",
    }
)
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DURATION_PATTERN = re.compile(r"^(\d+)\s*([mhd])$")
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DURATION_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}
EMAIL_PATTERN = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
AUDIENCES = ("requester", "assignee", "team")
# What an administrator's message text may name; anything else in braces is refused, never evaluated.
PLACEHOLDERS = ("ref", "subject", "status", "desk", "name")
PLACEHOLDER_PATTERN = re.compile(r"\{([^{}]*)\}")
MESSAGE_LIMIT = 4000
# A public holiday source's country or subdivision code ("GB", "ENG"; its aliases, "Northern Ireland", too).
REGION_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")


@dataclass(frozen=True)
class Priority:
    key: str
    label: str
    rank: int
    description: str = ""


@dataclass(frozen=True)
class Status:
    key: str
    label: str
    category: str
    description: str = ""
    # Where a requester's reply (a comment by mail or on the portal page) moves a ticket in this status; None: stays.
    on_requester_reply: str | None = None

    @property
    def is_open(self) -> bool:
        return self.category != "done"


@dataclass(frozen=True)
class Transition:
    from_status: str
    to_status: str
    by: frozenset[str]
    label: str

    def allows(self, role: str) -> bool:
        return role in self.by


@dataclass(frozen=True)
class Workflow:
    key: str
    label: str
    initial: str
    statuses: tuple[str, ...]
    transitions: tuple[Transition, ...]

    def transitions_from(self, status: str, role: str) -> list[Transition]:
        return [t for t in self.transitions if t.from_status == status and t.allows(role)]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    max_length: int = 2000


@dataclass(frozen=True)
class TicketType:
    key: str
    label: str
    workflow: str
    fields: tuple[FieldSpec, ...]
    description: str = ""
    team: str | None = None
    default_priority: str | None = None

    def field_named(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Team:
    key: str
    label: str
    email: str | None = None


@dataclass(frozen=True)
class Duration:
    """An amount of time on a clock: on the business clock days are opening days, hours and minutes open time."""

    amount: int
    unit: str  # "m", "h" or "d"
    clock: str

    @property
    def minutes(self) -> int:
        return self.amount * DURATION_UNIT_MINUTES[self.unit]

    def describe(self) -> str:
        words = {"m": "minute", "h": "hour", "d": "day"}
        kind = "business " if self.clock == "business" else ""
        return f"{self.amount} {kind}{words[self.unit]}{'' if self.amount == 1 else 's'}"


@dataclass(frozen=True)
class StaleRule:
    """Remind someone when a ticket stays in `status`: first after `after`, then every `every`, `times` times in all;
    then, optionally, move it to `then` once `every` has passed after the last reminder."""

    status: str
    after: Duration
    every: Duration
    times: int
    remind: str  # "requester", "assignee" (else the team) or "team"
    then: str | None
    message: str


@dataclass(frozen=True)
class SurveySettings:
    enabled: bool
    statuses: frozenset[str]
    delay_minutes: int
    scale: int
    link_days: int
    quiet_days: int  # a ticket done again within this many days of its last survey is not surveyed again


@dataclass(frozen=True)
class EmailSettings:
    reply_to: str | None
    acknowledge: bool
    replies: bool
    assignments: bool
    requester_comments: bool
    status_messages: dict[str, str]  # status key -> the message a requester gets on entering it


@dataclass(frozen=True)
class SlaTarget:
    first_response_minutes: int
    resolution_minutes: int
    clock: str


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str
    # weekday (0 = Monday) -> (opening minute, closing minute) of the local day
    hours: dict[int, tuple[int, int]]
    holidays: frozenset[date]  # the desk's own closed days, on top of the public holidays
    # The public holidays of a country (ISO 3166 code) and optionally one of its subdivisions, from a maintained
    # source (`PublicHolidays`); the desk is closed on them too.
    country: str | None = None
    subdivision: str | None = None
    public_holidays: Container[date] = field(default=frozenset(), compare=False, repr=False)

    def is_closed(self, day: date) -> bool:
        """A holiday: a public one of the calendar's country (and subdivision) or one of the desk's own."""
        return day in self.holidays or day in self.public_holidays


class UnknownHolidayRegion(Exception):
    """A country or subdivision the public holiday source does not know; `field` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field  # "country" or "subdivision"
        self.message = message


class PublicHolidays(Protocol):
    """Where a business calendar's public holidays come from (an adapter around a maintained library)."""

    def closed_days(self, country: str, subdivision: str | None) -> Container[date]:
        """The public holidays of a country or one of its subdivisions, every year (a day `in` it is one);
        UnknownHolidayRegion if the source does not know the country or the subdivision."""
        ...


@dataclass(frozen=True)
class SlaPolicy:
    calendar: BusinessCalendar
    targets: dict[str, SlaTarget]
    at_risk_share: float


@dataclass(frozen=True)
class DeskSettings:
    name: str
    default_type: str
    default_priority: str
    public_priority: bool
    thank_you_url: str | None
    ref_prefix: str
    new_tickets_per_hour: int
    portal_link_days: int
    # Abuse limits on anonymous posts (tickets and portal comments), each per hour: per source IP, comments per
    # requester address, and the desk-wide ceiling on acknowledgements (the mails anyone can make the desk send).
    posts_per_ip_per_hour: int = 60
    portal_comments_per_hour: int = 30
    acknowledgements_per_hour: int = 200
    # The type a new mail's ticket gets by the local part it was sent to ({"bugs": "defect"}); else default_type.
    inbound_aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeskConfig:
    desk: DeskSettings
    teams: dict[str, Team]
    priorities: dict[str, Priority]
    statuses: dict[str, Status]
    workflows: dict[str, Workflow]
    types: dict[str, TicketType]
    sla: SlaPolicy
    document: dict[str, Any] = field(compare=False, repr=False)
    email: EmailSettings = EmailSettings(None, True, True, True, True, {})
    stale_rules: dict[str, StaleRule] = field(default_factory=dict)
    survey: SurveySettings = SurveySettings(False, frozenset(), 60, 5, 28, 30)
    attachments: AttachmentLimits = field(default_factory=AttachmentLimits)
    prices: Prices = field(default_factory=Prices)
    # Days after a ticket is done before its requester's data is erased (chalicelib/services/personal_data.py,
    # run by the hourly stale sweep); None: kept until someone erases it.
    retention_days: int | None = None

    def type_named(self, key: str) -> TicketType | None:
        return self.types.get(key)

    def workflow_of(self, ticket_type: str) -> Workflow:
        return self.workflows[self.types[ticket_type].workflow]

    def status(self, key: str) -> Status:
        """The status with this key; one no longer configured reads as its key."""
        return self.statuses.get(key) or Status(key=key, label=key, category="active")

    def priority(self, key: str) -> Priority:
        return self.priorities.get(key) or Priority(key=key, label=key, rank=99)

    def open_statuses(self) -> list[str]:
        return [s.key for s in self.statuses.values() if s.is_open]

    def priorities_by_rank(self) -> list[Priority]:
        return sorted(self.priorities.values(), key=lambda p: (p.rank, p.key))


def parse_duration(text: str, clock: str) -> Duration:
    """'90m', '4h' or '2d' on a clock."""
    match = DURATION_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a duration like '30m', '4h' or '2d'")
    return Duration(int(match.group(1)), match.group(2), clock)


def fill_placeholders(text: str, values: dict[str, str], pattern: re.Pattern[str] = PLACEHOLDER_PATTERN) -> str:
    """An administrator's text with its placeholders ({ref}, {subject} …; the first group of `pattern` names one)
    filled in from `values`, in one pass: a filled value is never filled again, a name without a value is left as
    written, and nothing is evaluated."""
    return pattern.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def parse_duration_minutes(text: str) -> int:
    """'90m', '4h' or '2d' (a day is 24 hours) as whole minutes."""
    match = DURATION_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a duration like '30m', '4h' or '2d'")
    return int(match.group(1)) * DURATION_UNIT_MINUTES[match.group(2)]


def _known(value: Any, known: dict[str, Any]) -> bool:
    """Whether `value` is one of the keys; a list or object in its place is simply not one."""
    return isinstance(value, str) and value in known


class _Checker:
    """Collects every problem of a document under its path, so one answer names them all."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def obj(self, value: Any, path: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return {}
        for name in sorted(set(value) - allowed):
            self.fail(f"{path}.{name}" if path else name, "is not a known setting")
        for name in sorted(required - set(value)):
            self.fail(f"{path}.{name}" if path else name, "is required")
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        return value

    def text(self, value: Any, path: str, *, optional: bool = False, limit: int = 200) -> str:
        if value is None and optional:
            return ""
        if not isinstance(value, str) or (not value.strip() and not optional):
            self.fail(path, "must be a non-empty string")
            return ""
        if len(value) > limit:
            self.fail(path, f"must be at most {limit} characters")
        return value

    def key(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not KEY_PATTERN.match(value):
            self.fail(path, "must be a key: lower-case letters, digits and _, starting with a letter")
            return ""
        return value

    def flag(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return False
        return value

    def whole(self, value: Any, path: str, low: int, high: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(path, f"must be a whole number from {low} to {high}")
            return low
        return value

    def email(self, value: Any, path: str) -> str | None:
        """An optional address: null or a plain email address."""
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > 254 or not EMAIL_PATTERN.match(value.strip()):
            self.fail(path, "must be an email address or null")
            return None
        return value.strip().lower()

    def message(self, value: Any, path: str, *, optional: bool = False) -> str:
        """An administrator's message text; placeholders are only the known ones."""
        text = self.text(value, path, optional=optional, limit=MESSAGE_LIMIT)
        unknown = sorted({name for name in PLACEHOLDER_PATTERN.findall(text) if name not in PLACEHOLDERS})
        if unknown:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            self.fail(path, f"unknown placeholder {{{unknown[0]}}}; a message may use {known}")
        return text

    def duration(self, value: Any, path: str, clock: str, *, zero: bool = False) -> Duration:
        try:
            duration = parse_duration(value, clock)
        except ValueError as exc:
            self.fail(path, str(exc))
            return Duration(1, "d", clock)
        if duration.amount == 0 and not zero:
            self.fail(path, "must be longer than zero")
        if duration.minutes > 366 * 24 * 60:
            self.fail(path, "must be at most a year")
        return duration

    def unique(self, keys: list[tuple[str, str]], what: str) -> None:
        seen: set[str] = set()
        for path, key in keys:
            if key and key in seen:
                self.fail(path, f"duplicate {what} key {key!r}")
            seen.add(key)


def parse_config(document: Any, public_holidays: PublicHolidays | None = None) -> DeskConfig:
    """Validate a whole configuration document; raise ValidationError naming every bad path.

    `public_holidays` gives a calendar that names a country its public holidays (and checks the codes); without
    it such a calendar is refused.
    """
    c = _Checker()
    doc = c.obj(
        document,
        "",
        {
            "desk", "teams", "priorities", "statuses", "workflows", "types", "sla", "email", "stale_rules", "survey",
            "attachments", "cost", "retention",
        },
        {"desk", "priorities", "statuses", "workflows", "types", "sla"},
    )  # fmt: skip

    teams = _parse_teams(c, doc.get("teams", []))
    priorities = _parse_priorities(c, doc.get("priorities"))
    statuses = _parse_statuses(c, doc.get("statuses"))
    workflows = _parse_workflows(c, doc.get("workflows"), statuses)
    _check_requester_replies(c, statuses, workflows)
    types = _parse_types(c, doc.get("types"), workflows, teams, priorities)
    sla = _parse_sla(c, doc.get("sla"), priorities, public_holidays)
    desk = _parse_desk(c, doc.get("desk"), types, priorities)
    email = _parse_email(c, doc.get("email", {}), statuses)
    stale_rules = _parse_stale_rules(c, doc.get("stale_rules", []), statuses, workflows)
    survey = _parse_survey(c, doc.get("survey"), statuses)
    retention = None if doc.get("retention") is None else c.whole(doc.get("retention"), "retention", 1, 3650)
    attachments = AttachmentLimits()
    try:
        attachments = parse_limits(doc.get("attachments"))
    except ValidationError as error:
        c.errors.update(error.errors)
    prices = Prices()
    try:
        prices = parse_cost(doc.get("cost"))
    except ValidationError as error:
        c.errors.update(error.errors)

    if c.errors:
        raise ValidationError("the desk configuration is not valid", c.errors)
    return DeskConfig(
        desk=desk,
        teams=teams,
        priorities=priorities,
        statuses=statuses,
        workflows=workflows,
        types=types,
        sla=sla,
        document=json.loads(json.dumps(document)),
        email=email,
        stale_rules=stale_rules,
        survey=survey,
        attachments=attachments,
        prices=prices,
        retention_days=retention,
    )


def _parse_teams(c: _Checker, value: Any) -> dict[str, Team]:
    teams: dict[str, Team] = {}
    keys = []
    for i, raw in enumerate(c.items(value, "teams")):
        path = f"teams[{i}]"
        item = c.obj(raw, path, {"key", "label", "email"}, {"key", "label"})
        key = c.key(item.get("key"), f"{path}.key")
        keys.append((f"{path}.key", key))
        teams[key] = Team(
            key=key, label=c.text(item.get("label"), f"{path}.label"), email=c.email(item.get("email"), f"{path}.email")
        )
    c.unique(keys, "team")
    return teams


def _parse_priorities(c: _Checker, value: Any) -> dict[str, Priority]:
    priorities: dict[str, Priority] = {}
    keys = []
    items = c.items(value, "priorities")
    if isinstance(value, list) and not items:
        c.fail("priorities", "at least one priority is required")
    for i, raw in enumerate(items):
        path = f"priorities[{i}]"
        item = c.obj(raw, path, {"key", "label", "rank", "description"}, {"key", "label", "rank"})
        key = c.key(item.get("key"), f"{path}.key")
        keys.append((f"{path}.key", key))
        priorities[key] = Priority(
            key=key,
            label=c.text(item.get("label"), f"{path}.label"),
            rank=c.whole(item.get("rank"), f"{path}.rank", 0, 99),
            description=c.text(item.get("description"), f"{path}.description", optional=True, limit=500),
        )
    c.unique(keys, "priority")
    return priorities


def _parse_statuses(c: _Checker, value: Any) -> dict[str, Status]:
    statuses: dict[str, Status] = {}
    keys = []
    for i, raw in enumerate(c.items(value, "statuses")):
        path = f"statuses[{i}]"
        item = c.obj(
            raw, path, {"key", "label", "category", "description", "on_requester_reply"}, {"key", "label", "category"}
        )
        key = c.key(item.get("key"), f"{path}.key")
        keys.append((f"{path}.key", key))
        category = item.get("category")
        if category not in CATEGORIES:
            c.fail(f"{path}.category", f"must be one of {', '.join(CATEGORIES)}")
        on_reply = item.get("on_requester_reply")
        if on_reply is not None and not isinstance(on_reply, str):
            c.fail(f"{path}.on_requester_reply", "must be a status key or null")
            on_reply = None
        statuses[key] = Status(
            key=key,
            label=c.text(item.get("label"), f"{path}.label"),
            category=category if category in CATEGORIES else "active",
            description=c.text(item.get("description"), f"{path}.description", optional=True, limit=500),
            on_requester_reply=on_reply,
        )
    c.unique(keys, "status")
    return statuses


def _parse_workflows(c: _Checker, value: Any, statuses: dict[str, Status]) -> dict[str, Workflow]:
    workflows: dict[str, Workflow] = {}
    keys = []
    for i, raw in enumerate(c.items(value, "workflows")):
        path = f"workflows[{i}]"
        item = c.obj(
            raw,
            path,
            {"key", "label", "initial", "statuses", "transitions"},
            {"key", "initial", "statuses", "transitions"},
        )
        key = c.key(item.get("key"), f"{path}.key")
        keys.append((f"{path}.key", key))
        members: list[str] = []
        for j, status in enumerate(c.items(item.get("statuses"), f"{path}.statuses")):
            if not _known(status, statuses):
                c.fail(f"{path}.statuses[{j}]", f"unknown status {status!r}")
            elif status in members:
                c.fail(f"{path}.statuses[{j}]", f"status {status!r} is listed twice")
            else:
                members.append(status)
        initial = item.get("initial")
        if isinstance(initial, list):
            c.fail(f"{path}.initial", "a workflow has exactly one initial status")
            initial = None
        elif initial is None:
            c.fail(f"{path}.initial", "is required")
        elif initial not in members:
            c.fail(f"{path}.initial", f"initial status {initial!r} is not one of the workflow's statuses")
        elif statuses[initial].category == "done":
            c.fail(f"{path}.initial", "the initial status cannot be a done status")
        transitions = _parse_transitions(c, item.get("transitions"), f"{path}.transitions", members)
        if isinstance(initial, str) and initial in members:
            _check_reachability(c, path, initial, members, transitions, statuses)
        workflows[key] = Workflow(
            key=key,
            label=c.text(item.get("label", key), f"{path}.label"),
            initial=initial if isinstance(initial, str) else "",
            statuses=tuple(members),
            transitions=tuple(transitions),
        )
    if isinstance(value, list) and not value:
        c.fail("workflows", "at least one workflow is required")
    c.unique(keys, "workflow")
    return workflows


def _check_requester_replies(c: _Checker, statuses: dict[str, Status], workflows: dict[str, Workflow]) -> None:
    """A status's `on_requester_reply` names another status that every workflow holding it can step to."""
    for i, status in enumerate(statuses.values()):
        target = status.on_requester_reply
        if target is None:
            continue
        path = f"statuses[{i}].on_requester_reply"
        if target not in statuses:
            c.fail(path, f"unknown status {target!r}")
        elif target == status.key:
            c.fail(path, "must name another status")
        else:
            for workflow in workflows.values():
                if status.key in workflow.statuses and not any(
                    t.from_status == status.key and t.to_status == target for t in workflow.transitions
                ):
                    c.fail(path, f"the {workflow.key} workflow has no step from {status.key!r} to {target!r}")


def _parse_transitions(c: _Checker, value: Any, path: str, members: list[str]) -> list[Transition]:
    transitions: list[Transition] = []
    pairs: set[tuple[str, str]] = set()
    for j, raw in enumerate(c.items(value, path)):
        tpath = f"{path}[{j}]"
        item = c.obj(raw, tpath, {"from", "to", "by", "label"}, {"from", "to", "by"})
        ends = []
        for end in ("from", "to"):
            status = item.get(end)
            if status not in members:
                c.fail(f"{tpath}.{end}", f"unknown status {status!r} in this workflow")
            ends.append(status if isinstance(status, str) else "")
        if ends[0] and ends[0] == ends[1]:
            c.fail(tpath, "a transition must change the status")
        if (ends[0], ends[1]) in pairs:
            c.fail(tpath, f"duplicate transition {ends[0]!r} -> {ends[1]!r}")
        pairs.add((ends[0], ends[1]))
        by = item.get("by")
        roles = by if isinstance(by, list) else []
        if not roles or any(r not in ROLES for r in roles):
            c.fail(f"{tpath}.by", f"must be a non-empty list of {', '.join(ROLES)}")
        label = item.get("label")
        transitions.append(
            Transition(
                from_status=ends[0],
                to_status=ends[1],
                by=frozenset(r for r in roles if r in ROLES),
                label=c.text(label, f"{tpath}.label", optional=True) or "",
            )
        )
    return transitions


def _check_reachability(
    c: _Checker,
    path: str,
    initial: str,
    members: list[str],
    transitions: list[Transition],
    statuses: dict[str, Status],
) -> None:
    reached = {initial}
    queue = deque([initial])
    while queue:
        current = queue.popleft()
        for t in transitions:
            if t.from_status == current and t.to_status not in reached:
                reached.add(t.to_status)
                queue.append(t.to_status)
    for j, status in enumerate(members):
        if status not in reached:
            c.fail(f"{path}.statuses[{j}]", f"status {status!r} cannot be reached from {initial!r}")
        elif statuses[status].is_open and not any(t.from_status == status for t in transitions):
            c.fail(f"{path}.statuses[{j}]", f"open status {status!r} has no way out")
    if not any(statuses[s].category == "done" for s in members):
        c.fail(f"{path}.statuses", "a workflow needs at least one done status")


def _parse_types(
    c: _Checker,
    value: Any,
    workflows: dict[str, Workflow],
    teams: dict[str, Team],
    priorities: dict[str, Priority],
) -> dict[str, TicketType]:
    types: dict[str, TicketType] = {}
    keys = []
    items = c.items(value, "types")
    if isinstance(value, list) and not items:
        c.fail("types", "at least one ticket type is required")
    for i, raw in enumerate(items):
        path = f"types[{i}]"
        item = c.obj(
            raw,
            path,
            {"key", "label", "workflow", "fields", "description", "team", "default_priority"},
            {"key", "label", "workflow"},
        )
        key = c.key(item.get("key"), f"{path}.key")
        keys.append((f"{path}.key", key))
        if not _known(item.get("workflow"), workflows):
            c.fail(f"{path}.workflow", f"unknown workflow {item.get('workflow')!r}")
        team = item.get("team")
        if team is not None and not _known(team, teams):
            c.fail(f"{path}.team", f"unknown team {team!r}")
        default_priority = item.get("default_priority")
        if default_priority is not None and not _known(default_priority, priorities):
            c.fail(f"{path}.default_priority", f"unknown priority {default_priority!r}")
        types[key] = TicketType(
            key=key,
            label=c.text(item.get("label"), f"{path}.label"),
            workflow=str(item.get("workflow")),
            fields=tuple(_parse_fields(c, item.get("fields", []), f"{path}.fields")),
            description=c.text(item.get("description"), f"{path}.description", optional=True, limit=1000),
            team=team if isinstance(team, str) else None,
            default_priority=default_priority if isinstance(default_priority, str) else None,
        )
    c.unique(keys, "type")
    return types


def _parse_fields(c: _Checker, value: Any, path: str) -> list[FieldSpec]:
    specs: list[FieldSpec] = []
    names = []
    for j, raw in enumerate(c.items(value, path)):
        fpath = f"{path}[{j}]"
        item = c.obj(
            raw,
            fpath,
            {"name", "label", "type", "required", "choices", "help", "max_length"},
            {"name", "label", "type"},
        )
        name = c.key(item.get("name"), f"{fpath}.name")
        if name in RESERVED_FIELD_NAMES:
            c.fail(f"{fpath}.name", f"{name!r} is reserved for the ticket itself")
        names.append((f"{fpath}.name", name))
        kind = item.get("type")
        if kind not in FIELD_TYPES:
            c.fail(f"{fpath}.type", f"must be one of {', '.join(FIELD_TYPES)}")
        choices = item.get("choices", [])
        if kind == "choice":
            if not isinstance(choices, list) or not choices or not all(isinstance(x, str) and x for x in choices):
                c.fail(f"{fpath}.choices", "a choice field needs a non-empty list of strings")
                choices = []
            elif len(set(choices)) != len(choices):
                c.fail(f"{fpath}.choices", "choices must be unique")
        elif "choices" in item:
            c.fail(f"{fpath}.choices", "only a choice field has choices")
            choices = []
        specs.append(
            FieldSpec(
                name=name,
                label=c.text(item.get("label"), f"{fpath}.label"),
                type=kind if kind in FIELD_TYPES else "text",
                required=c.flag(item.get("required", False), f"{fpath}.required"),
                choices=tuple(choices) if isinstance(choices, list) else (),
                help=c.text(item.get("help"), f"{fpath}.help", optional=True, limit=500),
                max_length=c.whole(item.get("max_length", 2000), f"{fpath}.max_length", 1, 20000),
            )
        )
    c.unique(names, "field")
    return specs


def parse_sla_policy(
    value: Any, priorities: dict[str, Priority], public_holidays: PublicHolidays | None = None
) -> SlaPolicy:
    """An SLA policy on its own (a proposal to compare with the configured one), validated exactly as the
    configuration's `sla` section, its errors under the same paths ("sla.targets.high.first_response")."""
    c = _Checker()
    policy = _parse_sla(c, value, priorities, public_holidays)
    if c.errors:
        raise ValidationError("the SLA policy is not valid", c.errors)
    return policy


def _parse_sla(
    c: _Checker, value: Any, priorities: dict[str, Priority], public_holidays: PublicHolidays | None = None
) -> SlaPolicy:
    sla = c.obj(value, "sla", {"calendar", "targets", "at_risk_share"}, {"calendar", "targets"})
    calendar = _parse_calendar(c, sla.get("calendar"), public_holidays)
    targets: dict[str, SlaTarget] = {}
    raw_targets = sla.get("targets")
    if not isinstance(raw_targets, dict):
        c.fail("sla.targets", "must be an object keyed by priority")
        raw_targets = {}
    for key in raw_targets:
        if key not in priorities:
            c.fail(f"sla.targets.{key}", f"unknown priority {key!r}")
    for key in priorities:
        path = f"sla.targets.{key}"
        if key not in raw_targets:
            c.fail(path, f"priority {key!r} has no SLA targets")
            continue
        item = c.obj(
            raw_targets[key], path, {"first_response", "resolution", "clock"}, {"first_response", "resolution"}
        )
        minutes = {}
        for part in ("first_response", "resolution"):
            try:
                minutes[part] = parse_duration_minutes(item.get(part, ""))
                if minutes[part] <= 0:
                    c.fail(f"{path}.{part}", "must be longer than zero")
                elif minutes[part] > 366 * 24 * 60:  # a timer's due time must stay a date
                    c.fail(f"{path}.{part}", "must be at most a year")
                    minutes[part] = 0
            except ValueError as exc:
                c.fail(f"{path}.{part}", str(exc))
                minutes[part] = 0
        clock = item.get("clock", "business")
        if clock not in CLOCKS:
            c.fail(f"{path}.clock", f"must be one of {', '.join(CLOCKS)}")
        if minutes["first_response"] and minutes["resolution"] and minutes["first_response"] > minutes["resolution"]:
            c.fail(f"{path}.first_response", "cannot be longer than the resolution target")
        targets[key] = SlaTarget(minutes["first_response"], minutes["resolution"], str(clock))
    share = sla.get("at_risk_share", 0.8)
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share < 1:
        c.fail("sla.at_risk_share", "must be a number between 0 and 1")
        share = 0.8
    return SlaPolicy(calendar=calendar, targets=targets, at_risk_share=float(share))


def _parse_calendar(c: _Checker, value: Any, public_holidays: PublicHolidays | None = None) -> BusinessCalendar:
    path = "sla.calendar"
    item = c.obj(value, path, {"timezone", "hours", "holidays", "country", "subdivision"}, {"timezone", "hours"})
    timezone = item.get("timezone", "UTC")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" names a folder: IsADirectoryError
        c.fail(f"{path}.timezone", f"unknown time zone {timezone!r}")
        timezone = "UTC"
    hours: dict[int, tuple[int, int]] = {}
    raw_hours = item.get("hours")
    if not isinstance(raw_hours, dict):
        c.fail(f"{path}.hours", "must be an object keyed by weekday (mon … sun)")
        raw_hours = {}
    for day, span in raw_hours.items():
        dpath = f"{path}.hours.{day}"
        if day not in WEEKDAYS:
            c.fail(dpath, "must be a weekday: mon, tue, wed, thu, fri, sat or sun")
            continue
        if span is None:
            continue
        if not isinstance(span, list) or len(span) != 2 or not all(isinstance(t, str) for t in span):
            c.fail(dpath, 'must be ["HH:MM", "HH:MM"] or null for a closed day')
            continue
        bounds = []
        for t in span:
            match = TIME_PATTERN.match(t)
            bounds.append(int(match.group(1)) * 60 + int(match.group(2)) if match else -1)
        if span[1] == "24:00":  # open until midnight
            bounds[1] = 24 * 60
        if -1 in bounds or bounds[0] >= bounds[1]:
            c.fail(dpath, 'opening must be a time before closing, as HH:MM (closing may be "24:00")')
            continue
        hours[WEEKDAYS.index(day)] = (bounds[0], bounds[1])
    if isinstance(item.get("hours"), dict) and not hours:
        c.fail(f"{path}.hours", "the desk must be open on at least one day")
    holidays: set[date] = set()
    for i, day in enumerate(c.items(item.get("holidays", []), f"{path}.holidays")):
        try:
            holidays.add(date.fromisoformat(day))
        except (TypeError, ValueError):
            c.fail(f"{path}.holidays[{i}]", "must be a date as YYYY-MM-DD")
    country, subdivision, public = _public_holidays(c, item, path, public_holidays)
    return BusinessCalendar(
        timezone=str(timezone),
        hours=hours,
        holidays=frozenset(holidays),
        country=country,
        subdivision=subdivision,
        public_holidays=public,
    )


def _public_holidays(
    c: _Checker, item: dict[str, Any], path: str, source: PublicHolidays | None
) -> tuple[str | None, str | None, Container[date]]:
    """The calendar's country and subdivision codes, checked against the source, and their public holidays."""
    country, subdivision = item.get("country"), item.get("subdivision")
    for name, code in (("country", country), ("subdivision", subdivision)):
        if code is not None and (not isinstance(code, str) or not REGION_CODE.match(code)):
            c.fail(f"{path}.{name}", f"must be a {name} code such as {'GB' if name == 'country' else 'ENG'}, or null")
            return None, None, frozenset()
    if country is None:
        if subdivision is not None:
            c.fail(f"{path}.subdivision", 'needs a country: name the country too, e.g. "country": "GB"')
        return None, None, frozenset()
    if source is None:
        c.fail(f"{path}.country", "public holidays cannot be looked up here; list the closed days under holidays")
        return None, None, frozenset()
    try:
        days = source.closed_days(str(country), subdivision)
    except UnknownHolidayRegion as unknown:
        c.fail(f"{path}.{unknown.field}", unknown.message)
        return None, None, frozenset()
    return str(country), subdivision, days


def _parse_desk(c: _Checker, value: Any, types: dict[str, TicketType], priorities: dict[str, Priority]) -> DeskSettings:
    allowed = {
        "name",
        "default_type",
        "default_priority",
        "public_priority",
        "thank_you_url",
        "ref_prefix",
        "new_tickets_per_hour",
        "portal_link_days",
        "posts_per_ip_per_hour",
        "portal_comments_per_hour",
        "acknowledgements_per_hour",
        "inbound_aliases",
    }
    item = c.obj(value, "desk", allowed, {"name", "default_type", "default_priority"})
    aliases: dict[str, str] = {}
    raw_aliases = item.get("inbound_aliases", {})
    if not isinstance(raw_aliases, dict):
        c.fail("desk.inbound_aliases", "must map an address's local part to a ticket type")
        raw_aliases = {}
    for local, type_key in raw_aliases.items():
        path = f"desk.inbound_aliases.{local}"
        if not re.match(r"^[a-z0-9][a-z0-9._-]{0,63}$", local):
            c.fail(path, "must be the lower-case local part of an address (before the @)")
        elif not _known(type_key, types):
            c.fail(path, f"unknown ticket type {type_key!r}")
        else:
            aliases[local] = str(type_key)
    if not _known(item.get("default_type"), types):
        c.fail("desk.default_type", f"unknown ticket type {item.get('default_type')!r}")
    if not _known(item.get("default_priority"), priorities):
        c.fail("desk.default_priority", f"unknown priority {item.get('default_priority')!r}")
    thank_you = item.get("thank_you_url")
    if thank_you is not None and (not isinstance(thank_you, str) or not re.match(r"^https?://\S+$", thank_you)):
        c.fail("desk.thank_you_url", "must be an http(s) URL or null")
        thank_you = None
    prefix = item.get("ref_prefix", "HD")
    if not isinstance(prefix, str) or not re.match(r"^[A-Z]{1,5}$", prefix):
        c.fail("desk.ref_prefix", "must be 1 to 5 capital letters")
        prefix = "HD"
    return DeskSettings(
        name=c.text(item.get("name"), "desk.name"),
        default_type=str(item.get("default_type")),
        default_priority=str(item.get("default_priority")),
        public_priority=c.flag(item.get("public_priority", False), "desk.public_priority"),
        thank_you_url=thank_you,
        ref_prefix=prefix,
        new_tickets_per_hour=c.whole(item.get("new_tickets_per_hour", 10), "desk.new_tickets_per_hour", 1, 10000),
        portal_link_days=c.whole(item.get("portal_link_days", 90), "desk.portal_link_days", 1, 3650),
        posts_per_ip_per_hour=c.whole(item.get("posts_per_ip_per_hour", 60), "desk.posts_per_ip_per_hour", 1, 100000),
        portal_comments_per_hour=c.whole(
            item.get("portal_comments_per_hour", 30), "desk.portal_comments_per_hour", 1, 10000
        ),
        acknowledgements_per_hour=c.whole(
            item.get("acknowledgements_per_hour", 200), "desk.acknowledgements_per_hour", 1, 100000
        ),
        inbound_aliases=aliases,
    )


def shipped_document(name: str = "default") -> dict[str, Any]:
    """A configuration shipped inside the package (`default`, `urgent_normal`)."""
    text = resources.files("chalicelib.configs").joinpath(f"{name}.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def default_config() -> DeskConfig:
    return parse_config(shipped_document("default"))


def _parse_email(c: _Checker, value: Any, statuses: dict[str, Status]) -> EmailSettings:
    flags = ("acknowledge", "replies", "assignments", "requester_comments")
    item = c.obj(value, "email", {"reply_to", "status_messages", *flags}, set())
    messages: dict[str, str] = {}
    raw_messages = item.get("status_messages", {})
    if not isinstance(raw_messages, dict):
        c.fail("email.status_messages", "must be an object keyed by status")
        raw_messages = {}
    for key, text in raw_messages.items():
        path = f"email.status_messages.{key}"
        if key not in statuses:
            c.fail(path, f"unknown status {key!r}")
        messages[key] = c.message(text, path)
    return EmailSettings(
        reply_to=c.email(item.get("reply_to"), "email.reply_to"),
        status_messages=messages,
        **{name: c.flag(item.get(name, True), f"email.{name}") for name in flags},
    )


def _parse_stale_rules(
    c: _Checker, value: Any, statuses: dict[str, Status], workflows: dict[str, Workflow]
) -> dict[str, StaleRule]:
    rules: dict[str, StaleRule] = {}
    for i, raw in enumerate(c.items(value, "stale_rules")):
        path = f"stale_rules[{i}]"
        item = c.obj(
            raw,
            path,
            {"status", "after", "every", "times", "remind", "then", "clock", "message"},
            {"status", "after", "remind"},
        )
        status = item.get("status")
        if not _known(status, statuses):
            c.fail(f"{path}.status", f"unknown status {status!r}")
            status = ""
        elif status in rules:
            c.fail(f"{path}.status", f"status {status!r} already has a rule")
        elif not statuses[str(status)].is_open:
            c.fail(f"{path}.status", "a done status cannot have a stale rule")
        clock = item.get("clock", "business")
        if clock not in CLOCKS:
            c.fail(f"{path}.clock", f"must be one of {', '.join(CLOCKS)}")
            clock = "business"
        after = c.duration(item.get("after"), f"{path}.after", clock)
        every = c.duration(item.get("every", item.get("after")), f"{path}.every", clock)
        remind = item.get("remind")
        if remind not in AUDIENCES:
            c.fail(f"{path}.remind", f"must be one of {', '.join(AUDIENCES)}")
        then = item.get("then")
        if then is not None:
            if not _known(then, statuses):
                c.fail(f"{path}.then", f"unknown status {then!r}")
            elif status:
                for workflow in workflows.values():
                    if status in workflow.statuses and not any(
                        t.from_status == status and t.to_status == then for t in workflow.transitions
                    ):
                        c.fail(f"{path}.then", f"workflow {workflow.key!r} has no transition {status!r} -> {then!r}")
        rules[str(status)] = StaleRule(
            status=str(status),
            after=after,
            every=every,
            times=c.whole(item.get("times", 1), f"{path}.times", 1, 10),
            remind=str(remind),
            then=then if isinstance(then, str) else None,
            message=c.message(item.get("message"), f"{path}.message", optional=True),
        )
    return {k: v for k, v in rules.items() if k}


def _parse_survey(c: _Checker, value: Any, statuses: dict[str, Status]) -> SurveySettings:
    if value is None:
        return SurveySettings(False, frozenset(), 60, 5, 28, 30)
    item = c.obj(value, "survey", {"enabled", "statuses", "delay", "scale", "link_days", "quiet_days"}, {"statuses"})
    chosen: set[str] = set()
    for i, key in enumerate(c.items(item.get("statuses"), "survey.statuses")):
        if not _known(key, statuses):
            c.fail(f"survey.statuses[{i}]", f"unknown status {key!r}")
        elif statuses[str(key)].is_open:
            c.fail(f"survey.statuses[{i}]", "a survey follows a done status")
        else:
            chosen.add(str(key))
    delay = c.duration(item.get("delay", "1h"), "survey.delay", "calendar", zero=True)
    return SurveySettings(
        enabled=c.flag(item.get("enabled", True), "survey.enabled"),
        statuses=frozenset(chosen),
        delay_minutes=delay.minutes,
        scale=c.whole(item.get("scale", 5), "survey.scale", 2, 10),
        link_days=c.whole(item.get("link_days", 28), "survey.link_days", 1, 365),
        quiet_days=c.whole(item.get("quiet_days", 30), "survey.quiet_days", 0, 3650),
    )
