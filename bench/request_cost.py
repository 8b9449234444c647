"""DynamoDB calls each desk request makes, counted under moto: the request's cost, independent of machine speed.

    .venv/bin/python bench/request_cost.py

Prints measurements; asserts nothing. Reads and writes are what on-demand DynamoDB bills. Then the reports'
calls and items read at two desk sizes over the same days, and /queues at both.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[name]
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's fake credentials
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    HELPDESK_PUBLIC_URL="https://desk.example.org",
)

import boto3  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core.responses import BaseResponse  # noqa: E402

from localdesk.motofix import install as install_moto_fix  # noqa: E402

calls: Counter[str] = Counter()
read: Counter[str] = Counter()  # items read: what Query examined (ScannedCount), what GetItem and BatchGetItem returned
_real_call_action = BaseResponse.call_action


def _counting_call_action(self: BaseResponse) -> Any:
    if self.service_name != "dynamodb":
        return _real_call_action(self)
    action = self._get_action()
    calls[action] += 1
    answer = _real_call_action(self)
    if action in ("Query", "Scan", "GetItem", "BatchGetItem"):
        body = json.loads(answer[2] or "{}")
        if action == "GetItem":
            read[action] += 1 if "Item" in body else 0
        elif action == "BatchGetItem":
            read[action] += sum(len(items) for items in body.get("Responses", {}).values())
        else:
            read[action] += int(body.get("ScannedCount", 0))
    return answer


BaseResponse.call_action = _counting_call_action  # type: ignore[method-assign]

# moto's transactions copy whole tables and its table queries sort whole tables; the local run's fix backs up
# only the touched items and hands a query its partition. Answers and the calls counted stay the same.
install_moto_fix()


def main() -> None:
    from chalicelib import wiring
    from infra.tables import create_stack

    with mock_aws():
        outputs = create_stack(boto3.client("cloudformation"))
        os.environ["HELPDESK_TICKETS_TABLE"] = outputs["TicketsTableName"]
        os.environ["HELPDESK_DESK_TABLE"] = outputs["DeskTableName"]
        os.environ["HELPDESK_EVENTS_TABLE"] = outputs["EventsTableName"]
        wiring.reset()
        _, token = wiring.desk().create_agent({"name": "Bench", "email": "bench@example.org", "role": "admin"})
        wiring.desk().seed_config()
        from app import app

        agent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        public = {"Content-Type": "application/json"}
        ticket = {"subject": "s", "description": "d", "requester_name": "n", "requester_email": "n@example.org"}
        with Client(app) as client:
            http = client.http
            opened = json.loads(http.post("/tickets", headers=public, body=json.dumps(ticket)).body)
            for i in range(40):
                more = {**ticket, "requester_email": f"r{i}@example.org"}
                http.post("/tickets", headers=public, body=json.dumps(more))
            tid = opened["id"]
            move = json.dumps({"to": "in_progress", "version": 1})
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("POST /tickets (JSON)", lambda: http.post("/tickets", headers=public, body=json.dumps(ticket))),
                ("GET /tickets (25 of 42 open)", lambda: http.get("/tickets", headers=agent)),
                ("GET /tickets?type=defect (0 of 42)", lambda: http.get("/tickets?type=defect", headers=agent)),
                ("GET /tickets/{id}", lambda: http.get(f"/tickets/{tid}", headers=agent)),
                (
                    "POST /tickets/{id}/transitions",
                    lambda: http.post(f"/tickets/{tid}/transitions", headers=agent, body=move),
                ),
                (
                    "POST /tickets/{id}/comments",
                    lambda: http.post(f"/tickets/{tid}/comments", headers=agent, body=json.dumps({"body": "hi"})),
                ),
                ("GET /portal/tickets/{id}", lambda: http.get(opened["portal_url"].split("desk.example.org")[1])),
                ("GET /queues", lambda: http.get("/queues", headers=agent)),
            ]
            print(f"{'request':38} {'calls':>5}  by operation")
            for label, step in steps:
                calls.clear()
                status = step().status_code
                detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
                print(f"{label:38} {sum(calls.values()):5}  {detail}  (HTTP {status})")
            stream_cost(client, outputs["TicketsTableStreamArn"])
            job_cost(client, outputs["TicketsTableStreamArn"], ticket)
    report_cost()


def stream_cost(client: Client, stream_arn: str) -> None:
    """The stream handler's DynamoDB calls per record, for the records the requests above wrote."""
    from localdesk.streams import StreamReader

    reader = StreamReader(boto3.client("dynamodbstreams"), stream_arn, "us-east-1")
    records: list[dict[str, Any]] = []
    while batch := reader.read():
        records.extend(batch)
    calls.clear()
    answer = client.lambda_.invoke("ticket_changes", {"Records": records}).payload
    per_record = sum(calls.values()) / len(records)
    detail = ", ".join(f"{op} {n / len(records):.1f}" for op, n in sorted(calls.items()))
    failed = len(answer["batchItemFailures"])
    print(f"{'stream record (' + str(len(records)) + ' in one batch)':38} {per_record:5.1f}  {detail}  per record")
    calls.clear()
    client.lambda_.invoke("ticket_changes", {"Records": records})
    again = sum(calls.values()) / len(records)
    detail = ", ".join(f"{op} {n / len(records):.1f}" for op, n in sorted(calls.items()))
    print(f"{'the same batch redelivered':38} {again:5.1f}  {detail}  per record; every put refused by its condition")
    print(f"failed records: {failed}")


