"""`GET /openapi.json`: the OpenAPI 3.1 document of every route of app.py, declared here by hand.

Loaded lazily (chalicelib/web/lazy.py), so no other route's cold start imports it. tests/web/test_openapi.py
compares it with `app.routes` (paths, methods, path parameters, request content types) so the two cannot drift,
and tests/api/test_fuzz.py runs schemathesis against a local desk to check the answers against it.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Request, Response

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
HTML = "text/html"
RAW_MAIL = "message/rfc822"
MULTIPART = "multipart/form-data"
Schema = dict[str, Any]

Security = list[dict[str, list[str]]]
AGENT: Security = [{"agentBearer": []}]
ADMIN = AGENT  # the same scheme: an admin's token; an agent's answers 403
PORTAL: Security = [{"portalToken": []}, {"portalBearer": []}]
CONSOLE: Security = [{"consoleSession": []}]
PUBLIC: Security = []


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STRING = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
STAMP = {"type": "string", "description": "UTC time, ISO 8601 with a Z"}
MAYBE_STAMP = nullable(STAMP)
MAYBE_INT = nullable(INT)
MAYBE_STRING = nullable(STRING)


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, *, extra: bool = True) -> Schema:
    """An object with these required and optional properties; `extra` allows more (answers may grow)."""
    schema: Schema = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        schema["required"] = list(required)
    if not extra:
        schema["additionalProperties"] = False
    return schema


def seconds(*names: str, nulls: bool = False) -> Schema:
    """`<name>_seconds` fields: whole seconds (null when there is nothing to measure, with `nulls`)."""
    return {f"{n}_seconds": MAYBE_INT if nulls else INT for n in names}


def texts(*names: str) -> Schema:
    """The optional human `<name>_text` ("3d 4h") beside each `<name>_seconds`."""
    return {f"{n}_text": MAYBE_STRING for n in names}


STATUS = obj({"key": STRING, "label": STRING, "category": STRING})
SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {"code": STRING, "message": STRING},
                {
                    "errors": {"type": "object", "additionalProperties": STRING, "description": "field -> reason"},
                    "retry_after_seconds": INT,
                },
            )
        }
    ),
    "Status": STATUS,
    "Attachment": obj(
        {
            "id": STRING,
            "filename": STRING,
            "size": INT,
            "size_text": STRING,
            "content_type": {"type": "string", "description": "The type it is served with (sniffed from its bytes)"},
            "created_at": MAYBE_STAMP,
            "url": {"type": "string", "description": "Where this audience downloads it (relative to the desk)"},
        },
        {
            "comment_id": {**MAYBE_STRING, "description": "Agents only: the comment it came with (null: the ticket's)"},
            "uploaded_by": {"type": "string", "enum": ["agent", "requester"], "description": "Agents only"},
            "sha256": {"type": "string", "description": "Agents only: of its bytes (empty while pending)"},
            "state": {"type": "string", "enum": ["pending"], "description": "Agents only: a direct upload not done"},
        },
    ),
    "Comment": obj(
        {
            "id": STRING,
            "body": STRING,
            "public": BOOL,
            "author": obj({"role": STRING, "name": MAYBE_STRING}, {"id": MAYBE_STRING}),
            "created_at": MAYBE_STAMP,
        },
        {
            "attachments": {"type": "array", "items": ref("Attachment"), "description": "The files it came with"},
            "source": {"type": "string", "enum": ["mail"], "description": "Agents only: the comment came by mail"},
            "original_url": {
                "type": "string",
                "description": "Agents only, for a comment that came by mail: where the message as received is "
                "downloaded (GET /console/tickets/{ticket_id}/messages/{message_id})",
            },
        },
    ),
    "Transition": obj({"to": STRING, "label": STRING, "status": STRING}),
    "Timer": obj(
        {
            "state": STRING,
            "clock": STRING,
            "due_at": MAYBE_STAMP,
            "at_risk": BOOL,
            "breached": BOOL,
            "met_at": MAYBE_STAMP,
            **seconds("target", "elapsed", "remaining"),
        },
        texts("target", "elapsed", "remaining"),
    ),
    "Sla": nullable({"type": "object", "additionalProperties": ref("Timer")}),
    "TicketRow": obj(
        {
            "id": STRING,
            "ref": STRING,
            "type": obj({"key": STRING, "label": STRING}),
            "status": ref("Status"),
            "priority": obj({"key": STRING, "label": STRING, "rank": INT}),
            "subject": STRING,
            "requester": obj({"name": STRING, "email": STRING}),
            "assignee": MAYBE_STRING,
            "team": MAYBE_STRING,
            "created_at": MAYBE_STAMP,
            "updated_at": MAYBE_STAMP,
            "status_since": MAYBE_STAMP,
            "first_response_at": MAYBE_STAMP,
            "version": INT,
            "sla": ref("Sla"),
        }
    ),
    "TicketDetail": {
        "allOf": [
            ref("TicketRow"),
            obj(
                {
                    "time_in_status": nullable(
                        {
                            "type": "array",
                            "items": obj(
                                {"key": STRING, "label": STRING, "category": STRING, "visits": INT}
                                | seconds("wall", "business"),
                                texts("wall", "business"),
                            ),
                        }
                    ),
                    "description": STRING,
                    "fields": {"type": "object"},
                    "comment_count": INT,
                    "comments": {"type": "array", "items": ref("Comment")},
                    "allowed_transitions": {"type": "array", "items": ref("Transition")},
                    "survey": nullable(ref("SurveyAnswer")),
                },
                {
                    "attachments": {
                        "type": "array",
                        "items": ref("Attachment"),
                        "description": "The ticket's own files (from the form or mail that opened it, or uploads not "
                        "yet on a comment); each comment lists its own",
                    },
                    "original_url": {
                        "type": "string",
                        "description": "For a ticket opened by mail: where the opening message as received is "
                        "downloaded (GET /console/tickets/{ticket_id}/messages/opening)",
                    },
                },
            ),
        ]
    },
    "PortalTicket": obj(
        {
            "id": STRING,
            "ref": STRING,
            "type": obj({"key": STRING, "label": STRING}),
            "status": ref("Status"),
            "subject": STRING,
            "description": STRING,
            "fields": {"type": "object"},
            "created_at": MAYBE_STAMP,
            "updated_at": MAYBE_STAMP,
            "comments": {"type": "array", "items": ref("Comment")},
            "allowed_transitions": {"type": "array", "items": ref("Transition")},
            "version": INT,
        },
        {"attachments": {"type": "array", "items": ref("Attachment"), "description": "The requester's own files"}},
    ),
    "Opened": obj({"id": STRING, "ref": STRING, "status": STRING, "portal_url": STRING}),
    "Received": obj({"received": BOOL}),
    "Agent": obj(
        {
            "id": STRING,
            "name": STRING,
            "email": STRING,
            "role": {"type": "string", "enum": ["agent", "admin"]},
            "active": BOOL,
            "created_at": MAYBE_STAMP,
        }
    ),
    "AgentAnswer": obj({"agent": ref("Agent")}),
    "SurveyAnswer": obj({"rating": INT, "comment": MAYBE_STRING, "answered_at": MAYBE_STAMP, "revision": INT}),
    "Survey": obj({"ref": STRING, "subject": STRING, "scale": INT, "answer": nullable(ref("SurveyAnswer"))}),
    "HistoryEvent": obj(
        {"kind": STRING, "at": MAYBE_STAMP, "by": obj({"role": STRING, "id": STRING, "name": MAYBE_STRING})}
    ),
    "OutboxItem": obj(
        {
            "id": STRING,
            "ticket_id": STRING,
            "key": STRING,
            "kind": STRING,
            "to": STRING,
            "subject": STRING,
            "state": STRING,
            "attempts": INT,
            "created_at": MAYBE_STAMP,
            "next_attempt_at": MAYBE_STAMP,
            "last_error": MAYBE_STRING,
            "sent_at": MAYBE_STAMP,
        }
    ),
    "SavedReply": obj(
        {
            "id": STRING,
            "title": STRING,
            "body": STRING,
            "status": MAYBE_STRING,
            "priority": MAYBE_STRING,
            "public": BOOL,
            "version": INT,
            "updated_at": MAYBE_STAMP,
            "updated_by": MAYBE_STRING,
        }
    ),
    "SavedReplyAnswer": obj({"saved_reply": ref("SavedReply")}),
    "Config": {"type": "object", "description": "The desk's configuration (docs/ARCHITECTURE.md)"},
    "StoredConfig": obj(
        {"version": INT, "config": ref("Config"), "updated_at": MAYBE_STAMP, "updated_by": MAYBE_STRING},
        {"moved": {"type": "object", "description": "PUT: how many tickets each mapping moved"}},
    ),
    "NewConfig": obj(
        {"config": ref("Config"), "version": {"type": "integer", "description": "The version you last read"}},
        {
            "status_mapping": {"type": "object", "additionalProperties": STRING},
            "priority_mapping": {"type": "object", "additionalProperties": STRING},
        },
    ),
    "Report": obj({"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}}),
}

ERROR_TEXT = {
    400: "Malformed request (not JSON, not an object, bad encoding)",
    401: "No, or an unknown, token",
    403: "The token may not do this",
    404: "No such resource",
    409: "Conflict: a stale `version` (optimistic concurrency), a transition not allowed, a taken email",
    413: "The body is larger than the desk takes",
    422: "Invalid input; `error.errors` names each field",
    429: "Too many requests from this source; see `Retry-After`",
}
# Chalice's own answer (before any view) to a body that is not one of the route's content types: a form post sent
# as JSON, or with no Content-Type at all (which Chalice reads as JSON). Its body is Chalice's, not the desk's.
UNSUPPORTED_MEDIA_TYPE: Schema = {
    "description": "Not a url-encoded form (Chalice answers this before the desk sees the request)",
    "content": {
        JSON: {"schema": obj({"Code": {"type": "string", "enum": ["UnsupportedMediaType"]}, "Message": STRING})}
    },
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds until the limit frees", "schema": INT}}
LOCATION = {"Location": {"description": "Where to go next", "schema": STRING}}


def error(status: int, *, html: bool = False) -> Schema:
    """An error answer: the desk's error body; pages for people (`html`) also answer it as HTML."""
    content: Schema = {JSON: {"schema": ref("Error")}}
    if html:
        content[HTML] = {"schema": STRING}
    answer: Schema = {"description": ERROR_TEXT[status], "content": content}
    if status == 429:
        answer["headers"] = RETRY_AFTER
    return answer


