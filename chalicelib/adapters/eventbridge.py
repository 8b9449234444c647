"""The desk's EventBridge bus: every published event is one entry (Source "helpdesk", DetailType its kind)."""

from __future__ import annotations

import json
import logging
from typing import Any

from chalicelib.domain.webhooks import SOURCE

logger = logging.getLogger("helpdesk.eventbridge")
BATCH = 10  # PutEvents takes at most ten entries a call


class EventBridgeBus:
    """boto3's client is made on the first put: a function that publishes nothing never loads it."""

    def __init__(self, bus_name: str, region: str) -> None:
        self.bus_name = bus_name
        self.region = region
        self._client: Any = None

    def _events(self) -> Any:
        if self._client is None:
            import boto3

            from chalicelib.adapters.meter import watch

            self._client = watch(boto3.client("events", region_name=self.region))
        return self._client

    def put(self, events: list[dict[str, Any]]) -> list[str]:
        """The ids of the events the bus refused (its answer lists the entries in the order given)."""
        refused: list[str] = []
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            entries = [
                {
                    "Source": SOURCE,
                    "DetailType": str(event["kind"]),
                    "Detail": json.dumps(event, ensure_ascii=False, sort_keys=True),
                    "EventBusName": self.bus_name,
                    "Resources": [],
                }
                for event in batch
            ]
            answer = self._events().put_events(Entries=entries)
            failed = int(answer.get("FailedEntryCount") or 0)
            if failed:
                results = list(answer.get("Entries") or [])
                codes = [e.get("ErrorCode") for e in results if e.get("ErrorCode")]
                logger.error("EventBridge refused %d of %d events: %s", failed, len(entries), codes)
                if len(results) == len(batch):
                    refused += [str(ev["id"]) for ev, r in zip(batch, results, strict=True) if r.get("ErrorCode")]
                else:  # an answer without its entries: none can be told apart, so all are tried again
                    refused += [str(ev["id"]) for ev in batch]
        return refused
