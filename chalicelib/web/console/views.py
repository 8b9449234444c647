"""The agents' console: pages rendered on the server from the same service calls as the API."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.agents import Agent
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import (
    AuthenticationError,
    ConflictError,
    HelpdeskError,
    StaleVersionError,
    ValidationError,
)
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.saved_replies import values_for
from chalicelib.domain.tickets import AGENT, Ticket, allowed_transitions, stamp
from chalicelib.services.console import BulkOutcome, EditConflictError, Listing, Seen
from chalicelib.services.desk import QueueRequest, SlaState, is_plausible_id, is_whole_number
from chalicelib.services.sessions import Presence, SignedIn
from chalicelib.web import attachments as files
from chalicelib.web import present
from chalicelib.web.console.session import (
    checked_form,
    console_view,
    form,
    redirect,
    render,
    set_cookie,
    signed_in,
)
from chalicelib.web.http import UPLOAD_BODY_MB, json_response, posted_files, public_base_url, query

FILTERS = ("status", "priority", "type", "team", "assignee")
TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
# The queue's polling (chalicelib/static/console.js): 30 s after a change, doubling while nothing changes up to 2 min.
# Each poll is an API Gateway request and a Lambda invocation: bench/monthly_bill.py measures what this costs.
POLL_MS = 30_000
POLL_MAX_MS = 120_000


# assets and signing in ------------------------------------------------------------------------------


def _next(raw: str | None) -> str:
    """Only a console path of this desk: never another site (`//evil` or `https:` would be an open redirect)."""
    if raw and raw.startswith("/console") and "//" not in raw and "\\" not in raw and raw.isprintable():
        return raw
    return "/console"


def _signed_in_response(request: Request, who: SignedIn, target: str) -> Response:
    lifetime = int((who.session.expires_at - who.session.created_at).total_seconds())
    return redirect(f"{public_base_url(request)}{target}", {"Set-Cookie": set_cookie(request, who.cookie, lifetime)})


@console_view
def sign_in_page(request: Request) -> Response:
    try:
        signed_in(request, renew=False)
        return redirect(f"{public_base_url(request)}/console")
    except AuthenticationError:
        pass
    return render(
        request,
        "console/sign_in.html",
        None,
        sent=False,
        error=None,
        next=_next(query(request, "next")),
        ended=query(request, "ended") == "1",
        signed_out=query(request, "signed_out") == "1",
    )


@console_view
def sign_in(request: Request) -> Response:
    values = form(request)
    target = _next(values.get("next"))
    token = (values.get("token") or "").strip()
    if token:
        try:
            who = wiring.sessions().sign_in_with_token(token)
        except AuthenticationError:
            return render(
                request,
                "console/sign_in.html",
                None,
                401,
                sent=False,
                next=target,
                ended=False,
                signed_out=False,
                error="That token is not valid. Check that you pasted all of it, or ask an admin for a new one.",
            )
        return _signed_in_response(request, who, target)
    email = values.get("email", "")
    wiring.sessions().request_link(email, f"{public_base_url(request)}/console/sign-in/confirm")
    # The same answer whether or not the address is an agent's.
    return render(
        request,
        "console/sign_in.html",
        None,
        sent=True,
        email=email,
        next=target,
        ended=False,
        signed_out=False,
        error=None,
    )


@console_view
def confirm_page(request: Request) -> Response:
    token = query(request, "token") or ""
    usable = wiring.sessions().link_is_usable(token)
    return render(request, "console/confirm.html", None, 200 if usable else 401, token=token, usable=usable)


@console_view
def confirm(request: Request) -> Response:
    values = form(request)
    try:
        who = wiring.sessions().confirm_link(values.get("token"))
    except AuthenticationError:
        return render(request, "console/confirm.html", None, 401, token="", usable=False)
    return _signed_in_response(request, who, "/console")


@console_view
def sign_out(request: Request) -> Response:
    who, _ = checked_form(request)
    wiring.sessions().sign_out(who)
    return redirect(
        f"{public_base_url(request)}/console/sign-in?signed_out=1", {"Set-Cookie": set_cookie(request, "", 0)}
    )


# the queue -----------------------------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, str | None]:
    return {name: query(request, name) or None for name in FILTERS}


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def epoch_ms(moment: datetime) -> int:
    """The desk's time as the page's script reads it (`data-now`): its countdowns follow the desk's clock, not the
    computer's, which may be skewed (or, in a local run, behind the desk's advanced clock)."""
    return int(moment.timestamp() * 1000)


def breached_text(due: datetime | None, now: datetime) -> str:
    """How long ago a timer breached, worded as console.js words it when a countdown passes zero."""
    if due is None or due > now:
        return "Breached"
    if (now - due).total_seconds() < 60:
        return "Breached just now"
    return f"Breached {_duration((now - due).total_seconds())} ago"


def _countdown(due: datetime | None, now: datetime, *, breached: bool, at_risk: bool) -> dict[str, str]:
    """A running timer's level and words: "3h 5m left", or once its due time has passed "Breached 2h ago"."""
    if breached or (due is not None and due <= now):
        return {"level": "breached", "countdown": breached_text(due, now)}
    left = f"{_duration((due - now).total_seconds())} left" if due else ""
    return {"level": "at_risk" if at_risk else "ok", "countdown": left}


