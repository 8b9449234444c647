"""One function per route: read the request, call one service, shape the answer."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec
from urllib.parse import quote, urlencode

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.agents import Agent
from chalicelib.domain.config import DeskConfig, TicketType
from chalicelib.domain.errors import (
    HelpdeskError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ValidationError,
)
from chalicelib.domain.tickets import REQUESTER, Ticket
from chalicelib.services.desk import QueueRequest
from chalicelib.web import pages, present
from chalicelib.web.http import (
    UPLOAD_BODY_MB,
    bearer_token,
    body_object,
    error_headers,
    error_response,
    form_body,
    handled,
    header,
    idempotency_key,
    is_form,
    json_body,
    json_response,
    posted_files,
    public_base_url,
    query,
    query_all,
    signed_in_admin,
    signed_in_agent,
    source_ip,
    status_of,
    wants_html,
)
from chalicelib.web.lazy import lazy_module

if TYPE_CHECKING:
    from chalicelib.web import attachments as files
else:  # files on tickets load with the first request that has or shows any
    files = lazy_module("chalicelib.web.attachments")

logger = logging.getLogger("helpdesk")
CORE_FIELDS = ("type", "subject", "description", "requester_name", "requester_email", "priority")
INPUT_TYPES = {"text": "text", "email": "email", "number": "number", "date": "date", "url": "url"}
HONEYPOT = "website"
CORE_LABELS = {
    "requester_name": "Your name",
    "requester_email": "Your email",
    "subject": "Subject",
    "description": "Description",
    "priority": "Priority",
}
SENT_REPLY = "reply"
# Idempotency claims are stored under a namespace per source, so a client's key can never be a form's token.
CLIENT_KEY = "client:"
FORM_KEY = "form:"
PAGE_TITLES = {401: "This link does not work", 403: "This link does not work", 429: "Please try again later"}
P = ParamSpec("P")


def _page_or_json(error: HelpdeskError, request: Request) -> Response:
    """People in a browser get a page; programs get the JSON error."""
    if wants_html(request) or is_form(request):
        status = status_of(error)
        title = PAGE_TITLES.get(status, "Something is not right")
        base = public_base_url(request)
        back = None
        if isinstance(error, RateLimitedError | PayloadTooLargeError):  # back to where the post came from
            referer = header(request, "referer") or ""
            back = referer if referer.startswith(f"{base}/") else f"{base}/form"
        response = pages.message_page(title, f"{error.message}.", status, base=base, back=back)
        response.headers.update(error_headers(error))
        return response
    return error_response(error)


def for_people(view: Callable[Concatenate[Request, P], Response]) -> Callable[Concatenate[Request, P], Response]:
    """A view browsers open: its errors become pages for them, JSON for programs."""
    return handled(view, on_error=_page_or_json)


# public: opening tickets ------------------------------------------------------------------------


@for_people
def open_ticket(request: Request) -> Response:
    if is_form(request):
        return _open_from_form(request)
    body = json_body(request)
    if not isinstance(body, dict):
        raise ValidationError("send the ticket as a JSON object", {"": "must be an object"})
    if body.pop(HONEYPOT, None):
        logger.info("dropped a ticket whose honeypot field was filled")
        return json_response({"received": True}, 202)
    key = idempotency_key(request)
    opened = wiring.desk().open_ticket(
        body,
        from_form=False,
        idempotency_key=f"{CLIENT_KEY}{key}" if key else None,
        source_ip=source_ip(request),
    )
    base = public_base_url(request)
    headers = {} if opened.created else {"Idempotent-Replayed": "true"}
    return json_response(
        {
            "id": opened.ticket.id,
            "ref": opened.ticket.ref,
            "status": opened.ticket.status,
            "portal_url": _portal_url(base, opened.ticket.id, opened.portal_token),
        },
        201,
        headers,
    )


def _open_from_form(request: Request) -> Response:
    values = form_body(request)
    base = public_base_url(request)
    desk = wiring.desk()
    if values.pop(HONEYPOT, "").strip():
        logger.info("dropped a form post whose honeypot field was filled")
        return pages.redirect(f"{base}/form/thanks")
    form_token = values.pop("form_token", "").strip() or None
    posted = posted_files(request)
    raw: dict[str, Any] = {name: values.pop(name) for name in CORE_FIELDS if name in values}
    if not raw.get("priority"):
        raw.pop("priority", None)
    raw["fields"] = values
    try:
        if posted:
            try:
                files.check_posted(posted, on_comment=False)
            except PayloadTooLargeError as error:
                raise ValidationError(error.message, {"files": error.message}) from None
        opened = desk.open_ticket(
            raw,
            from_form=True,
            idempotency_key=f"{FORM_KEY}{form_token}" if form_token else None,
            source_ip=source_ip(request),
        )
    except ValidationError as error:
        config = desk.config()
        ticket_type = config.type_named(str(raw.get("type") or config.desk.default_type))
        if ticket_type is None:
            return pages.message_page("Unknown request type", "Please start again from the form.", 422, base=base)
        shown = {**{k: v for k, v in raw.items() if k != "fields"}, **values}
        errors = dict(error.errors)
        if posted and "files" not in errors:
            errors["files"] = "choose the files again (a page cannot keep them)"
        return _form(request, config, ticket_type.key, shown, errors, 422)
    if posted and opened.created:
        files.store_posted(opened.ticket.id, None, posted, files.REQUESTER)
    thank_you = desk.config().desk.thank_you_url
    if thank_you:
        joiner = "&" if "?" in thank_you else "?"
        return pages.redirect(f"{thank_you}{joiner}{urlencode({'ref': opened.ticket.ref})}")
    query_string = urlencode({"ticket": opened.ticket.id, "token": opened.portal_token})
    return pages.redirect(f"{base}/form/thanks?{query_string}")


@for_people
def form_page(request: Request) -> Response:
    config = wiring.desk().config()
    base = public_base_url(request)
    type_key = query(request, "type")
    if type_key is None and len(config.types) > 1:
        html = pages.render(
            "form_index.html",
            base=base,
            desk_name=config.desk.name,
            types=list(config.types.values()),
            form_url=f"{base}/form",
        )
        return pages.html_response(html, frame_ancestors=_frame_ancestors())
    key = type_key or next(iter(config.types))
    if config.type_named(key) is None:
        return pages.message_page("Unknown request type", "Please choose a request type from the form.", 404, base=base)
    return _form(request, config, key, {}, {}, 200)


def _form(
    request: Request, config: DeskConfig, type_key: str, values: dict[str, Any], errors: dict[str, str], status: int
) -> Response:
    ticket_type = config.types[type_key]
    base = public_base_url(request)
    priorities = config.priorities_by_rank() if config.desk.public_priority else []
    messages, problems = _form_errors(ticket_type, errors, with_priority=bool(priorities))
    html = pages.render(
        "form.html",
        base=base,
        desk_name=config.desk.name,
        type=ticket_type,
        other_types=len(config.types) > 1,
        form_url=f"{base}/form",
        action=f"{base}/tickets",
        form_token=secrets.token_urlsafe(18),
        values=values,
        labels=CORE_LABELS,
        messages=messages,
        problems=problems,
        priorities=priorities,
        default_priority=ticket_type.default_priority or config.desk.default_priority,
        input_types=INPUT_TYPES,
        **_upload_hints(config),
    )
    targets = (base, config.desk.thank_you_url or base)
    return pages.html_response(html, status, frame_ancestors=_frame_ancestors(), form_targets=targets)


def _form_errors(
    ticket_type: TicketType, errors: dict[str, str], *, with_priority: bool
) -> tuple[dict[str, str], list[dict[str, str | None]]]:
    """Each error named with its field's label, for the field itself and for the summary at the top.

    The summary lists the errors in the order of the fields on the page, each linking to its field; an error for
    no field the page shows (a bot's extra field, or one about the whole request) is listed without a link.
    """
    on_page = [(name, name, label) for name, label in CORE_LABELS.items() if name != "priority" or with_priority]
    on_page += [(f"fields.{f.name}", f"f-{f.name}", f.label) for f in ticket_type.fields]
    on_page.append(("files", "files", "Files:"))
    messages = {key: f"{label} {errors[key]}" for key, _, label in on_page if key in errors}
    problems: list[dict[str, str | None]] = [
        {"href": f"#{field_id}", "text": messages[key]} for key, field_id, _ in on_page if key in messages
    ]
    for key, text in errors.items():
        if key not in messages:
            name = key.removeprefix("fields.")
            problems.append({"href": None, "text": f"{name} {text}" if name else text})
    return messages, problems


def _upload_hints(config: DeskConfig) -> dict[str, Any]:
    """What a page's file field says it takes (the limits the server enforces) and where larger files go."""
    return {
        "max_files": config.attachments.max_files_per_comment,
        "upload_limit": f"{UPLOAD_BODY_MB} MB",
        "inbound_address": wiring.settings().inbound_address,
    }


def _frame_ancestors() -> str:
    """The form may be framed by the organisation's own sites (the stage's CORS origins)."""
    return " ".join(("'self'", *wiring.settings().cors_origins))


@for_people
def thanks_page(request: Request) -> Response:
    """Shows the reference and portal link only for a ticket the link's token opens: nothing is echoed from the URL."""
    desk = wiring.desk()
    ticket_id, token = query(request, "ticket"), query(request, "token")
    ref = portal_url = None
    if ticket_id and token:
        try:
            ref = desk.portal_ticket(ticket_id, token).ticket.ref
            portal_url = _portal_url(public_base_url(request), ticket_id, token)
        except HelpdeskError:
            pass
    html = pages.render(
        "thanks.html", base=public_base_url(request), desk_name=desk.config().desk.name, ref=ref, portal_url=portal_url
    )
    return pages.html_response(html, frame_ancestors=_frame_ancestors())


def _portal_url(base: str, ticket_id: str, token: str) -> str:
    return f"{base}/portal/tickets/{ticket_id}?{urlencode({'token': token})}"


# public: the requester portal ---------------------------------------------------------------------


def _portal_token(request: Request) -> str | None:
    return query(request, "token") or bearer_token(request)


@for_people
def portal_ticket(request: Request, ticket_id: str) -> Response:
    token = _portal_token(request)
    detail = wiring.desk().portal_ticket(ticket_id, token)
    shown = present.portal_ticket(detail.config, detail.ticket, detail.comments, detail.allowed)
    public = {c.id for c in detail.comments if c.public}
    listed = wiring.attachments().listing(detail.ticket.id, for_requester=True, public_comment_ids=public)
    _with_files(shown, detail.ticket.id, listed, token or "")
    if not wants_html(request):
        return json_response(shown)
    ticket_type = detail.config.type_named(detail.ticket.type)
    labels = {f.name: f.label for f in ticket_type.fields} if ticket_type else {}
    base = f"{public_base_url(request)}/portal/tickets/{ticket_id}"
    token_query = urlencode({"token": token or ""})
    asked_for = query(request, "to")
    confirm = next((t for t in shown["allowed_transitions"] if t["to"] == asked_for), None)
    html = pages.render(
        "portal.html",
        base=public_base_url(request),
        desk_name=detail.config.desk.name,
        ticket=shown,
        confirm=confirm,
        asked_for=asked_for,
        sent_reply=query(request, "sent") == SENT_REPLY,
        decided=_decision_made(detail.config, detail.ticket, query(request, "from"), query(request, "done")),
        fields=[{"label": labels.get(k, k), "value": v} for k, v in detail.ticket.fields.items()],
        comment_action=f"{base}/comments?{token_query}",
        transition_action=f"{base}/transitions?{token_query}",
        **_upload_hints(detail.config),
    )
    return pages.html_response(html, form_targets=(base,))


@for_people
def portal_comment(request: Request, ticket_id: str) -> Response:
    token = _portal_token(request)
    body = body_object(request)
    desk = wiring.desk()
    posted = posted_files(request)
    comment_id = desk.new_comment_id() if posted else None
    try:
        comment = desk.portal_comment(
            ticket_id,
            token,
            body.get("body"),
            source_ip(request),
            comment_id=comment_id,
            before_write=(lambda: _store(ticket_id, comment_id, posted)) if posted else None,
        )
    except Exception:
        if comment_id is not None:
            wiring.attachments().discard_comment_files(ticket_id, comment_id)
        raise
    if is_form(request):
        portal_url = _portal_url(public_base_url(request), ticket_id, token or "")
        return pages.redirect(f"{portal_url}&{urlencode({'sent': SENT_REPLY})}")
    return json_response(present.comment(comment, for_agent=False), 201)


@for_people
def portal_transition(request: Request, ticket_id: str) -> Response:
    token = _portal_token(request)
    body = body_object(request)
    version = body.get("version")
    if is_form(request) and isinstance(version, str) and version.isascii() and version.isdigit():
        body["version"] = int(body["version"])
    if is_form(request) and not body.get("comment"):
        body.pop("comment", None)
    moved_from = body.pop("from", None) if is_form(request) else None  # the portal's forms name the status they left
    desk = wiring.desk()
    moved = desk.portal_transition(ticket_id, token, body)
    if is_form(request):
        made = {"done": moved.status}
        if isinstance(moved_from, str) and moved_from:
            made["from"] = moved_from
        portal_url = _portal_url(public_base_url(request), ticket_id, token or "")
        return pages.redirect(f"{portal_url}&{urlencode(made)}")
    detail = desk.portal_ticket(ticket_id, token)
    return json_response(present.portal_ticket(detail.config, detail.ticket, detail.comments, detail.allowed))


def _store(ticket_id: str, comment_id: str | None, posted: list[Any]) -> None:
    files.store_posted(ticket_id, comment_id, posted, files.REQUESTER)


def _with_files(shown: dict[str, Any], ticket_id: str, listed: list[Any], token: str | None) -> None:
    """Each comment's files under it and the ticket's own under `attachments`, with the URL that audience opens
    them by: the API's for agents (token None), the portal's with the requester's token."""

    def url(attachment_id: str) -> str:
        if token is None:
            return files.api_path(ticket_id, attachment_id)
        return files.portal_path(ticket_id, attachment_id, token)

    by_comment = files.grouped(listed)
    agent = token is None
    shown["attachments"] = [files.shown(a, url(a.id), for_agent=agent) for a in by_comment.get(None, [])]
    for comment in shown.get("comments", []):
        comment["attachments"] = [files.shown(a, url(a.id), for_agent=agent) for a in by_comment.get(comment["id"], [])]


def _decision_made(config: DeskConfig, ticket: Ticket, moved_from: str | None, moved_to: str | None) -> str | None:
    """The label of the decision the requester has just made, from the workflow; the URL only names statuses.

    Shown only while the ticket is in the status the decision led to, so an edited link confirms nothing untrue.
    """
    if not moved_to or moved_to != ticket.status or ticket.type not in config.types:
        return None
    made = [
        t
        for t in config.workflow_of(ticket.type).transitions
        if t.to_status == moved_to and t.allows(REQUESTER) and moved_from in (None, t.from_status)
    ]
    return present.transitions(config, made[:1])[0]["label"] if made else None


# agents ------------------------------------------------------------------------------------------


@handled
def list_tickets(request: Request) -> Response:
    agent = signed_in_agent(request)
    assignee = query(request, "assignee")
    queue = wiring.desk().queue(
        QueueRequest(
            statuses=tuple(query_all(request, "status")),
            state=query(request, "state"),
            priority=query(request, "priority"),
            type=query(request, "type"),
            assignee=agent.id if assignee == "me" else assignee,  # "me" is the caller, as in PATCH
            team=query(request, "team"),
            requester=query(request, "requester"),
            limit=query(request, "limit"),
            cursor=query(request, "cursor"),
        )
    )
    rows = [present.queue_row(queue.config, t, queue.sla.get(t.id)) for t in queue.page.tickets]
    return json_response({"tickets": rows, "next_cursor": queue.cursor})


@handled
def me(request: Request) -> Response:
    """Who the bearer token belongs to, so a client can show it and filter by it (never the token's hash)."""
    return json_response({"agent": present.agent(signed_in_agent(request))})


@handled
def get_ticket(request: Request, ticket_id: str) -> Response:
    return _detail(ticket_id, signed_in_agent(request))


@handled
def change_ticket(request: Request, ticket_id: str) -> Response:
    agent = signed_in_agent(request)
    wiring.desk().change(ticket_id, json_body(request), agent)
    return _detail(ticket_id, agent)


@handled
def transition_ticket(request: Request, ticket_id: str) -> Response:
    agent = signed_in_agent(request)
    wiring.desk().transition(ticket_id, json_body(request), agent)
    return _detail(ticket_id, agent)


def _detail(ticket_id: str, agent: Agent) -> Response:
    detail = wiring.desk().ticket_detail(ticket_id, agent)
    shown = present.ticket_detail(detail.config, detail.ticket, detail.comments, detail.allowed, detail.sla)
    _with_files(shown, detail.ticket.id, wiring.attachments().listing(detail.ticket.id, for_requester=False), None)
    shown["survey"] = present.survey_answer(wiring.surveys().answer_for(detail.ticket.id))
    return json_response(shown)


@handled
def ticket_history(request: Request, ticket_id: str) -> Response:
    signed_in_agent(request)
    desk = wiring.desk()
    ticket, page, cursor = desk.history(ticket_id, query(request, "limit"), query(request, "cursor"))
    names = {f"agent:{a.id}": a.name for a in desk.list_agents()}
    names[f"requester:{ticket.requester_email}"] = ticket.requester_name
    config = desk.config()
    events = [present.history_event(config, e, names) for e in page.events]
    return json_response({"events": events, "next_cursor": cursor})


@handled
def comment_ticket(request: Request, ticket_id: str) -> Response:
    agent = signed_in_agent(request)
    body = json_body(request)
    desk = wiring.desk()
    wanted = body.pop("attachments", None) if isinstance(body, dict) else None
    if wanted is None:
        comment = desk.comment(ticket_id, body, agent)
        return json_response(present.comment(comment, for_agent=True), 201)
    ticket = desk._ticket(ticket_id)
    comment_id = desk.new_comment_id()
    service = wiring.attachments()
    attached = service.attach(ticket.id, wanted, comment_id)
    try:
        comment = desk.comment(ticket.id, body, agent, comment_id)
    except Exception:
        service.detach(ticket.id, attached, comment_id)
        raise
    shown = present.comment(comment, for_agent=True)
    shown["attachments"] = [files.shown(a, files.api_path(ticket.id, a.id), for_agent=True) for a in attached]
    return json_response(shown, 201)


@handled
def queues(request: Request) -> Response:
    signed_in_agent(request)
    backlog = wiring.desk().backlog()
    for row in backlog["statuses"]:
        row["oldest_created_at"] = present.when(row["oldest_created_at"])
    backlog["as_of"] = present.when(backlog["as_of"])
    return json_response(backlog)


# reports -----------------------------------------------------------------------------------------

REPORT_VIEWS = {
    "sla": lambda params: wiring.reports().sla(params),
    "time-in-status": lambda params: wiring.reports().time_in_status(params),
    "workload": lambda params: wiring.reports().workload(params),
    "satisfaction": lambda params: wiring.reports().satisfaction(params),
}
REPORT_PARAMS = {
    "sla": {"from", "to", "group_by", "format", "table"},
    "time-in-status": {"from", "to", "type", "format", "table"},
    "workload": {"from", "to", "format", "table"},
    "satisfaction": {"from", "to", "group_by", "comments_limit", "comments_after", "format", "table"},
}


@handled
def report(request: Request, name: str) -> Response:
    """A report as JSON, or one of its tables as CSV (`format=csv`, `table=` to pick another than the first)."""
    signed_in_agent(request)
    return report_response(request, name)


def report_response(request: Request, name: str) -> Response:
    """The report answer for a caller already signed in (the API's bearer token or a console session)."""
    build = REPORT_VIEWS.get(name)
    if build is None:
        raise NotFoundError(f"no report {name!r}; the reports are {', '.join(REPORT_VIEWS)}")
    raw: dict[str, Any] = dict(request.query_params or {})
    unknown = sorted(set(raw) - REPORT_PARAMS[name])
    if unknown:
        raise ValidationError("unknown parameters", dict.fromkeys(unknown, "is not a parameter of this report"))
    params = {key: value for key in raw if isinstance(value := query(request, key), str)}
    output = params.get("format", "json")
    if output not in ("json", "csv"):
        raise ValidationError("the format is not known", {"format": "must be json or csv"})
    document = build(params)
    if output == "json":
        return json_response(document)
    from chalicelib.domain.reports import tables as report_tables
    from chalicelib.web import spreadsheet

    tables = report_tables(name, document)
    table = params.get("table") or next(iter(tables))
    if table not in tables:
        raise ValidationError("the table is not known", {"table": f"must be one of {', '.join(tables)}"})
    header, rows = tables[table]
    filename = spreadsheet.filename(
        name if table == next(iter(tables)) else f"{name}-{table}",
        date.fromisoformat(document["from"]),
        date.fromisoformat(document["to"]),
    )
    return Response(
        body=spreadsheet.to_csv(header, rows),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


# admin -------------------------------------------------------------------------------------------


@handled
def get_config(request: Request) -> Response:
    signed_in_admin(request)
    return json_response(wiring.desk().config_document())


@handled
def put_config(request: Request) -> Response:
    admin = signed_in_admin(request)
    result = wiring.desk().replace_config(json_body(request), admin)
    return json_response({**wiring.desk().config_document(), "moved": result["moved"]})


@handled
def create_agent(request: Request) -> Response:
    signed_in_admin(request)
    agent, token = wiring.desk().create_agent(json_body(request))
    return json_response({"agent": present.agent(agent), "token": token}, 201)


@handled
def list_agents(request: Request) -> Response:
    signed_in_admin(request)
    return json_response({"agents": [present.agent(a) for a in wiring.desk().list_agents()]})


@handled
def revoke_agent(request: Request, agent_id: str) -> Response:
    admin = signed_in_admin(request)
    return json_response({"agent": present.agent(wiring.desk().revoke_agent(agent_id, admin))})


@handled
def preflight(request: Request) -> Response:
    """CORS preflight: `handled` adds the headers when the Origin is one the stage allows."""
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})


