"""POST /reports/sla/what-if and the console's what-if page, over the real app, its stream handler and moto."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from chalicelib import wiring
from chalicelib.domain.config import default_config
from chalicelib.services import what_if as service
from tests.api.conftest import Api
from tests.api.console_client import Console
from tests.api.mail_fixtures import Mailbox
from tests.api.page_html import parse
from tests.clocks import START, ManualClock
from tests.streams import Stream

PATH = "/reports/sla/what-if"
DAY = START.date().isoformat()  # Monday 23 Nov 2026; London is on GMT, so UTC days are the desk's days


def policy(**first_response: str) -> dict[str, Any]:
    sla = copy.deepcopy(default_config().document["sla"])
    for key, value in first_response.items():
        sla["targets"][key]["first_response"] = value
    return sla


def reply(api: Api, ticket_id: str) -> None:
    status, answer = api.json("POST", f"/tickets/{ticket_id}/comments", {"body": "Looking at it.", "public": True})
    assert status == 201, answer


@pytest.fixture
def answered(api: Api, stream: Stream, clock: ManualClock) -> dict[str, dict[str, Any]]:
    """Three medium tickets (8 business hours to a first response) opened at 09:00, answered after 1 and 3 hours
    and not at all; 17:00 now."""
    made = {name: api.open(subject=name) for name in ("Quick", "Slow", "Silent")}
    clock.current = START + timedelta(hours=1)
    reply(api, made["Quick"]["id"])
    clock.current = START + timedelta(hours=3)
    reply(api, made["Slow"]["id"])
    stream.drain()
    clock.current = START + timedelta(hours=8)
    return made


class Writes:
    """Every DynamoDB write moto serves: (operation, table, partition key)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def desk_writes(self) -> list[tuple[str, str, str]]:
        """Leaving out the meter's own daily counters, which every invocation adds to (GET /reports/cost)."""
        return [w for w in self.seen if not w[2].startswith("meter#")]


def _pk(key: Any) -> str:
    value = key.get("pk", {}) if isinstance(key, dict) else {}
    return str(value.get("S", "")) if isinstance(value, dict) else ""


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Writes:
    recorded = Writes()
    for name in ("put_item", "update_item", "delete_item"):
        real = getattr(DynamoDBBackend, name)

        def wrapper(self: DynamoDBBackend, *args: Any, _n: str = name, _r: Any = real, **kwargs: Any) -> Any:
            table = kwargs.get("table_name", args[0] if args else "")
            key = kwargs.get("key", kwargs.get("item_attrs", args[1] if len(args) > 1 else None))
            recorded.seen.append((_n, str(table), _pk(key)))
            return _r(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, wrapper)
    real_transact = DynamoDBBackend.transact_write_items

    def transact(self: DynamoDBBackend, items: list[dict[str, Any]]) -> Any:
        for item in items:
            for kind, action in item.items():
                recorded.seen.append((kind, action.get("TableName", ""), _pk(action.get("Key") or action.get("Item"))))
        return real_transact(self, items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact)
    return recorded


def test_an_admin_sees_both_columns_and_the_tickets_a_tighter_target_breaches_and_nothing_is_written(
    api: Api, answered: dict[str, dict[str, Any]], writes: Writes
) -> None:
    status, answer = api.json("POST", PATH, {"from": DAY, "to": DAY, "sla": policy(medium="2h")})

    assert status == 200, answer
    assert writes.desk_writes() == []
    assert (answer["from"], answer["to"], answer["tickets"], answer["live_differs"]) == (DAY, DAY, 3, 0)
    assert sorted((f["ref"], f["title"], f["timer"], f["current"], f["proposed"]) for f in answer["flips"]) == sorted(
        [
            (answered["Slow"]["ref"], "Slow", "first_response", "met", "breached"),
            (answered["Silent"]["ref"], "Silent", "first_response", "running", "breached"),
        ]
    )
    medium = next(g for g in answer["groups"] if g["key"] == "medium")
    assert [medium[side]["first_response"]["compliance_percent"] for side in ("current", "proposed")] == [100.0, 33.3]
    assert [medium[side]["first_response"]["median_seconds"] for side in ("current", "proposed")] == [7200, 7200]
    assert answer["limits"] == {"max_tickets": service.MAX_TICKETS, "max_days": service.MAX_DAYS}

    status, answer = api.json("POST", PATH, {"from": DAY, "to": DAY, "sla": policy()})  # the same policy
    _, report = api.json("GET", f"/reports/sla?from={DAY}&to={DAY}")

    assert status == 200
    assert writes.desk_writes() == []
    assert answer["flips"] == []
    everyone = answer["groups"][0]
    assert everyone["current"] == everyone["proposed"]
    for timer in ("first_response", "resolution"):
        counted = report["total"][timer]
        assert {k: everyone["current"][timer][k] for k in ("met", "breached", "measured")} == {
            k: counted[k] for k in ("met", "breached", "measured")
        }


def test_only_admins_may_ask(api: Api, aws: dict[str, str]) -> None:
    _, token = wiring.desk().create_agent({"name": "Sam Agent", "email": "sam@example.org", "role": "agent"})
    body = {"from": DAY, "to": DAY, "sla": policy()}

    assert api.json("POST", PATH, body, token=token)[0] == 403
    assert api.json("POST", PATH, body, token=None)[0] == 401