def sla_badge(state: SlaState | None, now: datetime) -> dict[str, Any] | None:
    """The timer that matters most now: a breach, else the running one due soonest, else a paused one."""
    if state is None:
        return None
    live = [t for t in state.timers if t.state in ("running", "paused")]
    if not live:
        return None
    breached = [t for t in live if t.breached]
    if breached:
        timer = breached[0]
        return {
            "level": "breached",
            "text": breached_text(timer.due_at, now),
            "due": stamp(timer.due_at) if timer.due_at else "",
            "kind": timer.kind,
            "title": f"{timer.kind.replace('_', ' ')} breached",
        }
    running = sorted((t for t in live if t.state == "running" and t.due_at), key=lambda t: t.due_at or now)
    if running:
        timer = running[0]
        due = timer.due_at or now
        shown = _countdown(due, now, breached=False, at_risk=timer.at_risk)
        return {
            "level": shown["level"],
            "text": shown["countdown"],
            "due": stamp(due),
            "kind": timer.kind,
            "title": f"{timer.kind.replace('_', ' ')} due {stamp(due)[:16].replace('T', ' ')} UTC",
        }
    return {"level": "paused", "text": "Paused", "due": "", "kind": live[0].kind, "title": "waiting on the requester"}


def _rows(
    listing: Listing, agents: dict[str, str], now: datetime, present_on: dict[str, list[str]]
) -> list[dict[str, Any]]:
    config = listing.config
    rows = []
    for ticket in listing.tickets:
        priority = config.priority(ticket.priority)
        rows.append(
            {
                "id": ticket.id,
                "ref": ticket.ref,
                "subject": ticket.subject,
                "requester": ticket.requester_name,
                "requester_email": ticket.requester_email,
                "type": present._type(config, ticket.type)["label"],
                "status": config.status(ticket.status).label,
                "priority": priority.label,
                "priority_key": priority.key,
                "top": priority.rank == 0,
                "assignee": agents.get(ticket.assignee or "", "") if ticket.assignee else "",
                "in_status": _duration((now - ticket.status_since).total_seconds()),
                "since": stamp(ticket.status_since),
                "sla": sla_badge(listing.sla.get(ticket.id), now),
                "requester_last": ticket.last_public_by == "requester" and ticket.is_open,
                "version": ticket.version,
                "viewers": present_on.get(ticket.id, []),
            }
        )
    return rows


