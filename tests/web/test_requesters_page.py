# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""The console's requesters page: look an address up, download its export, erase it only after the address was
typed a second time; admins only, and nothing typed is shown unescaped."""

from __future__ import annotations

import json

import pytest

from chalicelib import wiring
from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.console_client import Console
from tests.api.mail_fixtures import mailbox  # noqa: F401
from tests.streams import Stream

EMAIL = "hedy@lamarr.example"
PAGE = "/console/admin/requesters"


@pytest.fixture
def admin(api: Api) -> Console:
    console = Console(api.client)
    console.sign_in_with_token(api.token)
    return console


@pytest.fixture
def hedys(api: Api, stream: Stream) -> str:
    opened = api.open(requester_email=EMAIL, requester_name="Hedy Lamarr", subject="Projector hums")
    stream.drain()
    return str(opened["id"])


def test_the_nav_links_the_page_whose_lookup_shows_the_tickets_and_downloads_the_export(
    admin: Console, hedys: str
) -> None:
    queue = admin.text(admin.get("/console"))
    page = admin.get(f"{PAGE}?email={EMAIL}")
    text = admin.text(page)
    download = admin.get(f"{PAGE}/export?email={EMAIL}")

    assert f"{PAGE}\">Requesters' data</a>" in queue
    assert page.status_code == 200
    assert "Projector hums" in text
    assert f"{PAGE}/export?email=hedy%40lamarr.example" in text
    assert 'name="confirm_email"' in text
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert [t["id"] for t in json.loads(admin.text(download))["tickets"]] == [hedys]


def test_an_erasure_needs_the_csrf_token_and_the_address_typed_again(admin: Console, api: Api, hedys: str) -> None:
    admin.get(f"{PAGE}?email={EMAIL}")

    forged = admin.post(PAGE, {"email": EMAIL, "confirm_email": EMAIL}, csrf=False)
    mistyped = admin.post(PAGE, {"email": EMAIL, "confirm_email": "someone@else.example"})
    assert (forged.status_code, mistyped.status_code) == (403, 422)
    assert 'aria-describedby="confirm_email-error"' in admin.text(mistyped)
    assert "type the same address again" in admin.text(mistyped)
    assert api.ticket(hedys)["subject"] == "Projector hums"

    done = admin.post(PAGE, {"email": EMAIL, "confirm_email": EMAIL.upper()})

    assert done.status_code == 200
    assert "The erasure is complete: 1 ticket erased." in admin.text(done)
    assert api.ticket(hedys)["subject"] == "[erased]"


def test_a_bad_address_is_named_at_its_field_escaped_and_agents_may_not_open_the_page(admin: Console, api: Api) -> None:
    answer = admin.get(f"{PAGE}?email=%3Cscript%3Ex")
    text = admin.text(answer)
    _, token = wiring.desk().create_agent({"name": "Al Agent", "email": "al@example.org", "role": "agent"})
    agent = Console(api.client)
    agent.sign_in_with_token(token)

    assert answer.status_code == 422
    assert 'aria-describedby="email-error"' in text
    assert '<p class="field-error" id="email-error">must be an email address</p>' in text
    assert '<a href="#email">Email address</a>: must be an email address' in text
    assert "<script>x" not in text
    assert "&lt;script&gt;x" in text
    assert agent.get(f"{PAGE}?email={EMAIL}").status_code == 403
    assert "Requesters' data" not in agent.text(agent.get("/console"))


def test_an_erasure_of_something_that_is_no_address_is_named_at_the_address_field(admin: Console) -> None:
    admin.get(PAGE)  # the page's CSRF token

    answer = admin.post(PAGE, {"email": "not-an-address", "confirm_email": "not-an-address"})
    text = admin.text(answer)

    assert answer.status_code == 422
    assert '<a href="#email">Email address</a>: must be an email address' in text
    assert 'id="email" name="email" type="email" value="not-an-address"' in text