def errors(*statuses: int, html: bool = False) -> dict[str, Schema]:
    """References to the shared error answers of components.responses."""
    kind = "Page" if html else "Api"
    return {str(s): {"$ref": f"#/components/responses/{kind}{s}"} for s in statuses}


def error_responses() -> dict[str, Schema]:
    return {f"{kind}{s}": error(s, html=kind == "Page") for kind in ("Api", "Page") for s in ERROR_TEXT}


def ok(schema: Schema | str, description: str = "OK", **more: Any) -> Schema:
    return {
        "description": description,
        "content": {JSON: {"schema": ref(schema) if isinstance(schema, str) else schema}},
        **more,
    }


def page(description: str = "An HTML page") -> Schema:
    return {"description": description, "content": {HTML: {"schema": STRING}}}


def see_other(description: str = "Redirect (303 See Other)") -> Schema:
    return {"description": description, "headers": LOCATION}


def path(name: str, description: str = "") -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STRING, "description": description}


def q(name: str, schema: Schema | None = None, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema or STRING, "description": description}


BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}


def json_body(schema: Schema, *, required: bool = True) -> Schema:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def form_values(schema: Schema) -> Schema:
    """The same fields as a url-encoded form: every value is text."""
    properties = dict.fromkeys(schema.get("properties", {}), STRING)
    form: Schema = {"type": "object", "properties": properties}
    if "required" in schema:
        form["required"] = schema["required"]
    return form


def public_body(schema: Schema, *, files: bool = False) -> Schema:
    """JSON from programs, a url-encoded form from a page; with `files`, the page's multipart form with a file field."""
    content: Schema = {JSON: {"schema": schema}, FORM: {"schema": form_values(schema)}}
    if files:
        content[MULTIPART] = {"schema": with_files(form_values(schema))}
    return {"required": True, "content": content}


def with_files(schema: Schema) -> Schema:
    """A form's fields and its `files` (several under one name; at most 4 MB in all through a page)."""
    properties = {**schema.get("properties", {}), "files": {"type": "array", "items": BINARY}}
    return {**schema, "type": "object", "properties": properties}


def op(
    operation_id: str,
    summary: str,
    responses: dict[str, Schema],
    *,
    tags: str,
    security: Security = PUBLIC,
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
    links: dict[str, Schema] | None = None,
) -> Schema:
    operation: Schema = {"operationId": operation_id, "summary": summary, "tags": [tags], "security": security}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    if links:
        first = next(s for s in responses if s.startswith("2"))
        responses = {**responses, first: {**responses[first], "links": links}}
    operation["responses"] = responses
    return operation


def link(operation_id: str, **parameters: str) -> Schema:
    return {"operationId": operation_id, "parameters": parameters}


