"""The console's what-if page (admins): the current SLA targets beside a proposal, and both columns for a period."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.config import CLOCKS, DeskConfig
from chalicelib.domain.errors import ForbiddenError, HelpdeskError, ValidationError
from chalicelib.services.sessions import SignedIn
from chalicelib.services.what_if import DEFAULT_DAYS
from chalicelib.web.console.session import checked_form, console_view, render, signed_in

TEMPLATE = "console/what_if/page.html"
PARTS = ("first_response", "resolution")


def _admin(who: SignedIn) -> SignedIn:
    if not who.agent.is_admin:
        raise ForbiddenError("only an admin may use the what-if page")
    return who


def _configured(config: DeskConfig) -> dict[str, dict[str, str]]:
    """The targets as the configuration document writes them ("4h"), per priority."""
    raw = config.document.get("sla", {}).get("targets", {})
    shown: dict[str, dict[str, str]] = {}
    for key in config.priorities:
        item = raw.get(key) if isinstance(raw, dict) else None
        item = item if isinstance(item, dict) else {}
        shown[key] = {
            "first_response": str(item.get("first_response", "")),
            "resolution": str(item.get("resolution", "")),
            "clock": str(item.get("clock", "business")),
        }
    return shown


def _rows(config: DeskConfig, proposed: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    current = _configured(config)
    return [
        {"key": p.key, "label": p.label, "current": current[p.key], "proposed": proposed.get(p.key, current[p.key])}
        for p in config.priorities_by_rank()
    ]


def _problems(config: DeskConfig, errors: dict[str, str]) -> list[dict[str, str | None]]:
    """The error summary's lines in the page's own words ("Medium, first response"), each linked to its field."""
    labels = {p.key: p.label for p in config.priorities.values()}
    fields = {"from": ("Start of the period", "from"), "to": ("End of the period", "to")}
    problems: list[dict[str, str | None]] = []
    for path, why in errors.items():
        label, target = fields.get(path, (path, None))
        parts = path.split(".")
        if len(parts) >= 3 and parts[:2] == ["sla", "targets"] and parts[2] in labels:
            part = parts[3] if len(parts) > 3 and parts[3] in (*PARTS, "clock") else None
            label = labels[parts[2]] + (f", {part.replace('_', ' ')}" if part else " targets")
            target = f"{part or PARTS[0]}-{parts[2]}"
            if part == "clock":
                target = f"clock-{parts[2]}"
        problems.append({"label": label, "message": _worded(why), "field": target})
    return problems


def _worded(why: str) -> str:
    """A message that names the other date by its parameter, in the form's words."""
    return why.replace("after to", "after the end of the period").replace("before from", "before its start")


def _page(
    request: Request,
    who: SignedIn,
    config: DeskConfig,
    period: dict[str, str],
    proposed: dict[str, dict[str, str]],
    status: int = 200,
    **extra: Any,
) -> Response:
    context: dict[str, Any] = {"result": None, "errors": {}, "message": None, **extra}
    context["errors"] = {path: _worded(why) for path, why in context["errors"].items()}
    labels = {p.key: p.label for p in config.priorities.values()}
    rows = _rows(config, proposed)
    problems = _problems(config, context["errors"])
    return render(
        request,
        TEMPLATE,
        who,
        status,
        rows=rows,
        period=period,
        clocks=CLOCKS,
        labels=labels,
        problems=problems,
        **context,
    )


@console_view
def page(request: Request) -> Response:
    who = _admin(signed_in(request))
    desk = wiring.desk()
    config = desk.config()
    today = desk.clock.now().astimezone(ZoneInfo(config.sla.calendar.timezone)).date()
    period = {"from": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), "to": today.isoformat()}
    return _page(request, who, config, period, _configured(config))


@console_view
def post(request: Request) -> Response:
    who, values = checked_form(request)
    _admin(who)
    from chalicelib.web.what_if import service

    config = wiring.desk().config()
    period = {"from": values.get("from", ""), "to": values.get("to", "")}
    proposed = {
        key: {part: values.get(f"{part}.{key}", "").strip() for part in (*PARTS, "clock")} for key in config.priorities
    }
    sla = copy.deepcopy(config.document.get("sla", {}))
    sla["targets"] = proposed
    try:
        result = service().compare({**period, "sla": sla})
    except ValidationError as failure:
        return _page(request, who, config, period, proposed, 422, errors=failure.errors, message=failure.message)
    except HelpdeskError as failure:
        return _page(request, who, config, period, proposed, 400, message=failure.message)
    return _page(request, who, config, period, proposed, result=result)
