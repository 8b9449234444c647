"""Mail caused by ticket changes, end to end: the real API, the real stream handler, moto's SES.

Acknowledgements, public replies (never notes), requester-facing statuses with their confirm-only action links,
assignments, and requester comments to whoever works the ticket; a redelivered stream batch sends nothing twice.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.services.ports import SentMail
from tests.api.conftest import DEFECT_FIELDS, Api
from tests.api.mail_fixtures import (
    ADMIN,
    BASE,
    CONSULTATION_TO_ESTIMATE,
    DEFECT_TO_CLIENT_TESTING,
    REQUESTER,
    SENDER,
    Mailbox,
    links,
    new_agent,
    parsed,
    path_of,
    run_job,
)
from tests.clocks import ManualClock
from tests.streams import Stream


def html_of(mail: SentMail) -> str:
    part = parsed(mail).get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def walk(api: Api, ticket_id: str, *statuses: str) -> None:
    for status in statuses:
        code, answer = api.move(ticket_id, status)
        assert code == 200, answer


def assign(api: Api, ticket_id: str, assignee: str | None, *, token: str = "agent") -> None:
    version = api.ticket(ticket_id)["version"]
    code, answer = api.json("PATCH", f"/tickets/{ticket_id}", {"assignee": assignee, "version": version}, token=token)
    assert code == 200, answer


def history_kinds(api: Api, ticket_id: str) -> list[str]:
    code, answer = api.json("GET", f"/tickets/{ticket_id}/history")
    assert code == 200, answer
    return [e["kind"] for e in answer["events"]]


def portal_comment(api: Api, opened: dict[str, Any], body: str) -> None:
    token = parse_qs(urlsplit(opened["portal_url"]).query)["token"][0]
    code, answer = api.json(
        "POST", f"/portal/tickets/{opened['id']}/comments?token={token}", {"body": body}, token=None
    )
    assert code == 201, answer


def set_team_email(api: Api, team: str, address: str) -> None:
    code, current = api.json("GET", "/admin/config")
    assert code == 200, current
    document = copy.deepcopy(current["config"])
    next(t for t in document["teams"] if t["key"] == team)["email"] = address
    code, answer = api.json("PUT", "/admin/config", {"config": document, "version": current["version"]})
    assert code == 200, answer


# the acknowledgement ---------------------------------------------------------------------------------


def test_a_new_ticket_is_acknowledged_with_its_reference_and_a_portal_link_that_opens_it(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = api.open()
    assert mailbox.sent == []  # the stream sends it, not the request

    stream.drain()

    assert [(m.kind, m.to) for m in mailbox.sent] == [("acknowledgement", REQUESTER)]
    ack = mailbox.sent[0]
    assert ack.ticket_id == opened["id"]
    assert opened["ref"] in ack.subject
    assert "Printer offline" in ack.subject
    portal = [u for u in links(ack.text) if "/portal/tickets/" in u]
    assert portal
    assert portal[0] in html_of(ack).replace("&amp;", "&")
    code, shown = api.json("GET", path_of(portal[0]), token=None)
    assert code == 200, shown
    assert shown["ref"] == opened["ref"]
    message = parsed(ack)
    assert message.get_all("To") == ["Rosa Diaz <rosa@example.org>"]
    assert str(message["From"]) == f"Help desk <{SENDER}>"
    assert message["Auto-Submitted"] == "auto-replied"  # the desk's automatic answer to a request (RFC 3834)


# replies and notes ---------------------------------------------------------------------------------


def test_a_public_reply_is_mailed_to_the_requester_and_an_internal_note_is_not(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = api.open()
    stream.drain()

    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Old VLAN, again.", "public": False})
    assert code == 201
    stream.drain()
    assert mailbox.kinds() == ["acknowledgement"]

    body = "Please switch the printer off and on.\n\nDoes it come back?"
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": body, "public": True})
    assert code == 201
    stream.drain()

    assert mailbox.kinds() == ["acknowledgement", "reply"]
    reply = mailbox.sent[-1]
    assert reply.to == REQUESTER
    assert opened["ref"] in reply.subject
    assert "Please switch the printer off and on." in reply.text
    assert "Does it come back?" in reply.text
    assert "Old VLAN" not in reply.text + reply.html
    assert "note" in history_kinds(api, opened["id"])  # the note is recorded, just not mailed


def test_a_note_made_with_a_transition_is_not_mailed_but_a_public_comment_with_one_is(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = api.open()
    code, _ = api.move(opened["id"], "in_progress", comment="Checking the switch port.", public=False)
    assert code == 200
    code, _ = api.move(opened["id"], "waiting_on_requester", comment="Which floor is it on?", public=True)
    assert code == 200
    stream.drain()

    # The reply and the status it was sent with are one mail (they were two before the reply carried the status).
    assert sorted(mailbox.kinds()) == ["acknowledgement", "reply"]
    everything = " ".join(m.text for m in mailbox.sent)
    assert "Which floor is it on?" in everything
    assert "We need a little more information from you" in everything
    assert "Checking the switch port." not in everything


def move_to_ready_to_install(api: Api, stream: Stream) -> dict[str, Any]:
    opened = api.open(type="defect", fields=DEFECT_FIELDS)
    walk(api, opened["id"], *DEFECT_TO_CLIENT_TESTING[:-1])
    stream.drain()
    return opened


def test_a_reply_sent_with_a_move_reaches_the_requester_as_one_mail_with_the_status_message_and_its_decisions(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = move_to_ready_to_install(api, stream)
    before = len(mailbox.sent)
    reply = "The fix is on your server now.\n\nTry saving an invoice."

    code, answer = api.move(opened["id"], "client_testing", comment=reply, public=True)
    assert code == 200, answer
    records = stream.drain()

    sent = mailbox.sent[before:]
    assert [(m.kind, m.to) for m in sent] == [("reply", REQUESTER)]
    mail = sent[0]
    assert mail.subject == f"[{opened['ref']}] New reply, now Client testing: Printer offline"
    assert "The fix is on your server now." in mail.text
    assert "Try saving an invoice." in mail.text
    assert "Its status is now: Client testing." in mail.text
    assert "Please test it" in mail.text
    actions = {parse_qs(urlsplit(u).query).get("to", [""])[0]: u for u in links(mail.text)}
    assert {"completed", "in_progress"} <= set(actions)
    html = html_of(mail).replace("&amp;", "&")
    assert "The fix is on your server now." in html
    assert actions["completed"] in html
    assert actions["in_progress"] in html
    assert "/console/" not in mail.text + html
    history = history_kinds(api, opened["id"])
    assert history[-2:] == ["status_changed", "reply"]  # the history still tells both

    assert stream.deliver(records) == []
    assert stream.deliver(list(reversed(records))) == []
    assert mailbox.sent[before:] == sent
    assert api.json("GET", "/admin/outbox?state=pending")[1] == {"emails": []}


@pytest.mark.parametrize("first", ["ticket", "comment"])
def test_the_move_and_the_reply_make_one_mail_whichever_of_their_records_comes_first(
    api: Api, stream: Stream, mailbox: Mailbox, first: str
) -> None:
    opened = move_to_ready_to_install(api, stream)
    before = len(mailbox.sent)
    code, _ = api.move(opened["id"], "client_testing", comment="Installed; please try it.", public=True)
    assert code == 200
    records = stream.records()
    assert len(records) == 2  # the ticket's write and the comment's: two records of one transaction
    records.sort(key=lambda r: not r["dynamodb"]["Keys"]["sk"]["S"].startswith(first))

    assert stream.deliver(records) == []
    assert stream.deliver(list(reversed(records))) == []

    assert api.json("GET", "/admin/outbox?state=pending")[1] == {"emails": []}  # no status mail waiting either
    sent = mailbox.sent[before:]
    assert [m.kind for m in sent] == ["reply"]
    assert "Installed; please try it." in sent[0].text
    assert "Please test it" in sent[0].text
    assert "to=completed" in sent[0].text


def test_a_reply_alone_and_a_move_alone_are_mailed_as_before(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = move_to_ready_to_install(api, stream)
    before = len(mailbox.sent)

    walk(api, opened["id"], "client_testing")
    stream.drain()
    clock.advance(minutes=3)
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Any luck?", "public": True})
    assert code == 201
    stream.drain()

    sent = mailbox.sent[before:]
    assert [m.kind for m in sent] == ["status", "reply"]
    assert "Please test it" in sent[0].text
    assert "Any luck?" in sent[1].text
    assert "Please test it" not in sent[1].text
    assert "status is now" not in sent[1].text


def test_a_status_mail_whose_move_came_with_a_note_goes_out_a_moment_later_without_the_note(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = api.open()
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Looking into it.", "public": True})
    assert code == 201
    stream.drain()
    clock.advance(minutes=10)
    before = len(mailbox.sent)

    code, _ = api.move(opened["id"], "resolved", comment="Rebooted the print server.", public=False)
    assert code == 200
    stream.drain()
    # After a public reply, a note leaves the ticket looking as a reply would: the status mail waits for it.
    assert mailbox.sent[before:] == []
    assert [m["kind"] for m in api.json("GET", "/admin/outbox?state=pending")[1]["emails"]] == ["status"]

    clock.advance(minutes=2)
    assert run_job(api.client, "outbox_retry") == {"due": 1, "sent": 1}

    sent = mailbox.sent[before:]
    assert [m.kind for m in sent] == ["status"]
    assert "We have resolved" in sent[0].text
    assert "Rebooted" not in sent[0].text + sent[0].html


# agents open the ticket in the console ---------------------------------------------------------------


def test_agent_mails_link_to_the_ticket_in_the_console_and_requester_mails_never_do(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    bob, _ = new_agent(api, "Bob Builder", "bob@example.org")
    opened = api.open()
    assign(api, opened["id"], bob)
    stream.drain()
    portal_comment(api, opened, "It is on the second floor.")
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Thanks.", "public": True})
    assert code == 201
    stream.drain()

    console = f"{BASE}/console/tickets/{opened['id']}"
    agents = [m for m in mailbox.sent if m.kind in ("assigned", "requester_comment")]
    assert sorted(m.kind for m in agents) == ["assigned", "requester_comment"]
    for mail in agents:
        assert f"Open in the console: {console}" in mail.text
        assert f'<a href="{console}"' in html_of(mail)
        assert "Open in the console</a>" in html_of(mail)
        assert "/portal/" not in mail.text
    requester = mailbox.to(REQUESTER)
    assert sorted(m.kind for m in requester) == ["acknowledgement", "reply"]
    for mail in requester:
        assert "/console/" not in mail.text + html_of(mail)


# requester-facing statuses -----------------------------------------------------------------------------


def test_client_testing_asks_the_requester_to_test_with_one_link_per_decision(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = api.open(type="defect", fields=DEFECT_FIELDS)
    walk(api, opened["id"], *DEFECT_TO_CLIENT_TESTING)
    stream.drain()

    statuses = mailbox.to(REQUESTER, "status")
    assert len(statuses) == 1  # none of the statuses on the way has a message for the requester
    mail = statuses[0]
    assert opened["ref"] in mail.subject
    assert "Client testing" in mail.subject
    assert "Please test it" in mail.text
    actions = {parse_qs(urlsplit(u).query).get("to", [""])[0]: u for u in links(mail.text)}
    assert {"completed", "in_progress"} <= set(actions)
    assert "Fix confirmed" in mail.text
    assert "Fix does not work" in mail.text
    html = html_of(mail).replace("&amp;", "&")
    assert actions["completed"] in html
    assert actions["in_progress"] in html


def test_an_estimate_link_opens_a_confirmation_page_and_changes_nothing_by_itself(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = api.open(type="consultation", fields={"topic": "Data migration"})
    walk(api, opened["id"], *CONSULTATION_TO_ESTIMATE)
    stream.drain()
    mail = mailbox.to(REQUESTER, "status")[-1]
    assert "approval" in mail.text
    actions = {parse_qs(urlsplit(u).query).get("to", [""])[0]: u for u in links(mail.text)}
    assert {"approved", "estimate_declined"} <= set(actions)
    before = api.ticket(opened["id"])

    page = api.request("GET", path_of(actions["approved"]), token=None, headers={"Accept": "text/html"})
    html = page.body.decode() if isinstance(page.body, bytes) else page.body
    code, as_json = api.json("GET", path_of(actions["estimate_declined"]), token=None)
    stream.drain()

    assert page.status_code == 200
    assert 'name="to" value="approved"' in html
    assert f'name="version" value="{before["version"]}"' in html
    assert "Approve estimate?" in html
    assert code == 200
    assert as_json["status"]["key"] == "estimate_pending_approval"
    after = api.ticket(opened["id"])
    assert (after["status"]["key"], after["version"]) == ("estimate_pending_approval", before["version"])
    assert history_kinds(api, opened["id"]).count("status_changed") == 3

    token = parse_qs(urlsplit(actions["approved"]).query)["token"][0]
    confirmed = api.form(
        f"/portal/tickets/{opened['id']}/transitions?token={token}",
        {"to": "approved", "version": str(before["version"])},
    )
    assert confirmed.status_code == 303
    assert api.ticket(opened["id"])["status"]["key"] == "approved"


def test_a_link_for_a_decision_no_longer_open_says_so_and_offers_no_form(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    opened = api.open(type="consultation", fields={"topic": "Data migration"})
    walk(api, opened["id"], *CONSULTATION_TO_ESTIMATE)
    stream.drain()
    mail = mailbox.to(REQUESTER, "status")[-1]
    approve = next(u for u in links(mail.text) if "to=approved" in u)
    walk(api, opened["id"], "needs_estimate")  # the agent revises the estimate meanwhile

    page = api.request("GET", path_of(approve), token=None, headers={"Accept": "text/html"})
    html = page.body.decode() if isinstance(page.body, bytes) else page.body

    assert page.status_code == 200
    assert "no longer open" in html
    assert 'name="to" value="approved"' not in html


def test_a_decision_the_requester_made_is_not_mailed_back_to_them(api: Api, stream: Stream, mailbox: Mailbox) -> None:
    opened = api.open(type="consultation", fields={"topic": "Data migration"})
    walk(api, opened["id"], *CONSULTATION_TO_ESTIMATE)
    stream.drain()
    sent = len(mailbox.sent)
    token = parse_qs(urlsplit(opened["portal_url"]).query)["token"][0]
    version = api.ticket(opened["id"])["version"]

    code, answer = api.json(
        "POST",
        f"/portal/tickets/{opened['id']}/transitions?token={token}",
        {"to": "estimate_declined", "version": version},
        token=None,
    )
    stream.drain()

    assert code == 200, answer
    assert answer["status"]["key"] == "estimate_declined"
    assert mailbox.sent[sent:] == []


# assignments ---------------------------------------------------------------------------------------------


def test_an_assignment_is_mailed_to_the_assignee_but_not_when_agents_assign_themselves(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    bob, bob_token = new_agent(api, "Bob Builder", "bob@example.org")
    first, second = api.open(), api.open(subject="Scanner jams")
    stream.drain()

    assign(api, first["id"], bob)  # the admin assigns Bob
    assign(api, second["id"], "me", token=bob_token)  # Bob takes one himself
    assign(api, api.open(subject="Monitor flickers")["id"], "me")  # the admin takes one herself
    stream.drain()

    assigned = [m for m in mailbox.sent if m.kind == "assigned"]
    assert [(m.to, m.ticket_id) for m in assigned] == [("bob@example.org", first["id"])]
    assert first["ref"] in assigned[0].subject
    assert "Ada Admin" in assigned[0].text
    assert "The office printer shows as offline." in assigned[0].text


# requester comments ------------------------------------------------------------------------------------


def test_a_requester_comment_goes_to_the_assignee(api: Api, stream: Stream, mailbox: Mailbox) -> None:
    bob, _ = new_agent(api, "Bob Builder", "bob@example.org")
    opened = api.open()
    assign(api, opened["id"], bob)
    stream.drain()

    portal_comment(api, opened, "It is on the second floor.")
    stream.drain()

    comments = [m for m in mailbox.sent if m.kind == "requester_comment"]
    assert [m.to for m in comments] == ["bob@example.org"]
    assert "It is on the second floor." in comments[0].text
    assert opened["ref"] in comments[0].subject


def test_a_requester_comment_on_a_ticket_whose_assignee_was_revoked_goes_to_the_active_agents(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    bob, _ = new_agent(api, "Bob Builder", "bob@example.org")
    opened = api.open()
    assign(api, opened["id"], bob)
    stream.drain()
    assert api.json("DELETE", f"/admin/agents/{bob}")[0] == 200

    portal_comment(api, opened, "Hello?")
    stream.drain()

    assert [m.to for m in mailbox.sent if m.kind == "requester_comment"] == [ADMIN]


def test_an_unassigned_ticket_s_requester_comment_goes_to_the_team_address(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    new_agent(api, "Bob Builder", "bob@example.org")
    set_team_email(api, "support", "support@example.org")
    opened = api.open()
    stream.drain()

    portal_comment(api, opened, "Any news?")
    stream.drain()

    assert [m.to for m in mailbox.sent if m.kind == "requester_comment"] == ["support@example.org"]


def test_without_an_assignee_or_team_address_every_active_agent_hears_of_a_requester_comment(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    new_agent(api, "Bob Builder", "bob@example.org")
    carol, _ = new_agent(api, "Carol Gone", "carol@example.org")
    assert api.json("DELETE", f"/admin/agents/{carol}")[0] == 200
    opened = api.open()
    stream.drain()

    portal_comment(api, opened, "Any news?")
    stream.drain()

    assert sorted(m.to for m in mailbox.sent if m.kind == "requester_comment") == [ADMIN, "bob@example.org"]


# redelivery ------------------------------------------------------------------------------------------------


def test_redelivering_the_same_stream_records_sends_nothing_twice(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    bob, _ = new_agent(api, "Bob Builder", "bob@example.org")
    opened = api.open(type="consultation", fields={"topic": "Data migration"})
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "We will estimate it.", "public": True})
    assert code == 201
    assign(api, opened["id"], bob)
    clock.advance(minutes=5)
    walk(api, opened["id"], *CONSULTATION_TO_ESTIMATE)
    portal_comment(api, opened, "Thanks!")
    records = stream.records()

    assert stream.deliver(records) == []
    first = sorted((m.kind, m.to) for m in mailbox.sent)
    assert stream.deliver(records) == []
    assert stream.deliver(list(reversed(records))) == []

    assert first == [
        ("acknowledgement", REQUESTER),
        ("assigned", "bob@example.org"),
        ("reply", REQUESTER),
        ("requester_comment", "bob@example.org"),
        ("status", REQUESTER),
    ]
    assert sorted((m.kind, m.to) for m in mailbox.sent) == first
    assert len({m.message_id for m in mailbox.sent}) == len(mailbox.sent)


def test_the_longest_reply_full_of_characters_html_escapes_is_mailed_and_does_not_block_the_stream(
    api: Api, stream: Stream, mailbox: Mailbox
) -> None:
    # 20,000 characters, each '&' five in HTML: quoted whole, text, HTML and MIME would pass DynamoDB's 400 KB.
    opened = api.open(description="&\n\n" * 6666)
    stream.drain()
    code, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "&\n\n" * 6666, "public": True})
    assert code == 201
    stream.drain()  # fails the test if any record failed

    assert mailbox.kinds() == ["acknowledgement", "reply"]
    for mail in mailbox.sent:
        assert "The rest is on the ticket." in mail.text
        assert len(mail.raw) < 400_000 // 2


def test_an_outbox_item_too_large_to_keep_is_refused_with_a_value_error(api: Api) -> None:
    from datetime import UTC, datetime

    import pytest

    from chalicelib.adapters.outbox import DynamoOutboxStore
    from chalicelib.services.ports import OutboxItem

    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    item = OutboxItem("T1", "k#ack", "reply", REQUESTER, "Subject", "x" * 300_000, "y" * 300_000, b"z", now)
    with pytest.raises(ValueError, match="larger than the outbox can keep"):
        DynamoOutboxStore().add(item)