TICKET_ID = path("ticket_id", "The ticket's id (`id` of POST /tickets)")
ATTACHMENT_ID = path("attachment_id", "The file's `id`")
DOWNLOAD: dict[str, Schema] = {
    "200": {
        "description": "The file: its sniffed type when safe (else application/octet-stream, never HTML or SVG), "
        "`Content-Disposition: attachment`, `X-Content-Type-Options: nosniff`",
        "content": {"application/octet-stream": {"schema": BINARY}, "*/*": {"schema": BINARY}},
    },
    "302": {"description": "A file too large for a Lambda answer: a link to S3 valid for 60 seconds"},
    **errors(401, 403, 404),
}
# The portal's and the console's links are opened by people: their errors are pages for a browser (and the
# console sends whoever is signed out to the sign-in page).
DOWNLOAD_PAGE: dict[str, Schema] = {**DOWNLOAD, **errors(401, 403, 404, html=True)}
TOKEN = path("token", "The token of the mail's link")
PREFLIGHT = {"204": {"description": "CORS preflight; the CORS headers when the Origin is allowed"}}
NEW_TICKET = obj(
    {
        "subject": {"type": "string", "minLength": 1},
        "description": {"type": "string", "minLength": 1},
        "requester_name": {"type": "string", "minLength": 1},
        "requester_email": {"type": "string", "format": "email"},
    },
    {
        "type": {"type": "string", "description": "A ticket type's key; the desk's default type when left out"},
        "priority": STRING,
        "fields": {"type": "object", "description": "The type's custom fields"},
        "website": {"type": "string", "description": "Honeypot: left empty by people"},
        "form_token": {"type": "string", "description": "Form posts only: the form's idempotency token"},
    },
)
TICKET_LINKS = {
    "GetTicket": link("get_ticket", ticket_id="$response.body#/id"),
    "ChangeTicket": link("change_ticket", ticket_id="$response.body#/id"),
    "TransitionTicket": link("transition_ticket", ticket_id="$response.body#/id"),
    "CommentTicket": link("comment_ticket", ticket_id="$response.body#/id"),
    "TicketHistory": link("ticket_history", ticket_id="$response.body#/id"),
}
DETAIL_LINKS = {
    name: link(target["operationId"], ticket_id="$response.body#/id") for name, target in TICKET_LINKS.items()
}
AGENT_LINKS = {
    "ChangeAgent": link("change_agent", agent_id="$response.body#/agent/id"),
    "RevokeAgent": link("revoke_agent", agent_id="$response.body#/agent/id"),
}
REPLY_LINKS = {
    "GetReply": link("get_saved_reply", reply_id="$response.body#/saved_reply/id"),
    "UpdateReply": link("update_saved_reply", reply_id="$response.body#/saved_reply/id"),
    "DeleteReply": link("delete_saved_reply", reply_id="$response.body#/saved_reply/id"),
}
REPLY_FIELDS = {"status": MAYBE_STRING, "priority": MAYBE_STRING, "public": BOOL}
AGENT_ERRORS = (400, 401, 403, 404, 409, 413, 422)
REPORTS = ["sla", "time-in-status", "workload", "satisfaction"]
NUMBER = {"type": "number"}
COST_REPORT = obj(
    {
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "days": INT,
        "through": nullable({"type": "string", "format": "date"}),
        "currency": STRING,
        "total": NUMBER,
        "tickets_opened": INT,
        "per_ticket": nullable(NUMBER),
        "services": {"type": "array", "items": obj({"service": STRING, "cost": NUMBER})},
        "lines": {
            "type": "array",
            "items": obj(
                {
                    "key": STRING,
                    "service": STRING,
                    "item": STRING,
                    "quantity": NUMBER,
                    "unit": STRING,
                    "unit_price": NUMBER,
                    "per": INT,
                    "cost": NUMBER,
                }
            ),
        },
        "functions": {"type": "array", "items": obj({"function": STRING}, {"invocations": NUMBER})},
        "measured_days": INT,
        "prices": {"type": "object", "additionalProperties": NUMBER},
        "leaves_out": {"type": "array", "items": STRING},
    }
)
WHAT_IF_TIMER = obj(
    {
        "met": INT,
        "breached": INT,
        "running": {"type": "integer", "description": "Neither met nor breached yet, paused ones included"},
        "paused": INT,
        "stopped": {"type": "integer", "description": "Closed without a reply (first response)"},
        "compliance_percent": nullable(NUMBER),
        "measured": {"type": "integer", "description": "Timers met (in time or late): what the median is of"},
        **seconds("median", nulls=True),
        **texts("median"),
    }
)
WHAT_IF_COLUMN = obj({"tickets": INT, "first_response": WHAT_IF_TIMER, "resolution": WHAT_IF_TIMER})
WHAT_IF_TARGET = nullable(
    obj(
        {
            **seconds("first_response", "resolution"),
            **texts("first_response", "resolution"),
            "clock": {"type": "string", "enum": ["business", "calendar"]},
        }
    )
)
OUTCOME = {"type": "string", "enum": ["met", "breached", "running", "paused", "stopped"]}
WHAT_IF = obj(
    {
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "time_zone": STRING,
        "now": STAMP,
        "tickets": INT,
        "targets": {
            "type": "array",
            "items": obj({"priority": STRING, "label": STRING, "current": WHAT_IF_TARGET, "proposed": WHAT_IF_TARGET}),
        },
        "groups": {
            "type": "array",
            "description": "All tickets first, then each priority by rank",
            "items": obj({"key": STRING, "label": STRING, "current": WHAT_IF_COLUMN, "proposed": WHAT_IF_COLUMN}),
        },
        "flips": {
            "type": "array",
            "items": obj(
                {
                    "ticket_id": STRING,
                    "ref": STRING,
                    "title": STRING,
                    "priority": STRING,
                    "timer": {"type": "string", "enum": ["first_response", "resolution"]},
                    "current": OUTCOME,
                    "proposed": OUTCOME,
                    **seconds("current_elapsed", "proposed_elapsed"),
                }
            ),
        },
        "flip_counts": {"type": "object", "additionalProperties": INT},
        "limits": obj({"max_tickets": INT, "max_days": INT}),
        "live_differs": INT,
        "not_yet_recorded": INT,
    }
)
WHAT_IF_REQUEST = obj(
    {"sla": {"type": "object", "description": "A proposed SLA policy, validated as the configuration's sla"}},
    {
        "from": {"type": "string", "format": "date", "description": "First local day (default: 29 days before to)"},
        "to": {"type": "string", "format": "date", "description": "Last local day (default: today); at most 366 days"},
    },
    extra=False,
)

PORTAL_QUERY = [q("to"), q("sent"), q("from"), q("done")]


