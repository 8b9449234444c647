"""Every mail template, for every ticket type and every status of its workflow in the shipped configuration,
rendered by the desk's own Notifier and sent through the real outbox to moto's SES; and what hostile input
(header injection, HTML) becomes on the way.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from email.utils import getaddresses, parseaddr
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import wiring
from chalicelib.domain.agents import Agent
from chalicelib.domain.config import DeskConfig, default_config
from chalicelib.domain.notices import TO_ASSIGNEE, TO_REQUESTER, TO_TEAM, Notice
from chalicelib.domain.tickets import Ticket, stamp
from chalicelib.mail.render import SUBJECT_LIMIT
from chalicelib.services.ports import SentMail
from tests.api.conftest import DEFECT_FIELDS, Api
from tests.api.mail_fixtures import BASE, REQUESTER, SENDER, Mailbox, parsed
from tests.clocks import ManualClock
from tests.streams import Stream

CONFIG = default_config()
CASES = [(key, status) for key in CONFIG.types for status in CONFIG.workflow_of(key).statuses]
INJECTION = "\r\nBcc: evil@example.com"
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
EN_DASH = "\u2013"


def part(mail: SentMail, subtype: str) -> str:
    body = parsed(mail).get_body(preferencelist=(subtype,))
    assert body is not None, f"no text/{subtype} part"
    assert body.get_content_type() == f"text/{subtype}"
    return str(body.get_content()).replace("\r\n", "\n")  # the wire's CRLF line ends, as the text was written


def ses_destinations(mail: SentMail) -> list[str]:
    """The addresses moto's SES would deliver this message to (the API's and the message's own recipients)."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    found = [m for m in backend.sent_messages if m.id == mail.message_id]
    assert len(found) == 1
    return sorted({parseaddr(d)[1] for d in found[0].destinations})


def assert_one_clean_recipient(mail: SentMail) -> None:
    message = parsed(mail)
    assert len(message.get_all("To") or []) == 1
    assert [address for _, address in getaddresses(message.get_all("To") or [])] == [mail.to]
    for header in ("Bcc", "Cc", "Resent-To", "Resent-Bcc"):
        assert message.get_all(header) is None, header
    assert ses_destinations(mail) == [mail.to]
    for name, value in message.items():
        assert "\r" not in str(value), name
        assert "\n" not in str(value), name
    headers = mail.raw.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\nbcc:" not in headers
    assert b"\ncc:" not in headers


def agents() -> tuple[Agent, Agent]:
    """The admin the fixtures made, and a second agent to assign tickets to."""
    desk = wiring.desk()
    bob, _ = desk.create_agent({"name": "Bob Builder", "email": "bob@example.org", "role": "agent"})
    admin = next(a for a in desk.list_agents() if a.role == "admin")
    return admin, bob


def built_ticket(config: DeskConfig, type_key: str, status: str, now: datetime, **overrides: Any) -> Ticket:
    """A ticket as the store would hand it back, in any status: built directly, bypassing the API's checks."""
    ticket_type = config.types[type_key]
    values: dict[str, Any] = {
        "id": f"01TEMPLATE{type_key.upper()}{status.upper()}"[:26],
        "ref": "HD-1042",
        "type": type_key,
        "status": status,
        "priority": "high",
        "priority_rank": 1,
        "is_open": config.status(status).is_open,
        "subject": "Invoices cannot be saved",
        "description": "Pressing Save on an invoice shows an error.\n\nIt started on Monday.",
        "requester_name": "Rosa Diaz",
        "requester_email": REQUESTER,
        "fields": {},
        "created_at": now - timedelta(days=3),
        "updated_at": now,
        "status_since": now - timedelta(days=1),
        "changed_by": "agent:someone",
        "version": 7,
        "team": ticket_type.team,
        **overrides,
    }
    return Ticket(**values)


