"""The agents' queue: filters, priority-then-age order, cursor pagination, the backlog."""

from __future__ import annotations

from typing import Any

from chalicelib import wiring
from tests.api.conftest import DEFECT_FIELDS, Api
from tests.clocks import ManualClock
from tests.conftest import ReadCounter


def _refs(api: Api, query: str) -> list[str]:
    code, page = api.json("GET", f"/tickets{query}")
    assert code == 200, page
    return [t["ref"] for t in page["tickets"]]


def _open_at(api: Api, clock: ManualClock, minutes: int, **kwargs: Any) -> dict[str, Any]:
    clock.advance(minutes=minutes)
    return api.open(**kwargs)


def _set_priority(api: Api, ticket_id: str, priority: str) -> None:
    version = api.ticket(ticket_id)["version"]
    assert api.json("PATCH", f"/tickets/{ticket_id}", {"priority": priority, "version": version})[0] == 200


def test_the_in_progress_queue_lists_a_critical_ticket_first_then_oldest_first(api: Api, clock: ManualClock) -> None:
    old = _open_at(api, clock, 1, subject="old")
    newer = _open_at(api, clock, 1, subject="newer")
    urgent = _open_at(api, clock, 1, subject="urgent")
    waiting = _open_at(api, clock, 1, subject="not started")
    for ticket in (old, newer, urgent):
        api.move(ticket["id"], "in_progress")
    _set_priority(api, urgent["id"], "critical")
    assert _refs(api, "?status=in_progress") == [urgent["ref"], old["ref"], newer["ref"]]
    assert waiting["ref"] not in _refs(api, "?status=in_progress")


def test_several_statuses_at_once_are_merged_in_queue_order(api: Api, clock: ManualClock) -> None:
    a = _open_at(api, clock, 1)
    b = _open_at(api, clock, 1)
    c = _open_at(api, clock, 1)
    api.move(b["id"], "in_progress")
    _set_priority(api, c["id"], "high")
    assert _refs(api, "?status=submitted&status=in_progress") == [c["ref"], a["ref"], b["ref"]]


def test_filters_by_priority_type_team_assignee_and_requester(api: Api, clock: ManualClock) -> None:
    question = _open_at(api, clock, 1)
    defect = _open_at(api, clock, 1, type="defect", fields=DEFECT_FIELDS, requester_email="dev@example.org")
    _set_priority(api, defect["id"], "high")
    me = api.json("PATCH", f"/tickets/{question['id']}", {"assignee": "me", "version": 1})[1]["assignee"]
    assert _refs(api, "?priority=high") == [defect["ref"]]
    assert _refs(api, "?type=question") == [question["ref"]]
    assert _refs(api, "?team=engineering") == [defect["ref"]]
    assert _refs(api, f"?assignee={me}") == [question["ref"]]
    assert _refs(api, "?requester=DEV@example.org") == [defect["ref"]]
    assert _refs(api, "?team=engineering&priority=medium") == []
    assert _refs(api, "?status=submitted&type=defect") == [defect["ref"]]