def api_paths() -> dict[str, dict[str, Schema]]:
    """The JSON API, the public form and pages, the requester portal, surveys and unsubscribing."""
    return {
        "/openapi.json": {
            "get": op("openapi_document", "This document", {"200": ok({"type": "object"})}, tags="meta"),
        },
        "/tickets": {
            "post": op(
                "open_ticket",
                "Open a ticket (anonymous: JSON from programs, a url-encoded form from the web form)",
                {
                    "201": ok(
                        "Opened",
                        "Opened (or, with a replayed Idempotency-Key, the first ticket)",
                        headers={"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}},
                    ),
                    "202": ok("Received", "A filled honeypot: dropped"),
                    "303": see_other("Form posts: to the thanks page (or the configured thank-you URL)"),
                    **errors(400, 409, 413, 422, 429, html=True),
                },
                tags="public",
                parameters=[
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    }
                ],
                body=public_body(NEW_TICKET, files=True),
                links=TICKET_LINKS,
            ),
            "get": op(
                "list_tickets",
                "The queue, filtered, newest first, a page at a time",
                {
                    "200": ok(
                        obj({"tickets": {"type": "array", "items": ref("TicketRow")}, "next_cursor": MAYBE_STRING})
                    ),
                    **errors(400, 401, 403, 422),
                },
                tags="agents",
                security=AGENT,
                parameters=[
                    {**q("status", {"type": "array", "items": STRING}), "explode": True},
                    q("state", {"type": "string", "enum": ["open", "done", "all"]}),
                    q("priority"),
                    q("type"),
                    q("assignee", description="An agent id, or `me`"),
                    q("team"),
                    q("requester"),
                    q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    q("cursor"),
                ],
            ),
            "options": op("tickets_preflight", "CORS preflight", PREFLIGHT, tags="public"),
        },
        "/form": {
            "get": op(
                "form",
                "The web form (or the list of request types)",
                {"200": page(), "404": page("Unknown request type"), **errors(429, html=True)},
                tags="public",
                parameters=[q("type")],
            )
        },
        "/form/thanks": {
            "get": op(
                "thanks",
                "Thank-you page, with the reference when the link's token opens the ticket",
                {"200": page()},
                tags="public",
                parameters=[q("ticket"), q("token")],
            )
        },
        "/portal/tickets/{ticket_id}": {
            "get": op(
                "portal_ticket",
                "The requester's view of their ticket (HTML when the Accept header asks for it)",
                {"200": {**ok("PortalTicket"), "content": {**ok("PortalTicket")["content"], HTML: {"schema": STRING}}}}
                | errors(400, 401, 403, 404, 422, 429, html=True),
                tags="portal",
                security=PORTAL,
                parameters=[TICKET_ID, *PORTAL_QUERY],
            ),
            "options": op("portal_preflight", "CORS preflight", PREFLIGHT, tags="portal", parameters=[TICKET_ID]),
        },
        "/portal/tickets/{ticket_id}/comments": {
            "post": op(
                "portal_comment",
                "The requester replies",
                {
                    "201": ok("Comment"),
                    "303": see_other("Form posts: back to the portal page"),
                    **errors(400, 401, 403, 404, 409, 413, 422, 429, html=True),
                },
                tags="portal",
                security=PORTAL,
                parameters=[TICKET_ID],
                body=public_body(obj({"body": {"type": "string", "minLength": 1}}), files=True),
            ),
            "options": op(
                "portal_comment_preflight", "CORS preflight", PREFLIGHT, tags="portal", parameters=[TICKET_ID]
            ),
        },
        "/portal/tickets/{ticket_id}/transitions": {
            "post": op(
                "portal_transition",
                "The requester moves their ticket (e.g. accepts or reopens it)",
                {
                    "200": ok("PortalTicket"),
                    "303": see_other("Form posts: back to the portal page"),
                    **errors(400, 401, 403, 404, 409, 413, 422, 429, html=True),
                },
                tags="portal",
                security=PORTAL,
                parameters=[TICKET_ID],
                body=public_body(obj({"to": STRING, "version": INT}, {"comment": STRING, "from": STRING})),
            ),
            "options": op(
                "portal_transition_preflight", "CORS preflight", PREFLIGHT, tags="portal", parameters=[TICKET_ID]
            ),
        },
        "/tickets/{ticket_id}": {
            "get": op(
                "get_ticket",
                "A ticket with its comments, SLA timers and allowed transitions",
                {"200": ok("TicketDetail"), **errors(401, 403, 404, 422)},
                tags="agents",
                security=AGENT,
                parameters=[TICKET_ID],
            ),
            "patch": op(
                "change_ticket",
                "Change fields of a ticket; `version` must be the current one (409 otherwise)",
                {"200": ok("TicketDetail"), **errors(*AGENT_ERRORS)},
                tags="agents",
                security=AGENT,
                parameters=[TICKET_ID],
                body=json_body(
                    obj(
                        {"version": INT},
                        {
                            "subject": STRING,
                            "priority": STRING,
                            "type": STRING,
                            "assignee": nullable(STRING),
                            "team": nullable(STRING),
                            "fields": {"type": "object"},
                        },
                    )
                ),
                links=DETAIL_LINKS,
            ),
        },
        "/tickets/{ticket_id}/transitions": {
            "post": op(
                "transition_ticket",
                "Move a ticket along its workflow",
                {"200": ok("TicketDetail"), **errors(*AGENT_ERRORS)},
                tags="agents",
                security=AGENT,
                parameters=[TICKET_ID],
                body=json_body(obj({"to": STRING, "version": INT}, {"comment": STRING, "public": BOOL})),
                links=DETAIL_LINKS,
            )
        },
        "/tickets/{ticket_id}/history": {
            "get": op(
                "ticket_history",
                "The ticket's history, oldest first, a page at a time",
                {
                    "200": ok(
                        obj({"events": {"type": "array", "items": ref("HistoryEvent")}, "next_cursor": MAYBE_STRING})
                    ),
                    **errors(400, 401, 403, 404, 422),
                },
                tags="agents",
                security=AGENT,
                parameters=[TICKET_ID, q("limit", {"type": "integer", "minimum": 1}), q("cursor")],
            )
        },
        "/tickets/{ticket_id}/comments": {
            "post": op(
                "comment_ticket",
                "A reply to the requester (`public`) or an internal note",
                {"201": ok("Comment"), **errors(*AGENT_ERRORS)},
                tags="agents",
                security=AGENT,
                parameters=[TICKET_ID],
                body=json_body(
                    obj(
                        {"body": {"type": "string", "minLength": 1}},
                        {
                            "public": BOOL,
                            "attachments": {
                                "type": "array",
                                "items": STRING,
                                "description": "Ids of this ticket's uploads (POST /tickets/{ticket_id}/attachments) "
                                "to carry; a direct upload is checked now",
                            },
                        },
                    )
                ),
            )
        },
        "/tickets/{ticket_id}/attachments": {
            "post": op(
                "upload_attachment",
                "Upload files for a later comment: a multipart body stores them now (4 MB at most); JSON "
                "`{filename, content_type}` answers a presigned S3 POST for one file up to the desk's limit",
                {
                    "201": ok(
                        obj(
                            {},
                            {
                                "attachments": {"type": "array", "items": ref("Attachment")},
                                "attachment": ref("Attachment"),
                                "upload": obj(
                                    {
                                        "url": STRING,
                                        "fields": {"type": "object", "additionalProperties": STRING},
                                        "max_bytes": INT,
                                        "expires_at": MAYBE_STAMP,
                                    }
                                ),
                            },
                        ),
                        "Stored (multipart), or the form to post the file to (JSON)",
                    ),
                    **errors(*AGENT_ERRORS),
                },
                tags="agents",
                security=AGENT,
                parameters=[TICKET_ID],
                body={
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": obj({"filename": {"type": "string", "minLength": 1}}, {"content_type": STRING})
                        },
                        MULTIPART: {"schema": with_files({"type": "object", "properties": {}})},
                    },
                },
            ),
            "get": op(
                "ticket_attachments",
                "Every stored file of the ticket, with the comment it came with",
                {
                    "200": ok(obj({"attachments": {"type": "array", "items": ref("Attachment")}})),
                    **errors(401, 403, 404),
                },
                tags="agents",
                security=AGENT,
                parameters=[TICKET_ID],
            ),
        },
        "/tickets/{ticket_id}/attachments/{attachment_id}": {
            "get": op(
                "attachment",
                "A file of the ticket, as a download",
                DOWNLOAD,
                tags="agents",
                security=AGENT,
                parameters=[TICKET_ID, ATTACHMENT_ID],
            ),
        },
        "/portal/tickets/{ticket_id}/attachments/{attachment_id}": {
            "get": op(
                "portal_attachment",
                "A file of the requester's ticket, as a download (never one of an internal note)",
                DOWNLOAD_PAGE,
                tags="portal",
                security=PORTAL,
                parameters=[TICKET_ID, ATTACHMENT_ID, q("token")],
            ),
        },
        "/surveys/{token}": {
            "get": op(
                "survey_page",
                "The survey (with `?rating=N` it records that rating at once)",
                {
                    "200": {**ok("Survey"), "content": {**ok("Survey")["content"], HTML: {"schema": STRING}}},
                    **errors(400, 401, 403, 404, 409, 422, html=True),
                },
                tags="public",
                parameters=[TOKEN, q("rating")],
            ),
            "post": op(
                "answer_survey",
                "Answer the survey (rating, optional comment)",
                {
                    "200": {**ok("Survey"), "content": {**ok("Survey")["content"], HTML: {"schema": STRING}}},
                    **errors(400, 401, 403, 404, 409, 413, 422, html=True),
                },
                tags="public",
                parameters=[TOKEN],
                body=public_body(obj({"rating": INT}, {"comment": STRING})),
            ),
        },
        "/unsubscribe/{token}": {
            "get": op(
                "unsubscribe_page",
                "A page with one button (the link alone unsubscribes no one)",
                {"200": page(), **errors(400, 401, 403, 404, html=True)},
                tags="public",
                parameters=[TOKEN],
            ),
            "post": op(
                "unsubscribe",
                "Unsubscribe (the button, or RFC 8058 one-click `List-Unsubscribe=One-Click`)",
                {
                    "200": {
                        "description": "Unsubscribed",
                        "content": {JSON: {"schema": obj({"unsubscribed": STRING})}, HTML: {"schema": STRING}},
                    },
                    **errors(400, 401, 403, 404, 413, html=True),
                },
                tags="public",
                parameters=[TOKEN],
                body={
                    "required": False,
                    "content": {
                        JSON: {"schema": {"type": "object"}},
                        FORM: {"schema": {"type": "object", "properties": {"List-Unsubscribe": STRING}}},
                        "multipart/form-data": {"schema": {"type": "object"}},
                        "text/plain": {"schema": STRING},
                    },
                },
            ),
        },
        "/me": {
            "get": op(
                "me",
                "Who the bearer token belongs to",
                {"200": ok("AgentAnswer"), **errors(401, 403)},
                tags="agents",
                security=AGENT,
            )
        },
        "/queues": {
            "get": op(
                "queues",
                "The backlog per status",
                {
                    "200": ok(
                        obj(
                            {
                                "open": INT,
                                "at_risk": INT,
                                "breached": INT,
                                "as_of": MAYBE_STAMP,
                                "statuses": {
                                    "type": "array",
                                    "items": obj(
                                        {
                                            "status": STRING,
                                            "label": STRING,
                                            "category": STRING,
                                            "count": INT,
                                            "by_priority": {"type": "object", "additionalProperties": INT},
                                            "oldest_created_at": MAYBE_STAMP,
                                            "at_risk": INT,
                                            "breached": INT,
                                            **seconds("oldest_age", nulls=True),
                                        },
                                        texts("oldest_age"),
                                    ),
                                },
                            }
                        )
                    ),
                    **errors(401, 403),
                },
                tags="agents",
                security=AGENT,
            )
        },
        "/reports/{name}": {
            "get": op(
                "report",
                "A report as JSON, or one of its tables as CSV (`format=csv`, `table=`)",
                {
                    "200": {
                        "description": "The report",
                        "content": {JSON: {"schema": ref("Report")}, "text/csv": {"schema": STRING}},
                        "headers": {"Content-Disposition": {"schema": STRING, "description": "CSV only"}},
                    },
                    **errors(400, 401, 403, 404, 422),
                },
                tags="reports",
                security=AGENT,
                parameters=[
                    {**path("name"), "schema": {"type": "string", "enum": REPORTS}},
                    q("from", {"type": "string", "format": "date"}),
                    q("to", {"type": "string", "format": "date"}),
                    q("group_by"),
                    q("type"),
                    q("format", {"type": "string", "enum": ["json", "csv"]}),
                    q("table"),
                    q("comments_limit", {"type": "integer", "minimum": 1}),
                    q("comments_after"),
                ],
            )
        },
        "/reports/cost": {
            "get": op(
                "cost_report",
                "What the desk cost in AWS in a period, from its own metering, per service and per ticket (admins)",
                {"200": ok(COST_REPORT, "The estimate"), **errors(400, 401, 403, 422)},
                tags="reports",
                security=ADMIN,
                parameters=[
                    q("from", {"type": "string", "format": "date"}, "First UTC day (default: 29 days before `to`)"),
                    q("to", {"type": "string", "format": "date"}, "Last UTC day (default: today); at most 366 days"),
                ],
            )
        },
        "/reports/sla/what-if": {
            "post": op(
                "sla_what_if",
                "The SLA figures of the tickets created in a period under the current and a proposed policy, side by "
                "side, from their recorded histories; nothing is changed (admins). More than 1000 tickets: 400",
                {"200": ok(WHAT_IF, "Both columns and the timers that flip"), **errors(400, 401, 403, 413, 422)},
                tags="reports",
                security=ADMIN,
                body=json_body(WHAT_IF_REQUEST),
            )
        },
        "/admin/config": {
            "get": op(
                "get_config",
                "The configuration document",
                {"200": ok("StoredConfig"), **errors(401, 403)},
                tags="admin",
                security=ADMIN,
            ),
            "put": op(
                "put_config",
                "Replace the configuration (validated as a whole)",
                {"200": ok("StoredConfig"), **errors(400, 401, 403, 409, 413, 422)},
                tags="admin",
                security=ADMIN,
                body=json_body(ref("NewConfig")),
            ),
        },
        "/admin/outbox": {
            "get": op(
                "list_outbox",
                "Mail in the outbox (failed by default)",
                {"200": ok(obj({"emails": {"type": "array", "items": ref("OutboxItem")}})), **errors(401, 403, 422)},
                tags="admin",
                security=ADMIN,
                parameters=[q("state"), q("limit", {"type": "integer", "minimum": 1})],
            )
        },
        "/admin/outbox/retry": {
            "post": op(
                "retry_outbox",
                "Send a failed mail again now",
                {"200": ok(obj({"email": ref("OutboxItem")})), **errors(*AGENT_ERRORS)},
                tags="admin",
                security=ADMIN,
                body=json_body(obj({"id": STRING})),
            )
        },
        "/admin/agents": {
            "get": op(
                "list_agents",
                "Every agent",
                {"200": ok(obj({"agents": {"type": "array", "items": ref("Agent")}})), **errors(401, 403)},
                tags="admin",
                security=ADMIN,
            ),
            "post": op(
                "create_agent",
                "Create an agent; its token is answered once (409 when an active agent has the email)",
                {"201": ok(obj({"agent": ref("Agent"), "token": STRING})), **errors(400, 401, 403, 409, 413, 422)},
                tags="admin",
                security=ADMIN,
                body=json_body(
                    obj(
                        {"name": {"type": "string", "minLength": 1}, "email": {"type": "string", "format": "email"}},
                        {"role": {"type": "string", "enum": ["agent", "admin"]}},
                    )
                ),
                links=AGENT_LINKS,
            ),
        },
        "/admin/agents/{agent_id}": {
            "delete": op(
                "revoke_agent",
                "Revoke an agent's token",
                {"200": ok("AgentAnswer"), **errors(401, 403, 404, 409)},
                tags="admin",
                security=ADMIN,
                parameters=[path("agent_id")],
            ),
            "patch": op(
                "change_agent",
                "Change an agent's role (409 when the email is taken)",
                {"200": ok("AgentAnswer"), **errors(*AGENT_ERRORS)},
                tags="admin",
                security=ADMIN,
                parameters=[path("agent_id")],
                body=json_body(obj({}, {"role": {"type": "string", "enum": ["agent", "admin"]}})),
            ),
        },
        "/admin/config/versions": {
            "get": op(
                "config_versions",
                "The configuration's stored versions (`?version=N`: that one with its document)",
                {
                    "200": ok(
                        obj(
                            {
                                "versions": {
                                    "type": "array",
                                    "items": obj(
                                        {"version": INT, "updated_at": MAYBE_STAMP, "updated_by": MAYBE_STRING},
                                        {"config": ref("Config")},
                                    ),
                                }
                            }
                        )
                    ),
                    **errors(400, 401, 403, 404, 422),
                },
                tags="admin",
                security=ADMIN,
                parameters=[q("limit", {"type": "integer", "minimum": 1}), q("version", INT)],
            )
        },
        "/admin/requesters/export": {
            "get": op(
                "export_requester",
                "Everything the desk holds about one requester, as one document (an unknown address: empty lists)",
                {
                    "200": ok(
                        obj(
                            {
                                "email": STRING,
                                "tickets": {
                                    "type": "array",
                                    "description": "Each ticket's fields with its public comments, files as links "
                                    "(`url`), history, the mail sent to the person (`mails`) and the survey answer",
                                    "items": {"type": "object"},
                                },
                                "survey_opt_outs": {"type": "array", "items": STRING},
                            }
                        )
                    ),
                    "400": {**error(400), "description": "A parameter other than `email`; `error.errors` names it"},
                    **errors(401, 403),
                    "422": {
                        **error(422),
                        "description": "`email` is missing or not an email address; `error.errors` names it",
                    },
                },
                tags="admin",
                security=ADMIN,
                parameters=[q("email")],
            )
        },
        "/admin/requesters/erase": {
            "post": op(
                "erase_requester",
                "Erase a requester's personal data, keeping the reports' figures; `limit` tickets per call (default "
                "10): call again until `complete`. A call with nothing left changes nothing",
                {
                    "200": ok(
                        obj(
                            {
                                "complete": {"type": "boolean"},
                                "tickets_erased": INT,
                                "erased_now": INT,
                                "changing": {
                                    "type": "array",
                                    "items": STRING,
                                    "description": "Tickets that kept changing during the erasure: the next call "
                                    "tries them again",
                                },
                            }
                        )
                    ),
                    "400": {
                        **error(400),
                        "description": "Malformed request: not JSON, not an object, or a field other than `email`, "
                        "`confirm` and `limit` (`error.errors` names it)",
                    },
                    **errors(401, 403),
                    "422": {
                        **error(422),
                        "description": "`email` missing or not an email address, `confirm` not `true`, or `limit` "
                        "not a whole number from 1 to 100; `error.errors` names each",
                    },
                },
                tags="admin",
                security=ADMIN,
                body=json_body(
                    obj(
                        {"email": STRING, "confirm": {"type": "boolean", "const": True}},
                        {"limit": {"type": "integer", "minimum": 1, "maximum": 100}},
                    )
                ),
            )
        },
        "/saved-replies": {
            "get": op(
                "list_saved_replies",
                "Saved replies (`q` searches their titles)",
                {
                    "200": ok(obj({"saved_replies": {"type": "array", "items": ref("SavedReply")}})),
                    **errors(401, 403, 422),
                },
                tags="saved replies",
                security=AGENT,
                parameters=[q("q")],
            ),
            "post": op(
                "create_saved_reply",
                "Create a saved reply (admins)",
                {
                    "201": ok("SavedReplyAnswer", headers=LOCATION),
                    **errors(400, 401, 403, 409, 413, 422),
                },
                tags="saved replies",
                security=ADMIN,
                body=json_body(obj({"title": STRING, "body": STRING}, REPLY_FIELDS)),
                links=REPLY_LINKS,
            ),
        },
        "/saved-replies/{reply_id}": {
            "get": op(
                "get_saved_reply",
                "One saved reply",
                {"200": ok("SavedReplyAnswer"), **errors(401, 403, 404)},
                tags="saved replies",
                security=AGENT,
                parameters=[path("reply_id")],
            ),
            "put": op(
                "update_saved_reply",
                "Replace a saved reply; `version` must be the current one",
                {"200": ok("SavedReplyAnswer"), **errors(*AGENT_ERRORS)},
                tags="saved replies",
                security=ADMIN,
                parameters=[path("reply_id")],
                body=json_body(obj({"title": STRING, "body": STRING, "version": INT}, REPLY_FIELDS)),
            ),
            "delete": op(
                "delete_saved_reply",
                "Delete a saved reply",
                {"200": ok("SavedReplyAnswer"), **errors(401, 403, 404, 409)},
                tags="saved replies",
                security=ADMIN,
                parameters=[path("reply_id")],
            ),
        },
        **webhook_paths(),
    }