def every_notice(config: DeskConfig, ticket: Ticket, admin: Agent, bob: Agent, now: datetime) -> list[Notice]:
    status = ticket.status
    rule = config.stale_rules.get(status)
    since = stamp(ticket.status_since)
    final_at = stamp(now + timedelta(days=7)) if rule is None or rule.then else None
    due = stamp(now + timedelta(hours=2))

    def notice(kind: str, audience: str, data: dict[str, Any], suffix: str = "") -> Notice:
        return Notice(ticket.id, f"template#{kind}{suffix}", kind, audience, now, data)

    return [
        notice("acknowledgement", TO_REQUESTER, {}),
        notice("reply", TO_REQUESTER, {"comment_id": "c1", "author_name": bob.name, "body": "First line\n\nSecond"}),
        notice("status", TO_REQUESTER, {"status": status}),
        notice("assigned", f"agent:{bob.id}", {"by": f"agent:{admin.id}"}),
        notice("requester_comment", TO_ASSIGNEE, {"author_name": "Rosa Diaz", "body": "Still broken.\nSee above."}),
        notice(
            "reminder",
            TO_REQUESTER,
            {
                "status": status,
                "since": since,
                "number": 1,
                "times": rule.times if rule else 1,
                "then": (rule.then if rule else None) or "completed",
                "final_at": final_at,
            },
        ),
        notice(
            "team_reminder",
            TO_TEAM,
            {"status": status, "since": since, "number": 1, "times": 1, "waiting": "3 business days"},
        ),
        notice("sla", TO_ASSIGNEE, {"timer": "first_response", "level": "at_risk", "due": due}, "#risk"),
        notice("sla", TO_ASSIGNEE, {"timer": "resolution", "level": "breached", "due": due}, "#breach"),
        notice("survey", TO_REQUESTER, {}),
    ]


@pytest.mark.parametrize(("type_key", "status"), CASES, ids=[f"{t}-{s}" for t, s in CASES])
def test_every_mail_renders_and_is_sent_for_every_type_and_status(
    mailbox: Mailbox, admin_token: str, clock: ManualClock, type_key: str, status: str
) -> None:
    admin, bob = agents()
    now = clock.now()
    ticket = built_ticket(CONFIG, type_key, status, now, assignee=bob.id)
    _, notifier = wiring.mail()

    tally = notifier.notify(CONFIG, ticket, every_notice(CONFIG, ticket, admin, bob, now))

    # The engineering, services and support teams have no address: the team reminder goes to both agents.
    assert tally == {"recorded": 11, "already_recorded": 0, "sent": 11}
    assert sorted(m.kind for m in mailbox.sent) == sorted(
        [
            "acknowledgement",
            "reply",
            "status",
            "assigned",
            "requester_comment",
            "reminder",
            "team_reminder",
            "team_reminder",
            "sla",
            "sla",
            "survey",
        ]
    )
    for mail in mailbox.sent:
        assert ticket.ref in mail.subject, mail.kind
        assert "\r" not in mail.subject
        assert "\n" not in mail.subject
        assert 0 < len(mail.subject) <= SUBJECT_LIMIT
        assert mail.text.strip(), mail.kind
        assert mail.html.strip(), mail.kind
        message = parsed(mail)
        assert message.get_content_type() == "multipart/alternative"
        assert " ".join(str(message["Subject"]).split()) == mail.subject  # (folding: see the test below)
        assert parseaddr(str(message["From"]))[1] == SENDER
        assert part(mail, "plain").strip() == mail.text.strip()
        assert part(mail, "html").strip() == mail.html.strip()
        assert ticket.ref in mail.html
        assert "Undefined" not in mail.text + mail.html
        assert_one_clean_recipient(mail)
    assert {m.to for m in mailbox.sent if m.kind in ("acknowledgement", "reply", "status", "reminder", "survey")} == {
        REQUESTER
    }
    assert {m.to for m in mailbox.sent if m.kind in ("assigned", "requester_comment", "sla")} == {bob.email}
    assert {m.to for m in mailbox.sent if m.kind == "team_reminder"} == {admin.email, bob.email}
    console = f"{BASE}/console/tickets/{ticket.id}"
    for mail in mailbox.sent:
        if mail.to == REQUESTER:
            assert "/console/" not in mail.text + mail.html, mail.kind
        else:
            assert f"Open in the console: {console}" in mail.text, mail.kind
            assert f'<a href="{console}"' in mail.html, mail.kind
    label = CONFIG.status(status).label
    status_mail = next(m for m in mailbox.sent if m.kind == "status")
    assert label in status_mail.subject
    expected_message = CONFIG.email.status_messages.get(status)
    if expected_message:
        assert expected_message.replace("{ref}", ticket.ref)[:60] in " ".join(status_mail.text.split())
    for transition in CONFIG.workflow_of(type_key).transitions_from(status, "requester"):
        assert f"to={transition.to_status}" in status_mail.text
        assert transition.label in status_mail.text
        assert f"to={transition.to_status}" in status_mail.html


