"""Reading and replacing the desk configuration, and what happens to tickets in statuses it removes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.domain.agents import Agent
from chalicelib.domain.config import default_config, shipped_document
from chalicelib.domain.errors import StaleVersionError, StatusInUseError, ValidationError
from chalicelib.domain.tickets import Ticket
from chalicelib.services.desk import Desk, QueueRequest
from tests.clocks import START, ManualClock

from .fakes import FakeDeskStore, FakeEventStore, FakeTicketStore, SequentialIds


@pytest.fixture
def admin(desk: Desk) -> Agent:
    return desk.create_agent({"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"})[0]


def open_question(desk: Desk) -> Ticket:
    payload = {
        "subject": "Printer offline",
        "description": "The office printer shows as offline.",
        "requester_name": "Rosa Diaz",
        "requester_email": "rosa@example.org",
    }
    return desk.open_ticket(payload, from_form=False, idempotency_key=None).ticket


def workflow(document: dict[str, Any], key: str) -> dict[str, Any]:
    return next(w for w in document["workflows"] if w["key"] == key)


def without_waiting_on_requester(document: dict[str, Any]) -> dict[str, Any]:
    """The shipped configuration with 'waiting_on_requester' taken out of the question workflow."""
    changed = copy.deepcopy(document)
    question = workflow(changed, "question")
    question["statuses"].remove("waiting_on_requester")
    question["transitions"] = [t for t in question["transitions"] if "waiting_on_requester" not in (t["from"], t["to"])]
    return changed


def wait_on_requester(desk: Desk, ticket: Ticket, admin: Agent) -> None:
    desk.transition(ticket.id, {"to": "in_progress", "version": 1}, admin)
    desk.transition(ticket.id, {"to": "waiting_on_requester", "version": 2}, admin)


# reading -----------------------------------------------------------------------------------------


def test_the_desk_uses_the_shipped_configuration_until_one_is_stored(desk: Desk) -> None:
    assert desk.config() == default_config()
    assert desk.config_document()["version"] == 0
    assert desk.config_document()["config"] == shipped_document()


def test_seeding_stores_the_shipped_configuration_as_version_one_only_once(desk: Desk, clock: ManualClock) -> None:
    desk.seed_config()
    clock.advance(hours=1)
    desk.seed_config()

    stored = desk.config_document()
    assert (stored["version"], stored["updated_by"]) == (1, "system:seed")
    assert stored["updated_at"] == START.isoformat()


# replacing ---------------------------------------------------------------------------------------


def test_an_admin_replaces_the_configuration_and_the_version_moves_on(desk: Desk, admin: Agent) -> None:
    desk.seed_config()
    document = shipped_document()
    document["desk"]["name"] = "Brooklyn help desk"

    result = desk.replace_config({"config": document, "version": 1}, admin)

    assert result == {"version": 2, "moved": {}, "not_moved": {}}
    assert desk.config().desk.name == "Brooklyn help desk"
    assert desk.config_document()["updated_by"] == f"agent:{admin.id}"


@pytest.mark.parametrize("read_version", [0, 2])
def test_a_configuration_based_on_a_version_not_current_is_stale(desk: Desk, admin: Agent, read_version: int) -> None:
    desk.seed_config()
    document = shipped_document()
    document["desk"]["name"] = "Brooklyn help desk"

    with pytest.raises(StaleVersionError):
        desk.replace_config({"config": document, "version": read_version}, admin)

    assert desk.config().desk.name == "Help desk"


def test_the_second_of_two_admins_replacing_the_same_version_is_stale(desk: Desk, admin: Agent) -> None:
    desk.seed_config()
    first, second = shipped_document(), shipped_document()
    first["desk"]["name"] = "First"
    second["desk"]["name"] = "Second"
    desk.replace_config({"config": first, "version": 1}, admin)

    with pytest.raises(StaleVersionError):
        desk.replace_config({"config": second, "version": 1}, admin)

    assert desk.config().desk.name == "First"


def test_an_invalid_configuration_is_refused_naming_each_bad_path(desk: Desk, admin: Agent) -> None:
    document = shipped_document()
    document["desk"]["ref_prefix"] = "hd"
    document["priorities"][0]["rank"] = 500

    with pytest.raises(ValidationError) as refused:
        desk.replace_config({"config": document, "version": 0}, admin)

    assert {"desk.ref_prefix", "priorities[0].rank"} <= set(refused.value.errors)
    assert desk.config_document()["version"] == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ([], "config"),
        ({"version": 0}, "config"),
        ({"config": shipped_document()}, "version"),
        ({"config": shipped_document(), "version": True}, "version"),
        ({"config": shipped_document(), "version": 0, "extra": 1}, "extra"),
        ({"config": shipped_document(), "version": 0, "status_mapping": {"a": 1}}, "status_mapping"),
    ],
)
def test_a_badly_shaped_replacement_is_refused(desk: Desk, admin: Agent, body: Any, path: str) -> None:
    with pytest.raises(ValidationError) as refused:
        desk.replace_config(body, admin)

    assert path in refused.value.errors


def test_renaming_a_status_keeps_its_tickets_and_shows_the_new_label(desk: Desk, admin: Agent) -> None:
    desk.seed_config()
    ticket = open_question(desk)
    document = shipped_document()
    next(s for s in document["statuses"] if s["key"] == "submitted")["label"] = "New"

    result = desk.replace_config({"config": document, "version": 1}, admin)

    detail = desk.ticket_detail(ticket.id, admin)
    assert result["moved"] == {}
    assert (detail.ticket.status, detail.ticket.version) == ("submitted", 1)
    assert detail.config.status(detail.ticket.status).label == "New"


# removing statuses that hold tickets -------------------------------------------------------------


def test_removing_a_status_that_holds_tickets_needs_a_mapping(desk: Desk, admin: Agent) -> None:
    desk.seed_config()
    ticket = open_question(desk)
    wait_on_requester(desk, ticket, admin)

    with pytest.raises(StatusInUseError) as refused:
        desk.replace_config({"config": without_waiting_on_requester(shipped_document()), "version": 1}, admin)

    assert list(refused.value.details["errors"]) == ["status_mapping.waiting_on_requester"]
    assert desk.config_document()["version"] == 1
    assert desk.ticket_detail(ticket.id, admin).ticket.status == "waiting_on_requester"


def test_a_status_mapping_moves_the_tickets_out_of_the_removed_status(
    desk: Desk, admin: Agent, clock: ManualClock
) -> None:
    desk.seed_config()
    ticket = open_question(desk)
    wait_on_requester(desk, ticket, admin)
    clock.advance(hours=2)

    result = desk.replace_config(
        {
            "config": without_waiting_on_requester(shipped_document()),
            "version": 1,
            "status_mapping": {"waiting_on_requester": "in_progress"},
        },
        admin,
    )

    moved = desk.ticket_detail(ticket.id, admin).ticket
    assert result == {"version": 2, "moved": {"waiting_on_requester": 1}, "not_moved": {}}
    assert (moved.status, moved.version) == ("in_progress", 4)
    assert moved.status_since == clock.now()
    assert moved.changed_by == f"agent:{admin.id}"


def test_a_mapping_to_a_status_outside_the_new_workflow_is_refused(desk: Desk, admin: Agent) -> None:
    desk.seed_config()
    wait_on_requester(desk, open_question(desk), admin)

    with pytest.raises(StatusInUseError) as refused:
        desk.replace_config(
            {
                "config": without_waiting_on_requester(shipped_document()),
                "version": 1,
                "status_mapping": {"waiting_on_requester": "estimate_ready"},
            },
            admin,
        )

    assert "status_mapping.waiting_on_requester" in refused.value.details["errors"]
    assert desk.config_document()["version"] == 1


def test_removing_a_status_no_ticket_is_in_needs_no_mapping(desk: Desk, admin: Agent) -> None:
    desk.seed_config()
    ticket = open_question(desk)

    result = desk.replace_config({"config": without_waiting_on_requester(shipped_document()), "version": 1}, admin)

    assert result == {"version": 2, "moved": {}, "not_moved": {}}
    assert "waiting_on_requester" not in desk.config().workflow_of("question").statuses
    assert desk.ticket_detail(ticket.id, admin).ticket.status == "submitted"


def test_removing_a_type_that_has_tickets_is_refused(desk: Desk, admin: Agent) -> None:
    desk.seed_config()
    open_question(desk)
    document = shipped_document()
    document["types"] = [t for t in document["types"] if t["key"] != "question"]
    document["desk"]["default_type"] = "defect"

    with pytest.raises(StatusInUseError) as refused:
        desk.replace_config({"config": document, "version": 1}, admin)

    assert "types.question" in refused.value.details["errors"]


# changing priorities ------------------------------------------------------------------------------


def test_giving_a_priority_a_new_rank_reorders_the_queue(desk: Desk, admin: Agent, clock: ManualClock) -> None:
    desk.seed_config()
    older = open_question(desk)
    clock.advance(minutes=5)
    newer = open_question(desk)
    desk.change(newer.id, {"priority": "high", "version": 1}, admin)
    document = shipped_document()
    for priority in document["priorities"]:
        priority["rank"] = {"critical": 0, "high": 3, "medium": 1, "low": 2}[priority["key"]]

    desk.replace_config({"config": document, "version": 1}, admin)

    listed = desk.queue(QueueRequest())

    page, _ = listed.page, listed.cursor
    assert [t.id for t in page.tickets] == [older.id, newer.id]
    assert desk.ticket_detail(newer.id, admin).ticket.priority_rank == 3


def without_low_priority(document: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["priorities"] = [p for p in changed["priorities"] if p["key"] != "low"]
    del changed["sla"]["targets"]["low"]
    for ticket_type in changed["types"]:
        if ticket_type.get("default_priority") == "low":
            ticket_type["default_priority"] = "medium"
    return changed


def test_removing_a_priority_open_tickets_have_needs_a_mapping(desk: Desk, admin: Agent) -> None:
    desk.seed_config()
    ticket = open_question(desk)
    desk.change(ticket.id, {"priority": "low", "version": 1}, admin)

    with pytest.raises(StatusInUseError) as refused:
        desk.replace_config({"config": without_low_priority(shipped_document()), "version": 1}, admin)
    desk.replace_config(
        {"config": without_low_priority(shipped_document()), "version": 1, "priority_mapping": {"low": "medium"}},
        admin,
    )

    assert "priority_mapping.low" in refused.value.details["errors"]
    stored = desk.ticket_detail(ticket.id, admin).ticket
    assert (stored.priority, stored.priority_rank) == ("medium", 2)


class TicketEditedDuringMigration(FakeTicketStore):
    """Another agent edits each stranded ticket just after the desk has read it for the migration."""

    def in_status(self, status: str, ticket_type: str | None, limit: int | None = None) -> list[Ticket]:
        found = super().in_status(status, ticket_type, limit)
        for ticket in found:
            stored = self.get(ticket.id)
            assert stored is not None
            self.save(stored, stored.version)
        return found


def test_a_ticket_edited_while_the_configuration_is_replaced_is_still_moved(
    store: FakeDeskStore, clock: ManualClock
) -> None:
    desk = Desk(TicketEditedDuringMigration(desk_table=store.items), store, clock, SequentialIds(), FakeEventStore())
    admin = desk.create_agent({"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"})[0]
    desk.seed_config()
    ticket = open_question(desk)
    wait_on_requester(desk, ticket, admin)
    body = {
        "config": without_waiting_on_requester(shipped_document()),
        "version": 1,
        "status_mapping": {"waiting_on_requester": "in_progress"},
    }

    result = desk.replace_config(body, admin)

    assert result["moved"] == {"waiting_on_requester": 1}
    assert desk.ticket_detail(ticket.id, admin).ticket.status == "in_progress"