BAD = [
    ("not json", 400, None),
    ([1, 2], 400, None),
    ({"from": DAY, "to": DAY}, 422, "sla"),
    ({"from": "23/11/2026", "to": DAY, "sla": {}}, 422, "from"),
    ({"from": DAY, "to": DAY, "sla": policy(high="1x")}, 422, "sla.targets.high.first_response"),
    ({"from": DAY, "to": DAY, "sla": {**policy(), "calendar": {"timezone": "Mars/Olympus"}}}, 422, None),
    ({"from": "2020-01-01", "to": DAY, "sla": policy()}, 422, "from"),
    ({"from": DAY, "to": DAY, "sla": policy(), "dry_run": True}, 422, "dry_run"),
    ({"from": DAY, "to": DAY, "sla": None}, 422, "sla"),
]


@pytest.mark.parametrize("sla", [None, "8h", [1]])
def test_a_proposal_that_is_no_object_is_one_error_not_every_missing_part(api: Api, sla: Any) -> None:
    code, answer = api.json("POST", PATH, {"from": DAY, "to": DAY, "sla": sla})

    assert code == 422
    assert list(answer["error"]["errors"]) == ["sla"]
    assert answer["error"]["errors"]["sla"].startswith("must be an object")


def test_bad_input_is_refused_naming_what_is_wrong(api: Api) -> None:
    for body, status, path in BAD:
        code, answer = api.json("POST", PATH, body)

        assert code == status, (body, answer)
        if path is not None:
            assert path in answer["error"]["errors"], answer


def test_a_period_over_the_ticket_limit_is_refused_naming_the_limit(
    api: Api, stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_TICKETS", 2)
    for n in range(3):
        api.open(subject=f"Ticket {n}")
    stream.drain()

    code, answer = api.json("POST", PATH, {"from": DAY, "to": DAY, "sla": policy()})

    assert code == 400
    assert answer["error"]["code"] == "period_too_large"
    assert answer["error"]["message"] == "the period holds more than 2 tickets; choose a shorter period"


def test_calendar_codes_are_checked_when_the_configuration_is_saved(api: Api) -> None:
    _, current = api.json("GET", "/admin/config")
    config = copy.deepcopy(current["config"])
    config["sla"]["calendar"] |= {"country": "GB", "subdivision": "XYZ"}

    code, answer = api.json("PUT", "/admin/config", {"config": config, "version": current["version"]})

    assert code == 422
    assert answer["error"]["errors"] == {
        "sla.calendar.subdivision": "unknown subdivision 'XYZ' of GB; it has ENG, NIR, SCT, WLS"
    }
    config["sla"]["calendar"] |= {"subdivision": "ENG", "holidays": []}
    assert api.json("PUT", "/admin/config", {"config": config, "version": current["version"]})[0] == 200
    calendar = wiring.desk().config().sla.calendar
    assert (calendar.country, calendar.subdivision) == ("GB", "ENG")
    assert calendar.is_closed(START.date().replace(month=12, day=28))  # Boxing Day observed, from the library


# the console page --------------------------------------------------------------------------------------------


@pytest.fixture
def admin(api: Api, mailbox: Mailbox, answered: dict[str, dict[str, Any]]) -> Console:
    """Signed in at 17:00, after the day's work."""
    console = Console(api.client)
    console.sign_in_with_token(api.token)
    return console


def test_the_console_page_proposes_the_current_targets_and_shows_both_columns(
    api: Api, admin: Console, answered: dict[str, dict[str, Any]]
) -> None:
    page = admin.get("/console/admin/what-if")
    assert page.status_code == 200
    shown = parse(admin.text(page))
    assert shown.one(id="first_response-medium").attrs["value"] == "8h"
    assert shown.one(id="to").attrs["value"] == DAY
    assert "<style" not in admin.text(page)
    assert " style=" not in admin.text(page)
    assert shown.all("a", href="https://desk.example.org/api/console/admin/what-if")  # in the admin navigation

    def proposal(**first_response: str) -> dict[str, str]:
        targets = policy(**first_response)["targets"]
        return {"from": DAY, "to": DAY, **{f"{part}.{k}": v for k, t in targets.items() for part, v in t.items()}}

    result = admin.post("/console/admin/what-if", proposal(medium="2h"))

    assert result.status_code == 200, admin.text(result)[:2000]
    text = admin.text(result)
    for name in ("Slow", "Silent"):
        assert re.search(rf'href="[^"]*/console/tickets/{answered[name]["id"]}">{answered[name]["ref"]}</a>', text)
    assert f"/console/tickets/{answered['Quick']['id']}" not in text
    assert parse(text).one(id="first_response-medium").attrs["value"] == "2h"  # the proposal stays in the form

    refused = admin.post("/console/admin/what-if", proposal(high="soon"))

    assert refused.status_code == 422
    assert "soon" in parse(admin.text(refused)).one(id="first_response-high-error").text
    summary = parse(admin.text(refused)).one(class_="error-summary")
    assert summary.one("a", href="#first_response-high").text == "High, first response"  # words, not a path
    assert "sla.targets" not in summary.text

    backwards = admin.post(
        "/console/admin/what-if", {**proposal(), "from": DAY, "to": START.date().replace(day=1).isoformat()}
    )
    shown = parse(admin.text(backwards))
    assert backwards.status_code == 422
    assert shown.one(id="from").attrs["aria-invalid"] == "true"
    assert "must not be after the end of the period" in shown.one(id="from-error").text
    assert shown.one(class_="error-summary").one("a", href="#from").text == "Start of the period"
    assert admin.post("/console/admin/what-if", proposal(), csrf=False).status_code == 403
