# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""A requester's data end to end: built through the real flows (a mail that opens a ticket, a mailed reply with a
file, the form, an agent's reply, a survey answer, an unsubscribe), exported whole, then erased in small steps
until a search of every table and bucket finds nothing of the person, while the reports' figures stay.

The clock starts Monday 23 November 2026 09:00 UTC.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from localdesk import search
from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.mail_fixtures import Mailbox, mailbox, path_of  # noqa: F401
from tests.api.test_surveys import surveyed, unsubscribe_url
from tests.clocks import ManualClock
from tests.services.test_inbound import Deliver, deliver, desk, mail, reply_to  # noqa: F401 - mail in
from tests.services.test_inbound_attachments import message, zeros
from tests.streams import Stream

NAME = "Hedy Lamarr"
EMAIL = "hedy@lamarr.example"
SENDER = f"{NAME} <{EMAIL}>"
SAID_IN_MAIL = "quokka lantern flickers"  # the mail that opened the ticket
SAID_WITH_FILE = "marmalade sextant readings"  # a mailed reply that carries a file
SAID_IN_FORM = "periwinkle gasket rattles"  # the form's description
SAID_IN_SURVEY = "velvet anemone service"  # the survey comment
FILE_NAME = "lamarr-readings.zip"
SUBJECT = "tangerine router in room B"  # the mailed ticket's subject
SECRETS = (EMAIL, NAME, SUBJECT, SAID_IN_MAIL, SAID_WITH_FILE, SAID_IN_FORM, SAID_IN_SURVEY, FILE_NAME)
REPORTS = ("sla", "time-in-status", "workload", "satisfaction")
PERIOD = "from=2026-11-16&to=2026-11-30"


# what the local stack holds: every table's items and every bucket's objects, read from moto's backends the way
# the local run's GET /_local/search does (localdesk/search.py; the suite fails any test that sends a Scan) ---------


def stored_items(aws: dict[str, str]) -> dict[tuple[str, str, str], list[str]]:
    """(table, pk, sk) -> the item's strings, keys included, for every item of every table."""
    return search.items("us-east-1")


def stored_objects() -> dict[str, bytes]:
    return search.objects()


def where(aws: dict[str, str], secret: str) -> list[str]:
    """Every item and object that holds `secret` (case ignored)."""
    found = search.holding(secret, "us-east-1")
    return found["items"] + found["objects"]


def figures(api: Api) -> dict[str, Any]:
    """Every report's figures, without the satisfaction report's list of comments (the words that are erased)."""
    shown = {}
    for name in REPORTS:
        code, answer = api.json("GET", f"/reports/{name}?{PERIOD}")
        assert code == 200, answer
        answer.pop("comments", None)
        answer.pop("comments_next", None)
        shown[name] = answer
    return shown


# the person's data, made through the desk's own flows ----------------------------------------------------------


@pytest.fixture
def person(
    desk: Api, deliver: Deliver, stream: Stream, mailbox: Mailbox, clock: ManualClock, aws: dict[str, str]
) -> dict[str, str]:
    """Two tickets of Hedy's (one by mail with a mailed reply and file, one from the form, surveyed and answered,
    with her opt-out) and one of someone else's; the ticket ids."""
    opened = deliver(mail(SENDER, SUBJECT, f"It drops again: {SAID_IN_MAIL}.\n"), "ses-hedy-0001")
    stream.drain()
    address, _message_id, _ = reply_to(mailbox, EMAIL, "acknowledgement")
    reply = message(SENDER, f"Re: {SUBJECT}", f"See the {SAID_WITH_FILE}.\n", (zeros(FILE_NAME, 600),), to=address)
    assert deliver(reply, "ses-hedy-0002", to=address)["outcome"] == "comment"
    code, _ = desk.json(
        "POST", f"/tickets/{opened['ticket_id']}/comments", {"body": "Thanks Hedy, on it.", "public": True}
    )
    assert code == 201
    stream.drain()
    formed, token = surveyed(
        desk, stream, clock, mailbox, requester_name=NAME, requester_email=EMAIL, description=SAID_IN_FORM
    )
    code, answer = desk.json("POST", f"/surveys/{token}", {"rating": 4, "comment": SAID_IN_SURVEY}, token=None)
    assert code == 200, answer
    survey_mail = [m for m in mailbox.sent if m.kind == "survey" and m.ticket_id == formed["id"]][-1]
    unsubscribed = desk.client.http.post(
        path_of(unsubscribe_url(survey_mail)), headers={"Content-Type": "application/x-www-form-urlencoded"}, body=""
    )
    assert unsubscribed.status_code == 200
    other = desk.open(description="Someone else's words.")
    stream.drain()
    return {"mailed": opened["ticket_id"], "formed": formed["id"], "other": other["id"]}