def job_cost(client: Client, stream_arn: str, ticket: dict[str, str]) -> None:
    """Each scheduled job's DynamoDB calls when nothing is due, before and after the desk grows tenfold:
    a job reads its shard of the due index only, so the table's size does not show."""
    from localdesk.streams import StreamReader

    reader = StreamReader(boto3.client("dynamodbstreams"), stream_arn, "us-east-1")
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
    names = ("stale_sweep", "sla_sweep", "survey_sender", "outbox_retry")
    for size in ("42", "462"):
        if size == "462":
            for i in range(420):
                more = {**ticket, "requester_email": f"g{i}@example.org"}
                client.http.post("/tickets", headers={"Content-Type": "application/json"}, body=json.dumps(more))
            while batch := reader.read():
                client.lambda_.invoke("ticket_changes", {"Records": batch})
        for name in names:
            calls.clear()
            result = client.lambda_.invoke(name, event).payload
            detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
            label = f"job {name} ({size} tickets)"
            print(f"{label:38} {sum(calls.values()):5}  {detail}  {json.dumps(result)}")


# reports ---------------------------------------------------------------------------------------------------

FIRST_DAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday; the desk's calendar is Europe/London, GMT in November
DAYS = 14  # both desks open tickets on each of these days
SIZES = (28, 280)  # every day of both desks has every value of each grouping: the same cells, 10x the tickets
SENDER = "desk@example.org"
LAST = (FIRST_DAY + timedelta(days=DAYS - 1)).date()
RANGES = {
    "7d": f"from={LAST - timedelta(days=6)}&to={LAST}",
    "30d": f"from={LAST - timedelta(days=29)}&to={LAST}",
}
REPORTS = [
    ("sla", ""),
    ("sla", "group_by=priority"),
    ("sla", "group_by=assignee"),
    ("time-in-status", ""),
    ("time-in-status", "type=question"),
    ("workload", ""),
    ("satisfaction", ""),
    ("satisfaction", "group_by=team"),
]
CSV = [("sla", "group_by=assignee&format=csv"), ("satisfaction", "format=csv")]


class BenchClock:
    """The desk's clock, moved by the bench so that the tickets are spread over days."""

    def __init__(self) -> None:
        self.current = FIRST_DAY

    def now(self) -> datetime:
        return self.current

    def at(self, day: int, hour: int, minute: float = 0) -> None:
        self.current = FIRST_DAY + timedelta(days=day, hours=hour, minutes=minute)


class Measured(NamedTuple):
    calls: int
    read: int
    detail: str
    status: int


def measure(step: Callable[[], Any]) -> Measured:
    calls.clear()
    read.clear()
    status = step().status_code
    detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
    return Measured(sum(calls.values()), sum(read.values()), detail, status)


def fetch(client: Client, path: str, headers: dict[str, str]) -> Measured:
    return measure(lambda: client.http.get(path, headers=headers))


def report_cost() -> None:
    """Each report's DynamoDB calls and items read at two desk sizes over the same days: the same (but for the page
    of survey comments), since a report reads the cells of its range and grouping; then /queues, which reads
    every open ticket's tracker."""
    requests = [
        (f"/reports/{name}?{dates}" + (f"&{extra}" if extra else ""), f"{name} {span} {extra}".strip())
        for span, dates in RANGES.items()
        for name, extra in REPORTS
    ]
    requests += [(f"/reports/{name}?{RANGES['30d']}&{extra}", f"{name} 30d {extra}") for name, extra in CSV]
    found: dict[int, dict[str, Measured]] = {}
    backlog: dict[int, int] = {}
    from app import app

    for size in SIZES:
        with mock_aws(), Client(app) as client:
            backlog[size], agent = build_desk(client, size)
            found[size] = {label: fetch(client, path, agent) for path, label in [*requests, ("/queues", "queues")]}
    small, large = SIZES
    print()
    print(
        f"Reports at {small} | {large} tickets over the same {DAYS} days: reads follow range and grouping, not tickets."
    )
    print(f"{'report (7d and 30d to ' + str(LAST) + ')':38} {'calls':>9}  {'items read':>11}  by operation")
    for _, label in requests:
        a, b = found[small][label], found[large][label]
        detail = b.detail if a.detail == b.detail else f"{a.detail} | {b.detail}"
        status = "" if a.status == b.status == 200 else f"  (HTTP {a.status} | {b.status})"
        print(f"{label:38} {a.calls:3} | {b.calls:3}  {a.read:4} | {b.read:4}  {detail}{status}")
    print("(satisfaction also reads a page of survey comments: at most comments_limit + 2 = 52 items)")
    print()
    print("/queues reads the tracker of every open ticket: its reads grow with the backlog it counts.")
    print(f"{'request':38} {'calls':>5}  {'items read':>10}  by operation")
    for size in SIZES:
        q = found[size]["queues"]
        label = f"GET /queues ({backlog[size]} of {size} open)"
        print(f"{label:38} {q.calls:5}  {q.read:10}  {q.detail}  (HTTP {q.status})")