# public: surveys and unsubscribing -------------------------------------------------------------------


def _survey_page(request: Request, token: str, view: Any, status: int = 200, **extra: Any) -> Response:
    base = public_base_url(request)
    action = f"{base}/surveys/{quote(token)}"
    html = pages.render(
        "survey.html",
        base=base,
        desk_name=view.config.desk.name,
        ref=view.ticket.ref,
        subject=view.ticket.subject,
        scale=view.config.survey.scale,
        answer=view.answer,
        action=action,
        saved_comment=extra.get("saved_comment", False),
        errors=extra.get("errors", ""),
    )
    return pages.html_response(html, status, form_targets=(action,))


@for_people
def survey_page(request: Request, token: str) -> Response:
    """The survey link: with ?rating=N it records that rating at once (one click), then offers a comment box."""
    surveys = wiring.surveys()
    rating = query(request, "rating")
    view = surveys.answer(token, rating, None) if rating is not None else surveys.open(token)
    if not wants_html(request):
        return json_response(_survey_json(view))
    return _survey_page(request, token, view)


@for_people
def answer_survey(request: Request, token: str) -> Response:
    body = body_object(request)
    comment = body.get("comment")
    view = wiring.surveys().answer(token, body.get("rating"), comment)
    if is_form(request):
        return _survey_page(request, token, view, saved_comment=bool(view.answer and view.answer.comment))
    return json_response(_survey_json(view))


