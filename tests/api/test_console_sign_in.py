"""Signing in to the console: mailed one-time links, pasted tokens, session expiry, sign-out, revocation, CSRF."""

from __future__ import annotations

import re

import pytest
from chalice.test import Client

from tests.api.conftest import Api
from tests.api.console_client import Console
from tests.api.mail_fixtures import Mailbox
from tests.clocks import ManualClock


@pytest.fixture
def agent(api: Api) -> dict[str, str]:
    status, created = api.json("POST", "/admin/agents", {"name": "Sam Agent", "email": "sam@example.org"})
    assert status == 201, created
    return {"id": created["agent"]["id"], "token": created["token"], "email": "sam@example.org"}


@pytest.fixture
def browser(api: Api, mailbox: Mailbox) -> Console:
    return Console(api.client)


def link_in(mailbox: Mailbox, address: str) -> str:
    mails = mailbox.to(address, "sign_in")
    assert mails, f"no sign-in mail to {address}: {mailbox.kinds()}"
    found = re.search(r"https://\S+/console/sign-in/confirm\?token=[\w-]+", mails[-1].text)
    assert found, mails[-1].text
    return found.group(0)


def path_of(url: str) -> str:
    return url.split("/api", 1)[1]


def test_the_console_sends_a_visitor_without_a_session_to_sign_in(browser: Console) -> None:
    response = browser.get("/console/tickets/HD-1001")
    assert response.status_code == 303
    assert response.headers["Location"] == "https://desk.example.org/api/console/sign-in?next=/console/tickets/HD-1001"


def test_a_pasted_token_signs_in_with_a_safe_cookie(browser: Console, agent: dict[str, str]) -> None:
    response = browser.sign_in_with_token(agent["token"])
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    for part in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/api/console"):
        assert part in cookie
    assert agent["token"] not in cookie  # the session is its own secret, not the API token
    page = browser.get("/console")
    assert page.status_code == 200
    assert "Sam Agent" in browser.text(page)
    csp = page.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in browser.text(page)
    assert "style=" not in browser.text(page)


def test_a_wrong_token_is_refused_with_a_page_and_no_cookie(browser: Console) -> None:
    response = browser.sign_in_with_token("hd_not-a-token")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    assert "That token is not valid" in browser.text(response)


def test_a_mailed_link_signs_in_once_after_a_button_press(
    browser: Console, agent: dict[str, str], mailbox: Mailbox, api: Api
) -> None:
    sent = browser.post("/console/sign-in", {"email": "Sam@Example.org"}, csrf=False)
    assert sent.status_code == 200
    link = link_in(mailbox, "sam@example.org")
    # Opening the link (a mail scanner does) signs nobody in and does not use it up.
    for _ in range(2):
        opened = browser.get(path_of(link))
        assert opened.status_code == 200
        assert "Set-Cookie" not in opened.headers
        assert ">Sign in</button>" in browser.text(opened)
    token = link.split("token=", 1)[1]
    confirmed = browser.post("/console/sign-in/confirm", {"token": token}, csrf=False)
    assert confirmed.status_code == 303
    assert browser.get("/console").status_code == 200
    other = Console(api.client)
    again = other.post("/console/sign-in/confirm", {"token": token}, csrf=False)
    assert again.status_code == 401
    assert other.cookie is None


def test_the_sign_in_page_answers_the_same_for_unknown_addresses(
    browser: Console, agent: dict[str, str], mailbox: Mailbox
) -> None:
    known = browser.text(browser.post("/console/sign-in", {"email": "sam@example.org"}, csrf=False))
    unknown = browser.text(browser.post("/console/sign-in", {"email": "nobody@example.org"}, csrf=False))
    assert known.replace("sam@example.org", "X") == unknown.replace("nobody@example.org", "X")
    assert mailbox.to("nobody@example.org") == []
    assert len(mailbox.to("sam@example.org", "sign_in")) == 1


def test_sign_in_mails_are_limited_per_address_per_hour(
    browser: Console, agent: dict[str, str], mailbox: Mailbox, clock: ManualClock
) -> None:
    for _ in range(8):
        assert browser.post("/console/sign-in", {"email": "sam@example.org"}, csrf=False).status_code == 200
    assert len(mailbox.to("sam@example.org", "sign_in")) == 5
    clock.advance(hours=1)
    browser.post("/console/sign-in", {"email": "sam@example.org"}, csrf=False)
    assert len(mailbox.to("sam@example.org", "sign_in")) == 6


def test_a_link_expires_after_fifteen_minutes(
    browser: Console, agent: dict[str, str], mailbox: Mailbox, clock: ManualClock
) -> None:
    browser.post("/console/sign-in", {"email": "sam@example.org"}, csrf=False)
    token = link_in(mailbox, "sam@example.org").split("token=", 1)[1]
    clock.advance(minutes=15, seconds=1)
    assert browser.post("/console/sign-in/confirm", {"token": token}, csrf=False).status_code == 401


