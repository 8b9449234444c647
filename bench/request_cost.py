"""DynamoDB calls each desk request makes, counted under moto: the request's cost, independent of machine speed.

    .venv/bin/python bench/request_cost.py

Prints measurements; asserts nothing. Reads and writes are what on-demand DynamoDB bills.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

calls: Counter[str] = Counter()
_real_call_action = BaseResponse.call_action


def _counting_call_action(self: BaseResponse) -> Any:
    if self.service_name == "dynamodb":
        calls[self._get_action()] += 1
    return _real_call_action(self)


BaseResponse.call_action = _counting_call_action  # type: ignore[method-assign]


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
    print(f"{'the same batch redelivered':38} {again:5.1f}  per record; every put refused by its condition")
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


if __name__ == "__main__":
    main()
