"""Moving tickets through their workflow over HTTP: agents, requesters through the portal, conflicts."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import wiring
from chalicelib.domain.errors import StaleVersionError
from tests.api.conftest import DEFECT_FIELDS, Api

NINE = [
    "in_review",
    "approved",
    "in_progress",
    "ready_to_test",
    "in_testing",
    "ready_to_install",
    "client_testing",
    "completed",
]


def _portal(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)["token"][0]


def test_an_agent_walks_a_defect_through_all_nine_statuses(api: Api) -> None:
    ticket = api.open(type="defect", fields=DEFECT_FIELDS)
    assert ticket["status"] == "submitted"
    for step, status in enumerate(NINE, start=1):
        code, moved = api.move(ticket["id"], status)
        assert code == 200, moved
        assert moved["status"]["key"] == status
        assert moved["version"] == step + 1
    final = api.ticket(ticket["id"])
    assert final["status"] == {"key": "completed", "label": "Completed", "category": "done"}
    assert api.json("GET", "/tickets")[1]["tickets"] == []
    assert [t["ref"] for t in api.json("GET", "/tickets?state=done")[1]["tickets"]] == [ticket["ref"]]


def test_a_forbidden_jump_is_refused_with_409_listing_the_allowed_transitions(api: Api) -> None:
    ticket = api.open(type="defect", fields=DEFECT_FIELDS)
    api.move(ticket["id"], "in_review")
    code, answer = api.move(ticket["id"], "completed")
    assert code == 409
    assert answer["error"]["code"] == "transition_not_allowed"
    assert [a["to"] for a in answer["error"]["allowed"]] == ["approved", "cannot_replicate"]
    assert api.ticket(ticket["id"])["status"]["key"] == "in_review"


def test_a_failed_test_goes_back_to_in_progress_and_cannot_replicate_ends_a_defect(api: Api) -> None:
    ticket = api.open(type="defect", fields=DEFECT_FIELDS)
    for status in ["in_review", "approved", "in_progress", "ready_to_test", "in_testing", "in_progress"]:
        assert api.move(ticket["id"], status)[0] == 200
    other = api.open(type="defect", fields=DEFECT_FIELDS, requester_email="other@example.org")
    api.move(other["id"], "in_review")
    code, answer = api.move(other["id"], "cannot_replicate")
    assert code == 200
    assert answer["status"]["category"] == "done"


def test_a_write_based_on_a_stale_version_is_refused_with_409_and_not_applied(api: Api) -> None:
    ticket = api.open()
    seen = api.ticket(ticket["id"])["version"]
    assert api.move(ticket["id"], "in_progress", version=seen)[0] == 200
    code, answer = api.json("PATCH", f"/tickets/{ticket['id']}", {"priority": "critical", "version": seen})
    assert code == 409
    assert answer["error"]["code"] == "stale_version"
    assert answer["error"]["current_version"] == seen + 1
    assert api.ticket(ticket["id"])["priority"]["key"] == "medium"


def test_two_transitions_based_on_the_same_version_never_both_succeed(api: Api) -> None:
    ticket = api.open()
    version = api.ticket(ticket["id"])["version"]
    first = api.move(ticket["id"], "in_progress", version=version)
    second = api.move(ticket["id"], "resolved", version=version)
    assert (first[0], second[0]) == (200, 409)
    assert api.ticket(ticket["id"])["status"]["key"] == "in_progress"


def test_the_database_refuses_a_stale_write_even_when_the_service_check_is_passed(api: Api) -> None:
    """Two requests that both read version 1 before either wrote: the conditional write decides."""
    ticket = api.open()
    desk = wiring.desk()
    read_by_first = desk.tickets.get(ticket["id"])
    read_by_second = desk.tickets.get(ticket["id"])
    assert read_by_first is not None
    assert read_by_second is not None
    desk.tickets.save(read_by_first, read_by_first.version)
    with pytest.raises(StaleVersionError):
        desk.tickets.save(read_by_second, read_by_second.version)


def test_transitions_need_the_version_they_are_based_on(api: Api) -> None:
    ticket = api.open()
    code, answer = api.json("POST", f"/tickets/{ticket['id']}/transitions", {"to": "in_progress"})
    assert code == 422
    assert "version" in answer["error"]["errors"]


def test_a_consultation_goes_through_the_estimate_path_and_the_requester_approves_in_the_portal(api: Api) -> None:
    opened = api.open(type="consultation", fields={"topic": "Data migration"})
    path, token = _portal(opened["portal_url"])
    for status in ["needs_estimate", "estimate_ready", "estimate_pending_approval"]:
        assert api.move(opened["id"], status)[0] == 200
    code, seen = api.json("GET", f"{path}?token={token}", token=None)
    assert code == 200
    assert [t["to"] for t in seen["allowed_transitions"]] == ["approved", "estimate_declined"]
    code, approved = api.json(
        "POST",
        f"{path}/transitions?token={token}",
        {"to": "approved", "comment": "Go ahead.", "version": seen["version"]},
        token=None,
    )
    assert code == 200, approved
    assert approved["status"]["key"] == "approved"
    detail = api.ticket(opened["id"])
    assert detail["status"]["key"] == "approved"
    assert detail["comments"][-1]["body"] == "Go ahead."
    assert detail["comments"][-1]["author"]["role"] == "requester"


def test_a_requester_may_decline_an_estimate_but_not_make_agent_transitions(api: Api) -> None:
    opened = api.open(type="training", fields={"course": "Basics", "attendees": 4, "format": "Remote"})
    path, token = _portal(opened["portal_url"])
    code, answer = api.json("POST", f"{path}/transitions", {"to": "needs_estimate", "version": 1}, token=token)
    assert code == 409
    assert answer["error"]["allowed"] == []
    for status in ["needs_estimate", "estimate_ready", "estimate_pending_approval"]:
        api.move(opened["id"], status)
    code, answer = api.json("POST", f"{path}/transitions", {"to": "estimate_declined", "version": 4}, token=token)
    assert code == 200
    assert answer["status"]["key"] == "estimate_declined"


def test_a_requester_reports_that_the_fix_does_not_work_from_client_testing(api: Api) -> None:
    opened = api.open(type="defect", fields=DEFECT_FIELDS)
    for status in NINE[:-1]:
        api.move(opened["id"], status)
    path, token = _portal(opened["portal_url"])
    response = api.form(f"{path}/transitions?token={token}", {"to": "in_progress", "version": "8"})
    assert response.status_code == 303
    assert api.ticket(opened["id"])["status"]["key"] == "in_progress"


def test_the_agent_view_lists_allowed_next_transitions_for_agents(api: Api) -> None:
    opened = api.open(type="defect", fields=DEFECT_FIELDS)
    detail = api.ticket(opened["id"])
    assert detail["allowed_transitions"] == [{"to": "in_review", "label": "Start review", "status": "In review"}]


def test_unknown_tickets_are_404(api: Api) -> None:
    assert api.json("GET", "/tickets/NOPE")[0] == 404
    assert api.json("GET", "/tickets/HD-9999")[0] == 404
    assert api.move("NOPE", "in_review", version=1)[0] == 404
