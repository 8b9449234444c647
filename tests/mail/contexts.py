"""Representative and hostile template contexts for every mail kind (the keys SPEC.md lists)."""

from __future__ import annotations

from typing import Any

HOSTILE_SUBJECT = "Hi\r\nBcc: evil@example.com"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_DESK = "Eve, <eve@evil.test>"
HOSTILE_BODY = "<img src=x onerror=alert(1)>\nsecond line\n\nnew paragraph"
HOSTILE_URL = 'https://desk.example.org/portal/t1?token=a"b<c'

PORTAL_URL = "https://desk.example.org/portal/tickets/t1?token=abc"
CONSOLE_URL = "https://desk.example.org/console/tickets/t1"
HOSTILE_CONSOLE_URL = 'https://desk.example.org/console/tickets/t1?token=a"b<c'
SIGN_IN_URL = "https://desk.example.org/console/sign-in/confirm?token=s1"


def contexts(*, hostile: bool = False) -> dict[str, dict[str, Any]]:
    subject = HOSTILE_SUBJECT if hostile else "VPN drops every hour"
    name = HOSTILE_NAME if hostile else "Ada Lovelace"
    body = HOSTILE_BODY if hostile else "Please restart the client:\n1. Quit it\n2. Open it again\n\nDoes that help?"
    url = HOSTILE_URL if hostile else PORTAL_URL
    console = HOSTILE_CONSOLE_URL if hostile else CONSOLE_URL
    common: dict[str, Any] = {
        "desk_name": HOSTILE_DESK if hostile else "Acme Help Desk",
        "recipient_name": name,
        "ticket": {
            "ref": "HD-1001",
            "subject": subject,
            "type_label": "Consultation",
            "status_label": "Estimate pending client approval",
            "priority_label": "High",
            "requester_name": name,
            "requester_email": "ada@example.org",
        },
    }
    actions = [
        {"label": "Approve estimate", "url": f"{url}&to=approved"},
        {"label": "Decline estimate" if not hostile else HOSTILE_NAME, "url": f"{url}&to=declined"},
    ]
    return {
        "acknowledgement": {
            **common,
            "description": body,
            "portal_url": url,
            "missing_fields": [HOSTILE_NAME, "Version"] if hostile else ["Steps to reproduce", "Version"],
        },
        "reply": {**common, "author_name": name, "body": body, "portal_url": url, "status_update": None},
        "status": {**common, "message": body, "actions": actions, "portal_url": url},
        "assigned": {
            **common,
            "assigned_by": name,
            "description_excerpt": body,
            "first_response_due": "Tue 4 Mar 2025, 11:00",
            "console_url": console,
        },
        "requester_comment": {**common, "author_name": name, "body": body, "console_url": console},
        "reminder": {
            **common,
            "message": body,
            "actions": actions,
            "portal_url": url,
            "number": 1,
            "times": 2,
            "waiting_since": "Mon 3 Mar 2025",
            "final_notice": "If we do not hear from you by Friday, we will close this request."
            if not hostile
            else body,
        },
        "team_reminder": {
            **common,
            "status_label": "Approved for action",
            "waiting": "3 business days",
            "since": "Mon 3 Mar 2025, 09:12",
            "number": 1,
            "times": 2,
            "console_url": console,
        },
        "sla": {
            **common,
            "level": "at_risk",
            "timer_label": "first response",
            "due": "Tue 4 Mar 2025, 11:00",
            "assignee_name": name,
            "console_url": console,
        },
        "survey": {
            **common,
            "ratings": [{"rating": n, "url": f"{url}&rating={n}"} for n in range(1, 6)],
            "comment_url": f"{url}&comment=1",
            "unsubscribe_url": f"{url}&unsubscribe=1",
        },
        "sla_digest": {
            "desk_name": common["desk_name"],
            "recipient_name": name,
            "alerts": [
                {
                    "ref": "HD-1001",
                    "subject": subject,
                    "timer_label": "first response",
                    "level": "breached",
                    "due": "Tue 4 Mar 2025, 11:00",
                    "assignee_name": None,
                    "console_url": console,
                },
                {
                    "ref": "HD-1002",
                    "subject": "Printer offline" if not hostile else HOSTILE_NAME,
                    "timer_label": "resolution",
                    "level": "at_risk",
                    "due": "Wed 5 Mar 2025, 17:00",
                    "assignee_name": name,
                    "console_url": console.replace("t1", "t2"),
                },
            ],
            "tickets": 2,
            "breached": 1,
            "at_risk": 1,
        },
        "sign_in": {
            "desk_name": common["desk_name"],
            "recipient_name": name,
            "link": f"{url}&sign_in=1" if hostile else SIGN_IN_URL,
            "minutes": 15,
        },
        "ack_ceiling": {
            "desk_name": common["desk_name"],
            "recipient_name": name,
            "limit": 200,
            "hour": "2025-03-05 14:00 UTC",
            "minutes_left": 17,
            "console_url": console,
        },
        "too_large": {
            "desk_name": common["desk_name"],
            "recipient_name": name,
            "size_text": "31.2 MB",
            "limit_text": "25 MB",
            "link": HOSTILE_URL if hostile else "https://desk.example.org/form",
        },
        "webhook_off": {
            "desk_name": common["desk_name"],
            "recipient_name": name,
            "url": "https://hooks.example.org/desk",
            "description": "Team chat",
            "failing_since": "2025-03-04 14:00 UTC",
            "last_answer": "answered 500",
            "console_url": console,
        },
    }


REQUESTER_KINDS = ("acknowledgement", "reply", "status", "reminder", "survey")
AGENT_KINDS = ("assigned", "requester_comment", "team_reminder", "sla", "sla_digest")
# about no one ticket: no reference in the subject or the footer
TICKETLESS_KINDS = ("sla_digest", "sign_in", "ack_ceiling", "too_large", "webhook_off")

PORTAL_KINDS = ("acknowledgement", "reply", "status", "reminder")


def text_values(kind: str, context: dict[str, Any]) -> list[str]:
    """The values a kind's text body shows verbatim."""
    values = [context["ticket"]["ref"], context["ticket"]["subject"]] if "ticket" in context else []
    if context["recipient_name"]:
        values.append(context["recipient_name"])
    keys = ("description", "body", "message", "description_excerpt", "author_name", "assigned_by", "portal_url")
    for key in (*keys, "console_url", "link"):
        if key in context:
            values.append(context[key])
    for alert in context.get("alerts", []):
        values += [alert["ref"], alert["subject"], alert["due"], alert["console_url"]]
    if kind == "survey":
        values += [r["url"] for r in context["ratings"]] + [context["comment_url"], context["unsubscribe_url"]]
    for action in context.get("actions", []):
        values += [action["label"], action["url"]]
    return values
