"""Satisfaction surveys end to end: the survey sender, the one-click rating, the comment, the link's limits, and
unsubscribing; every answer lands in the ticket's history through the stream, once.

The clock starts Monday 23 November 2026 09:00 UTC.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.services.ports import SentMail
from tests.api.conftest import Api
from tests.api.mail_fixtures import BASE, REQUESTER, Mailbox, links, parsed, path_of, run_job
from tests.api.page_html import parse
from tests.clocks import ManualClock
from tests.streams import Stream


def send_surveys(api: Api) -> dict[str, Any]:
    return run_job(api.client, "survey_sender")


def resolved_question(api: Api, stream: Stream, clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    """A question resolved a minute after it was opened; its survey is due an hour after that."""
    opened = api.open(**overrides)
    clock.advance(minutes=1)
    code, answer = api.move(opened["id"], "resolved")
    assert code == 200, answer
    stream.drain()
    return opened


def surveyed(
    api: Api, stream: Stream, clock: ManualClock, box: Mailbox, **overrides: Any
) -> tuple[dict[str, Any], str]:
    """A resolved question whose survey went out; the survey link's token."""
    opened = resolved_question(api, stream, clock, **overrides)
    clock.advance(hours=1, minutes=1)
    assert send_surveys(api)["sent"] == 1
    mail = [m for m in box.sent if m.kind == "survey" and m.ticket_id == opened["id"]][-1]
    return opened, survey_token(mail)


def survey_token(mail: SentMail) -> str:
    url = next(u for u in links(mail.text) if "/surveys/" in u)
    return urlsplit(url).path.rsplit("/", 1)[1]


def unsubscribe_url(mail: SentMail) -> str:
    return next(u for u in links(mail.text) if "/unsubscribe/" in u)