def test_pages_follow_an_opaque_cursor_and_return_every_ticket_once(api: Api, clock: ManualClock) -> None:
    opened = [_open_at(api, clock, 1, requester_email=f"r{i}@example.org")["ref"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        code, page = api.json("GET", f"/tickets{query}")
        assert code == 200
        seen += [t["ref"] for t in page["tickets"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == opened
    assert pages == 3


def test_pages_of_a_priority_filter_and_of_several_statuses_also_add_up(api: Api, clock: ManualClock) -> None:
    tickets = [_open_at(api, clock, 1, requester_email=f"p{i}@example.org") for i in range(6)]
    for ticket in tickets[::2]:
        api.move(ticket["id"], "in_progress")
    seen: list[str] = []
    cursor = ""
    while True:
        _code, page = api.json("GET", f"/tickets?status=in_progress&status=submitted&priority=medium&limit=2{cursor}")
        seen += [t["ref"] for t in page["tickets"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [t["ref"] for t in tickets]


def test_bad_filters_are_refused_naming_the_filter(api: Api) -> None:
    for query, name in [
        ("?status=nope", "status"),
        ("?priority=nope", "priority"),
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?cursor=%%%", "cursor"),
        ("?cursor=eyJ4IjogMX0", "cursor"),
        ("?state=sleeping", "state"),
    ]:
        code, answer = api.json("GET", f"/tickets{query}")
        assert code == 422, query
        assert name in answer["error"]["errors"], query


def test_the_queue_needs_an_agent_token(api: Api) -> None:
    assert api.json("GET", "/tickets", token=None)[0] == 401
    assert api.json("GET", "/tickets", token="hd_forged")[0] == 401


def test_the_backlog_counts_open_tickets_per_status_and_priority_with_the_oldest_age(
    api: Api, clock: ManualClock
) -> None:
    first = api.open()
    clock.advance(hours=2)
    second = api.open(requester_email="b@example.org")
    _set_priority(api, second["id"], "critical")
    done = api.open(requester_email="c@example.org")
    api.move(done["id"], "resolved")
    clock.advance(hours=1)
    code, backlog = api.json("GET", "/queues")
    assert code == 200
    assert backlog["open"] == 2
    [submitted] = backlog["statuses"]
    assert submitted["status"] == "submitted"
    assert submitted["by_priority"] == {"critical": 1, "high": 0, "medium": 1, "low": 0}
    assert submitted["oldest_age_seconds"] == 3 * 3600
    assert submitted["oldest_age_text"] == "3h"
    assert first["id"]


def test_a_queue_read_touches_only_the_index_partitions_it_needs(api: Api, clock: ManualClock) -> None:
    """The queue is served by index queries: a done ticket never appears in the open queue's answer."""
    for i in range(3):
        done = api.open(requester_email=f"d{i}@example.org")
        api.move(done["id"], "resolved")
    live = api.open(requester_email="live@example.org")
    assert _refs(api, "") == [live["ref"]]
    assert len(wiring.desk().tickets.backlog("resolved")) == 3


def test_pages_of_one_priority_return_every_ticket_of_it(api: Api, clock: ManualClock) -> None:
    critical = []
    for i in range(5):
        opened = _open_at(api, clock, 1, requester_email=f"c{i}@example.org")
        _set_priority(api, opened["id"], "critical")
        critical.append(opened["ref"])
    _open_at(api, clock, 1, requester_email="medium@example.org")
    seen: list[str] = []
    cursor = ""
    while True:
        code, page = api.json("GET", f"/tickets?priority=critical&limit=2{cursor}")
        assert code == 200
        seen += [t["ref"] for t in page["tickets"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == critical


def test_an_absurd_assignee_filter_is_refused(api: Api) -> None:
    code, answer = api.json("GET", f"/tickets?assignee={'x' * 3000}")
    assert code == 422
    assert "assignee" in answer["error"]["errors"]


def test_a_queue_read_examines_the_answer_not_the_backlog(
    api: Api, clock: ManualClock, dynamo_reads: ReadCounter
) -> None:
    """Filters are index partitions: 30 open questions cost nothing to a query for the one defect."""
    for i in range(30):
        _open_at(api, clock, 1, requester_email=f"q{i}@example.org")
    defect = _open_at(api, clock, 1, type="defect", fields=DEFECT_FIELDS, requester_email="dev@example.org")
    dynamo_reads.items = 0
    assert _refs(api, "?type=defect") == [defect["ref"]]
    assert _refs(api, "?requester=dev@example.org") == [defect["ref"]]
    assert _refs(api, "?team=engineering") == [defect["ref"]]
    assert dynamo_reads.items == 3


def test_closed_tickets_keep_their_rank_and_still_filter_by_priority_after_a_rank_change(api: Api) -> None:
    opened = api.open()
    api.json("PATCH", f"/tickets/{opened['id']}", {"priority": "high", "version": 1})
    api.move(opened["id"], "resolved")
    _, answer = api.json("GET", "/admin/config")
    for priority in answer["config"]["priorities"]:
        priority["rank"] = {"critical": 0, "high": 3, "medium": 2, "low": 1}[priority["key"]]
    assert api.json("PUT", "/admin/config", answer)[0] == 200
    assert _refs(api, "?state=done&priority=high") == [opened["ref"]]
    assert _refs(api, "?status=resolved&priority=high") == [opened["ref"]]
    assert _refs(api, "?status=resolved&priority=low") == []
