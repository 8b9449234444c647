"""The console's webhooks page: admins add one (a post-redirect-get; the secret shown once, to the session that
added it), see its delivery log, delete it only after a confirmation step; bad input is named next to its field;
agents are refused."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib import wiring
from chalicelib.services.webhooks import Attempt
from tests.api.conftest import Api
from tests.api.console_client import Console
from tests.api.mail_fixtures import new_agent
from tests.clocks import ManualClock
from tests.streams import Stream
from tests.webhook_receiver import OK, receivers

PAGE = "/console/admin/webhooks"
SECRET = re.compile(r'<code class="token">([^<]+)</code>')
SHOWN_ONCE = "Its signing secret was shown once"


@pytest.fixture
def admin(api: Api, monkeypatch: pytest.MonkeyPatch) -> Console:
    monkeypatch.setenv("HELPDESK_LOCAL_RUN", "1")
    console = Console(api.client)
    console.sign_in_with_token(api.token)
    console.get(PAGE)  # the page's CSRF token
    return console


def followed(console: Console, answer: Any) -> Any:
    """A browser following a 303: a GET of its Location (below the desk's base URL)."""
    assert answer.status_code == 303, console.text(answer)
    return console.get(here(answer.headers["Location"]))


def here(location: str) -> str:
    """The page a Location names, as the test client asks for it (the desk's own address, then this page)."""
    parts = urlsplit(location)
    assert (parts.scheme, parts.path.endswith(PAGE), parts.query.startswith("added=")) == ("https", True, True)
    return f"{PAGE}?{parts.query}"


def secret_in(console: Console, answer: Any) -> str | None:
    found = SECRET.search(console.text(answer))
    return html.unescape(found.group(1)) if found else None


def add(console: Console, url: str, **fields: str) -> Any:
    return console.post(PAGE, {"action": "create", "url": url, **fields})


def test_an_admin_adds_a_webhook_sees_its_deliveries_and_deletes_it_after_confirming(
    api: Api, admin: Console, stream: Stream
) -> None:
    assert admin.get(PAGE).status_code == 200
    assert f'{PAGE}">Webhooks</a>' in admin.text(admin.get("/console"))  # in the admin nav
    with receivers(OK) as (receiver,):
        shown = followed(admin, add(admin, receiver.url, **{"kind.created": "1", "description": "CRM"}))
        page = admin.text(shown)
        secret = secret_in(admin, shown)
        assert secret is not None
        receiver.secret = secret
        hook_id = re.search(rf"{PAGE}/([0-9A-Z]+)\"", page).group(1)  # type: ignore[union-attr]
        assert secret not in admin.text(admin.get(PAGE))  # shown once
        ticket = api.open()
        stream.drain()
        assert [e["kind"] for e in receiver.events] == ["created"]

    log = admin.text(admin.get(f"{PAGE}/{hook_id}"))
    assert ticket["ref"] in log
    assert "<td>created<br>" in log
    assert "204 ok" in log
    asked = admin.post(PAGE, {"action": "delete", "id": hook_id})
    assert asked.status_code == 200
    assert "Delete this webhook?" in admin.text(asked)
    assert api.json("GET", f"/admin/webhooks/{hook_id}")[0] == 200  # not deleted before the confirmation
    done = admin.post(PAGE, {"action": "delete", "id": hook_id, "confirm": "yes"})
    assert done.status_code == 303
    assert api.json("GET", f"/admin/webhooks/{hook_id}")[0] == 404


def test_a_bad_address_is_named_next_to_its_field_and_in_the_summary(admin: Console) -> None:
    answer = admin.post(PAGE, {"action": "create", "url": "ftp://<script>alert(1)</script>", "format": "json"})
    page = admin.text(answer)

    assert answer.status_code == 422
    assert "There is a problem" in page
    assert '<a href="#webhook-url">' in page
    assert 'id="webhook-url-error"' in page
    assert 'aria-invalid="true"' in page
    assert "<script>alert(1)" not in page  # what was typed is shown escaped


def test_an_agent_who_is_not_an_admin_is_refused(api: Api) -> None:
    _, token = new_agent(api, "Bo Agent", "bo@example.org")
    console = Console(api.client)
    console.sign_in_with_token(token)
    console.get("/console")  # a page's CSRF token

    assert console.get(PAGE).status_code == 403
    assert console.post(PAGE, {"action": "create", "url": "https://hooks.example.org/x"}).status_code == 403
    assert api.json("GET", "/admin/webhooks")[1] == {"webhooks": []}


def test_adding_redirects_to_a_page_that_shows_the_secret_once_and_a_reload_adds_nothing(
    api: Api, admin: Console
) -> None:
    posted = add(admin, "https://hooks.example.org/crm", description="CRM")
    location = posted.headers["Location"]
    first = followed(admin, posted)
    secret = secret_in(admin, first)
    reload = admin.get(here(location))  # what the browser's reload does after a post-redirect-get
    listed = api.json("GET", "/admin/webhooks")[1]["webhooks"]

    assert (posted.status_code, posted.headers["Cache-Control"]) == (303, "no-store")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"  # the secret is in no cache
    assert secret is not None
    assert secret.startswith("whsec_")
    assert secret not in location  # nor in a URL
    assert "Webhook added" in admin.text(first)
    assert "https://hooks.example.org/crm" in admin.text(first)
    assert reload.status_code == 200
    assert secret_in(admin, reload) is None
    assert secret not in admin.text(reload)
    assert SHOWN_ONCE in admin.text(reload)
    assert "delete this webhook and add it again" in admin.text(reload)
    assert [(w["url"], w["description"]) for w in listed] == [("https://hooks.example.org/crm", "CRM")]
    assert location.endswith(f"?added={listed[0]['id']}")


def test_the_secret_is_shown_only_to_the_session_that_added_the_webhook(api: Api, admin: Console) -> None:
    location = here(add(admin, "https://hooks.example.org/a").headers["Location"])
    other = Console(api.client)  # the same admin in a second browser
    other.sign_in_with_token(api.token)
    code, made = api.json("POST", "/admin/webhooks", {"url": "https://hooks.example.org/b"})
    assert code == 201

    elsewhere = other.get(location)
    made_up = admin.get(f"{PAGE}?added={made['webhook']['id']}")  # added over the API, not by this session
    again_made_up = admin.get(f"{PAGE}?added={made['webhook']['id']}")
    gone = admin.get(f"{PAGE}?added=NOSUCHWEBHOOK")
    mine = admin.get(location)

    assert (elsewhere.status_code, secret_in(other, elsewhere)) == (200, None)
    assert SHOWN_ONCE in other.text(elsewhere)
    assert secret_in(admin, made_up) is None
    assert secret_in(admin, again_made_up) is None
    assert made["secret"] not in admin.text(made_up) + admin.text(again_made_up)
    assert (gone.status_code, "Webhook added" in admin.text(gone)) == (200, False)
    assert secret_in(admin, mine) is not None  # the adding session still sees it, once


def test_a_secret_not_looked_at_soon_after_the_add_is_not_shown_any_more(admin: Console, clock: ManualClock) -> None:
    posted = add(admin, "https://hooks.example.org/late")
    clock.advance(minutes=16)

    late = followed(admin, posted)

    assert secret_in(admin, late) is None
    assert SHOWN_ONCE in admin.text(late)


def test_a_bad_address_re_renders_the_form_with_what_was_typed_and_adds_nothing(api: Api, admin: Console) -> None:
    answer = add(admin, "ftp://hooks.example.org/x", description="Typed <here>", **{"kind.reply": "1"})
    page = admin.text(answer)

    assert answer.status_code == 422
    assert "Location" not in answer.headers
    assert 'value="ftp://hooks.example.org/x"' in page
    assert 'value="Typed &lt;here&gt;"' in page
    assert 'id="kind-reply" name="kind.reply" value="1" checked' in page
    assert api.json("GET", "/admin/webhooks")[1] == {"webhooks": []}


def test_adding_needs_the_forms_csrf_token(api: Api, admin: Console) -> None:
    forged = admin.post(PAGE, {"action": "create", "url": "https://hooks.example.org/x"}, csrf=False)

    assert forged.status_code == 403
    assert api.json("GET", "/admin/webhooks")[1] == {"webhooks": []}


def _attempts(webhook_id: str, count: int) -> None:
    log = wiring.webhook_admin().log
    now = wiring.desk().clock.now()
    for n in range(count):
        log.add(Attempt(webhook_id, now, f"evt{n}", "created", f"HD-{1000 + n}", 1, 204, None, 12))


@pytest.mark.parametrize(
    ("count", "caption"),
    [(1, "<caption>The latest attempt</caption>"), (2, "<caption>The latest 2 attempts, newest first</caption>")],
)
def test_the_delivery_logs_caption_counts_its_attempts(api: Api, admin: Console, count: int, caption: str) -> None:
    code, made = api.json("POST", "/admin/webhooks", {"url": "https://hooks.example.org/log"})
    assert code == 201
    _attempts(made["webhook"]["id"], count)

    log = admin.text(admin.get(f"{PAGE}/{made['webhook']['id']}"))

    assert caption in log
    assert log.count("<td>created<br>") == count
