# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""The API's ticket and comment JSON says, to agents only, which came by mail and where its original is."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.mail_fixtures import Mailbox, mailbox  # noqa: F401
from tests.services.test_inbound import (  # noqa: F401 - the mail-in fixtures
    RAW_ACCEPT,
    Deliver,
    deliver,
    desk,
    mail,
    quoted_reply,
    reply_to,
)
from tests.streams import Stream

HEDY = "hedy@lamarr.example"


def portal_token(mailbox: Mailbox) -> str:
    """The requester's token, from the portal link of their acknowledgement."""
    [ack] = mailbox.to(HEDY, "acknowledgement")
    link = re.search(r"https://\S+/portal/tickets/\S+", ack.text)
    assert link, ack.text
    return parse_qs(urlsplit(link.group(0)).query)["token"][0]


def test_agents_see_where_a_mail_opened_ticket_and_a_mail_comment_came_from(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    opening = mail(HEDY, "Wi-Fi in room B", "It drops every ten minutes.\n")
    opened = deliver(opening, "json0001")
    stream.drain()
    address, message_id, text = reply_to(mailbox, HEDY, "acknowledgement")
    answer = quoted_reply(HEDY, "It dropped again at noon.", "Wi-Fi in room B", address, message_id, text)
    replied = deliver(answer, "json0002", to=address)
    code, _ = desk.json("POST", f"/tickets/{opened['ticket_id']}/comments", {"body": "We are on it."})
    assert code == 201

    ticket = desk.ticket(opened["ticket_id"])
    by_mail, by_api = ticket["comments"]

    assert ticket["original_url"] == f"/console/tickets/{opened['ticket_id']}/messages/opening"
    assert by_mail["id"] == replied["comment_id"]
    assert (by_mail["source"], by_mail["original_url"]) == (
        "mail",
        f"/console/tickets/{opened['ticket_id']}/messages/{replied['comment_id']}",
    )
    assert "source" not in by_api
    assert "original_url" not in by_api
    downloads = [desk.request("GET", ticket["original_url"], headers=RAW_ACCEPT)]
    downloads.append(desk.request("GET", by_mail["original_url"], headers=RAW_ACCEPT))
    assert [(d.status_code, d.body) for d in downloads] == [(200, opening), (200, answer)]


def test_a_ticket_opened_by_the_api_names_no_original(desk: Api) -> None:
    opened = desk.open()

    assert "original_url" not in desk.ticket(opened["id"])


def test_the_requesters_portal_view_never_names_the_mail_or_its_original(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    opened = deliver(mail(HEDY, "Wi-Fi in room B", "It drops every ten minutes.\n"), "json0003")
    stream.drain()
    address, message_id, text = reply_to(mailbox, HEDY, "acknowledgement")
    deliver(quoted_reply(HEDY, "Again.", "Wi-Fi in room B", address, message_id, text), "json0004", to=address)

    path = f"/portal/tickets/{opened['ticket_id']}?token={portal_token(mailbox)}"
    code, seen = desk.json("GET", path, token=None)

    assert code == 200, seen
    assert [c["body"] for c in seen["comments"]] == ["Again."]
    assert "original_url" not in seen
    assert not {"source", "original_url"} & set(seen["comments"][0])


def test_the_document_names_the_optional_mail_properties() -> None:
    from chalicelib.web import openapi

    schemas = openapi.document()["components"]["schemas"]
    assert {"source", "original_url"} <= set(schemas["Comment"]["properties"])
    assert "source" not in schemas["Comment"].get("required", [])
    detail = schemas["TicketDetail"]["allOf"][1]
    assert "original_url" in detail["properties"]
    assert "original_url" not in detail.get("required", [])