WEBHOOK: Schema = obj(
    {
        "id": STRING,
        "url": STRING,
        "kinds": {"type": "array", "items": STRING, "description": 'The event kinds it gets; ["*"]: every kind'},
        "format": {"enum": ["json", "slack"]},
        "description": STRING,
        "active": {"type": "boolean", "description": "False once switched off after a day of failures"},
        "created_at": STRING,
        "created_by": STRING,
        "failing_since": nullable(STRING),
        "switched_off_at": nullable(STRING),
    }
)
WEBHOOK_ATTEMPT: Schema = obj(
    {
        "at": STRING,
        "event_id": STRING,
        "kind": STRING,
        "ticket_ref": STRING,
        "attempt": INT,
        "status": nullable(INT),
        "error": nullable(STRING),
        "duration_ms": INT,
        "ok": BOOL,
    }
)


def webhook_paths() -> dict[str, dict[str, Schema]]:
    """Events out (docs/EVENTS.md): the webhooks admins configure and their delivery logs."""
    webhook_id = [path("webhook_id")]
    return {
        "/admin/webhooks": {
            "get": op(
                "list_webhooks",
                "Every webhook (never its secret)",
                {"200": ok(obj({"webhooks": {"type": "array", "items": WEBHOOK}})), **errors(401, 403, 422)},
                tags="admin",
                security=ADMIN,
            ),
            "post": op(
                "create_webhook",
                "Add a webhook: every event of its kinds is POSTed to `url`, signed with the `secret` of this "
                "answer (shown only here). https only, to a public host (a private, loopback or link-local "
                "address is refused), except http://localhost and 127.0.0.1 in the local run",
                {
                    "201": ok(obj({"webhook": WEBHOOK, "secret": STRING}), "Created", headers=LOCATION),
                    **errors(400, 401, 403, 409, 422),
                },
                tags="admin",
                security=ADMIN,
                body=json_body(
                    obj(
                        {"url": STRING},
                        {
                            "kinds": {
                                "oneOf": [{"type": "array", "items": STRING}, {"const": "*"}],
                                "description": "Event kinds (docs/EVENTS.md); empty or * for every kind",
                            },
                            "format": {"enum": ["json", "slack"], "description": 'slack: {"text": ...}'},
                            "description": STRING,
                        },
                        extra=False,
                    )
                ),
            ),
        },
        "/admin/webhooks/{webhook_id}": {
            "get": op(
                "get_webhook",
                "One webhook",
                {"200": ok(obj({"webhook": WEBHOOK})), **errors(401, 403, 404, 422)},
                tags="admin",
                security=ADMIN,
                parameters=webhook_id,
            ),
            "delete": op(
                "delete_webhook",
                "Delete a webhook; its pending deliveries are given up",
                {"204": {"description": "Deleted"}, **errors(401, 403, 404)},
                tags="admin",
                security=ADMIN,
                parameters=webhook_id,
            ),
        },
        "/admin/webhooks/{webhook_id}/deliveries": {
            "get": op(
                "webhook_deliveries",
                "The webhook's latest delivery attempts, newest first (no event contents)",
                {
                    "200": ok(obj({"deliveries": {"type": "array", "items": WEBHOOK_ATTEMPT}})),
                    **errors(401, 403, 404, 422),
                },
                tags="admin",
                security=ADMIN,
                parameters=[*webhook_id, q("limit", {"type": "integer", "minimum": 1, "maximum": 50})],
            ),
        },
    }


