"""A requester's personal data: `GET /admin/requesters/export`, `POST /admin/requesters/erase` (admins, JSON) and
the console's page of both, with a confirmation step before an erasure.

The console's erasure is a post-redirect-get: a confirmed post answers 303 to `?erased=<count>&complete=<0|1>`, so
a reload shows the result again instead of offering to post the erasure a second time. Only those numbers travel
in the URL, never the address: it is personal data, and URLs end up in browser history and access logs."""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import ForbiddenError, MalformedRequestError, ValidationError
from chalicelib.domain.personal_data import refused
from chalicelib.services.personal_data import ERASE_BATCH, ErasureResult, ExportedTicket
from chalicelib.services.sessions import SignedIn
from chalicelib.web import present
from chalicelib.web.attachments import api_path, shown
from chalicelib.web.console.session import checked_form, console_view, redirect, render, signed_in
from chalicelib.web.http import handled, json_body, json_response, public_base_url, query, signed_in_admin

TEMPLATE = "console/requesters/page.html"
EXPORT_PARAMS = {"email"}
ERASE_FIELDS = {"email", "confirm", "limit"}
MAX_LIMIT = 100
CONSOLE_BATCH = ERASE_BATCH  # tickets per press of the console's Erase button (a module value, so tests can lower it)
COUNT = re.compile(r"[0-9]{1,9}")  # ASCII digits, bounded: int() of a huge string would raise, not refuse


@handled
def export(request: Request) -> Response:
    """Everything about one requester as one JSON document; an unknown address answers 200 with empty lists.
    An unknown parameter is a malformed request (400); a missing or bad `email` a field error (422)."""
    signed_in_admin(request)
    unknown = sorted(set(request.query_params or {}) - EXPORT_PARAMS)
    if unknown:
        raise MalformedRequestError(
            "unknown parameters", errors=dict.fromkeys(unknown, "is not a parameter; use email")
        )
    return json_response(document(query(request, "email")))


@handled
def erase(request: Request) -> Response:
    """`{"email", "confirm": true, "limit"?}`: erases up to `limit` tickets per call; call again until complete.
    Not a JSON object or an unknown field: 400; a missing or bad `email`, `confirm` or `limit`: 422 naming it."""
    signed_in_admin(request)
    body = json_body(request)
    if not isinstance(body, dict):
        raise MalformedRequestError(
            "the body must be a JSON object", errors={"body": "must be an object with email and confirm"}
        )
    unknown = sorted(set(body) - ERASE_FIELDS)
    if unknown:
        raise MalformedRequestError(
            "unknown fields", errors=dict.fromkeys(unknown, "is not a field; use email, confirm, limit")
        )
    limit = body.get("limit", ERASE_BATCH)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise refused("bad limit", "limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    result = wiring.personal_data().erase(body.get("email"), body.get("confirm"), limit)
    return json_response(erasure(result))


def document(email: Any) -> dict[str, Any]:
    service = wiring.personal_data()
    exported = service.export(email)
    config = wiring.desk().config()
    return {
        "email": exported["email"],
        "tickets": [_ticket(config, t) for t in exported["tickets"]],
        "survey_opt_outs": exported["survey_opt_outs"],
    }


def _ticket(config: DeskConfig, item: ExportedTicket) -> dict[str, Any]:
    ticket = item.ticket
    return {
        **present.ticket_row(config, ticket),
        "description": ticket.description,
        "requester": {"name": ticket.requester_name, "email": ticket.requester_email},
        "fields": ticket.fields,
        "comments": [present.comment(c, for_agent=False) for c in item.comments if c.public],
        "attachments": [shown(a, api_path(ticket.id, a.id), for_agent=False) for a in item.files],
        "history": [
            {"kind": e.kind, "at": present.when(e.at), "data": e.data} for e in item.history if not _internal(e.kind)
        ],
        "mails": item.mails,
        "survey": present.survey_answer(item.survey),
    }


def _internal(kind: str) -> bool:
    return kind == "note"  # internal notes are the agents' words about the person, not the person's data


def erasure(result: ErasureResult) -> dict[str, Any]:
    return {
        "complete": result.complete,
        "tickets_erased": result.tickets_erased,
        "erased_now": result.erased_now,
        "changing": list(result.changing),
    }


# the console's page ----------------------------------------------------------------------------------------


def _admin(who: SignedIn) -> SignedIn:
    if not who.agent.is_admin:
        raise ForbiddenError("only an admin may open this page")
    return who


def _page(request: Request, who: SignedIn, status: int = 200, **context: Any) -> Response:
    shown_context: dict[str, Any] = {"email": "", "found": None, "errors": {}, "message": None, "result": None}
    shown_context.update(context)
    return render(request, TEMPLATE, who, status, **shown_context)


@console_view
def console_page(request: Request) -> Response:
    """Look up an address: what the desk holds about it, a download of the export, and the erasure form; after an
    erasure's redirect (`?erased=&complete=`), its result."""
    who = _admin(signed_in(request))
    result = _result(request)
    email = (query(request, "email") or "").strip()
    if not email:
        return _page(request, who, result=result)
    try:
        found = document(email)
    except ValidationError as failure:
        return _page(request, who, 422, email=email, errors=failure.errors, message=failure.message)
    return _page(request, who, email=found["email"], found=found, result=result)


def _result(request: Request) -> dict[str, Any] | None:
    """The erasure's result as the redirect after it carries it; a mangled one is a 400, not a made-up banner."""
    erased, complete = query(request, "erased"), query(request, "complete")
    if erased is None and complete is None:
        return None
    if erased is None or not COUNT.fullmatch(erased) or complete not in ("0", "1"):
        raise MalformedRequestError(
            "the erasure's result in the address is not one the desk sends",
            errors={"erased": "must be a count of tickets", "complete": "must be 0 or 1"},
        )
    return {"tickets_erased": int(erased), "complete": complete == "1"}


@console_view
def console_export(request: Request) -> Response:
    """The export as a file to save."""
    _admin(signed_in(request))
    found = document(query(request, "email"))
    # Dated, so a second export does not overwrite the first; never the address (it would name a person's file
    # in every downloads folder and listing it passes through).
    day = wiring.desk().clock.now().astimezone(UTC).date().isoformat()
    return Response(
        body=json.dumps(found, ensure_ascii=False, indent=2),
        status_code=200,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": f'attachment; filename="requester-export-{day}.json"',
            "Cache-Control": "no-store",
        },
    )


@console_view
def console_erase(request: Request) -> Response:
    """Erase after the address was typed a second time, then redirect to the result (whether more presses are
    needed); a mistyped confirmation or a bad address is the page again, 422, with the field's message."""
    who, values = checked_form(request)
    _admin(who)
    email = values.get("email", "").strip()
    again = values.get("confirm_email", "").strip()
    if not again or again.lower() != email.lower():
        errors = {"confirm_email": "type the same address again to confirm the erasure"}
        found = _found(email)
        return _page(request, who, 422, email=email, found=found, errors=errors, message="The erasure is not confirmed")
    try:
        result = wiring.personal_data().erase(email, True, CONSOLE_BATCH)
    except ValidationError as failure:
        return _page(request, who, 422, email=email, errors=failure.errors, message=failure.message)
    counts = urlencode({"erased": result.tickets_erased, "complete": int(result.complete)})
    return redirect(f"{public_base_url(request)}/console/admin/requesters?{counts}")


def _found(email: str) -> dict[str, Any] | None:
    try:
        return document(email)
    except ValidationError:
        return None