def test_the_subject_a_mail_client_shows_is_exactly_the_rendered_subject(
    mailbox: Mailbox, admin_token: str, clock: ManualClock
) -> None:
    """A long subject is folded; unfolded again it must read the same, not with a doubled space where the line was
    folded. (The templates' subjects are ASCII around the ticket's own text for this reason: Python folds a header
    with an encoded word by adding a space, which a subject typed with non-ASCII text still shows.)"""
    admin, bob = agents()
    ticket = built_ticket(CONFIG, "consultation", "estimate_pending_approval", clock.now(), assignee=bob.id)
    notices = [n for n in every_notice(CONFIG, ticket, admin, bob, clock.now()) if n.kind == "team_reminder"]

    wiring.mail()[1].notify(CONFIG, ticket, notices)

    assert mailbox.sent
    for mail in mailbox.sent:
        assert len(mail.subject) > 78
        assert str(parsed(mail)["Subject"]) == mail.subject


def test_sending_the_same_notices_again_sends_nothing_new(
    mailbox: Mailbox, admin_token: str, clock: ManualClock
) -> None:
    admin, bob = agents()
    ticket = built_ticket(CONFIG, "defect", "client_testing", clock.now(), assignee=bob.id)
    notices = every_notice(CONFIG, ticket, admin, bob, clock.now())
    _, notifier = wiring.mail()
    notifier.notify(CONFIG, ticket, notices)
    sent = len(mailbox.sent)

    clock.advance(minutes=5)
    tally = notifier.notify(CONFIG, ticket, notices)

    assert tally == {"recorded": 0, "already_recorded": sent}
    assert len(mailbox.sent) == sent


# header injection ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["subject", "requester_name"])
def test_the_api_refuses_a_line_break_in_a_subject_or_name(api: Api, mailbox: Mailbox, field: str) -> None:
    body = {
        "type": "question",
        "subject": "Printer offline",
        "description": "It is offline.",
        "requester_name": "Rosa Diaz",
        "requester_email": REQUESTER,
        field: f"Printer offline{INJECTION}",
    }

    code, answer = api.json("POST", "/tickets", body, token=None)
    form = api.form("/tickets", {k: str(v) for k, v in body.items()}, headers={"Accept": "application/json"})

    assert code == 422, answer
    assert field in answer["error"]["errors"]
    assert form.status_code == 422
    assert mailbox.sent == []


