"""The console's webhooks page: admins add one (the secret shown once), see its delivery log, delete it only after
a confirmation step; bad input is named next to its field; agents are refused."""

from __future__ import annotations

import html
import re

import pytest

from tests.api.conftest import Api
from tests.api.console_client import Console
from tests.api.mail_fixtures import new_agent
from tests.streams import Stream
from tests.webhook_receiver import OK, receivers

PAGE = "/console/admin/webhooks"


@pytest.fixture
def admin(api: Api, monkeypatch: pytest.MonkeyPatch) -> Console:
    monkeypatch.setenv("HELPDESK_LOCAL_RUN", "1")
    console = Console(api.client)
    console.sign_in_with_token(api.token)
    console.get(PAGE)  # the page's CSRF token
    return console


def test_an_admin_adds_a_webhook_sees_its_deliveries_and_deletes_it_after_confirming(
    api: Api, admin: Console, stream: Stream
) -> None:
    assert admin.get(PAGE).status_code == 200
    assert f'{PAGE}">Webhooks</a>' in admin.text(admin.get("/console"))  # in the admin nav
    with receivers(OK) as (receiver,):
        added = admin.post(PAGE, {"action": "create", "url": receiver.url, "kind.created": "1", "description": "CRM"})
        page = admin.text(added)
        assert added.status_code == 201
        secret = html.unescape(re.search(r'<code class="token">([^<]+)</code>', page).group(1))  # type: ignore[union-attr]
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
