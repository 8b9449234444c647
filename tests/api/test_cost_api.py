"""GET /reports/cost and the console's cost page: admins only, the period checked, the desk's own counts priced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib import wiring
from chalicelib.adapters import meter
from tests.api.conftest import Api
from tests.api.console_client import Console
from tests.api.mail_fixtures import Mailbox
from tests.api.page_html import parse
from tests.clocks import ManualClock
from tests.streams import Stream

DAY = "2026-11-23"  # tests/clocks.py's START


@pytest.fixture(autouse=True)
def fresh_meter() -> Iterator[None]:
    meter.reset()
    yield
    meter.reset()


@pytest.fixture
def agent_token(api: Api) -> str:
    _, token = wiring.desk().create_agent({"name": "Sam Agent", "email": "sam@example.org", "role": "agent"})
    return token


def test_the_estimate_is_for_admins_only(api: Api, agent_token: str) -> None:
    assert api.json("GET", "/reports/cost", token=None)[0] == 401
    status, answer = api.json("GET", "/reports/cost", token=agent_token)
    assert (status, answer["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from=2026-13-01", 422),
        ("from=2026-11-23&to=2026-11-01", 422),
        ("from=2025-01-01&to=2026-11-23", 422),
        ("to=yesterday", 422),
        ("month=11", 400),  # not a parameter at all
    ],
)
def test_a_bad_period_is_refused_naming_the_parameter(api: Api, query: str, expected: int) -> None:
    status, answer = api.json("GET", f"/reports/cost?{query}")

    assert status == expected
    assert answer["error"]["code"] == ("invalid_input" if expected == 422 else "malformed_request")
    assert answer["error"]["errors"]


def test_a_days_requests_mails_and_tickets_are_priced(api: Api, stream: Stream, mailbox: Mailbox) -> None:
    api.open()
    api.open(requester_email="ben@example.org")
    api.json("GET", "/me")
    stream.drain()  # one batch: history, timers, the report counters (tickets opened) and the acknowledgements

    status, answer = api.json("GET", f"/reports/cost?from={DAY}&to={DAY}")

    assert status == 200
    lines = {line["key"]: line for line in answer["lines"]}
    functions = {f["function"]: f for f in answer["functions"]}
    assert lines["api_gateway.requests"]["quantity"] == 3  # the report's own request is counted after it answers
    assert lines["lambda.requests"]["quantity"] == 4  # and the stream's batch
    assert functions["ticket_changes"]["invocations"] == 1
    assert lines["dynamodb.writes"]["quantity"] > 0
    assert lines["dynamodb.reads"]["quantity"] > 0
    assert lines["lambda.duration"]["quantity"] > 0
    assert lines["ses.mails"]["quantity"] == functions["ticket_changes"]["ses_mails"] == len(mailbox.sent) >= 2
    assert answer["tickets_opened"] == 2
    assert answer["per_ticket"] == pytest.approx(answer["total"] / 2)
    assert answer["total"] == pytest.approx(sum(line["cost"] for line in answer["lines"]))
    assert (answer["from"], answer["to"], answer["days"], answer["currency"]) == (DAY, DAY, 1, "USD")


def test_another_day_has_its_own_counts(api: Api) -> None:
    api.json("GET", "/me")
    status, answer = api.json("GET", "/reports/cost?from=2026-11-24&to=2026-11-24")

    assert status == 200
    assert answer["functions"] == []
    assert answer["measured_days"] == 0


def test_the_console_page_shows_the_estimate_to_admins(api: Api, agent_token: str) -> None:
    admin = Console(api.client)
    admin.sign_in_with_token(api.token)
    api.json("GET", "/me")

    page = admin.get(f"/console/admin/cost?from={DAY}&to={DAY}")

    text = Console.text(page)
    assert page.status_code == 200
    for heading in ("What the desk costs", "Per service", "Each billed item", "Prices used", "leaves out"):
        assert heading in text
    assert "REST API requests" in text
    assert "/console/admin/cost" in text  # the navigation's link
    assert "<script>" not in text
    assert "style=" not in text
    sam = Console(api.client)
    sam.sign_in_with_token(agent_token)
    assert sam.get("/console/admin/cost").status_code == 403


def test_the_console_page_names_a_bad_date(api: Api) -> None:
    admin = Console(api.client)
    admin.sign_in_with_token(api.token)

    page = admin.get("/console/admin/cost?from=2026-11-31")

    assert page.status_code == 422
    assert "There is a problem" in Console.text(page)
    # The form's word, not the parameter's, linked to the field; and what was typed, which a date field cannot show.
    assert "From</a>: is not a real date (you typed “2026-11-31”)" in Console.text(page)
    shown = parse(Console.text(page))
    assert shown.one(id="from").attrs.get("aria-invalid") == "true"
    assert shown.one(id="from").attrs.get("aria-describedby") == "from-error"
    assert "you typed" in shown.one(id="from-error").text
    assert shown.one(id="from").attrs["value"] == "2026-11-31"  # what was typed, to correct
    assert "aria-invalid" not in shown.one(id="to").attrs


def test_a_period_across_months_reads_each_months_counts(api: Api, clock: ManualClock) -> None:
    clock.current = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    api.json("GET", "/me")
    clock.current = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    api.json("GET", "/me")
    api.json("GET", "/me")

    status, answer = api.json("GET", "/reports/cost?from=2026-11-30&to=2026-12-01")

    assert status == 200
    assert answer["measured_days"] == 2
    assert answer["functions"][0]["api_requests"] == 3


def test_the_calendars_ends_are_answered_not_crashed(api: Api) -> None:
    assert api.json("GET", "/reports/cost?from=9999-12-01&to=9999-12-31")[0] == 200
    assert api.json("GET", "/reports/cost?from=0001-01-01&to=0001-01-31")[0] == 200
    assert api.json("GET", "/reports/cost?to=0001-01-05")[0] == 422