def _survey_json(view: Any) -> dict[str, Any]:
    return {
        "ref": view.ticket.ref,
        "subject": view.ticket.subject,
        "scale": view.config.survey.scale,
        "answer": present.survey_answer(view.answer),
    }


@for_people
def unsubscribe_page(request: Request, token: str) -> Response:
    """A page with one button: mail scanners open links, so the link alone unsubscribes no one."""
    ticket = wiring.surveys().unsubscribing(token)
    base = public_base_url(request)
    action = f"{base}/unsubscribe/{quote(token)}"
    html = pages.render(
        "unsubscribe.html",
        base=base,
        desk_name=wiring.desk().config().desk.name,
        email=ticket.requester_email,
        action=action,
        done=False,
    )
    return pages.html_response(html, form_targets=(action,))


@for_people
def unsubscribe(request: Request, token: str) -> Response:
    """The button, or a mail client's one-click unsubscribe (RFC 8058: a POST with List-Unsubscribe=One-Click)."""
    ticket = wiring.surveys().unsubscribe(token)
    if wants_html(request) or is_form(request):
        html = pages.render(
            "unsubscribe.html",
            base=public_base_url(request),
            desk_name=wiring.desk().config().desk.name,
            email=ticket.requester_email,
            done=True,
        )
        return pages.html_response(html)
    return json_response({"unsubscribed": ticket.requester_email})