# the agents' console: HTML pages and form posts, signed in by the session cookie -------------------------

CONSOLE_PAGES: tuple[tuple[str, str, str], ...] = (
    ("/console", "console_queue", "The queue"),
    ("/console/poll", "console_poll", "The queue's changes since a version (for the page's script)"),
    ("/console/rows", "console_rows", "The queue's rows (for the page's script)"),
    ("/console/search", "console_search", "Search tickets"),
    ("/console/sign-in", "console_sign_in_page", "Sign in by email"),
    ("/console/sign-in/confirm", "console_confirm_page", "Confirm the sign-in link"),
    ("/console/settings", "console_settings_page", "The agent's settings"),
    ("/console/tickets/{ticket_id}", "console_ticket", "A ticket"),
    ("/console/reports", "console_reports", "Reports"),
    ("/console/reports/{name}/csv", "console_report_csv", "A report's table as CSV"),
    ("/console/admin/agents", "console_agents", "Agents (admins)"),
    ("/console/admin/saved-replies", "console_saved_replies", "Saved replies (admins)"),
    ("/console/admin/config", "console_config", "Configuration (admins)"),
    ("/console/admin/what-if", "console_what_if", "What-if SLA: current and proposed targets side by side (admins)"),
    ("/console/admin/mail", "console_mail", "Mail and the outbox (admins)"),
    ("/console/admin/webhooks", "console_webhooks", "Webhooks and their delivery logs (admins)"),
    ("/console/admin/webhooks/{webhook_id}", "console_webhook", "One webhook's delivery log (admins)"),
    ("/console/admin/cost", "console_cost", "What the desk costs (admins)"),
    ("/console/admin/requesters", "console_requesters", "A requester's data: look up, export, erase (admins)"),
    ("/console/admin/requesters/export", "console_requester_export", "A requester's export as a file (admins)"),
)
CONSOLE_POSTS: tuple[tuple[str, str, str], ...] = (
    ("/console/bulk", "console_bulk", "Change many tickets at once"),
    ("/console/sign-in", "console_sign_in", "Send a sign-in link"),
    ("/console/sign-in/confirm", "console_confirm", "Sign in with the link's token"),
    ("/console/sign-out", "console_sign_out", "Sign out"),
    ("/console/settings", "console_settings", "Save the agent's settings"),
    ("/console/tickets/{ticket_id}/reply", "console_reply", "Reply or add a note"),
    ("/console/tickets/{ticket_id}/change", "console_change", "Change a ticket"),
    ("/console/tickets/{ticket_id}/transition", "console_transition", "Move a ticket"),
    ("/console/tickets/{ticket_id}/presence", "console_presence", "Who else has the ticket open"),
    ("/console/admin/agents", "console_agents_post", "Create, change or revoke agents"),
    ("/console/admin/saved-replies", "console_saved_replies_post", "Create, change or delete saved replies"),
    ("/console/admin/config", "console_config_post", "Replace the configuration"),
    ("/console/admin/what-if", "console_what_if_post", "Compare a proposed SLA policy for a period"),
    ("/console/admin/mail", "console_mail_post", "Retry mail"),
    ("/console/admin/webhooks", "console_webhooks_post", "Add or delete a webhook"),
    ("/console/admin/requesters", "console_requesters_erase", "Erase a requester's data (the address typed again)"),
)
SIGNED_OUT = ("/console/sign-in", "/console/sign-in/confirm")


