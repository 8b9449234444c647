"""The console's webhooks page (admins): add one (its secret shown once), delete one after a confirmation step,
and each webhook's delivery log; the same service calls as /admin/webhooks.

Adding is a post-redirect-get, like the console's other forms: the post answers 303 to `?added=<id>`, so reloading
the page never adds a second webhook. The secret never travels in that URL: the post offers it to its own session
(`WebhookAdmin.offer_secret`, an item of the desk table), and the first GET of that session takes the offer in one
conditional delete and shows the secret; a reload, another session or a late visit finds no offer and says so."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.errors import ForbiddenError, NotFoundError, ValidationError
from chalicelib.domain.webhooks import FORMATS, KIND_LABELS, KINDS, Webhook
from chalicelib.services.sessions import SignedIn
from chalicelib.web.console.session import checked_form, console_view, redirect, render, signed_in
from chalicelib.web.http import public_base_url, query

PAGE = "console/webhooks/page.html"
CONFIRM = "console/webhooks/confirm.html"
DETAIL = "console/webhooks/detail.html"
FIELD_IDS = {
    "url": "webhook-url",
    "kinds": "webhook-kinds",
    "format": "webhook-format",
    "description": "webhook-description",
}
FIELD_LABELS = {"url": "Address (URL)", "kinds": "Events", "format": "Message format", "description": "Description"}


def _admin(who: SignedIn) -> SignedIn:
    if not who.agent.is_admin:
        raise ForbiddenError("only an admin may manage webhooks")
    return who


def _page(
    request: Request,
    who: SignedIn,
    status: int = 200,
    *,
    added: Webhook | None = None,
    secret: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    message: str | None = None,
    deleted: bool = False,
) -> Response:
    errors = errors or {}
    problems = [
        {"field": FIELD_IDS.get(name), "label": FIELD_LABELS.get(name, name), "message": why}
        for name, why in errors.items()
    ]
    return render(
        request,
        PAGE,
        who,
        status,
        webhooks=wiring.webhook_admin().listing(),
        added=added,
        secret=secret,
        errors=errors,
        problems=problems,
        message=message,
        values=values or {"url": "", "kinds": [], "format": "json", "description": ""},
        kinds=[(k, KIND_LABELS[k]) for k in KINDS],
        formats=FORMATS,
        deleted=deleted,
        local=wiring.runs_locally(),
    )


@console_view
def page(request: Request) -> Response:
    """The list and the form; after an add (`?added=<id>`) the new webhook, with its secret the first time only."""
    who = _admin(signed_in(request))
    deleted = query(request, "deleted") == "1"
    added = _added(query(request, "added"))
    secret = wiring.webhook_admin().secret_once(added, who.session.id_hash) if added is not None else None
    return _page(request, who, deleted=deleted, added=added, secret=secret)


def _added(webhook_id: str | None) -> Webhook | None:
    """The webhook `?added=` names; none when it is gone (deleted meanwhile) or never was."""
    if not webhook_id:
        return None
    try:
        return wiring.webhook_admin().get(webhook_id)
    except NotFoundError:
        return None


@console_view
def detail(request: Request, webhook_id: str) -> Response:
    who = _admin(signed_in(request))
    admin = wiring.webhook_admin()
    webhook = admin.get(webhook_id)
    return render(request, DETAIL, who, webhook=webhook, attempts=admin.deliveries(webhook_id))


@console_view
def post(request: Request) -> Response:
    """action=create adds one; action=delete asks first, and deletes once the confirmation comes back."""
    who, values = checked_form(request)
    _admin(who)
    admin = wiring.webhook_admin()
    action = values.get("action")
    if action == "delete":
        webhook = admin.get(values.get("id", ""))
        if values.get("confirm") != "yes":
            return render(request, CONFIRM, who, webhook=webhook)
        admin.delete(webhook.id)
        return redirect(f"{public_base_url(request)}/console/admin/webhooks?deleted=1")
    if action != "create":
        raise ValidationError("unknown action", {"action": "must be create or delete"})
    kinds = [k for k in KINDS if values.get(f"kind.{k}")]  # one box per kind: a form sends a name once
    wanted = {
        "url": values.get("url", "").strip(),
        "kinds": kinds,
        "format": values.get("format", "json"),
        "description": values.get("description", "").strip(),
    }
    try:
        created = admin.create(wanted, who.agent)
    except ValidationError as failure:
        return _page(request, who, 422, errors=failure.errors, values=wanted, message=failure.message)
    admin.offer_secret(created.webhook, who.session.id_hash)
    return redirect(f"{public_base_url(request)}/console/admin/webhooks?{urlencode({'added': created.webhook.id})}")
