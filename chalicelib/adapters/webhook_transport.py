"""How deliveries leave: one HTTP POST with a short timeout, and the hand-over to the webhook_sender function."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from chalicelib.services.webhooks import DeliveryKey, Posted

logger = logging.getLogger("helpdesk.webhooks")
ANSWER_READ_LIMIT = 4096  # what is read of a receiver's answer (then the connection is closed)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: a POST is never turned into a GET to another address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects())


class HttpPoster:
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Posted:
        started = time.perf_counter()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - https (or local) only, checked on create
        status: int | None = None
        error: str | None = None
        try:
            with _opener.open(request, timeout=timeout) as answer:
                answer.read(ANSWER_READ_LIMIT)
                status = int(answer.status)
        except urllib.error.HTTPError as refused:
            status = int(refused.code)
            refused.close()
        except TimeoutError:
            error = f"no answer within {timeout:g} s"
        except urllib.error.URLError as failed:
            reason = failed.reason
            error = f"no answer within {timeout:g} s" if isinstance(reason, TimeoutError) else f"not reached: {reason}"
        except OSError as failed:
            error = f"not reached: {failed}"
        duration = int((time.perf_counter() - started) * 1000)
        return Posted(status, error, duration)


def payload(keys: list[DeliveryKey]) -> dict[str, Any]:
    """The webhook_sender function's event: the keys of the deliveries to send."""
    return {
        "deliveries": [{"ticket_id": k.ticket_id, "webhook_id": k.webhook_id, "event_key": k.event_key} for k in keys]
    }


def keys_of(event: Any) -> list[DeliveryKey]:
    """The keys in a webhook_sender event; anything malformed is left out (and logged)."""
    found: list[DeliveryKey] = []
    items = event.get("deliveries") if isinstance(event, dict) else None
    for item in items if isinstance(items, list) else []:
        try:
            found.append(DeliveryKey(str(item["ticket_id"]), str(item["webhook_id"]), str(item["event_key"])))
        except (KeyError, TypeError):
            logger.warning("a malformed delivery key was left out: %r", item)
    return found


class LambdaHandoff:
    """Deployed: invokes the webhook_sender function without waiting for it (InvocationType Event)."""

    def __init__(self, function_name: str, region: str) -> None:
        self.function_name = function_name
        self.region = region
        self._client: Any = None

    def __call__(self, keys: list[DeliveryKey]) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("lambda", region_name=self.region)
        self._client.invoke(
            FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(payload(keys)).encode()
        )


class ThreadHandoff:
    """The local run: the same function, run in a thread of this process, so the stream never waits for it."""

    def __init__(self, run: Callable[[dict[str, Any]], Any]) -> None:
        self.run = run

    def __call__(self, keys: list[DeliveryKey]) -> None:
        event = payload(keys)
        threading.Thread(target=self._run, args=(event,), name="webhook_sender", daemon=True).start()

    def _run(self, event: dict[str, Any]) -> None:
        try:
            self.run(event)
        except Exception:
            logger.exception("webhook_sender failed; the outbox job retries what it did not send")
