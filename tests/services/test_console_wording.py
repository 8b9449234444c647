"""The console's words: the waiting view is named as the status is, and a refused bulk move names statuses."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from chalicelib.domain.agents import Agent
from chalicelib.services.console import Console
from chalicelib.services.desk import Desk
from chalicelib.services.sessions import Presence


class NoPresence:
    def beat(self, agent_id: str, ticket_id: str, typing: bool, now: datetime) -> None: ...

    def leave(self, agent_id: str, ticket_id: str) -> None: ...

    def everyone(self, since: datetime) -> list[Presence]:
        return []


class NoMarks:
    def bump(self, now: datetime) -> None: ...

    def current(self) -> int:
        return 0


def console(desk: Desk, counts: dict[tuple[str, str], int] | None = None) -> Console:
    return Console(desk, NoPresence(), NoMarks(), lambda: dict(counts or {}))


def admin(desk: Desk) -> Agent:
    return desk.create_agent({"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"})[0]


def with_one_waiting_status(desk: Desk, agent: Agent, label: str) -> None:
    """The shipped configuration, with every waiting status but "waiting_on_requester" made active."""
    document: dict[str, Any] = copy.deepcopy(desk.config_document()["config"])
    for status in document["statuses"]:
        if status["category"] == "waiting":
            if status["key"] == "waiting_on_requester":
                status["label"] = label
            else:
                status["category"] = "active"
    desk.replace_config({"config": document, "version": 0}, agent)


def waiting_view(desk: Desk, agent: Agent, counts: dict[tuple[str, str], int] | None = None) -> tuple[str, int]:
    [view] = [v for v in console(desk, counts).views(agent, with_sla=False) if v.key == "waiting"]
    assert view.count is not None
    return view.label, view.count


def test_the_waiting_view_takes_the_label_of_the_only_waiting_status(desk: Desk) -> None:
    agent = admin(desk)
    with_one_waiting_status(desk, agent, "Waiting for you")

    assert waiting_view(desk, agent, {("status", "waiting_on_requester"): 3}) == ("Waiting for you", 3)


def test_with_several_waiting_statuses_the_view_is_waiting_on_requester_and_counts_them_all(desk: Desk) -> None:
    agent = admin(desk)
    counts = {("status", "waiting_on_requester"): 2, ("status", "client_testing"): 1}

    assert waiting_view(desk, agent, counts) == ("Waiting on requester", 3)


def test_a_refused_bulk_move_names_the_statuses_it_could_go_to_by_their_labels(desk: Desk) -> None:
    agent = admin(desk)
    payload = {
        "subject": "Printer offline",
        "description": "The office printer shows as offline.",
        "requester_name": "Rosa Diaz",
        "requester_email": "rosa@example.org",
    }
    ticket = desk.open_ticket(payload, from_form=False, idempotency_key=None).ticket

    [outcome] = console(desk).bulk(agent, "transition", "waiting_on_requester", [(ticket.id, ticket.version)])

    assert not outcome.ok
    assert outcome.message == (
        "an agent cannot move this ticket from Submitted to Waiting on requester; it can go to: In progress, Resolved"
    )