def erase(api: Api, **body: Any) -> tuple[int, Any]:
    return api.json("POST", "/admin/requesters/erase", {"email": EMAIL, "confirm": True, **body})


def without_meter(items: dict[tuple[str, str, str], list[str]]) -> dict[tuple[str, str, str], list[str]]:
    """The tables as the desk's data: each request adds its own usage to the meter's counters."""
    return {k: v for k, v in items.items() if not k[1].startswith("meter")}


# export -----------------------------------------------------------------------------------------------------------


def exported_in_full(api: Api, person: dict[str, str]) -> None:
    """The export holds the person's tickets, words, files (as links), mails, survey answer and opt-out."""
    code, exported = api.json("GET", f"/admin/requesters/export?email={EMAIL.upper()}")

    assert code == 200, exported
    assert exported["email"] == EMAIL
    tickets = {t["id"]: t for t in exported["tickets"]}
    assert set(tickets) == {person["mailed"], person["formed"]}
    mailed, formed = tickets[person["mailed"]], tickets[person["formed"]]
    assert SAID_IN_MAIL in mailed["description"]
    assert mailed["requester"] == {"name": NAME, "email": EMAIL}
    assert any(SAID_WITH_FILE in c["body"] for c in mailed["comments"])
    assert [
        (f["filename"], f["url"].startswith(f"/tickets/{person['mailed']}/attachments/")) for f in mailed["attachments"]
    ] == [(FILE_NAME, True)]
    assert {m["kind"] for m in mailed["mails"]} >= {"acknowledgement", "reply"}
    assert formed["description"] == SAID_IN_FORM
    assert (formed["survey"]["rating"], formed["survey"]["comment"]) == (4, SAID_IN_SURVEY)
    assert any(e["kind"] == "survey_answered" for e in formed["history"])
    assert exported["survey_opt_outs"] == ["survey"]


def test_the_export_holds_everything_and_an_erasure_in_steps_leaves_nothing_anywhere_and_the_reports_unchanged(
    desk: Api, person: dict[str, str], stream: Stream, aws: dict[str, str]
) -> None:
    exported_in_full(desk, person)
    for secret in SECRETS:
        assert where(aws, secret), f"the setup should have stored {secret!r}"
    before = figures(desk)
    other_before = desk.ticket(person["other"])

    first = erase(desk, limit=1)  # a small bound: the erasure continues where the first call stopped
    stream.drain()
    progress = [k for k in stored_items(aws) if k[1].startswith("erasure#")]
    second = erase(desk, limit=1)
    stream.drain()

    assert first == (200, {"complete": False, "tickets_erased": 1, "erased_now": 1, "changing": []})
    assert second == (200, {"complete": True, "tickets_erased": 2, "erased_now": 1, "changing": []})
    assert len(progress) == 1
    assert EMAIL not in json.dumps(progress)  # kept under a hash of the address
    assert {secret: where(aws, secret) for secret in SECRETS} == {secret: [] for secret in SECRETS}
    assert figures(desk) == before
    assert desk.ticket(person["other"]) == other_before
    for ticket_id in (person["mailed"], person["formed"]):
        code, history = desk.json("GET", f"/tickets/{ticket_id}/history?limit=100")
        assert code == 200
        erased = [e for e in history["events"] if e["kind"] == "erased"]
        assert [(e["by"]["role"], e["scope"]) for e in erased] == [("system", "requester")]
        assert desk.ticket(ticket_id)["subject"] == "[erased]"
    assert desk.json("GET", f"/admin/requesters/export?email={EMAIL}")[1]["tickets"] == []

    # and once more: nothing changes, and the answer says it is complete
    settled, objects = without_meter(stored_items(aws)), stored_objects()
    again = erase(desk)
    stream.drain()

    assert again == (200, {"complete": True, "tickets_erased": 2, "erased_now": 0, "changing": []})
    assert without_meter(stored_items(aws)) == settled
    assert stored_objects() == objects