def path_parameters(route: str) -> list[Schema]:
    return [path(part[1:-1]) for part in route.split("/") if part.startswith("{")]


def console_responses(*, post: bool) -> dict[str, Schema]:
    answers: dict[str, Schema] = {
        "200": {
            "description": "The page (some answer HTML fragments, JSON or CSV for the page's scripts)",
            "content": {HTML: {"schema": STRING}, JSON: {"schema": {}}, "text/csv": {"schema": STRING}},
        },
        "303": see_other("After a post, or to the sign-in page when not signed in"),
    }
    answers.update(
        errors(*((400, 401, 403, 404, 409, 413, 422, 429) if post else (400, 401, 403, 404, 422, 429)), html=True)
    )
    if post:
        answers["415"] = UNSUPPORTED_MEDIA_TYPE
    return answers


CONSOLE_FILE_POSTS = {"console_reply"}  # its form has a file field


def console_body(*, files: bool) -> Schema:
    form: Schema = {
        "type": "object",
        "properties": {"csrf": {"type": "string", "description": "The session's CSRF token"}},
    }
    content: Schema = {FORM: {"schema": form}}
    if files:
        content[MULTIPART] = {"schema": with_files(form)}
    return {"required": True, "content": content}


def console_paths() -> dict[str, dict[str, Schema]]:
    paths: dict[str, dict[str, Schema]] = {}
    for route, operation_id, summary in CONSOLE_PAGES:
        paths.setdefault(route, {})["get"] = op(
            operation_id,
            summary,
            console_responses(post=False),
            tags="console",
            security=PUBLIC if route in SIGNED_OUT else CONSOLE,
            parameters=path_parameters(route) or None,
        )
    for route, operation_id, summary in CONSOLE_POSTS:
        paths.setdefault(route, {})["post"] = op(
            operation_id,
            summary,
            console_responses(post=True),
            tags="console",
            security=PUBLIC if route in SIGNED_OUT else CONSOLE,
            parameters=path_parameters(route) or None,
            body=console_body(files=operation_id in CONSOLE_FILE_POSTS),
        )
    paths["/console/tickets/{ticket_id}/messages/{message_id}"] = {
        "get": op(
            "original_message",
            "The mail as the desk received it, as a download (agents: the bearer token or the console's session)",
            {
                "200": {
                    "description": "The original message",
                    "content": {RAW_MAIL: {"schema": STRING}},
                    "headers": {
                        "Content-Disposition": {
                            "schema": STRING,
                            "description": 'Always `attachment; filename="<ticket>-<message>.eml"`',
                        }
                    },
                },
                **errors(401, 403, 404),
            },
            tags="console",
            security=[*AGENT, *CONSOLE],
            parameters=[
                TICKET_ID,
                path("message_id", "A comment's id, or `opening` for the mail that opened the ticket"),
            ],
        )
    }
    paths["/console/tickets/{ticket_id}/attachments/{attachment_id}"] = {
        "get": op(
            "console_attachment",
            "A file of the ticket, as a download (agents: the console's session)",
            {**DOWNLOAD_PAGE, "303": see_other("Signed out: to the sign-in page, then back")},
            tags="console",
            security=CONSOLE,
            parameters=[TICKET_ID, ATTACHMENT_ID],
        )
    }
    paths["/static/{name}"] = {
        "get": op(
            "static_asset",
            "A stylesheet or script under its content-hashed name (cached for a year)",
            {
                "200": {
                    "description": "The file",
                    "content": {"text/css": {"schema": STRING}, "text/javascript": {"schema": STRING}},
                },
                **errors(404),
            },
            tags="console",
            parameters=[{**path("name", "The name the pages link to"), "examples": asset_examples()}],
        )
    }
    return paths


