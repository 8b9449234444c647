# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""Erasing personal data: what of an event is kept, the retention setting and job (only tickets done long enough,
a bounded number per run, through the hourly stale sweep), and an agent's edit during an erasure.

The clock starts Monday 23 November 2026 09:00 UTC.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.adapters.personal_data import DynamoPersonalDataStore
from chalicelib.adapters.raw_mail import RawMailSettings
from chalicelib.adapters.surveys import DynamoSurveyStore
from chalicelib.domain import history
from chalicelib.domain.config import default_config, parse_config
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.personal_data import (
    ERASED,
    ERASED_ACTOR,
    Redactor,
    erased_actor,
    erased_event_data,
    requester_email,
)
from chalicelib.domain.tickets import Ticket
from chalicelib.services.personal_data import PersonalData
from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.mail_fixtures import mailbox, run_job  # noqa: F401
from tests.clocks import ManualClock
from tests.streams import Stream

# what is kept of an event ------------------------------------------------------------------------------------------

REDACT = Redactor("hedy@lamarr.example", "Hedy Lamarr", ["The projector in room B hums loudly"])


def test_an_event_keeps_what_timers_and_reports_count_and_loses_the_persons_words() -> None:
    created = {"status": "new", "category": "initial", "priority": "high", "type": "question", "team": None,
               "assignee": None, "subject": "Projector", "fields": {"room": "B"}}  # fmt: skip
    survey = {"rating": 2, "previous_rating": None, "comment": "Slow.", "revision": 1, "scale": 5, "ref": "HD-1"}

    assert erased_event_data(history.CREATED, created, REDACT) == {
        **created,
        "subject": ERASED,
        "fields": {"room": ERASED},
    }
    assert erased_event_data(history.SURVEY_ANSWERED, survey, REDACT) == {**survey, "comment": ""}
    assert erased_event_data(
        history.REQUESTER_COMMENT, {"excerpt": "Hi", "author_name": "Hedy", "public": True}, REDACT
    ) == {
        "excerpt": ERASED,
        "author_name": ERASED,
        "public": True,
    }
    assert erased_event_data(history.REPLY, {"excerpt": "Thanks Hedy, fixed.", "author_name": "Ada"}, REDACT) == {
        "excerpt": f"Thanks {ERASED}, fixed.",
        "author_name": "Ada",
    }
    moved = {"from": "new", "to": "hedy", "wall_seconds": 5.0}  # a status key is configuration, never redacted
    assert erased_event_data(history.STATUS_CHANGED, moved, REDACT) == moved


def test_the_redactor_finds_the_address_the_name_and_the_persons_words_in_other_text() -> None:
    quoted = "HEDY@lamarr.example wrote: the projector in room B hums loudly. Regards, hedy lamarr"

    assert REDACT.text(quoted) == f"{ERASED} wrote: {ERASED}. Regards, {ERASED}"
    assert erased_actor("requester:hedy@lamarr.example", REDACT) == ERASED_ACTOR
    assert erased_actor("agent:01ADA", REDACT) == "agent:01ADA"


