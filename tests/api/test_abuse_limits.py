"""Abuse limits on anonymous posts: per source IP, per normalised address, and the desk's acknowledgement ceiling."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from chalice.local import LambdaEventConverter

from chalicelib import wiring
from chalicelib.domain.config import shipped_document
from tests.api.conftest import Api
from tests.api.mail_fixtures import ADMIN, Mailbox
from tests.clocks import ManualClock
from tests.streams import Stream

TICKET = {"subject": "Printer offline", "description": "It is offline.", "requester_name": "Rosa"}


def _limits(**desk: int) -> None:
    document = shipped_document()
    document["desk"].update(desk)
    wiring.desk().seed_config(document)


def _post(api: Api, email: str, headers: dict[str, str] | None = None) -> Any:
    return api.request("POST", "/tickets", {**TICKET, "requester_email": email}, token=None, headers=headers)


def _from(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    """The source IP API Gateway would report for the next requests (the test client's gateway is fixed)."""
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", address)


def test_posts_from_one_source_ip_are_limited_whatever_address_they_give(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(posts_per_ip_per_hour=3)
    clock.advance(minutes=45)
    _from(monkeypatch, "203.0.113.7")
    assert [_post(api, f"user{i}@example.org").status_code for i in range(4)] == [201, 201, 201, 429]
    refused = _post(api, "other@example.org")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(15 * 60)
    assert b"network address" in refused.body
    _from(monkeypatch, "198.51.100.2")
    assert _post(api, "other@example.org").status_code == 201
    clock.advance(minutes=15)
    _from(monkeypatch, "203.0.113.7")
    assert _post(api, "again@example.org").status_code == 201


def test_tagged_and_dotted_spellings_of_one_mailbox_share_its_limit(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(new_tickets_per_hour=2)
    spellings = ["rosa.diaz+a@gmail.com", "RosaDiaz+b@googlemail.com", "r.o.s.a.d.i.a.z@gmail.com"]
    codes = []
    for i, email in enumerate(spellings):
        _from(monkeypatch, f"192.0.2.{i + 1}")
        codes.append(_post(api, email).status_code)
    assert codes == [201, 201, 429]
    assert _post(api, "rosa.diaz@example.org").status_code == 201


def test_a_form_post_over_a_limit_gets_a_page_that_says_when_to_try_again(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(posts_per_ip_per_hour=1)
    clock.advance(minutes=50, seconds=30)
    fields = {"type": "question", **TICKET, "requester_email": "rosa@example.org"}
    assert api.form("/tickets", fields).status_code == 303
    page = api.form("/tickets", {**fields, "requester_email": "other@example.org"})
    assert page.status_code == 429
    assert page.headers["Retry-After"] == str(9 * 60 + 30)
    assert page.headers["Content-Type"].startswith("text/html")
    body = page.body.decode()
    assert "Please try again later" in body
    assert "This network address has sent 1 posts this hour, the most the desk takes" in body
    assert "you can send again in 10 minutes." in body
    assert '<a href="https://desk.example.org/form">Go back</a>' in body  # no Referer: back to the form


def test_a_retried_post_returns_its_ticket_without_counting_again(api: Api) -> None:
    _limits(new_tickets_per_hour=1, posts_per_ip_per_hour=1)
    first = _post(api, "rosa@example.org", {"Idempotency-Key": "k-1"})
    again = _post(api, "rosa@example.org", {"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.body == again.body
    assert _post(api, "rosa@example.org", {"Idempotency-Key": "k-2"}).status_code == 429


def test_a_client_key_cannot_replay_or_collide_with_a_forms_ticket(api: Api) -> None:
    fields = {"type": "question", **TICKET, "requester_email": "rosa@example.org", "form_token": "tok123"}
    assert api.form("/tickets", fields).status_code == 303
    # The very same payload, with a key spelled like the form's stored claim, opens its own ticket.
    body = {"type": "question", **TICKET, "requester_email": "rosa@example.org", "fields": {}}
    code, answer = api.json("POST", "/tickets", body, token=None, headers={"Idempotency-Key": "form:tok123"})
    assert code == 201
    code, other = api.json("POST", "/tickets", body, token=None, headers={"Idempotency-Key": "tok123"})
    assert code == 201
    assert len({answer["id"], other["id"]}) == 2
    retried = api.form("/tickets", fields)  # the form's own retry still finds its first ticket
    assert retried.status_code == 303
    assert "ticket=" in retried.headers["Location"]
    assert {answer["id"], other["id"]}.isdisjoint({parse_qs(urlsplit(retried.headers["Location"]).query)["ticket"][0]})


def _token(opened: dict[str, Any]) -> str:
    return str(parse_qs(urlsplit(opened["portal_url"]).query)["token"][0])


def test_portal_comments_are_limited_per_requester_and_per_source_ip(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(portal_comments_per_hour=2, posts_per_ip_per_hour=50)
    opened = api.open()
    path = f"/portal/tickets/{opened['id']}/comments"
    codes = [api.json("POST", path, {"body": f"more {i}"}, token=_token(opened))[0] for i in range(3)]
    assert codes == [201, 201, 429]
    page = api.form(f"{path}?token={_token(opened)}", {"body": "and more"})
    assert page.status_code == 429
    assert "Retry-After" in page.headers
    other = api.open(requester_email="rosa+work@example.org")  # another mailbox at a plain domain
    assert api.json("POST", f"/portal/tickets/{other['id']}/comments", {"body": "hi"}, token=_token(other))[0] == 201


def test_above_the_acknowledgement_ceiling_tickets_open_silently_and_admins_hear_once_an_hour(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(acknowledgements_per_hour=2)
    for i in range(5):
        _from(monkeypatch, f"192.0.2.{i + 1}")
        assert _post(api, f"user{i}@example.org").status_code == 201
    records = stream.drain()
    stream.deliver(records)  # redelivered: nothing is counted or sent twice
    assert sorted(m.to for m in mailbox.sent if m.kind == "acknowledgement") == [
        "user0@example.org",
        "user1@example.org",
    ]
    ceiling = [m for m in mailbox.sent if m.kind == "ack_ceiling"]
    assert [m.to for m in ceiling] == [ADMIN]
    assert "acknowledgements_per_hour" in ceiling[0].raw.decode()
    clock.advance(hours=1)
    for i in range(3):
        assert _post(api, f"later{i}@example.org").status_code == 201
    stream.drain()
    assert len([m for m in mailbox.sent if m.kind == "acknowledgement"]) == 4
    assert len([m for m in mailbox.sent if m.kind == "ack_ceiling"]) == 2


def test_a_burst_of_portal_comments_mails_each_agent_once_per_window(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    wiring.desk().create_agent({"name": "Bob", "email": "bob@example.org", "role": "agent"})
    opened = api.open()
    path = f"/portal/tickets/{opened['id']}/comments"
    for i in range(20):
        assert api.json("POST", path, {"body": f"comment {i}"}, token=_token(opened))[0] == 201
    records = stream.drain()
    stream.deliver(records)  # redelivered: still one mail each
    comments = [m for m in mailbox.sent if m.kind == "requester_comment"]
    assert sorted(m.to for m in comments) == [ADMIN, "bob@example.org"]
    assert all("comment 0" in m.raw.decode() for m in comments)
    clock.advance(minutes=5)
    assert api.json("POST", path, {"body": "one more"}, token=_token(opened))[0] == 201
    stream.drain()
    assert len([m for m in mailbox.sent if m.kind == "requester_comment"]) == 4