# admin: the outbox ---------------------------------------------------------------------------------


@handled
def list_outbox(request: Request) -> Response:
    signed_in_admin(request)
    postman, _ = wiring.mail()
    items = postman.listing(query(request, "state") or "failed", query(request, "limit"))
    return json_response({"emails": [present.outbox_item(i) for i in items]})


@handled
def retry_outbox(request: Request) -> Response:
    signed_in_admin(request)
    postman, _ = wiring.mail()
    return json_response({"email": present.outbox_item(postman.retry(json_body(request)))})


# mail in: the original messages ------------------------------------------------------------------

RAW_MAIL = "message/rfc822"


@handled
def original_message(request: Request, ticket_id: str, message_id: str) -> Response:
    """The message as the desk received it (a download, never shown inline), for agents only: by the API's bearer
    token or the console's session. `message_id` is a comment's id, or "opening" for the mail that opened it."""
    import os

    from chalicelib.adapters.raw_mail import MailGoneError, RawMailError, RawMailSettings, RawMailStore

    if bearer_token(request):
        signed_in_agent(request)
    else:
        from chalicelib.web.console.session import signed_in

        signed_in(request, renew=False)
    key = wiring.desk().original_mail_key(ticket_id, message_id)
    settings = RawMailSettings.from_env(os.environ)
    try:
        raw = RawMailStore(settings).fetch(settings.bucket, key)
    except MailGoneError:
        raise NotFoundError("the original message is no longer kept") from None
    except RawMailError:
        raise NotFoundError("the original message cannot be opened") from None
    filename = "".join(c for c in f"{ticket_id}-{message_id}" if c.isalnum() or c in "-_")[:100] or "message"
    return Response(
        body=raw,
        status_code=200,
        headers={
            "Content-Type": RAW_MAIL,
            "Content-Disposition": f'attachment; filename="{filename}.eml"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