@pytest.mark.parametrize("value", [None, "", "  ", "hedy", 42, "erased@erased.invalid"])
def test_an_address_that_is_not_one_is_refused_naming_the_field(value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        requester_email(value)
    assert list(refused.value.details["errors"]) == ["email"]


# the retention setting --------------------------------------------------------------------------------------------


def test_retention_is_off_by_default_and_takes_a_number_of_days() -> None:
    document = default_config().document

    assert default_config().retention_days is None
    assert parse_config({**document, "retention": 365}).retention_days == 365
    assert parse_config({**document, "retention": None}).retention_days is None
    for wrong in (0, -1, 3651, 1.5, "30", True, {"days": 30}):
        with pytest.raises(ValidationError) as refused:
            parse_config({**document, "retention": wrong})
        assert refused.value.errors == {"retention": "must be a whole number from 1 to 3650"}


# the retention job, on moto ---------------------------------------------------------------------------------------


def keep_for(api: Api, days: int) -> None:
    code, answer = api.json("GET", "/admin/config")
    assert code == 200
    code, answer = api.json("PUT", "/admin/config", {"config": {**answer["config"], "retention": days}, "version": 0})
    assert code == 200, answer


def done_ticket(api: Api, description: str) -> str:
    opened = api.open(description=description)
    code, answer = api.move(opened["id"], "resolved")
    assert code == 200, answer
    return str(opened["id"])


def test_retention_erases_only_tickets_done_longer_ago_a_bounded_number_per_run(
    api: Api, stream: Stream, clock: ManualClock
) -> None:
    old = [done_ticket(api, f"Old words {n}.") for n in range(3)]
    still_open = api.open(description="Open for a long time.")["id"]
    clock.advance(days=20)
    recent = done_ticket(api, "Recent words.")
    stream.drain()
    clock.advance(days=11)  # the old ones were done 31 days ago, the recent one 11
    assert "retention" not in run_job(api.client, "stale_sweep")  # off by default
    keep_for(api, 30)

    first = wiring.personal_data().retention_sweep(limit=2)
    by_schedule = run_job(api.client, "stale_sweep")["retention"]
    after = run_job(api.client, "stale_sweep")["retention"]
    stream.drain()

    assert first == {"due": 2, "erased": 2, "changing": 0}
    assert by_schedule == {"due": 1, "erased": 1, "changing": 0}
    assert after == {"due": 0, "erased": 0, "changing": 0}  # the mark: erased tickets are not read again
    for ticket_id in old:
        ticket = api.ticket(ticket_id)
        assert (ticket["description"], ticket["requester"]["name"]) == (ERASED, ERASED)
    assert api.ticket(recent)["description"] == "Recent words."
    assert api.ticket(still_open)["description"] == "Open for a long time."
    code, history_page = api.json("GET", f"/tickets/{old[0]}/history")
    assert code == 200
    assert [e["scope"] for e in history_page["events"] if e["kind"] == "erased"] == ["retention"]


# an agent's edit during an erasure --------------------------------------------------------------------------------


class EditedMeanwhile(DynamoPersonalDataStore):
    """Before the erasure's first ticket write, an agent changes the ticket's priority."""

    def __init__(self, api: Api) -> None:
        super().__init__(RawMailSettings(bucket=""))
        self.api = api
        self.edits = 0

    def save_erased(self, ticket: Ticket, expected_version: int) -> None:
        if not self.edits:
            self.edits += 1
            code, answer = self.api.json(
                "PATCH", f"/tickets/{ticket.id}", {"priority": "critical", "version": expected_version}
            )
            assert code == 200, answer
        super().save_erased(ticket, expected_version)


def test_an_agents_edit_during_an_erasure_is_kept_and_the_ticket_erased_after_it(api: Api, stream: Stream) -> None:
    opened = api.open(requester_email="hedy@lamarr.example", requester_name="Hedy Lamarr")
    stream.drain()
    version = api.ticket(opened["id"])["version"]
    built = wiring.personal_data()
    store = EditedMeanwhile(api)
    service = PersonalData(built.desk, store, DynamoSurveyStore(), wiring.attachments, built.refresh)

    result = service.erase("hedy@lamarr.example", True)

    ticket = api.ticket(opened["id"])
    assert (result.complete, result.tickets_erased, store.edits) == (True, 1, 1)
    assert (ticket["priority"]["key"], ticket["requester"]["email"], ticket["subject"]) == (
        "critical",
        "erased@erased.invalid",
        ERASED,
    )
    assert ticket["version"] == version + 2  # the agent's write, then the erasure's


def test_a_finished_erasure_that_finds_new_tickets_counts_them_as_a_new_erasure(api: Api, stream: Stream) -> None:
    """The person wrote again after being erased: the next erasure reports its own tickets, not the sum of both;
    calling a finished one again reports it unchanged."""
    api.open(requester_email="hedy@lamarr.example", requester_name="Hedy Lamarr")
    stream.drain()
    service = wiring.personal_data()
    first = service.erase("hedy@lamarr.example", True)
    again = service.erase("hedy@lamarr.example", True)
    for _ in range(2):
        api.open(requester_email="hedy@lamarr.example", requester_name="Hedy Lamarr")
    stream.drain()

    later = service.erase("hedy@lamarr.example", True)

    assert (first.tickets_erased, again.tickets_erased, again.erased_now) == (1, 1, 0)
    assert (later.tickets_erased, later.erased_now, later.complete) == (2, 2, True)