def build_desk(client: Client, size: int) -> tuple[int, dict[str, str]]:
    """A desk with `size` tickets over DAYS days, every change processed through the real stream handler; how many
    are left open, and an admin's headers.

    Each day, half the tickets are questions answered and resolved (their surveys sent by the job, then answered
    with a comment), half are defects answered and left in review; the SLA sweep runs every afternoon."""
    from chalicelib import wiring
    from infra.tables import create_stack
    from localdesk.streams import StreamReader

    outputs = create_stack(boto3.client("cloudformation"))
    os.environ["HELPDESK_TICKETS_TABLE"] = outputs["TicketsTableName"]
    os.environ["HELPDESK_DESK_TABLE"] = outputs["DeskTableName"]
    os.environ["HELPDESK_EVENTS_TABLE"] = outputs["EventsTableName"]
    os.environ["HELPDESK_SENDER_EMAIL"] = SENDER
    boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
    clock = BenchClock()
    mail: list[Any] = []
    wiring.reset(clock=clock, on_sent=mail.append)
    desk = wiring.desk()
    _, token = desk.create_agent({"name": "Bench", "email": "bench@example.org", "role": "admin"})
    desk.seed_config()
    agents = [
        desk.create_agent({"name": f"Agent {n}", "email": f"a{n}@example.org", "role": "agent"})[0].id for n in (1, 2)
    ]
    agent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    public = {"Content-Type": "application/json"}
    reader = StreamReader(boto3.client("dynamodbstreams"), outputs["TicketsTableStreamArn"], "us-east-1")
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])

    def drain() -> None:
        while batch := reader.read():
            failed = client.lambda_.invoke("ticket_changes", {"Records": batch}).payload["batchItemFailures"]
            if failed:
                raise RuntimeError(f"stream records failed: {failed}")

    def send(path: str, body: dict[str, Any], headers: dict[str, str] = agent, method: str = "post") -> Any:
        response = getattr(client.http, method)(path, headers=headers, body=json.dumps(body))
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.body!r}")
        return json.loads(response.body)

    defect_fields = {"product": "Billing", "version_affected": "4.2", "steps_to_reproduce": "Save an invoice."}
    opened = 0
    for day in range(DAYS):
        tickets: list[tuple[str, int, bool]] = []  # id, version, a defect
        for k in range(size // DAYS):
            clock.at(day, 9, 2 * k)
            defect = k % 2 == 1
            body: dict[str, Any] = {
                "type": "defect" if defect else "question",
                "subject": f"Ticket {day}.{k}",
                "description": "d",
                "requester_name": "n",
                "requester_email": f"r{day}.{k}@example.org",
            }
            if defect:
                body["fields"] = defect_fields
            ticket_id = send("/tickets", body, public)["id"]
            change = {"priority": ("low", "high")[(k + day) % 2], "assignee": agents[(k + day // 2) % 2]}
            clock.at(day, 9, 2 * k + 1)
            version = send(f"/tickets/{ticket_id}", {**change, "version": 1}, method="patch")["version"]
            tickets.append((ticket_id, version, defect))
        drain()
        answered = []
        for k, (ticket_id, version, defect) in enumerate(tickets):
            clock.at(day, 10, 30 + 2 * k)
            move = {"to": "in_review" if defect else "in_progress", "comment": "Looking now.", "public": True}
            moved = send(f"/tickets/{ticket_id}/transitions", {**move, "version": version})["version"]
            opened += defect
            answered += [] if defect else [(ticket_id, moved)]
        for k, (ticket_id, version) in enumerate(answered):
            clock.at(day, 12, 30 + 2 * k)
            send(f"/tickets/{ticket_id}/transitions", {"to": "resolved", "version": version})
        drain()
        clock.at(day, 15, 30)
        sent_before = len(mail)
        for job in ("survey_sender", "sla_sweep"):
            client.lambda_.invoke(job, event)
            drain()
        clock.at(day, 16)
        for number, sent in enumerate(m for m in mail[sent_before:] if m.kind == "survey"):
            link = re.search(r"/surveys/([^\s\"<>?]+)", sent.text)
            if link is None:
                raise RuntimeError(f"no survey link in {sent.text!r}")
            answer = {"rating": 1 + (number + day) % 5, "comment": "Thank you."}
            send(f"/surveys/{link.group(1)}", answer, public)
        drain()
    clock.at(DAYS - 1, 18)
    del os.environ["HELPDESK_SENDER_EMAIL"]
    return opened, agent


if __name__ == "__main__":
    main()
