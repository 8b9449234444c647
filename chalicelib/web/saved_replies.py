"""Saved replies over HTTP: every agent reads them, admins write them."""

from __future__ import annotations

from typing import Any

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.saved_replies import SavedReply
from chalicelib.web.http import handled, json_body, json_response, query, signed_in_admin, signed_in_agent
from chalicelib.web.present import when


def shown(reply: SavedReply) -> dict[str, Any]:
    """A saved reply as the API answers it; it can be sent back to PUT as it is."""
    return {
        "id": reply.id,
        "title": reply.title,
        "body": reply.body,
        "status": reply.status,
        "priority": reply.priority,
        "public": reply.public,
        "version": reply.version,
        "updated_at": when(reply.updated_at),
        "updated_by": reply.updated_by,
    }


@handled
def list_replies(request: Request) -> Response:
    signed_in_agent(request)
    unknown = sorted(set(request.query_params or {}) - {"q"})
    if unknown:
        raise ValidationError("unknown parameters", dict.fromkeys(unknown, "is not a parameter; search with q"))
    replies = wiring.saved_replies().list(query(request, "q"))
    return json_response({"saved_replies": [shown(r) for r in replies]})


@handled
def create_reply(request: Request) -> Response:
    admin = signed_in_admin(request)
    reply = wiring.saved_replies().create(json_body(request), admin)
    return json_response({"saved_reply": shown(reply)}, 201, {"Location": f"/saved-replies/{reply.id}"})


@handled
def get_reply(request: Request, reply_id: str) -> Response:
    signed_in_agent(request)
    return json_response({"saved_reply": shown(wiring.saved_replies().get(reply_id))})


@handled
def update_reply(request: Request, reply_id: str) -> Response:
    admin = signed_in_admin(request)
    reply = wiring.saved_replies().update(reply_id, json_body(request), admin)
    return json_response({"saved_reply": shown(reply)})


@handled
def delete_reply(request: Request, reply_id: str) -> Response:
    admin = signed_in_admin(request)
    return json_response({"saved_reply": shown(wiring.saved_replies().delete(reply_id, admin))})
