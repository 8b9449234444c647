"""A report's cost depends on its date range and grouping, not on how many tickets exist.

The same five days hold 60 tickets, then 150; every report over those days reads exactly the same number
of DynamoDB items both times. Both sizes are whole cycles of 30 tickets (five days x two priorities x three
assignees), so every day has every assignee and priority, and the small desk already fills the satisfaction
report's page of survey comments: only the number of tickets behind each item grows. The tickets go through the
real pipeline and stores (moto), not the HTTP API, to keep the load quick; the reports are read over HTTP.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib import wiring
from chalicelib.adapters.stats import DynamoStatsStore
from chalicelib.domain.history import SURVEY_SENT, job_event
from chalicelib.domain.tickets import AGENT, Comment, Ticket
from chalicelib.services.pipeline import CommentWritten, Pipeline, SurveyWritten, TicketWritten
from chalicelib.services.ports import SurveyAnswer
from chalicelib.services.reports import DEFAULT_COMMENTS
from tests.api.conftest import Api
from tests.clocks import ManualClock
from tests.conftest import ReadCounter

DAYS = 5
FIRST = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday; the five days are Monday to Friday
PRIORITIES = ("high", "medium")
SMALL = 60
LARGE = 150  # 2.5x the small desk: the same reads prove the cost does not grow with the tickets
REPORTS = (
    "/reports/sla?from=2026-11-23&to=2026-11-27",
    "/reports/sla?from=2026-11-23&to=2026-11-27&group_by=assignee",
    "/reports/sla?from=2026-11-23&to=2026-11-27&group_by=priority",
    "/reports/time-in-status?from=2026-11-23&to=2026-11-27",
    "/reports/time-in-status?from=2026-11-23&to=2026-11-27&type=question",
    "/reports/workload?from=2026-11-23&to=2026-11-27",
    "/reports/satisfaction?from=2026-11-23&to=2026-11-27&group_by=assignee",
    "/reports/satisfaction?from=2026-11-23&to=2026-11-27&format=csv",
)


def load(pipeline: Pipeline, agents: list[str], numbers: range) -> None:
    """Each ticket: opened on one of the five days, answered after 30 min, worked on, resolved two hours
    after opening, surveyed an hour later and rated with a comment. Every day has every assignee and priority."""
    config = pipeline.config()
    for number in numbers:
        day, slot = number % DAYS, number // DAYS
        opened_at = FIRST + timedelta(days=day, minutes=slot % 240)
        ticket = Ticket(
            id=f"T{number:06d}",
            ref=f"HD-{1000 + number}",
            type="question",
            status="submitted",
            priority=PRIORITIES[number % 2],
            priority_rank=config.priorities[PRIORITIES[number % 2]].rank,
            is_open=True,
            subject=f"Question {number}",
            description="How do I?",
            requester_name="Requester",
            requester_email=f"r{number}@example.org",
            fields={},
            created_at=opened_at,
            updated_at=opened_at,
            status_since=opened_at,
            changed_by="requester:r@example.org",
            assignee=agents[number % len(agents)],
            team="support",
        )
        pipeline.apply(TicketWritten(None, ticket))
        answered_at = opened_at + timedelta(minutes=30)
        reply = Comment(
            ticket.id, f"C{number:06d}", "Here is how.", True, AGENT, ticket.assignee or "", "A", answered_at
        )
        pipeline.apply(CommentWritten(reply))
        working = replace(
            ticket,
            status="in_progress",
            status_since=answered_at,
            updated_at=answered_at,
            version=2,
            first_response_at=answered_at,
        )
        pipeline.apply(TicketWritten(ticket, working))
        resolved_at = opened_at + timedelta(hours=2)
        done = replace(
            working, status="resolved", status_since=resolved_at, updated_at=resolved_at, version=3, is_open=False
        )
        pipeline.apply(TicketWritten(working, done))
        sent_at = resolved_at + timedelta(hours=1)
        # As the survey job does, less its refresh: the answer's refresh below counts both.
        pipeline.events.add([job_event(ticket.id, SURVEY_SENT, sent_at, "survey_x", "system:survey_sender", {})])
        answer = SurveyAnswer(ticket.id, 1 + number % 5, f"Comment {number}", sent_at + timedelta(hours=1), 1)
        pipeline.apply(SurveyWritten(None, answer))


def reads(api: Api, counter: ReadCounter) -> dict[str, int]:
    # Each request's meter write is an UpdateItem of the day's counters, whose moto answer reads the item back (the
    # counter sees it once the item exists): one request first, so every measured request finds it there.
    api.request("GET", "/me")
    measured = {}
    for path in REPORTS:
        counter.items = counter.fetched = 0
        response = api.request("GET", path)
        assert response.status_code == 200, response.body
        measured[path] = counter.total
    return measured


def test_a_report_reads_the_same_items_for_60_tickets_as_for_300(
    api: Api, clock: ManualClock, dynamo_reads: ReadCounter
) -> None:
    desk = wiring.desk()
    agents = [
        desk.create_agent({"name": name, "email": f"{name.lower()}@example.org", "role": "agent"})[0].id
        for name in ("Bob", "Cara", "Dev")
    ]
    clock.advance(days=7)  # the reports are read the next Monday; every figure is in the past
    pipeline = Pipeline(desk.events, desk.config, stats=DynamoStatsStore(), clock=clock)
    load(pipeline, agents, range(SMALL))
    small = reads(api, dynamo_reads)
    code, satisfaction = api.json("GET", REPORTS[6])
    assert code == 200
    assert len(satisfaction["comments"]) == DEFAULT_COMMENTS, "the small desk already fills a page of comments"
    load(pipeline, agents, range(SMALL, LARGE))
    large = reads(api, dynamo_reads)
    assert large == small
    # Sanity: the figures did grow; one grouped report over five days reads tens of items, not thousands.
    code, workload = api.json("GET", REPORTS[5])
    assert code == 200
    assert workload["totals"]["arrivals"] == LARGE
    assert max(large.values()) < 100
