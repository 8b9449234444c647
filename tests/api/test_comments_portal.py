"""Replies, internal notes, and the requester portal's signed one-ticket links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.api.conftest import Api
from tests.api.page_html import Element, parse
from tests.clocks import ManualClock


def _token(opened: dict[str, str]) -> str:
    return parse_qs(urlsplit(opened["portal_url"]).query)["token"][0]


def test_a_public_reply_is_the_first_response_and_a_note_is_not(api: Api, clock: ManualClock) -> None:
    opened = api.open()
    clock.advance(minutes=5)
    code, note = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Check the toner", "public": False})
    assert code == 201
    assert note["public"] is False
    assert api.ticket(opened["id"])["first_response_at"] is None
    clock.advance(minutes=5)
    api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "We are on it.", "public": True})
    clock.advance(minutes=5)
    api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Still on it.", "public": True})
    detail = api.ticket(opened["id"])
    assert detail["first_response_at"] == "2026-11-23T09:10:00.000000Z"
    assert [c["body"] for c in detail["comments"]] == ["Check the toner", "We are on it.", "Still on it."]
    assert detail["comment_count"] == 3


def test_the_requester_never_sees_internal_notes(api: Api) -> None:
    opened = api.open()
    api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Requester is difficult", "public": False})
    api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Please restart it.", "public": True})
    code, seen = api.json("GET", f"/portal/tickets/{opened['id']}?token={_token(opened)}", token=None)
    assert code == 200
    assert [c["body"] for c in seen["comments"]] == ["Please restart it."]
    assert "assignee" not in seen
    assert "team" not in seen
    html = api.client.http.get(
        f"/portal/tickets/{opened['id']}?token={_token(opened)}", headers={"Accept": "text/html"}
    ).body.decode()
    assert "Please restart it." in html
    assert "difficult" not in html


def test_the_requester_replies_through_the_portal_by_json_and_by_form(api: Api) -> None:
    opened = api.open()
    token = _token(opened)
    code, comment = api.json("POST", f"/portal/tickets/{opened['id']}/comments", {"body": "It works now"}, token=token)
    assert code == 201
    assert comment["public"] is True
    response = api.form(f"/portal/tickets/{opened['id']}/comments?token={token}", {"body": "Thanks!"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"https://desk.example.org/portal/tickets/{opened['id']}?token=")
    detail = api.ticket(opened["id"])
    assert [c["author"]["role"] for c in detail["comments"]] == ["requester", "requester"]
    assert detail["first_response_at"] is None


def _portal_page(api: Api, path_and_query: str) -> Element:
    response = api.client.http.get(path_and_query, headers={"Accept": "text/html"})
    assert response.status_code == 200
    return parse(response.body.decode())


def _path(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def test_the_portal_confirms_a_reply_sent_through_its_form(api: Api) -> None:
    opened = api.open()
    before = _portal_page(api, f"/portal/tickets/{opened['id']}?token={_token(opened)}")
    assert before.all(role="status") == []

    response = api.form(f"/portal/tickets/{opened['id']}/comments?token={_token(opened)}", {"body": "Thanks!"})

    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["Location"]).query)["sent"] == ["reply"]
    after = _portal_page(api, _path(response.headers["Location"]))
    notice = after.one(role="status")
    assert notice.text == "Thank you — your reply was sent. We will answer by email."
    assert "Thanks!" in after.text


def test_the_portal_confirms_a_decision_by_its_label_from_the_workflow(api: Api) -> None:
    opened = api.open()
    assert api.move(opened["id"], "resolved")[0] == 200
    page = _portal_page(api, f"/portal/tickets/{opened['id']}?token={_token(opened)}")
    reopen = next(f for f in page.all("form") if f.one("button").text == "Reopen")
    sent = {i.attrs["name"] or "": i.attrs["value"] or "" for i in reopen.all("input")}

    response = api.form(f"/portal/tickets/{opened['id']}/transitions?token={_token(opened)}", sent)

    assert response.status_code == 303
    after = _portal_page(api, _path(response.headers["Location"]))
    # into in_progress the requester may also go by "Requester answered": the label is the one they pressed
    assert after.one(role="status").text == "Done: Reopen."
    assert api.ticket(opened["id"])["status"]["key"] == "in_progress"


def test_the_portal_confirms_nothing_an_edited_link_claims(api: Api) -> None:
    opened = api.open()
    portal = f"/portal/tickets/{opened['id']}?token={_token(opened)}"
    for flags in (
        "sent=You+won+a+prize",
        "done=resolved",  # the ticket is not resolved
        "done=submitted&from=Call+%2B1-900-SCAM",
        "done=You+won+a+prize",
    ):
        page = _portal_page(api, f"{portal}&{flags}")
        assert page.all(role="status") == [], flags
        assert "prize" not in page.text
        assert "SCAM" not in page.text


def test_a_portal_token_opens_exactly_one_ticket(api: Api) -> None:
    mine = api.open()
    theirs = api.open(requester_email="someone@example.org")
    code, _answer = api.json("GET", f"/portal/tickets/{theirs['id']}?token={_token(mine)}", token=None)
    assert code == 403
    code, _ = api.json("POST", f"/portal/tickets/{theirs['id']}/comments", {"body": "x"}, token=_token(mine))
    assert code == 403


def test_forged_missing_and_expired_portal_tokens_are_refused(api: Api, clock: ManualClock) -> None:
    opened = api.open()
    token = _token(opened)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert api.json("GET", f"/portal/tickets/{opened['id']}?token={forged}", token=None)[0] == 401
    assert api.json("GET", f"/portal/tickets/{opened['id']}", token=None)[0] == 401
    assert api.json("GET", f"/portal/tickets/{opened['id']}", token=api.token)[0] == 401
    clock.advance(days=91)
    code, answer = api.json("GET", f"/portal/tickets/{opened['id']}?token={token}", token=None)
    assert code == 401
    assert "expired" in answer["error"]["message"]


def test_a_bad_link_in_a_browser_gets_a_page_not_json(api: Api) -> None:
    opened = api.open()
    response = api.client.http.get(f"/portal/tickets/{opened['id']}?token=nope", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("text/html")


def test_what_a_requester_wrote_is_escaped_on_the_portal_page(api: Api) -> None:
    opened = api.open(subject="<img src=x onerror=alert(1)>", description="<b>bold</b>")
    html = api.client.http.get(
        f"/portal/tickets/{opened['id']}?token={_token(opened)}", headers={"Accept": "text/html"}
    ).body.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>bold</b>" not in html
    assert html.count("<form") >= 1


def test_empty_and_overlong_comments_are_refused(api: Api) -> None:
    opened = api.open()
    assert api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "  "})[0] == 422
    assert api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "x" * 20001})[0] == 422
    assert api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "ok", "public": "yes"})[0] == 422