def test_the_api_refuses_a_line_break_in_an_agent_s_new_subject_or_a_bad_requester_address(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = api.open()
    stream.drain()

    code, answer = api.json("PATCH", f"/tickets/{opened['id']}", {"subject": f"New{INJECTION}", "version": 1})
    assert code == 422, answer
    assert "subject" in answer["error"]["errors"]
    code, answer = api.json(
        "POST",
        "/tickets",
        {
            "subject": "Hi",
            "description": "x",
            "requester_name": "Eve",
            "requester_email": f"eve@example.org{INJECTION}",
        },
        token=None,
    )
    assert code == 422, answer
    assert "requester_email" in answer["error"]["errors"]


def test_a_ticket_that_got_past_validation_still_yields_one_recipient_and_no_bcc(
    mailbox: Mailbox, admin_token: str, clock: ManualClock
) -> None:
    admin, bob = agents()
    ticket = built_ticket(
        CONFIG,
        "defect",
        "client_testing",
        clock.now(),
        subject=f"Printer offline{INJECTION}",
        requester_name=f"Rosa Diaz{INJECTION}",
        description=f"Line{INJECTION}",
        assignee=bob.id,
    )
    _, notifier = wiring.mail()

    notifier.notify(CONFIG, ticket, every_notice(CONFIG, ticket, admin, bob, clock.now()))

    assert len(mailbox.sent) == 11
    for mail in mailbox.sent:
        assert_one_clean_recipient(mail)
        assert "Bcc: evil@example.com" in mail.subject  # shown as text on one line, not as a header
        assert "evil@example.com" not in ses_destinations(mail)
    survey = next(m for m in mailbox.sent if m.kind == "survey")
    assert len(parsed(survey).get_all("List-Unsubscribe") or []) == 1


def test_a_requester_address_that_is_not_a_plain_address_is_never_sent_and_is_shown_as_failed(
    api: Api, mailbox: Mailbox, clock: ManualClock
) -> None:
    _, bob = agents()
    ticket = built_ticket(
        CONFIG, "question", "submitted", clock.now(), requester_email=f"rosa@example.org{INJECTION}", assignee=bob.id
    )
    _, notifier = wiring.mail()

    notifier.notify(CONFIG, ticket, [Notice(ticket.id, "hostile#ack", "acknowledgement", TO_REQUESTER, clock.now())])

    assert mailbox.sent == []
    assert ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages == []
    code, answer = api.json("GET", "/admin/outbox?state=failed")
    assert code == 200, answer
    assert [(m["kind"], m["key"], m["state"]) for m in answer["emails"]] == [
        ("acknowledgement", "hostile#ack", "failed")
    ]
    assert "cannot be sent" in answer["emails"][0]["last_error"]


def test_a_desk_name_with_a_line_break_stays_inside_the_from_header(api: Api, stream: Stream, mailbox: Mailbox) -> None:
    code, current = api.json("GET", "/admin/config")
    assert code == 200
    document = copy.deepcopy(current["config"])
    document["desk"]["name"] = f"Help desk{INJECTION}"
    code, answer = api.json("PUT", "/admin/config", {"config": document, "version": current["version"]})
    assert code == 200, answer
    api.open()
    stream.drain()

    mail = mailbox.sent[0]
    assert_one_clean_recipient(mail)
    message = parsed(mail)
    assert len(message.get_all("From") or []) == 1
    assert [address for _, address in getaddresses(message.get_all("From") or [])] == [SENDER]


# HTML injection -----------------------------------------------------------------------------------------------


def test_a_reply_with_a_script_is_escaped_in_the_html_part(api: Api, stream: Stream, mailbox: Mailbox) -> None:
    opened = api.open()
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": f"Try this: {SCRIPT}", "public": True})
    assert code == 201
    stream.drain()

    reply = next(m for m in mailbox.sent if m.kind == "reply")
    html = part(reply, "html")
    assert ESCAPED_SCRIPT in html
    assert "<script" not in html.lower()
    assert SCRIPT in part(reply, "plain")  # plain text shows exactly what was written


def test_html_in_the_subject_name_description_and_requester_comment_is_escaped(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = api.open(
        type="defect",
        subject='<img src=x onerror="alert(1)">',
        requester_name="<b>Rosa</b>",
        description=f"Broken {SCRIPT}",
        fields=DEFECT_FIELDS,
    )
    token = opened["portal_url"].split("token=", 1)[1]
    code, _ = api.json("POST", f"/portal/tickets/{opened['id']}/comments?token={token}", {"body": SCRIPT}, token=None)
    assert code == 201
    stream.drain()

    ack = next(m for m in mailbox.sent if m.kind == "acknowledgement")
    comments = [m for m in mailbox.sent if m.kind == "requester_comment"]
    assert comments
    for mail in [ack, *comments]:
        html = part(mail, "html")
        assert "<script" not in html.lower()
        assert "<img" not in html.lower()
        assert "<b>rosa" not in html.lower()
        assert "&lt;img src=x onerror=" in html
    assert ESCAPED_SCRIPT in part(ack, "html")
    assert "&lt;b&gt;Rosa&lt;/b&gt;" in part(ack, "html")
    assert all(ESCAPED_SCRIPT in part(m, "html") for m in comments)


# what the acknowledgement quotes ------------------------------------------------------------------------------

WORDS = "Dear customer, your account is locked: confirm your password at the link below within a day. "


def test_the_acknowledgement_quotes_only_a_short_excerpt_of_a_long_description(
    mailbox: Mailbox, admin_token: str, clock: ManualClock
) -> None:
    """The desk's verified sender mails whatever address was typed in: it must not carry a caller's long text."""
    admin, bob = agents()
    description = (WORDS * 4).replace(" ", "\n\n", 3) + "https://evil.example/phish " + WORDS * 40
    ticket = built_ticket(CONFIG, "question", "submitted", clock.now(), description=description, assignee=bob.id)
    notices = [n for n in every_notice(CONFIG, ticket, admin, bob, clock.now()) if n.kind == "acknowledgement"]

    wiring.mail()[1].notify(CONFIG, ticket, notices)

    (ack,) = mailbox.sent
    text = part(ack, "plain")
    told = text.split("What you told us:\n", 1)[1].split("\n\n", 1)[0]
    assert len(told) <= 300
    assert told.endswith("…")
    one_paragraph = " ".join(description.split())  # the caller's own layout is gone
    assert one_paragraph.startswith(told[:-1])
    assert one_paragraph[len(told) - 1] == " "  # cut after a whole word
    assert "https://evil.example/phish" not in text + part(ack, "html")
    assert "[…] The rest is on the ticket. Your whole message is there, behind your private link below." in text
    assert "The rest is on the ticket." in part(ack, "html")
    assert "/portal/" in text
    assert len(ack.raw) < 12_000


def test_a_short_description_is_acknowledged_whole_on_one_line(
    mailbox: Mailbox, admin_token: str, clock: ManualClock
) -> None:
    admin, bob = agents()
    ticket = built_ticket(CONFIG, "question", "submitted", clock.now(), assignee=bob.id)
    notices = [n for n in every_notice(CONFIG, ticket, admin, bob, clock.now()) if n.kind == "acknowledgement"]

    wiring.mail()[1].notify(CONFIG, ticket, notices)

    (ack,) = mailbox.sent
    assert "What you told us:\nPressing Save on an invoice shows an error. It started on Monday.\n" in part(
        ack, "plain"
    )
    assert "The rest is on the ticket" not in part(ack, "plain")


def test_the_acknowledgement_subject_stays_short_but_later_mails_quote_as_before(
    mailbox: Mailbox, admin_token: str, clock: ManualClock
) -> None:
    admin, bob = agents()
    subject = ("Invoices " + "cannot be saved " * 12)[:200]  # as long as the API takes
    description = WORDS * 30
    body = "Try this: " + WORDS * 20
    ticket = built_ticket(
        CONFIG, "question", "submitted", clock.now(), subject=subject, description=description, assignee=bob.id
    )
    reply = Notice(ticket.id, "long#reply", "reply", TO_REQUESTER, clock.now(), {"author_name": bob.name, "body": body})
    notices = [
        n for n in every_notice(CONFIG, ticket, admin, bob, clock.now()) if n.kind in ("acknowledgement", "assigned")
    ]

    wiring.mail()[1].notify(CONFIG, ticket, [*notices, reply])

    by_kind = {m.kind: m for m in mailbox.sent}
    assert len(by_kind["acknowledgement"].subject) <= 150
    assert by_kind["acknowledgement"].subject.endswith("…")
    assert body in part(by_kind["reply"], "plain")  # a reply is quoted whole, as before
    assigned = part(by_kind["assigned"], "plain")
    assert WORDS * 5 in assigned  # the agent's mail keeps its longer excerpt