def drain_answers(stream: Stream, records: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Process the stream (or deliver `records` again); every record must succeed."""
    records = stream.records() if records is None else records
    failed = stream.deliver(records) if records else []
    assert failed == [], f"stream records failed: {failed}"
    return records


def answered(api: Api, ticket_id: str) -> list[dict[str, Any]]:
    code, answer = api.json("GET", f"/tickets/{ticket_id}/history")
    assert code == 200, answer
    return [e for e in answer["events"] if e["kind"] == "survey_answered"]


def page(api: Api, method: str, path: str, body: str | None = None, content_type: str | None = None) -> Any:
    headers = {"Accept": "text/html"}
    if content_type:
        headers["Content-Type"] = content_type
    response = getattr(api.client.http, method.lower())(path, headers=headers, body=body)
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    return response.status_code, text


# sending ---------------------------------------------------------------------------------------------------


def test_one_survey_goes_out_an_hour_after_a_ticket_is_resolved(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = resolved_question(api, stream, clock)  # resolved Monday 09:01

    clock.advance(minutes=59, seconds=59)
    assert send_surveys(api)["sent"] == 0
    clock.advance(seconds=1)
    assert send_surveys(api)["sent"] == 1
    assert send_surveys(api)["sent"] == 0
    clock.advance(days=3)
    assert send_surveys(api)["sent"] == 0

    surveys = mailbox.to(REQUESTER, "survey")
    assert len(surveys) == 1
    mail = surveys[0]
    assert opened["ref"] in mail.subject
    urls = links(mail.text)
    token = survey_token(mail)
    ratings = sorted(parse_qs(urlsplit(u).query)["rating"][0] for u in urls if "rating=" in u)
    assert ratings == ["1", "2", "3", "4", "5"]
    assert all(urlsplit(u).path == f"/api/surveys/{token}" for u in urls if "rating=" in u)
    assert f"{BASE}/surveys/{token}" in urls  # the comment page
    html = parsed(mail).get_body(preferencelist=("html",))
    assert html is not None
    assert f"{BASE}/surveys/{token}?rating=5" in str(html.get_content()).replace("&amp;", "&")
    message = parsed(mail)
    assert message["List-Unsubscribe"] == f"<{unsubscribe_url(mail)}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"

    code, history = api.json("GET", f"/tickets/{opened['id']}/history")
    assert code == 200
    sent = [e for e in history["events"] if e["kind"] == "survey_sent"]
    assert len(sent) == 1
    assert (sent[0]["by"]["role"], sent[0]["by"]["id"]) == ("system", "survey_sender")


def test_a_completed_consultation_is_surveyed_too(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = api.open(type="consultation", fields={"topic": "Data migration"})
    for status in ("needs_estimate", "estimate_ready", "estimate_pending_approval", "approved", "in_progress"):
        clock.advance(minutes=1)
        assert api.move(opened["id"], status)[0] == 200
    clock.advance(minutes=1)
    assert api.move(opened["id"], "completed")[0] == 200
    stream.drain()

    clock.advance(minutes=59)
    assert send_surveys(api)["sent"] == 0
    clock.advance(minutes=2)
    assert send_surveys(api)["sent"] == 1
    assert [m.ticket_id for m in mailbox.to(REQUESTER, "survey")] == [opened["id"]]


def test_a_ticket_reopened_within_the_hour_is_not_surveyed_for_that_stay(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened = resolved_question(api, stream, clock)
    clock.advance(minutes=30)
    assert api.move(opened["id"], "in_progress")[0] == 200
    stream.drain()

    clock.advance(hours=2)
    assert send_surveys(api)["sent"] == 0
    assert mailbox.to(REQUESTER, "survey") == []


def test_a_ticket_done_again_within_thirty_days_is_not_surveyed_again_but_later_it_is(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened, _ = surveyed(api, stream, clock, mailbox)  # the survey went out Monday 23 November 10:02

    clock.advance(days=2)
    assert api.move(opened["id"], "in_progress")[0] == 200
    clock.advance(days=1)
    assert api.move(opened["id"], "resolved")[0] == 200
    stream.drain()
    clock.advance(hours=2)
    tally = send_surveys(api)
    assert (tally["sent"], tally["skipped"]) == (0, 1)

    clock.advance(days=30)  # 33 days after the first survey
    assert api.move(opened["id"], "in_progress")[0] == 200
    clock.advance(minutes=1)
    assert api.move(opened["id"], "resolved")[0] == 200
    stream.drain()
    clock.advance(hours=1, minutes=1)
    assert send_surveys(api)["sent"] == 1

    assert len(mailbox.to(REQUESTER, "survey")) == 2


# answering ---------------------------------------------------------------------------------------------------


def test_one_click_records_the_rating_once_and_another_click_updates_it(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened, token = surveyed(api, stream, clock, mailbox)
    assert api.ticket(opened["id"])["survey"] is None

    code, first = api.json("GET", f"/surveys/{token}?rating=4", token=None)
    assert code == 200, first
    assert (first["ref"], first["scale"]) == (opened["ref"], 5)
    assert (first["answer"]["rating"], first["answer"]["revision"]) == (4, 1)
    records = drain_answers(stream)
    clock.advance(minutes=5)
    code, again = api.json("GET", f"/surveys/{token}?rating=4", token=None)
    assert code == 200
    assert again["answer"]["revision"] == 1
    assert stream.drain() == []  # the same rating again writes nothing
    assert [(e["rating"], e["previous_rating"]) for e in answered(api, opened["id"])] == [(4, None)]

    clock.advance(minutes=5)
    status, html = page(api, "GET", f"/surveys/{token}?rating=2")
    assert status == 200
    assert "2 out of 5" in html
    records += drain_answers(stream)
    drain_answers(stream, records)  # every answer record delivered again, twice
    drain_answers(stream, records)

    events = answered(api, opened["id"])
    assert [(e["rating"], e["previous_rating"], e["revision"]) for e in events] == [(4, None, 1), (2, 4, 2)]
    assert events[0]["by"]["role"] == "requester"
    survey = api.ticket(opened["id"])["survey"]
    assert (survey["rating"], survey["comment"], survey["revision"]) == (2, "", 2)


def test_the_survey_page_without_a_rating_only_shows_the_form(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened, token = surveyed(api, stream, clock, mailbox)

    status, html = page(api, "GET", f"/surveys/{token}")
    code, shown = api.json("GET", f"/surveys/{token}", token=None)
    stream.drain()

    assert status == 200
    assert "How did we do?" in html
    assert 'name="rating"' in html
    assert (code, shown["answer"]) == (200, None)
    assert answered(api, opened["id"]) == []
    assert api.ticket(opened["id"])["survey"] is None


def test_a_rating_and_comment_can_be_posted_as_json_or_from_the_form(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened, token = surveyed(api, stream, clock, mailbox)

    code, answer = api.json("POST", f"/surveys/{token}", {"rating": 5, "comment": "Quick and kind."}, token=None)
    assert code == 200, answer
    assert (answer["answer"]["rating"], answer["answer"]["comment"]) == (5, "Quick and kind.")
    drain_answers(stream)
    clock.advance(minutes=1)
    status, html = page(api, "POST", f"/surveys/{token}", "rating=3&comment=On+second+thoughts%2C+slow.", FORM_TYPE)
    stream.drain()

    assert status == 200
    assert "3 out of 5" in html
    assert "Your comment is saved too" in html
    events = answered(api, opened["id"])
    assert [(e["rating"], e["previous_rating"], e["comment"]) for e in events] == [
        (5, None, "Quick and kind."),
        (3, 5, "On second thoughts, slow."),
    ]
    survey = api.ticket(opened["id"])["survey"]
    assert (survey["rating"], survey["comment"]) == (3, "On second thoughts, slow.")


FORM_TYPE = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("rating", ["0", "6", "-1", "4.5", "abc", "", "99999", "%EF%BC%93"])
def test_a_bad_one_click_rating_is_refused_with_422_not_500(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock, rating: str
) -> None:
    opened, token = surveyed(api, stream, clock, mailbox)

    code, answer = api.json("GET", f"/surveys/{token}?rating={rating}", token=None)
    status, _ = page(api, "GET", f"/surveys/{token}?rating={rating}")

    assert code == 422, answer
    assert "rating" in answer["error"]["errors"]
    assert status == 422
    assert api.ticket(opened["id"])["survey"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"rating": True},
        {"rating": 0},
        {"rating": 3.5},
        {"rating": None, "comment": "no rating"},
        {"comment": "no rating"},
        {"rating": 3, "comment": 5},
        {"rating": 3, "comment": "x" * 5001},
        {"rating": [3]},
    ],
)
def test_a_bad_posted_answer_is_refused_with_422_not_500(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock, body: dict[str, Any]
) -> None:
    opened, token = surveyed(api, stream, clock, mailbox)

    code, answer = api.json("POST", f"/surveys/{token}", body, token=None)

    assert code == 422, answer
    assert api.ticket(opened["id"])["survey"] is None


# the link's limits -----------------------------------------------------------------------------------------------


def test_the_survey_link_works_for_28_days_and_then_answers_401(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    opened, token = surveyed(api, stream, clock, mailbox)

    clock.advance(days=27, hours=23)
    assert api.json("GET", f"/surveys/{token}?rating=5", token=None)[0] == 200
    clock.advance(hours=1, seconds=1)
    code, answer = api.json("GET", f"/surveys/{token}?rating=1", token=None)
    assert code == 401, answer
    assert api.json("POST", f"/surveys/{token}", {"rating": 1, "comment": "late"}, token=None)[0] == 401
    status, html = page(api, "GET", f"/surveys/{token}?rating=1")
    assert status == 401
    assert "expired" in html

    assert api.ticket(opened["id"])["survey"]["rating"] == 5


def test_a_survey_link_cannot_be_altered_to_rate_another_ticket(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    mine, token = surveyed(api, stream, clock, mailbox)
    other, _ = surveyed(api, stream, clock, mailbox, requester_email="sam@example.org", requester_name="Sam")
    subject, expires, mac = token.split(".")
    assert subject == mine["id"]
    portal_token = parse_qs(urlsplit(mine["portal_url"]).query)["token"][0]
    unsubscribe_token = urlsplit(unsubscribe_url(mailbox.to(REQUESTER, "survey")[0])).path.rsplit("/", 1)[1]

    for forged in (
        f"{other['id']}.{expires}.{mac}",  # another ticket
        f"{subject}.{int(expires) + 86400 * 365}.{mac}",  # a later expiry
        portal_token,  # a link for another purpose
        unsubscribe_token,
        f"{subject}.{expires}.{mac[:-2]}AA",
        "not-a-token",
    ):
        code, answer = api.json("GET", f"/surveys/{forged}?rating=1", token=None)
        assert code == 401, (forged, answer)
        assert api.json("POST", f"/surveys/{forged}", {"rating": 1}, token=None)[0] == 401

    assert stream.drain() == []
    assert api.ticket(other["id"])["survey"] is None
    assert api.ticket(mine["id"])["survey"] is None
    assert answered(api, other["id"]) == []


# unsubscribing -----------------------------------------------------------------------------------------------------


def test_opening_the_unsubscribe_link_only_shows_a_button(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    surveyed(api, stream, clock, mailbox)
    link = unsubscribe_url(mailbox.to(REQUESTER, "survey")[0])

    status, html = page(api, "GET", path_of(link))

    assert status == 200, html
    assert "<form" in html
    assert f'action="{link}"' in html
    assert "Stop survey emails" in html
    assert REQUESTER in html
    surveyed(api, stream, clock, mailbox, subject="Scanner jams")  # the page alone unsubscribed nobody
    assert len(mailbox.to(REQUESTER, "survey")) == 2


def test_posting_the_unsubscribe_link_stops_surveys_to_that_address_only(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    surveyed(api, stream, clock, mailbox)
    link = unsubscribe_url(mailbox.to(REQUESTER, "survey")[0])

    status, html = page(api, "POST", path_of(link), "List-Unsubscribe=One-Click", FORM_TYPE)  # RFC 8058 one-click
    assert status == 200
    assert "You are unsubscribed" in html
    code, again = api.json("POST", path_of(link), {}, token=None)  # twice is the same as once
    assert (code, again) == (200, {"unsubscribed": REQUESTER})

    resolved_question(api, stream, clock, subject="Monitor flickers")
    clock.advance(hours=2)
    tally = send_surveys(api)
    assert (tally["sent"], tally["skipped"]) == (0, 1)
    assert len(mailbox.to(REQUESTER, "survey")) == 1

    surveyed(api, stream, clock, mailbox, requester_email="sam@example.org", requester_name="Sam")
    assert len(mailbox.to("sam@example.org", "survey")) == 1


def test_an_unsubscribe_link_that_was_tampered_with_is_refused(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    _, survey = surveyed(api, stream, clock, mailbox)

    status, _ = page(api, "POST", f"/unsubscribe/{survey}", "List-Unsubscribe=One-Click", FORM_TYPE)
    assert status == 401
    assert api.json("GET", "/unsubscribe/forged.1.abc", token=None)[0] == 401

    surveyed(api, stream, clock, mailbox, subject="Scanner jams")
    assert len(mailbox.to(REQUESTER, "survey")) == 2


def test_the_survey_link_is_signed_for_the_configured_28_days(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    _, token = surveyed(api, stream, clock, mailbox)
    expires = int(token.split(".")[1])

    assert expires == int((clock.now() + timedelta(days=28)).timestamp())


def test_a_first_survey_answer_reaches_the_stream_handler_as_a_whole_item(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    """The first answer is written so that the tickets stream carries it as one item with its rating: the stream
    handler then has nothing to fail on, under moto (tests, the local desk) as under DynamoDB."""
    opened, token = surveyed(api, stream, clock, mailbox)
    assert api.json("GET", f"/surveys/{token}?rating=4", token=None)[0] == 200

    records = stream.records()

    assert [r["dynamodb"]["NewImage"].get("rating") for r in records] == [{"N": "4"}]
    assert stream.deliver(records) == []
    assert [e["rating"] for e in answered(api, opened["id"])] == [4]


def test_the_survey_and_unsubscribe_pages_take_their_one_stylesheet_from_the_desk(
    api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock
) -> None:
    _opened, token = surveyed(api, stream, clock, mailbox)
    unsubscribe = path_of(unsubscribe_url(mailbox.to(REQUESTER, "survey")[0]))

    shown = [
        page(api, "GET", f"/surveys/{token}"),
        page(api, "GET", f"/surveys/{token}?rating=4"),
        page(api, "GET", unsubscribe),
        page(api, "POST", unsubscribe, "List-Unsubscribe=One-Click", FORM_TYPE),
        page(api, "GET", "/surveys/not-a-token"),
    ]

    for status, html in shown:
        assert status in (200, 401), html
        assert "<style" not in html
        assert " style=" not in html
        hrefs = [link.attrs["href"] or "" for link in parse(html).all("link", rel="stylesheet")]
        assert len(hrefs) == 1
        assert hrefs[0].startswith(f"{BASE}/static/desk.")
