"""A flood of anonymous posts against the desk, in process under moto: what the limits let through, what they
refused with 429, and the mails the desk sent for it.

    .venv/bin/python bench/flood.py

Prints counts; asserts nothing. Runs the deployed app through Chalice's test client (as the local run does) with
the shipped configuration's limits, setting the source IP API Gateway would report per request: the local run
always reports 127.0.0.1, so a flood from many addresses can only be shown this way. Stream records are handed to
the real stream handler, and the outbox job runs once at the end, so held mail counts too.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[name]
SENDER = "desk@example.org"
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's fake credentials
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    HELPDESK_PUBLIC_URL="https://desk.example.org",
    HELPDESK_SENDER_EMAIL=SENDER,
)

import boto3  # noqa: E402
from chalice.local import LambdaEventConverter  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from localdesk.motofix import install as install_moto_fix  # noqa: E402

install_moto_fix()
PUBLIC = {"Content-Type": "application/json"}
TICKET = {"subject": "Help", "description": "Please help.", "requester_name": "Flood"}


def main() -> None:
    from chalicelib import wiring
    from chalicelib.services.ports import SentMail
    from infra.tables import create_stack
    from localdesk.streams import StreamReader

    sent: Counter[str] = Counter()

    def on_sent(mail: SentMail) -> None:
        sent[mail.kind] += 1

    with mock_aws():
        outputs = create_stack(boto3.client("cloudformation"))
        os.environ["HELPDESK_TICKETS_TABLE"] = outputs["TicketsTableName"]
        os.environ["HELPDESK_DESK_TABLE"] = outputs["DeskTableName"]
        os.environ["HELPDESK_EVENTS_TABLE"] = outputs["EventsTableName"]
        boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
        wiring.reset(on_sent=on_sent)
        for i in range(6):
            wiring.desk().create_agent({"name": f"Agent {i}", "email": f"agent{i}@example.org", "role": "admin"})
        wiring.desk().seed_config()
        settings = wiring.desk().config().desk
        print(
            "limits per hour: "
            f"posts per IP {settings.posts_per_ip_per_hour}, new tickets per address {settings.new_tickets_per_hour}, "
            f"portal comments per requester {settings.portal_comments_per_hour}, "
            f"acknowledgements per desk {settings.acknowledgements_per_hour}"
        )
        from app import app

        reader = StreamReader(boto3.client("dynamodbstreams"), outputs["TicketsTableStreamArn"], "us-east-1")
        with Client(app) as client:

            def post(path: str, body: dict[str, Any], ip: str) -> tuple[int, Any]:
                LambdaEventConverter.LOCAL_SOURCE_IP = ip
                response = client.http.post(path, headers=PUBLIC, body=json.dumps(body))
                return response.status_code, json.loads(response.body or b"null")

            def drain() -> None:
                while batch := reader.read():
                    client.lambda_.invoke("ticket_changes", {"Records": batch})

            def flood(label: str, posts: list[tuple[str, dict[str, Any], str]]) -> list[Any]:
                before = sum(sent.values())
                answers = [post(path, body, ip) for path, body, ip in posts]
                drain()
                codes = Counter(code for code, _ in answers)
                other = len(posts) - codes[201] - codes[429]
                print(
                    f"{label:58} accepted {codes[201]:3}  refused 429 {codes[429]:3}  other {other:3}"
                    f"  mails sent {sum(sent.values()) - before:3}"
                )
                return [answer for code, answer in answers if code == 201]

            flood(
                "200 tickets, one IP, plus-addresses of one gmail mailbox",
                [
                    ("/tickets", {**TICKET, "requester_email": f"ro.sa+{i}@gmail.com"}, "203.0.113.1")
                    for i in range(200)
                ],
            )
            flood(
                "200 tickets, 200 IPs, one mailbox spelled 200 ways",
                [
                    (
                        "/tickets",
                        {**TICKET, "requester_email": f"{'.'.join('bob')}{'.' * (i % 2)}+{i}@gmail.com"},
                        f"198.51.{i // 250}.{i % 250 + 1}",
                    )
                    for i in range(200)
                ],
            )
            opened = flood(
                "300 tickets, 300 IPs, 300 different addresses",
                [
                    (
                        "/tickets",
                        {**TICKET, "requester_email": f"user{i}@example.net"},
                        f"10.1.{i // 250}.{i % 250 + 1}",
                    )
                    for i in range(300)
                ],
            )
            portal = opened[0]["portal_url"].split("desk.example.org", 1)[1]
            path = portal.replace("?token=", "/comments?token=")
            flood(
                "100 portal comments on one ticket, one IP",
                [(path, {"body": f"comment {i}"}, "192.0.2.10") for i in range(100)],
            )
            flood(
                "100 portal comments on one ticket, 100 IPs",
                [(path, {"body": f"comment {i}"}, f"192.0.3.{i + 1}") for i in range(100)],
            )
    print("mails sent, by kind:", ", ".join(f"{kind} {n}" for kind, n in sorted(sent.items())))
    print(f"mails sent in all: {sum(sent.values())}")


if __name__ == "__main__":
    main()
