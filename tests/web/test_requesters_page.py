# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""The console's requesters page: look an address up, download its export, erase it only after the address was
typed a second time (a post-redirect-get whose URL carries counts, never the address); admins only, and nothing
typed is shown unescaped."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import wiring
from chalicelib.web import requesters
from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.console_client import Console
from tests.api.mail_fixtures import mailbox  # noqa: F401
from tests.clocks import ManualClock
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


def result_page(answer: Any) -> str:
    """The page a 303 after an erasure names, as the test client asks for it; checks the Location on the way."""
    assert answer.status_code == 303, Console.text(answer)
    location = answer.headers["Location"]
    parts = urlsplit(location)
    assert (parts.scheme, parts.path.endswith(PAGE)) == ("https", True)
    assert "lamarr" not in location.lower()  # the address, neither as typed nor URL-encoded
    assert set(parse_qs(parts.query)) == {"erased", "complete"}
    return f"{PAGE}?{parts.query}"


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
    assert download.headers["Content-Disposition"] == 'attachment; filename="requester-export-2026-11-23.json"'
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
    shown = admin.get(result_page(done))

    assert done.headers["Location"].endswith(f"{PAGE}?erased=1&complete=1")
    assert shown.status_code == 200
    assert "The erasure is complete: 1 ticket erased." in admin.text(shown)
    assert EMAIL not in admin.text(shown)
    assert api.ticket(hedys)["subject"] == "[erased]"


def test_the_result_page_of_an_unfinished_erasure_erases_nothing_when_it_is_reloaded(
    admin: Console, api: Api, stream: Stream, hedys: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requesters, "CONSOLE_BATCH", 1)
    second = str(api.open(requester_email=EMAIL, requester_name="Hedy Lamarr", subject="Screen flickers")["id"])
    stream.drain()
    admin.get(f"{PAGE}?email={EMAIL}")

    first = admin.post(PAGE, {"email": EMAIL, "confirm_email": EMAIL})
    location = result_page(first)
    shown = [admin.get(location) for _ in range(3)]  # the redirect's GET, then two reloads
    subjects = [api.ticket(t)["subject"] for t in (hedys, second)]

    assert first.headers["Location"].endswith(f"{PAGE}?erased=1&complete=0")
    assert [s.status_code for s in shown] == [200, 200, 200]
    assert "1 ticket erased so far; more are left. Run it again to continue" in admin.text(shown[-1])
    assert subjects.count("[erased]") == 1  # one erased by the post, none by the GETs
    assert admin.text(admin.get(f"{PAGE}?email={EMAIL}")).count("/console/tickets/") == 1  # one left to erase


@pytest.mark.parametrize("query", ["erased=x&complete=1", "erased=1&complete=yes", "erased=1", "complete=1"])
def test_a_result_in_the_address_that_the_desk_never_sends_is_a_400(admin: Console, query: str) -> None:
    answer = admin.get(f"{PAGE}?{query}")

    assert answer.status_code == 400
    assert "erasure is complete" not in admin.text(answer)


def test_the_export_file_is_named_by_the_utc_day_of_the_download(
    admin: Console, api: Api, clock: ManualClock, hedys: str
) -> None:
    clock.advance(hours=15)  # 2026-11-24 00:00 UTC
    admin.sign_in_with_token(api.token)  # the session of the day before has ended

    download = admin.get(f"{PAGE}/export?email={EMAIL}")

    assert download.headers["Content-Disposition"] == 'attachment; filename="requester-export-2026-11-24.json"'


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