def _present_on(me: Agent, names: dict[str, str], present: list[Presence]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in present:
        if p.agent_id != me.id:
            label = names.get(p.agent_id, "Someone") + (" (typing)" if p.typing else "")
            found.setdefault(p.ticket_id, []).append(label)
    return found


def _queue_context(
    request: Request, who: SignedIn, *, outcomes: list[Any] | None = None, next_page: bool = False
) -> dict[str, Any]:
    """`next_page`: also the ids at the head of the view's next page, so that a poll tells a ticket that only
    moved off this page (pushed down by new ones) from one that left the view."""
    desk = wiring.desk()
    console = wiring.console()
    view = query(request, "view") or "open"
    filters = _filters(request)
    listing = console.listing(who.agent, view, filters, query(request, "cursor"))
    present = console.present()
    agents = [a for a in desk.list_agents() if a.active]
    names = {a.id: a.name for a in agents}
    now = desk.clock.now()
    config = listing.config
    views = console.views(who.agent)
    title = next((v.label for v in views if v.key == view), "Queue")
    kept = {k: v for k, v in filters.items() if v}
    next_ids: list[str] = []
    if next_page and listing.cursor:
        next_ids = [t.id for t in console.listing(who.agent, view, filters, listing.cursor).tickets]
    return {
        "server_now": epoch_ms(now),
        "next_ids": next_ids,
        "view": view,
        "title": title,
        "views": views,
        "rows": _rows(listing, names, now, _present_on(who.agent, names, present)),
        "filters": kept,
        "more_url": (
            f"{public_base_url(request)}/console?{urlencode({'view': view, **kept, 'cursor': listing.cursor})}"
            if listing.cursor
            else None
        ),
        "bulk_url": f"{public_base_url(request)}/console/bulk?{urlencode({'view': view, **kept})}",
        "rows_url": f"{public_base_url(request)}/console/rows?{urlencode({'view': view, **kept})}",
        "poll_url": f"{public_base_url(request)}/console/poll?{urlencode({'view': view, **kept})}",
        "poll_ms": POLL_MS,
        "poll_max_ms": POLL_MAX_MS,
        "token": console.change_token(who.agent, view, filters, present),
        "agents": agents,
        "config": config,
        "statuses": [config.status(k) for k in config.statuses],
        "priorities": config.priorities_by_rank(),
        "types": list(config.types.values()),
        "teams": list(config.teams),
        "transitions": _all_transitions(config),
        "outcomes": outcomes or [],
    }


def _all_transitions(config: DeskConfig) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for key in config.statuses:
        seen.setdefault(key, config.status(key).label)
    return list(seen.items())


@console_view
def queue_page(request: Request) -> Response:
    who = signed_in(request)
    return render(request, "console/queue.html", who, **_queue_context(request, who))


@console_view
def queue_rows(request: Request) -> Response:
    """The list's rows and the sidebar's counts, for a poll that saw a change (the page swaps them in)."""
    who = signed_in(request, renew=False)
    return render(request, "console/rows.html", who, **_queue_context(request, who, next_page=True))


@console_view
def poll(request: Request) -> Response:
    """One small answer: whether the queue changed since `token`. An unchanged queue is never re-rendered."""
    who = signed_in(request, renew=False)
    token = wiring.console().change_token(who.agent, query(request, "view") or "open", _filters(request))
    return json_response({"changed": token != query(request, "token"), "token": token})


@console_view
def bulk(request: Request) -> Response:
    who, values = checked_form(request)
    chosen = [key[2:] for key, value in values.items() if key.startswith("t-") and value == "on"]
    seen = []
    for ticket_id in chosen:
        version = values.get(f"v-{ticket_id}", "")
        if is_plausible_id(ticket_id) and is_whole_number(version):
            seen.append((ticket_id, int(version)))
    action, _, value = (values.get("bulk") or "").partition(":")
    try:
        outcomes = wiring.console().bulk(who.agent, action, value, seen)
    except ValidationError as error:
        outcomes = [BulkOutcome(ticket_id="", ref="", ok=False, message=error.message)]
    if action == "transition":
        outcomes = _explain_refused_moves(outcomes, value, dict(seen))
    context = _queue_context(request, who, outcomes=outcomes)
    return render(request, "console/queue.html", who, **context)


def _either(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"


def _explain_refused_moves(outcomes: list[BulkOutcome], to: str, versions: dict[str, int]) -> list[BulkOutcome]:
    """A move a ticket's workflow does not allow, said in the desk's words: the statuses by their labels, where the
    ticket is and where it can go from there. (The desk's own message names the wanted status by its key.)"""
    desk = wiring.desk()
    config = desk.config()
    wanted = config.status(to).label
    explained = []
    for outcome in outcomes:
        ticket = desk.tickets.get(outcome.ticket_id) if not outcome.ok and outcome.ticket_id else None
        # Not a move it refused: refused as stale (another version), or for a reason of its own.
        if ticket is None or ticket.version != versions.get(outcome.ticket_id):
            explained.append(outcome)
            continue
        allowed = allowed_transitions(config, ticket, AGENT)
        if any(t.to_status == to for t in allowed):
            explained.append(outcome)
            continue
        here = config.status(ticket.status).label
        message = f"it is already {here}" if ticket.status == to else f"it is {here}, which cannot move to {wanted}"
        targets = list(dict.fromkeys(config.status(t.to_status).label for t in allowed))
        onward = f"from {here} it can move to {_either(targets)}" if targets else f"nothing moves it on from {here}"
        message += f"; {onward}"
        explained.append(replace(outcome, message=message))
    return explained


@console_view
def search(request: Request) -> Response:
    who = signed_in(request)
    text = query(request, "q") or ""
    found = wiring.console().search(text)
    if len(found) == 1 and text.strip().upper() == found[0].ref:
        return redirect(f"{public_base_url(request)}/console/tickets/{found[0].id}")
    config = wiring.desk().config()
    listing = Listing("search", found, {}, None, config)
    names = {a.id: a.name for a in wiring.desk().list_agents()}
    now = wiring.desk().clock.now()
    rows = _rows(listing, names, now, {})
    return render(
        request,
        "console/search.html",
        who,
        server_now=epoch_ms(now),
        q=text,
        rows=rows,
        views=wiring.console().views(who.agent, with_sla=False),
        view="",
    )


# a ticket ----------------------------------------------------------------------------------------------


def _placeholder_values(request: Request, ticket: Ticket, agent: Agent) -> dict[str, str]:
    desk = wiring.desk()
    token = desk.portal_token(ticket, desk.config())
    link = f"{public_base_url(request)}/portal/tickets/{ticket.id}?{urlencode({'token': token})}"
    return values_for(ticket, agent.name, link)


def _saved_replies(request: Request, ticket: Ticket, agent: Agent) -> list[dict[str, Any]]:
    library = wiring.saved_replies()
    values = _placeholder_values(request, ticket, agent)
    return [
        {
            "id": r.id,
            "title": r.title,
            "body": library.fill(r, values),
            "status": r.status or "",
            "priority": r.priority or "",
            "public": r.public,
        }
        for r in library.list(None)
    ]


def _ticket_context(request: Request, who: SignedIn, ticket_id: str, **extra: Any) -> dict[str, Any]:
    desk = wiring.desk()
    console = wiring.console()
    detail = desk.ticket_detail(ticket_id, who.agent)
    ticket, config = detail.ticket, detail.config
    entries, names = console.conversation(ticket, detail.comments)
    agents = [a for a in desk.list_agents() if a.active]
    agent_names = {a.id: a.name for a in agents}
    now = desk.clock.now()
    others = desk.queue(QueueRequest(requester=ticket.requester_email, state="all", limit="10")).page.tickets
    ticket_type = config.type_named(ticket.type)
    timers = [
        {
            "kind": t.kind.replace("_", " ").capitalize(),
            "state": t.state,
            "due": stamp(t.due_at) if t.due_at else "",
            "due_text": stamp(t.due_at)[:16].replace("T", " ") + " UTC" if t.due_at else "",
            "at_risk": t.at_risk,
            "breached": t.breached,
            **_countdown(t.due_at, now, breached=t.breached, at_risk=t.at_risk),
            "met_at": stamp(t.met_at)[:16].replace("T", " ") + " UTC" if t.met_at else "",
        }
        for t in (detail.sla.timers if detail.sla else [])
    ]
    times = [
        {
            "label": config.status(s.status).label,
            "visits": s.visits,
            "wall": _duration(s.wall.total_seconds()),
            "business": _duration(s.business.total_seconds()),
        }
        for s in (detail.sla.time_in_status if detail.sla else [])
    ]
    saved = _saved_replies(request, ticket, who.agent)
    prefill = next((r for r in saved if r["id"] == query(request, "saved")), None)
    # Showing the page is the viewer's first heartbeat: whoever opens the ticket next sees them at once.
    viewers = [
        {"name": agent_names.get(p.agent_id, "Someone"), "typing": p.typing}
        for p in console.beat(who.agent, ticket.id, False)
        if p.ticket_id == ticket.id
    ]
    listed = wiring.attachments().listing(ticket.id, for_requester=False)
    context: dict[str, Any] = {
        "ticket": ticket,
        "files": {
            key: [files.shown(a, files.console_path(ticket.id, a.id), for_agent=True) for a in group]
            for key, group in files.grouped(listed).items()
        },
        "max_files": config.attachments.max_files_per_comment,
        "upload_limit": f"{UPLOAD_BODY_MB} MB",
        "inbound_address": wiring.settings().inbound_address,
        "type_label": ticket_type.label if ticket_type else ticket.type,
        "status": config.status(ticket.status),
        "priority": config.priority(ticket.priority),
        "priorities": config.priorities_by_rank(),
        "teams": list(config.teams),
        "agents": agents,
        "assignee_name": agent_names.get(ticket.assignee or "", ""),
        "transitions": present.transitions(config, detail.allowed),
        "fields": [
            {"spec": f, "value": ticket.fields.get(f.name, "")} for f in (ticket_type.fields if ticket_type else [])
        ],
        "entries": entries,
        "names": names,
        "timers": timers,
        "times": times,
        "others": [t for t in others if t.id != ticket.id],
        "saved": saved,
        "viewers": viewers,
        "seen_at": stamp(now),
        "server_now": epoch_ms(now),
        "draft": prefill["body"] if prefill else "",
        "draft_kind": ("reply" if prefill["public"] else "note") if prefill else "reply",
        "draft_move": prefill["status"] if prefill else "",
        "draft_priority": prefill["priority"] if prefill else "",
        "conflict": None,
        "error": None,
        "done": query(request, "done"),
        "presence_url": f"{public_base_url(request)}/console/tickets/{ticket.id}/presence",
        "agent_label": lambda actor: names.get(actor, "The desk" if actor.startswith("system") else "Someone"),
        "event_text": lambda event: _event_text(config, event, names, agent_names),
        "status_label": lambda key: config.status(key).label,
    }
    context.update(extra)
    return context


def _event_text(config: DeskConfig, event: HistoryEvent, names: dict[str, str], agents: dict[str, str]) -> str:
    data = event.data
    kind = event.kind
    if kind == "created":
        return "opened the ticket"
    if kind == "status_changed":
        return f"moved it from {config.status(str(data['from'])).label} to {config.status(str(data['to'])).label}"
    if kind == "priority_changed":
        return f"changed the priority to {config.priority(str(data.get('to'))).label}"
    if kind == "assignee_changed":
        target = data.get("to")
        return f"assigned it to {agents.get(str(target), 'an agent')}" if target else "unassigned it"
    if kind == "team_changed":
        return f"set the team to {data.get('to') or 'none'}"
    if kind == "subject_changed":
        return "changed the subject"
    if kind == "fields_changed":
        return "changed the details"
    if kind == "reminder_sent":
        return "sent a reminder"
    if kind == "sla_at_risk":
        return f"warned: {str(data.get('timer', '')).replace('_', ' ')} at risk"
    if kind == "sla_breached":
        return f"alerted: {str(data.get('timer', '')).replace('_', ' ')} breached"
    if kind == "survey_sent":
        return "sent the satisfaction survey"
    if kind == "survey_answered":
        return f"answered the survey: {data.get('rating')!s}"
    return kind.replace("_", " ")


@console_view
def ticket_page(request: Request, ticket_id: str) -> Response:
    who = signed_in(request)
    return render(request, "console/ticket.html", who, **_ticket_context(request, who, ticket_id))


def _seen(values: dict[str, str]) -> Seen:
    def number(name: str) -> int:
        text = values.get(name, "")
        if not is_whole_number(text):
            raise ValidationError("the form is incomplete; reload the ticket", {name: "is missing"})
        return int(text)

    try:
        seen_at = datetime.strptime(values.get("seen_at", ""), TIME).replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError("the form is incomplete; reload the ticket", {"seen_at": "is missing"}) from None
    return Seen(number("seen_version"), number("seen_comments"), seen_at)


def _back(request: Request, ticket_id: str, done: str) -> Response:
    return redirect(f"{public_base_url(request)}/console/tickets/{ticket_id}?done={done}#latest")


@console_view
def reply(request: Request, ticket_id: str) -> Response:
    who, values = checked_form(request)
    body = values.get("body", "")
    kind = values.get("kind", "reply")
    move_to = values.get("move_to") or None
    priority = values.get("priority") or None
    seen = _seen(values)
    posted = posted_files(request)
    comment_id = None
    try:
        if posted:
            # The files are stored first, under the comment's id-to-be: the mail about the reply then finds them.
            desk = wiring.desk()
            ticket_id = desk._ticket(ticket_id).id
            comment_id = desk.new_comment_id()
            files.store_posted(ticket_id, comment_id, posted, files.AGENT)
        ticket = wiring.console().reply(
            who.agent,
            ticket_id,
            body,
            public=kind != "note",
            move_to=move_to,
            seen=seen,
            priority=priority,
            comment_id=comment_id,
        )
    except (ValidationError, ConflictError) as error:
        if comment_id is not None:
            wiring.attachments().discard_comment_files(ticket_id, comment_id)
        # Nothing was sent: the page comes back with the agent's text, and for an edit conflict what changed.
        conflict = error if isinstance(error, EditConflictError) else None
        context = _ticket_context(
            request,
            who,
            ticket_id,
            draft=body,
            draft_kind=kind,
            draft_move=move_to or "",
            draft_priority=priority or "",
            conflict=conflict,
            error=(None if conflict else error.message) if not posted else _files_again(conflict, error.message),
        )
        if conflict:
            context["seen_at"] = values.get("seen_at", "")
        return render(request, "console/ticket.html", who, 409 if isinstance(error, ConflictError) else 422, **context)
    except Exception:
        if comment_id is not None:
            wiring.attachments().discard_comment_files(ticket_id, comment_id)
        raise
    return _back(request, ticket.id, "note" if kind == "note" else "reply")


def _files_again(conflict: EditConflictError | None, message: str) -> str:
    """A page cannot hand chosen files back to the browser: say so, next to what went wrong."""
    again = "Your files were not kept: choose them again before you send."
    return again if conflict else f"{message} {again}"


@console_view
def change(request: Request, ticket_id: str) -> Response:
    who, values = checked_form(request)
    desk = wiring.desk()
    version = _seen(values).version
    ticket = desk._ticket(ticket_id)
    config = desk.config()
    changes: dict[str, Any] = {}
    if values.get("assign_me"):
        changes["assignee"] = who.agent.id
    else:
        for name in ("priority", "team", "assignee"):
            if name in values:
                wanted = values[name] or None
                if wanted != getattr(ticket, name):
                    changes[name] = wanted
        ticket_type = config.type_named(ticket.type)
        fields = {}
        for spec in ticket_type.fields if ticket_type else []:
            key = f"f-{spec.name}"
            if key in values and str(values[key]) != str(ticket.fields.get(spec.name, "")):
                fields[spec.name] = values[key]
        if fields:
            changes["fields"] = {**ticket.fields, **fields}
    if not changes:
        return _back(request, ticket.id, "unchanged")
    try:
        desk.change(ticket.id, {**changes, "version": version}, who.agent)
    except StaleVersionError:
        return _conflict(request, who, ticket, values, "your change was not saved")
    except ValidationError as error:
        detail = "; ".join(f"{k}: {v}" for k, v in error.errors.items()) or error.message
        return render(
            request, "console/ticket.html", who, 422, **_ticket_context(request, who, ticket.id, error=detail)
        )
    return _back(request, ticket.id, "changed")


def _conflict(request: Request, who: SignedIn, ticket: Ticket, values: dict[str, str], what: str) -> Response:
    found = wiring.desk().tickets.get_with_comments(ticket.id)
    current, comments = found if found else (ticket, [])
    changes = wiring.console().changes_since(current, comments, _seen(values), who.agent)
    conflict = EditConflictError(
        f"someone changed this ticket after you opened it; {what}", changes, current.version, current.comment_count
    )
    context = _ticket_context(request, who, ticket.id, conflict=conflict, wanted=values)
    context["seen_at"] = values.get("seen_at", "")
    return render(request, "console/ticket.html", who, 409, **context)


@console_view
def transition(request: Request, ticket_id: str) -> Response:
    who, values = checked_form(request)
    desk = wiring.desk()
    version = _seen(values).version
    ticket = desk._ticket(ticket_id)
    try:
        desk.transition(ticket.id, {"to": values.get("to", ""), "version": version}, who.agent)
    except StaleVersionError:
        return _conflict(request, who, ticket, values, "it was not moved")
    except HelpdeskError as error:
        return render(
            request, "console/ticket.html", who, 409, **_ticket_context(request, who, ticket.id, error=error.message)
        )
    return _back(request, ticket.id, "moved")


@console_view
def presence(request: Request, ticket_id: str) -> Response:
    who, values = checked_form(request)
    others = wiring.console().beat(who.agent, ticket_id, values.get("typing") == "1")
    names = {a.id: a.name for a in wiring.desk().list_agents()}
    return json_response({"others": [{"name": names.get(p.agent_id, "Someone"), "typing": p.typing} for p in others]})


# settings ------------------------------------------------------------------------------------------------


@console_view
def settings_page(request: Request) -> Response:
    who = signed_in(request)
    return render(request, "console/settings.html", who, saved=query(request, "saved") == "1")


@console_view
def save_settings(request: Request) -> Response:
    who, values = checked_form(request)
    wiring.desk().store.set_agent_shortcuts(who.agent.id, values.get("shortcuts") == "on")
    return redirect(f"{public_base_url(request)}/console/settings?saved=1")


# reports --------------------------------------------------------------------------------------------------


@console_view
def reports_page(request: Request) -> Response:
    from chalicelib.web.console import reports_view

    who = signed_in(request)
    return render(request, "console/reports.html", who, **reports_view.context(request))


@console_view
def report_csv(request: Request, name: str) -> Response:
    from chalicelib.web import views

    signed_in(request)
    return views.report_response(request, name)


# admin ------------------------------------------------------------------------------------------------------


def _admin(request: Request) -> SignedIn:
    who = signed_in(request)
    if not who.agent.is_admin:
        from chalicelib.domain.errors import ForbiddenError

        raise ForbiddenError("only an admin may open this page")
    return who


def _admin_form(request: Request) -> tuple[SignedIn, dict[str, str]]:
    who, values = checked_form(request)
    if not who.agent.is_admin:
        from chalicelib.domain.errors import ForbiddenError

        raise ForbiddenError("only an admin may do this")
    return who, values


@console_view
def agents_page(request: Request, **extra: Any) -> Response:
    who = _admin(request)
    agents = wiring.desk().list_agents()
    return render(request, "console/agents.html", who, agents=agents, created=None, error=None, **extra)


@console_view
def agents_post(request: Request) -> Response:
    who, values = _admin_form(request)
    action = values.get("action")
    desk = wiring.desk()
    created = None
    error = None
    try:
        if action == "create":
            agent, token = desk.create_agent(
                {"name": values.get("name", ""), "email": values.get("email", ""), "role": values.get("role", "agent")}
            )
            created = {"agent": agent, "token": token}
        elif action == "revoke":
            desk.revoke_agent(values.get("agent", ""), who.agent)
        elif action == "role":
            from chalicelib.services.agents import AgentAdmin

            AgentAdmin(desk.store).change_role(values.get("agent", ""), {"role": values.get("role")}, who.agent)
    except ValidationError as failure:
        error = "; ".join(f"{k}: {v}" for k, v in failure.errors.items()) or failure.message
    except HelpdeskError as failure:
        error = failure.message
    status = 201 if created else 422 if error else 200
    return render(request, "console/agents.html", who, status, agents=desk.list_agents(), created=created, error=error)


@console_view
def saved_replies_page(request: Request) -> Response:
    who = _admin(request)
    library = wiring.saved_replies()
    return render(
        request,
        "console/saved_replies.html",
        who,
        replies=library.list(None),
        error=None,
        edit=query(request, "edit"),
        config=wiring.desk().config(),
    )


@console_view
def saved_replies_post(request: Request) -> Response:
    who, values = _admin_form(request)
    library = wiring.saved_replies()
    action = values.get("action")
    body: dict[str, Any] = {k: values[k] for k in ("title", "body") if k in values}
    for optional in ("status", "priority"):
        if values.get(optional):
            body[optional] = values[optional]
    if "public" in values or action in ("create", "update"):
        body["public"] = values.get("public") == "on"
    error = None
    try:
        if action == "create":
            library.create(body, who.agent)
        elif action == "update":
            version = values.get("version", "")
            library.update(
                values.get("id", ""),
                {**body, "version": int(version) if is_whole_number(version) else version},
                who.agent,
            )
        elif action == "delete":
            library.delete(values.get("id", ""), who.agent)
    except ValidationError as failure:
        error = "; ".join(f"{k}: {v}" for k, v in failure.errors.items()) or failure.message
    except HelpdeskError as failure:
        error = failure.message
    if error is None:
        return redirect(f"{public_base_url(request)}/console/admin/saved-replies")
    return render(
        request,
        "console/saved_replies.html",
        who,
        422,
        replies=library.list(None),
        error=error,
        edit=None,
        config=wiring.desk().config(),
    )


@console_view
def config_page(request: Request) -> Response:
    who = _admin(request)
    desk = wiring.desk()
    document = desk.config_document()
    shown = query(request, "version")
    if shown is not None:
        from chalicelib.services.agents import ConfigHistory

        stored = ConfigHistory(desk.store).versions(version=shown)[0]
        return render(
            request,
            "console/config_version.html",
            who,
            stored=stored,
            text=json.dumps(stored.document, indent=2, ensure_ascii=False),
        )
    return render(
        request,
        "console/config.html",
        who,
        text=json.dumps(document["config"], indent=2, ensure_ascii=False),
        version=document["version"],
        errors={},
        message=None,
        versions=desk.store.config_versions(20),
        saved=query(request, "saved") == "1",
    )


@console_view
def config_post(request: Request) -> Response:
    who, values = _admin_form(request)
    desk = wiring.desk()
    text = values.get("config", "")
    version = values.get("version", "")
    errors: dict[str, str] = {}
    message = None
    try:
        parsed = json.loads(text)
        desk.replace_config({"config": parsed, "version": int(version) if is_whole_number(version) else -1}, who.agent)
        return redirect(f"{public_base_url(request)}/console/admin/config?saved=1")
    except json.JSONDecodeError as failure:
        message = f"The document is not valid JSON: {failure.msg} at line {failure.lineno}, column {failure.colno}."
    except ValidationError as failure:
        errors, message = failure.errors, failure.message
    except HelpdeskError as failure:
        errors = dict(failure.details.get("errors") or {})
        message = failure.message
    return render(
        request,
        "console/config.html",
        who,
        422,
        text=text,
        version=version,
        errors=errors,
        message=message,
        versions=desk.store.config_versions(20),
        saved=False,
    )


@console_view
def mail_page(request: Request, **extra: Any) -> Response:
    who = _admin(request)
    postman, _ = wiring.mail()
    failed = postman.listing("failed", "100")
    return render(request, "console/mail.html", who, failed=failed, retried=query(request, "retried"), error=None)


@console_view
def mail_post(request: Request) -> Response:
    who, values = _admin_form(request)
    postman, _ = wiring.mail()
    try:
        item = postman.retry({"id": values.get("id", "")})
    except HelpdeskError as failure:
        return render(
            request,
            "console/mail.html",
            who,
            422,
            failed=postman.listing("failed", "100"),
            retried=None,
            error=failure.message,
        )
    return redirect(f"{public_base_url(request)}/console/admin/mail?{urlencode({'retried': item.state})}")
