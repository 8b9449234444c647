"""Webhooks over HTTP (admins only): add one (its secret is in that answer only), list, delete, delivery logs."""

from __future__ import annotations

from typing import Any

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.webhooks import Webhook
from chalicelib.services.webhooks import Attempt
from chalicelib.web.http import handled, json_body, json_response, query, signed_in_admin
from chalicelib.web.present import when


def shown(webhook: Webhook) -> dict[str, Any]:
    """A webhook as the API answers it: never its secret."""
    return {
        "id": webhook.id,
        "url": webhook.url,
        "kinds": list(webhook.kinds) or ["*"],
        "format": webhook.format,
        "description": webhook.description,
        "active": webhook.active,
        "created_at": when(webhook.created_at),
        "created_by": webhook.created_by,
        "failing_since": when(webhook.failing_since) if webhook.failing_since else None,
        "switched_off_at": when(webhook.switched_off_at) if webhook.switched_off_at else None,
    }


def attempt(entry: Attempt) -> dict[str, Any]:
    return {
        "at": when(entry.at),
        "event_id": entry.event_id,
        "kind": entry.kind,
        "ticket_ref": entry.ref,
        "attempt": entry.attempt,
        "status": entry.status,
        "error": entry.error,
        "duration_ms": entry.duration_ms,
        "ok": entry.ok,
    }


def _no_parameters(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params or {}) - allowed)
    if unknown:
        hint = f"use {', '.join(sorted(allowed))}" if allowed else "this takes none"
        raise ValidationError("unknown parameters", dict.fromkeys(unknown, f"is not a parameter; {hint}"))


@handled
def list_webhooks(request: Request) -> Response:
    signed_in_admin(request)
    _no_parameters(request, set())
    return json_response({"webhooks": [shown(w) for w in wiring.webhook_admin().listing()]})


@handled
def create_webhook(request: Request) -> Response:
    """201 with the webhook and its `secret`, which no later answer shows: the receiver needs it to verify."""
    admin = signed_in_admin(request)
    created = wiring.webhook_admin().create(json_body(request), admin)
    body = {"webhook": shown(created.webhook), "secret": created.secret}
    return json_response(body, 201, {"Location": f"/admin/webhooks/{created.webhook.id}"})


@handled
def get_webhook(request: Request, webhook_id: str) -> Response:
    signed_in_admin(request)
    _no_parameters(request, set())
    return json_response({"webhook": shown(wiring.webhook_admin().get(webhook_id))})


@handled
def delete_webhook(request: Request, webhook_id: str) -> Response:
    signed_in_admin(request)
    wiring.webhook_admin().delete(webhook_id)
    return Response(body="", status_code=204)


@handled
def deliveries(request: Request, webhook_id: str) -> Response:
    """The webhook's latest attempts, newest first (`?limit=`, at most 50): time, event, kind, ticket reference,
    status code or error, duration. No event contents: the log holds no personal data."""
    signed_in_admin(request)
    _no_parameters(request, {"limit"})
    log = wiring.webhook_admin().deliveries(webhook_id, query(request, "limit"))
    return json_response({"deliveries": [attempt(a) for a in log]})
