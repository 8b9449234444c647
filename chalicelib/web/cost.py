"""What the desk cost: `GET /reports/cost` (admins, JSON) and the console's page of the same estimate."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.errors import ForbiddenError, HelpdeskError
from chalicelib.web.console.session import console_view, render, signed_in
from chalicelib.web.http import handled, json_response, query, signed_in_admin, status_of

PARAMETERS = ("from", "to")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LABELS = {"from": "From", "to": "To"}  # the form's words for the parameters an error names


def _params(request: Request) -> dict[str, str]:
    raw = dict(request.query_params or {})
    return {key: value for key in raw if isinstance(value := query(request, key), str)}


@handled
def report(request: Request) -> Response:
    """The estimate of a period (`from`, `to`: UTC days; by default the last 30)."""
    signed_in_admin(request)
    return json_response(wiring.cost().estimate(_params(request)))


def dollars(amount: float | int | None) -> str:
    """An amount as people read it: cents from a dollar up, two significant digits below ($0.015, $0.0000035), so
    that the small lines of a small desk and their total are read alike."""
    if amount is None:
        return "—"
    value = float(amount)
    if value == 0:
        return "$0.00"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    places = 1 - math.floor(math.log10(abs(value)))
    return "$" + _trimmed(f"{value:.{places}f}")


def price(amount: float | int) -> str:
    """A price exactly as configured: $3.50, $0.625, $0.0000166667."""
    return "$" + _trimmed(f"{float(amount):,.10f}")


def _trimmed(text: str) -> str:
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction.ljust(2, '0')}"


def number(amount: float | int) -> str:
    value = float(amount)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


@console_view
def console_page(request: Request) -> Response:
    who = signed_in(request)
    if not who.agent.is_admin:
        raise ForbiddenError("only an admin may open this page")
    params = {k: v for k in PARAMETERS if (v := query(request, k))}
    error = None
    status = 200
    field_errors: dict[str, str] = {}
    problems: list[dict[str, str | None]] = []
    try:
        estimate = wiring.cost().estimate(params)
    except HelpdeskError as failure:
        status = status_of(failure)
        errors = failure.details.get("errors") or {}
        error = failure.message
        for key, why in errors.items():
            field_errors[key] = _as_typed(why, params.get(key))
            problems.append(
                {"label": LABELS.get(key, key), "message": field_errors[key], "field": key if key in LABELS else None}
            )
        estimate = wiring.cost().estimate({})
    return render(
        request,
        "console/cost/page.html",
        who,
        status,
        **context(estimate),
        error=error,
        problems=problems,
        field_errors=field_errors,
        invalid=[k for k in PARAMETERS if k in field_errors],
        asked=params,
    )


def _as_typed(why: str, typed: str | None) -> str:
    """A date field cannot show a value that is not a date, so the message quotes what was typed."""
    if typed is None or _is_day(typed):
        return why
    return f"{why} (you typed “{typed}”)"


def _is_day(text: str) -> bool:
    try:
        return bool(DATE.fullmatch(text)) and date.fromisoformat(text) is not None
    except ValueError:
        return False


def context(estimate: dict[str, Any]) -> dict[str, Any]:
    lines = [
        {
            **line,
            "quantity_text": number(line["quantity"]),
            "price_text": f"{price(line['unit_price'])} per {number(line['per'])} {line['unit']}"
            if line["per"] != 1
            else f"{price(line['unit_price'])} per {line['unit'].rstrip('s')}",
            "cost_text": dollars(line["cost"]),
        }
        for line in estimate["lines"]
    ]
    return {
        "estimate": estimate,
        "lines": lines,
        "services": [{**s, "cost_text": dollars(s["cost"])} for s in estimate["services"]],
        "total_text": dollars(estimate["total"]),
        "per_ticket_text": dollars(estimate["per_ticket"]),
        "prices": [(name, price(value)) for name, value in estimate["prices"].items()],
        "functions": [
            {
                "function": f["function"],
                "invocations": number(f.get("invocations", 0)),
                "seconds": number(round(f.get("billed_ms", 0) / 1000, 3)),
                "reads": number(f.get("rru", 0)),
                "writes": number(f.get("wru", 0)),
            }
            for f in estimate["functions"]
        ],
    }
