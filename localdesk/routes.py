"""Endpoints under /_local/ that only the local run has: they are added here, never in app.py."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.adapters.clock import AdjustableClock
from chalicelib.domain.config import parse_duration_minutes
from chalicelib.domain.errors import MalformedRequestError, NotFoundError, PayloadTooLargeError, ValidationError
from chalicelib.web.http import handled, json_body, json_response
from localdesk.jobs import jsonable

if TYPE_CHECKING:
    from localdesk.jobs import JobRunner
    from localdesk.mail import MailLog
    from localdesk.smtp import InboundDelivery

MAX_ADVANCE = timedelta(days=3650)
# curl -d labels a body as a form unless told otherwise; these bodies are read as JSON whatever their label.
BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]
ANY_BODY = ["*/*"]  # running a job reads no body, so any label will do
RAW_MAIL = "message/rfc822"


def _sender_of(raw: bytes) -> str:
    """The envelope sender SES would have seen: here, the message's own From address."""
    from email.parser import BytesHeaderParser
    from email.policy import default
    from email.utils import parseaddr

    try:
        return parseaddr(str(BytesHeaderParser(policy=default).parsebytes(raw).get("From", "")))[1]
    except (ValueError, IndexError, TypeError):
        return ""


def register_local_routes(
    app: Chalice, clock: AdjustableClock, jobs: JobRunner, mail_log: MailLog, inbound: InboundDelivery | None = None
) -> None:
    def request() -> Request:
        if app.current_request is None:
            raise RuntimeError("no request outside a route")
        return app.current_request

    @handled
    def show_clock(request: Request) -> Response:
        return json_response({"now": clock.now().isoformat()})

    @handled
    def advance_clock(request: Request) -> Response:
        """Moves the whole local desk's clock forward, so SLA breaches and reminders show without waiting."""
        return json_response({"now": clock.advance(advance_of(json_body(request))).isoformat()})

    @app.route("/_local/clock", methods=["GET"])
    def local_clock() -> Response:
        return show_clock(request())

    @app.route("/_local/clock", methods=["POST"], content_types=BODY_TYPES)
    def advance_local_clock() -> Response:
        return advance_clock(request())

    @handled
    def list_jobs(request: Request) -> Response:
        return json_response({"jobs": jobs.listing()})

    @handled
    def run_job(request: Request, name: str) -> Response:
        """Runs one scheduled job now (this request holds the gate's turn, so the job runs inside it)."""
        if name not in jobs.names:
            raise NotFoundError(f"there is no scheduled job {name!r}", known=jobs.names)
        try:
            result = jobs.run_now(name)
        except Exception as exc:  # noqa: BLE001 - logged by the runner; the caller is told what failed
            failure = {"code": "job_failed", "message": f"{name} failed: {type(exc).__name__}: {exc}", "job": name}
            return json_response({"error": failure}, 500)
        return json_response({"job": name, "result": jsonable(result)})

    @handled
    def outbox(request: Request) -> Response:
        return json_response({"emails": mail_log.listing(), "mail_dir": str(mail_log.directory)})

    @app.route("/_local/jobs", methods=["GET"])
    def local_jobs() -> Response:
        return list_jobs(request())

    @app.route("/_local/jobs/{name}", methods=["POST"], content_types=ANY_BODY)
    def run_local_job(name: str) -> Response:
        return run_job(request(), name)

    @app.route("/_local/outbox", methods=["GET"])
    def local_outbox() -> Response:
        return outbox(request())

    @handled
    def search(request: Request) -> Response:
        """Where the embedded AWS holds a text (an address, a name, a phrase): every table's items, every bucket's
        objects. For checking an erasure from outside; the deployed desk has nothing like it."""
        from localdesk.search import MIN_TEXT, holding

        params = dict(request.query_params or {})
        unknown = sorted(set(params) - {"text"})
        if unknown:
            raise MalformedRequestError("unknown parameters: use text", errors=dict.fromkeys(unknown, "is not known"))
        text = str(params.get("text") or "").strip()
        if len(text) < MIN_TEXT:
            raise ValidationError("text is too short", {"text": f"must be at least {MIN_TEXT} characters"})
        found = holding(text, os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        return json_response({"text": text, **found, "found": len(found["items"]) + len(found["objects"])})

    @app.route("/_local/search", methods=["GET"])
    def local_search() -> Response:
        return search(request())

    if inbound is None:
        return
    delivery = inbound
    if RAW_MAIL not in app.api.binary_types:
        app.api.binary_types.append(RAW_MAIL)  # the message's bytes as sent, 8-bit parts included (local app only)

    @handled
    def receive_mail(request: Request) -> Response:
        """Delivers a raw message to the desk's address as the SMTP server does (this request holds the gate)."""
        raw = request.raw_body or b""
        body = raw.encode() if isinstance(raw, str) else raw
        if not body.strip():
            raise MalformedRequestError("send a raw message (Content-Type: message/rfc822) as the body")
        if len(body) > delivery.max_bytes:
            raise PayloadTooLargeError(f"the message is over the desk's limit of {delivery.max_bytes} bytes")
        done = delivery.deliver_now(body, _sender_of(body), [delivery.address.address], "local-http")
        return json_response(jsonable(done), 202)

    @app.route("/_local/inbound", methods=["POST"], content_types=[RAW_MAIL])
    def local_inbound() -> Response:
        return receive_mail(request())


def advance_of(body: Any) -> timedelta:
    text = body.get("advance") if isinstance(body, dict) else None
    try:
        by = timedelta(minutes=parse_duration_minutes(text)) if isinstance(text, str) else None
    except (ValueError, OverflowError):
        by = None
    if by is None or by > MAX_ADVANCE:
        raise MalformedRequestError(
            'send {"advance": "5d"}: whole minutes (m), hours (h) or days (d), at most 3650d',
            errors={"advance": "must be a duration like '30m', '3h' or '5d'"},
        )
    return by