INVALID_ERASURES = [  # well-formed, but a field is missing or wrong: 422 naming it
    ({"email": EMAIL}, "confirm"),
    ({"email": EMAIL, "confirm": "yes"}, "confirm"),
    ({"email": EMAIL, "confirm": False}, "confirm"),
    ({"email": "", "confirm": True}, "email"),
    ({"email": "nobody", "confirm": True}, "email"),
    ({"email": 7, "confirm": True}, "email"),
    ({"confirm": True}, "email"),
    ({"email": EMAIL, "confirm": True, "limit": 0}, "limit"),
    ({"email": EMAIL, "confirm": True, "limit": True}, "limit"),
]
INVALID_EXPORTS = ["", "?email=", "?email=not-an-address", "?email=erased@erased.invalid"]


def test_a_missing_or_bad_field_is_422_naming_it_and_an_unknown_address_exports_empty_lists(desk: Api) -> None:
    opened = desk.open(requester_email=EMAIL)
    for body, field in INVALID_ERASURES:
        code, answer = desk.json("POST", "/admin/requesters/erase", body)
        assert (code, answer["error"]["code"]) == (422, "invalid_input"), (body, answer)
        assert list(answer["error"]["errors"]) == [field], (body, answer)
    for query in INVALID_EXPORTS:
        code, answer = desk.json("GET", f"/admin/requesters/export{query}")
        assert (code, answer["error"]["code"]) == (422, "invalid_input"), (query, answer)
        assert list(answer["error"]["errors"]) == ["email"], (query, answer)

    assert desk.ticket(opened["id"])["requester"]["email"] == EMAIL  # nothing was erased
    assert desk.json("GET", "/admin/requesters/export?email=nobody@example.org") == (
        200,
        {"email": "nobody@example.org", "tickets": [], "survey_opt_outs": []},
    )


def test_a_malformed_request_stays_400(desk: Api) -> None:
    """Not JSON, not an object, or a name the operation does not take: malformed, whatever the fields say."""
    opened = desk.open(requester_email=EMAIL)
    unknown_field = desk.json("POST", "/admin/requesters/erase", {"email": EMAIL, "confirm": True, "everything": 1})
    not_an_object = desk.json("POST", "/admin/requesters/erase", [EMAIL])
    not_json = desk.client.http.post(
        "/admin/requesters/erase",
        headers={"Authorization": f"Bearer {desk.token}", "Content-Type": "application/json"},
        body="{email: hedy",
    )
    unknown_parameter = desk.json("GET", f"/admin/requesters/export?email={EMAIL}&other=1")

    assert (unknown_field[0], unknown_field[1]["error"]["errors"]) == (
        400,
        {"everything": "is not a field; use email, confirm, limit"},
    )
    assert (not_an_object[0], not_an_object[1]["error"]["code"]) == (400, "malformed_request")
    assert (not_json.status_code, json.loads(not_json.body)["error"]["code"]) == (400, "malformed_request")
    assert (unknown_parameter[0], list(unknown_parameter[1]["error"]["errors"])) == (400, ["other"])
    assert desk.ticket(opened["id"])["requester"]["email"] == EMAIL  # nothing was erased


def test_only_admins_export_or_erase(desk: Api) -> None:
    _, token = wiring.desk().create_agent({"name": "Al Agent", "email": "al@example.org", "role": "agent"})
    assert desk.json("GET", f"/admin/requesters/export?email={EMAIL}", token=token)[0] == 403
    assert desk.json("POST", "/admin/requesters/erase", {"email": EMAIL, "confirm": True}, token=token)[0] == 403
    assert desk.json("GET", f"/admin/requesters/export?email={EMAIL}", token=None)[0] == 401