def test_a_session_ends_after_thirty_idle_minutes_and_use_renews_it(
    browser: Console, agent: dict[str, str], clock: ManualClock
) -> None:
    browser.sign_in_with_token(agent["token"])
    clock.advance(minutes=20)
    assert browser.get("/console").status_code == 200
    clock.advance(minutes=20)  # 40 minutes after signing in, 20 after last use
    assert browser.get("/console").status_code == 200
    clock.advance(minutes=30, seconds=1)
    ended = browser.get("/console")
    assert ended.status_code == 303
    assert "ended=1" in ended.headers["Location"]


def test_polling_does_not_keep_an_idle_session_alive(
    browser: Console, agent: dict[str, str], clock: ManualClock
) -> None:
    browser.sign_in_with_token(agent["token"])
    browser.get("/console")
    for _ in range(4):
        clock.advance(minutes=8)
        poll = browser.get("/console/poll?view=open&token=x", headers={"Accept": "application/json"})
    assert poll.status_code == 401  # 32 minutes without use: the poll says so and the page tells the agent


def test_a_session_lives_at_most_twelve_hours_even_in_use(
    browser: Console, agent: dict[str, str], clock: ManualClock
) -> None:
    browser.sign_in_with_token(agent["token"])
    for _ in range(35):
        clock.advance(minutes=20)
        assert browser.get("/console").status_code == 200
    clock.advance(minutes=20)  # 12 h
    assert browser.get("/console").status_code == 303


def test_signing_out_ends_the_session_for_good(browser: Console, agent: dict[str, str]) -> None:
    browser.sign_in_with_token(agent["token"])
    browser.get("/console")
    kept = browser.cookie
    out = browser.post("/console/sign-out", {})
    assert out.status_code == 303
    assert "Max-Age=0" in out.headers["Set-Cookie"]
    browser.cookie = kept  # a copied cookie is worth nothing after sign-out
    assert browser.get("/console").status_code == 303


def test_a_revoked_agent_is_signed_out_at_once_in_every_browser(
    api: Api, agent: dict[str, str], browser: Console
) -> None:
    second = Console(api.client)
    for each in (browser, second):
        each.sign_in_with_token(agent["token"])
        assert each.get("/console").status_code == 200
    status, _ = api.json("DELETE", f"/admin/agents/{agent['id']}")
    assert status == 200
    for each in (browser, second):
        assert each.get("/console").status_code == 303


def test_unsafe_requests_need_the_form_token_and_the_same_origin(browser: Console, agent: dict[str, str]) -> None:
    browser.sign_in_with_token(agent["token"])
    browser.get("/console/settings")
    assert browser.post("/console/settings", {"shortcuts": "on"}, csrf=False).status_code == 403
    assert browser.post("/console/settings", {"csrf": "forged"}, csrf=False).status_code == 403
    cross = browser.post("/console/settings", {}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    other = browser.post("/console/settings", {}, headers={"Sec-Fetch-Site": "", "Origin": "https://evil.example"})
    assert other.status_code == 403
    assert browser.post("/console/settings", {"shortcuts": "on"}).status_code == 303


def test_a_forged_cookie_signs_nobody_in(browser: Console, agent: dict[str, str]) -> None:
    browser.sign_in_with_token(agent["token"])
    assert browser.cookie is not None
    browser.cookie = browser.cookie[:-3] + "AAA"
    assert browser.get("/console").status_code == 303


def test_sign_in_goes_back_only_to_a_console_page(browser: Console, agent: dict[str, str]) -> None:
    response = browser.post("/console/sign-in", {"token": agent["token"], "next": "//evil.example/x"}, csrf=False)
    assert response.headers["Location"] == "https://desk.example.org/api/console"
    response = browser.post("/console/sign-in", {"token": agent["token"], "next": "/console/settings"}, csrf=False)
    assert response.headers["Location"] == "https://desk.example.org/api/console/settings"


def test_static_assets_have_hashed_names_and_long_caching(api: Api, mailbox: Mailbox) -> None:
    client: Client = api.client
    page = Console(client)
    text = page.text(page.get("/console/sign-in"))
    css = re.search(r'href="https://desk.example.org/api(/static/console\.[0-9a-f]{12}\.css)"', text)
    js = re.search(r'src="https://desk.example.org/api(/static/console\.[0-9a-f]{12}\.js)"', text)
    assert css
    assert js
    for path, kind in ((css.group(1), "text/css"), (js.group(1), "text/javascript")):
        response = client.http.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith(kind)
        assert "immutable" in response.headers["Cache-Control"]
    assert client.http.get("/static/console.000000000000.css").status_code == 404
