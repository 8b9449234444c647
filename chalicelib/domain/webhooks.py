"""Events out: the published event's schema, webhook settings and their checks, signatures and back-off."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain import history
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.history import HistoryEvent
from chalicelib.domain.tickets import Ticket, stamp

SCHEMA_VERSION = 1
SOURCE = "helpdesk"  # EventBridge's Source of every entry; DetailType is the kind
# Every kind the history records, in the order people read them; a webhook names some of them, or all.
KINDS = (
    history.CREATED,
    history.STATUS_CHANGED,
    history.PRIORITY_CHANGED,
    history.ASSIGNEE_CHANGED,
    history.TEAM_CHANGED,
    history.SUBJECT_CHANGED,
    history.FIELDS_CHANGED,
    history.REPLY,
    history.NOTE,
    history.REQUESTER_COMMENT,
    history.REMINDER_SENT,
    history.SLA_AT_RISK,
    history.SLA_BREACHED,
    history.SURVEY_SENT,
    history.SURVEY_ANSWERED,
)
ALL = "*"
JSON = "json"
SLACK = "slack"  # an incoming-webhook message, {"text": ...}, which Slack and Microsoft Teams both accept
FORMATS = (JSON, SLACK)
URL_LIMIT = 2000
DESCRIPTION_LIMIT = 200
SECRET_BYTES = 32
# A receiver refuses a signed delivery whose timestamp is further than this from its own clock (docs/EVENTS.md).
REPLAY_WINDOW = timedelta(minutes=5)
TIMEOUT_SECONDS = 5.0  # each POST; a slower receiver counts as failed and is tried again later
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
# A delivery is tried for this long after it was recorded; a webhook whose deliveries all failed for this long
# is switched off (and the admins are told once).
GIVE_UP_AFTER = timedelta(days=1)
LOG_LIMIT = 50  # the delivery log an admin sees: this many attempts, newest first
ERROR_LIMIT = 200
SLACK_TEXT_LIMIT = 300
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Names that only ever mean the desk's own machine or network (RFC 6761 and 6762, and the clouds' internal DNS).
INTERNAL_SUFFIXES = (".localhost", ".internal", ".local")
# IPv6 prefixes that carry an IPv4 address a gateway translates to: NAT64's well-known prefix (RFC 6052), whose
# last 32 bits are the IPv4 address; the local-use NAT64 prefix (RFC 8215) is the operator's own network.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
KIND_LABELS = {
    history.CREATED: "opened",
    history.STATUS_CHANGED: "status changed",
    history.PRIORITY_CHANGED: "priority changed",
    history.ASSIGNEE_CHANGED: "assignee changed",
    history.TEAM_CHANGED: "team changed",
    history.SUBJECT_CHANGED: "subject changed",
    history.FIELDS_CHANGED: "fields changed",
    history.REPLY: "agent replied",
    history.NOTE: "internal note",
    history.REQUESTER_COMMENT: "requester commented",
    history.REMINDER_SENT: "reminder sent",
    history.SLA_AT_RISK: "SLA at risk",
    history.SLA_BREACHED: "SLA breached",
    history.SURVEY_SENT: "survey sent",
    history.SURVEY_ANSWERED: "survey answered",
}


@dataclass(frozen=True)
class Webhook:
    """A target an admin configured. `kinds` empty means every kind; `secret` signs and is never shown again."""

    id: str
    url: str
    kinds: tuple[str, ...]
    format: str
    secret: str
    active: bool
    created_at: datetime
    created_by: str
    description: str = ""
    failing_since: datetime | None = None  # the first failure since the last success; None while healthy
    switched_off_at: datetime | None = None

    def wants(self, kind: str) -> bool:
        return self.active and (not self.kinds or kind in self.kinds)


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    kinds: tuple[str, ...]
    format: str
    description: str


def webhook_request(raw: Any, *, local: bool) -> WebhookRequest:
    """An admin's new webhook, checked. Deployed, only https targets; the local run also takes http to the
    machine itself (its receivers are local). Every problem is named by its field."""
    if not isinstance(raw, dict):
        raise ValidationError("the body must be a JSON object", {"body": "must be an object"})
    errors: dict[str, str] = {}
    unknown = sorted(set(raw) - {"url", "kinds", "format", "description"})
    for name in unknown:
        errors[name] = "is not a webhook field; use url, kinds, format or description"
    url = raw.get("url")
    problem = url_problem(url, local=local)
    if problem:
        errors["url"] = problem
    kinds = raw.get("kinds", [])
    chosen: tuple[str, ...] = ()
    if kinds == ALL or kinds is None:
        chosen = ()
    elif not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        errors["kinds"] = 'must be a list of event kinds, or "*" for all'
    else:
        wrong = [k for k in kinds if k not in KINDS and k != ALL]
        if wrong:
            errors["kinds"] = f"unknown kind {wrong[0]!r}; known: {', '.join(KINDS)}"
        elif ALL not in kinds:
            chosen = tuple(k for k in KINDS if k in kinds)
    form = raw.get("format", JSON)
    if form not in FORMATS:
        errors["format"] = f"must be one of {', '.join(FORMATS)}"
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > DESCRIPTION_LIMIT or "\n" in description:
        errors["description"] = f"must be one line of at most {DESCRIPTION_LIMIT} characters"
    if errors:
        raise ValidationError("the webhook is not valid", errors)
    return WebhookRequest(str(url), chosen, str(form), str(description).strip())


def url_problem(url: Any, *, local: bool) -> str | None:
    """Why `url` cannot be a target, or None. Deployed, a target must also be on the internet: the webhook sender
    runs inside the desk's network, so an address there (instance metadata, the machine itself, the VPC) would
    let whoever sets a webhook make the desk POST to it (SSRF). Delivery checks again what the name resolves to
    (chalicelib/adapters/webhook_transport.py); this only turns the obvious cases away early, with a reason."""
    if not isinstance(url, str) or not url.strip():
        return "is required: the address the desk POSTs each event to"
    if len(url) > URL_LIMIT or any(c.isspace() for c in url):
        return f"must be one address of at most {URL_LIMIT} characters, without spaces"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if not host:
        return "must name a host"
    if "@" in parts.netloc:  # also an empty user name ("https://@host/"), which urlsplit reports as ""
        return "must not carry a user name or password"
    if parts.scheme == "https":
        return None if local else internal_host_problem(host)
    if parts.scheme == "http" and local and host in LOCAL_HOSTS:
        return None
    if local:
        return "must be https, or http to localhost or 127.0.0.1 in the local run"
    return "must be https"


def internal_host_problem(host: str) -> str | None:
    """Why a deployed target's host is the desk's own network, or None. `host` is urlsplit's hostname (lower
    case, without the brackets of an IPv6 address)."""
    name = host.rstrip(".")
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        if public_address(ip):
            return None
        return f"must be a public address: {ip} is private, loopback, link-local, multicast or reserved"
    labels = name.split(".")
    last = labels[-1]
    if last.isdigit() or last.startswith("0x"):
        # No top-level domain is a number, but resolvers read 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 all as
        # 127.0.0.1 (inet_aton); only the usual four-number form is checked above, so the others are refused.
        return "must write an IP address as four decimal numbers with dots (a.b.c.d)"
    if name == "localhost" or name.endswith(INTERNAL_SUFFIXES):
        return "must be a public host name: localhost and names ending in .localhost, .internal or .local are internal"
    if len(labels) == 1:
        return "must be a full host name, with its domain: a single name is looked up in the desk's own network"
    return None


def public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether the desk may send to `ip`: globally routable and not multicast (Python counts 224.0.0.0/4 and
    ff00::/8 as global); an IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, NAT64) also needs that
    one to be public, since the connection ends up there."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in LOCAL_NAT64:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return public_address(embedded)
    return True


def event_id(ticket_id: str, key: str) -> str:
    """Stable for one event: a redelivered record, a retried delivery and EventBridge all carry the same id."""
    return "evt_" + hashlib.sha256(f"{ticket_id}/{key}".encode()).hexdigest()[:32]


def outgoing(event: HistoryEvent, ticket: Ticket | None) -> dict[str, Any]:
    """The published event (schema version 1, docs/EVENTS.md). The ticket is as it stands when the event is
    published, which for the stream is right after the change."""
    body: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "id": event_id(event.ticket_id, event.key),
        "kind": event.kind,
        "at": stamp(event.at),
        "ticket": _ticket(event.ticket_id, ticket),
        "actor": event.actor,
        "data": event.data,
    }
    return body


def _ticket(ticket_id: str, ticket: Ticket | None) -> dict[str, Any]:
    if ticket is None:
        return {"id": ticket_id}
    return {
        "id": ticket.id,
        "ref": ticket.ref,
        "subject": ticket.subject,
        "type": ticket.type,
        "status": ticket.status,
        "priority": ticket.priority,
        "open": ticket.is_open,
        "team": ticket.team,
        "assignee": ticket.assignee,
        "requester": {"email": ticket.requester_email, "name": ticket.requester_name},
        "created_at": stamp(ticket.created_at),
        "updated_at": stamp(ticket.updated_at),
    }


def chat_message(event: dict[str, Any]) -> dict[str, str]:
    """The incoming-webhook JSON a chat channel shows: one line of what happened, with no requester details."""
    ticket = event.get("ticket") or {}
    ref = ticket.get("ref") or ticket.get("id", "")
    subject = ticket.get("subject") or ""
    kind = str(event.get("kind", ""))
    line = f"[{ref}] {subject}: {KIND_LABELS.get(kind, kind)}{_detail(kind, event.get('data') or {})}"
    if len(line) > SLACK_TEXT_LIMIT:
        line = line[: SLACK_TEXT_LIMIT - 1] + "…"
    return {"text": _chat_escape(line)}


def _detail(kind: str, data: dict[str, Any]) -> str:
    if kind == history.STATUS_CHANGED:
        return f" ({data.get('from')} → {data.get('to')})"
    if kind in (history.PRIORITY_CHANGED, history.ASSIGNEE_CHANGED, history.TEAM_CHANGED):
        return f" ({data.get('from') or '-'} → {data.get('to') or '-'})"
    if kind in (history.SLA_AT_RISK, history.SLA_BREACHED):
        return f" ({str(data.get('timer', '')).replace('_', ' ')} due {data.get('due')})"
    if kind == history.SURVEY_ANSWERED:
        return f" (rating {data.get('rating')})"
    return ""


def _chat_escape(text: str) -> str:
    """Slack's (and Teams') message markup: &, < and > are the only characters it asks to escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Webhook-Signature` header: v1= and the hex HMAC-SHA256 of "<timestamp>.<body>" under the secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def retry_wait(attempts: int) -> timedelta:
    """How long after attempt number `attempts` the next is due: 30 s, doubling, at most an hour apart."""
    wait: timedelta = FIRST_RETRY * (2 ** max(min(attempts, 20) - 1, 0))
    return min(wait, LONGEST_WAIT)


def succeeded(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def should_switch_off(webhook: Webhook, now: datetime) -> bool:
    """Whether a failure now ends a day of failures: the webhook is then switched off."""
    return webhook.active and webhook.failing_since is not None and now - webhook.failing_since >= GIVE_UP_AFTER
