"""The console's page weight and what its polling costs: bytes over the wire (raw and gzip, as API Gateway compresses
with the stage's minimum compression size), requests per page, and DynamoDB calls per console request.

    .venv/bin/python bench/page_weight.py

Prints measurements; asserts nothing. The budget: the first console page and its assets at most 100 KB compressed;
later pages reuse the cached (content-hashed, immutable) assets.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
from collections import Counter
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

from localdesk.motofix import install as install_moto_fix  # noqa: E402

calls: Counter[str] = Counter()
_real_call_action = BaseResponse.call_action


def _counting_call_action(self: BaseResponse) -> Any:
    target = self.headers.get("X-Amz-Target", "") if self.headers else ""
    if target.startswith("DynamoDB_"):
        calls[target.split(".", 1)[1]] += 1
    return _real_call_action(self)


BaseResponse.call_action = _counting_call_action  # type: ignore[method-assign]


def size(body: bytes) -> tuple[int, int]:
    return len(body), len(gzip.compress(body, compresslevel=6))


def as_bytes(body: Any) -> bytes:
    return body if isinstance(body, bytes) else str(body or "").encode()


def main() -> None:
    from app import app
    from chalicelib import wiring
    from infra.tables import create_stack

    install_moto_fix()
    with mock_aws():
        outputs = create_stack(boto3.client("cloudformation"))
        os.environ["HELPDESK_TICKETS_TABLE"] = outputs["TicketsTableName"]
        os.environ["HELPDESK_DESK_TABLE"] = outputs["DeskTableName"]
        os.environ["HELPDESK_EVENTS_TABLE"] = outputs["EventsTableName"]
        wiring.reset()
        desk = wiring.desk()
        desk.seed_config()
        _, token = desk.create_agent({"name": "Bench Admin", "email": "bench@example.org", "role": "admin"})
        with Client(app) as client:
            for n in range(25):
                client.http.post(
                    "/tickets",
                    headers={"Content-Type": "application/json"},
                    body=json.dumps(
                        {
                            "type": "question",
                            "subject": f"Printer {n} is offline",
                            "description": "It shows offline.",
                            "requester_name": "Rosa Diaz",
                            "requester_email": "rosa@example.org",
                        }
                    ),
                )
            signed = client.http.post(
                "/console/sign-in",
                headers={"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
                body=f"token={token}",
            )
            cookie = signed.headers["Set-Cookie"].split(";", 1)[0]
            headers = {"Cookie": cookie, "Accept": "text/html"}

            def get(path: str) -> tuple[bytes, int]:
                calls.clear()
                response = client.http.get(path, headers=headers)
                return as_bytes(response.body), sum(calls.values())

            queue, queue_calls = get("/console")
            assets = re.findall(r'(?:href|src)="https://desk\.example\.org(/static/[^"]+)"', queue.decode())
            print(f"{'what':44} {'bytes':>9} {'gzip':>9}  DynamoDB calls")
            total_raw, total_gzip = 0, 0
            raw, packed = size(queue)
            total_raw, total_gzip = raw, packed
            print(f"{'GET /console (25 open tickets)':44} {raw:9,} {packed:9,}  {queue_calls}")
            for path in assets:
                body, _ = get(path)
                raw, packed = size(body)
                total_raw += raw
                total_gzip += packed
                print(f"{path:44} {raw:9,} {packed:9,}")
            print(f"{'first console page with its assets':44} {total_raw:9,} {total_gzip:9,}  (budget 100 KB gzip)")
            print(f"{'requests for the first page':44} {1 + len(assets):9}")
            ticket_id = re.search(r'data-id="([0-9A-Z]+)"', queue.decode())
            if ticket_id is None:
                raise SystemExit("the queue page lists no ticket")
            for label, path in (
                ("GET /console/tickets/{id} (assets cached)", f"/console/tickets/{ticket_id.group(1)}"),
                ("GET /console/reports", "/console/reports"),
            ):
                body, used = get(path)
                raw, packed = size(body)
                print(f"{label:44} {raw:9,} {packed:9,}  {used}")
            token_match = re.search(r'data-token="([0-9a-f]+)"', queue.decode())
            if token_match is None:
                raise SystemExit("the queue page carries no change token")
            body, used = get(f"/console/poll?view=open&token={token_match.group(1)}")
            raw, packed = size(body)
            print(f"{'GET /console/poll, nothing changed':44} {raw:9,} {packed:9,}  {used}")
            polls = 5 * 8 * 60 * 2 * 22  # 5 agents, 8 hours a day, every 30 s while visible, 22 working days
            print(f"\npolls in a month (5 agents, 8 h a day, every 30 s, 22 days): {polls:,}")
            print(f"  API Gateway at $3.50 per million: ${polls * 3.5 / 1e6:.2f}")
            print(f"  Lambda at $0.20 per million: ${polls * 0.2 / 1e6:.2f}")
            reads = polls * used
            print(f"  DynamoDB: {reads:,} small reads, ${reads * 0.125 / 1e6:.3f} at $0.125 per million read units")


if __name__ == "__main__":
    main()
