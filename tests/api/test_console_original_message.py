# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""The console's "Original message" links: on a mail-opened ticket and a mail comment, each a download of the
message as received, for that ticket only."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.console_client import BASE, Console
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


@pytest.fixture
def agent(desk: Api, mailbox: Mailbox) -> Console:
    console = Console(desk.client)
    console.sign_in_with_token(desk.token)
    return console


# What Chromium sends when an agent follows the link.
BROWSER_NAVIGATION = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}


def original_links(console: Console, ticket_id: str) -> list[str]:
    """The paths of the ticket page's "Original message" links, in page order."""
    page = console.get(f"/console/tickets/{ticket_id}")
    assert page.status_code == 200
    # A plain link: with a `download` attribute Chromium sends no Accept header, and Chalice refuses a binary
    # answer to a request that does not accept it (400); Content-Disposition: attachment makes it a download.
    found = re.findall(r'<a href="([^"]+)">Original message</a>', console.text(page))
    return [urlsplit(link).path.removeprefix(urlsplit(BASE).path) for link in found]


def test_the_ticket_page_links_the_opening_mail_and_a_mail_comment_to_their_downloads(
    desk: Api, agent: Console, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    opening = mail(HEDY, "Wi-Fi in room B", "It drops every ten minutes.\n")
    opened = deliver(opening, "orig0001")
    stream.drain()
    address, message_id, text = reply_to(mailbox, HEDY, "acknowledgement")
    answer = quoted_reply(HEDY, "It dropped again at noon.", "Wi-Fi in room B", address, message_id, text)
    replied = deliver(answer, "orig0002", to=address)
    desk.json("POST", f"/tickets/{opened['ticket_id']}/comments", {"body": "We are on it."})
    ticket_id = opened["ticket_id"]

    links = original_links(agent, ticket_id)

    assert links == [
        f"/console/tickets/{ticket_id}/messages/opening",
        f"/console/tickets/{ticket_id}/messages/{replied['comment_id']}",
    ]  # not for the agent's comment, which came by the API
    for link, raw in zip(links, (opening, answer), strict=True):
        download = agent.get(link, headers=BROWSER_NAVIGATION)
        assert (download.status_code, download.body) == (200, raw)
        assert download.headers["Content-Type"] == "message/rfc822"
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_a_ticket_opened_by_the_api_has_no_original_message_link(desk: Api, agent: Console) -> None:
    opened = desk.open()

    assert original_links(agent, opened["id"]) == []


def test_another_tickets_id_in_the_link_finds_nothing(
    desk: Api, agent: Console, deliver: Deliver, stream: Stream, mailbox: Mailbox
) -> None:
    first = deliver(mail(HEDY, "Wi-Fi in room B", "It drops.\n"), "orig0003")
    other = deliver(mail("ada@lovelace.example", "Printer", "Offline.\n"), "orig0004")
    by_api = desk.open()
    stream.drain()
    address, message_id, text = reply_to(mailbox, HEDY, "acknowledgement")
    again = quoted_reply(HEDY, "Again.", "Wi-Fi in room B", address, message_id, text)
    replied = deliver(again, "orig0005", to=address)

    theirs = agent.get(f"/console/tickets/{other['ticket_id']}/messages/{replied['comment_id']}", headers=RAW_ACCEPT)
    no_mail = agent.get(f"/console/tickets/{by_api['id']}/messages/opening", headers=RAW_ACCEPT)
    own = agent.get(f"/console/tickets/{first['ticket_id']}/messages/{replied['comment_id']}", headers=RAW_ACCEPT)

    assert (theirs.status_code, no_mail.status_code) == (404, 404)
    assert own.status_code == 200
