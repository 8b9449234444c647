"""Webhook deliveries in the local run: app.py's webhook_sender in a thread of its own, as Lambda runs it when the
stream or the outbox job invokes it without waiting; the POST itself is made outside the gate, so a slow receiver
holds up neither the stream, nor the jobs, nor a request."""

from __future__ import annotations

import logging
import os
from typing import Any

from chalice import Chalice

from chalicelib.services.webhooks import Posted, Poster
from localdesk.server import Gate

logger = logging.getLogger("localdesk.webhooks")
BUS_NAME = "helpdesk-local-events"


class OutsideTheGate:
    """The deliverer's POST, made while the gate is open to others (it touches no moto)."""

    def __init__(self, inner: Poster, gate: Gate) -> None:
        self.inner = inner
        self.gate = gate

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Posted:
        with self.gate.outside():
            return self.inner.post(url, body, headers, timeout)


def install(app: Chalice, gate: Gate, region: str) -> None:
    """The local bus (moto's EventBridge), and deliveries handed to webhook_sender in a thread, at the gate."""
    import boto3
    from chalice.local import LambdaContext

    from chalicelib import wiring
    from chalicelib.adapters.webhook_transport import HttpPoster, ThreadHandoff

    boto3.client("events", region_name=region).create_event_bus(Name=BUS_NAME)
    os.environ["HELPDESK_EVENT_BUS"] = BUS_NAME
    handler = app.handler_map["webhook_sender"]
    context = LambdaContext("webhook_sender", memory_size=512)

    def run(event: dict[str, Any]) -> Any:
        with gate.turn():
            return handler(event, context)

    wiring.use_webhook_handoff(ThreadHandoff(run), OutsideTheGate(HttpPoster(local=True), gate))