def asset_examples() -> dict[str, Schema]:
    """Every real asset's hashed name, so that the fuzzer's examples fetch the files and not only unknown names."""
    from chalicelib.web import assets

    files = sorted(p.name for p in assets.STATIC.iterdir() if p.suffix in assets.TYPES)
    return {name: {"value": assets.asset_path(name).removeprefix("/static/")} for name in files}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Help desk",
            "version": "1",
            "description": (
                "The help desk's HTTP API, public pages, requester portal and agents' console. Errors answer "
                '`{"error": {"code", "message", "errors"?}}`; 429 answers carry `Retry-After`.'
            ),
        },
        "paths": {**api_paths(), **console_paths()},
        "components": {
            "schemas": SCHEMAS,
            "responses": error_responses(),
            "securitySchemes": {
                "agentBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An agent's or admin's token (POST /admin/agents, `create-admin`)",
                },
                "portalToken": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "token",
                    "description": "The requester's link token (`portal_url` of POST /tickets, the mails' links)",
                },
                "portalBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The requester's link token sent as a bearer token instead of `?token=`",
                },
                "consoleSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "hd_session",
                    "description": "The console's session (POST /console/sign-in/confirm)",
                },
            },
        },
    }


_served: str | None = None


def serve(request: Request) -> Response:
    global _served
    if _served is None:
        _served = json.dumps(document(), ensure_ascii=False, separators=(",", ":"))
    return Response(
        body=_served, status_code=200, headers={"Content-Type": f"{JSON}; charset=utf-8", "Cache-Control": "no-cache"}
    )
