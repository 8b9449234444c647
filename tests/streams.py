"""Moto's real tickets stream, read and handed to the deployed stream handler as Lambda would."""

from __future__ import annotations

from typing import Any

from chalice.test import Client

from localdesk.streams import StreamReader

HANDLER = "ticket_changes"


class Stream:
    """`records()` reads what was written since the last read; `deliver()` invokes the real handler."""

    def __init__(self, client: Client, stream_arn: str) -> None:
        import boto3

        self.client = client
        self.reader = StreamReader(boto3.client("dynamodbstreams", region_name="us-east-1"), stream_arn, "us-east-1")

    def records(self) -> list[dict[str, Any]]:
        collected: list[dict[str, Any]] = []
        while True:
            batch = self.reader.read()
            if not batch:
                return collected
            collected.extend(batch)

    def deliver(self, records: list[dict[str, Any]]) -> list[str]:
        """The sequence numbers the handler reported as failed."""
        answer = self.client.lambda_.invoke(HANDLER, {"Records": records}).payload
        return [f["itemIdentifier"] for f in answer["batchItemFailures"]]

    def drain(self) -> list[dict[str, Any]]:
        """Process everything written so far; fail the test if any record failed."""
        records = self.records()
        if records:
            failed = self.deliver(records)
            assert failed == [], f"stream records failed: {failed}"
        return records
