"""Entry glue for the tickets table's stream: each record on its own; failures go back to Lambda by sequence number."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import DynamoDBEvent

logger = logging.getLogger("helpdesk.stream")


def handle_batch(event: DynamoDBEvent) -> dict[str, Any]:
    """Process every record; answer Lambda's partial batch response naming the ones that failed.

    One bad record does not stop the others. Lambda (with ReportBatchItemFailures) redelivers from the
    first failed record on, so the ones after it come again: processing is idempotent for that reason.
    """
    from chalicelib import wiring
    from chalicelib.adapters.images import decode_record

    pipeline = wiring.pipeline()
    failures: list[dict[str, str]] = []
    changed = False
    # The raw records, not Chalice's DynamoDBRecord objects: building one raises on a malformed record,
    # which would fail the whole batch instead of that record.
    for raw in event.to_dict().get("Records") or []:
        dynamodb = raw.get("dynamodb") if isinstance(raw, dict) else None
        sequence = str(dynamodb.get("SequenceNumber", "")) if isinstance(dynamodb, dict) else ""
        try:
            change = decode_record(raw)
            if change is not None:
                pipeline.apply(change)
                changed = True
        except Exception:
            logger.exception(
                "stream record failed",
                extra={
                    "event_id": _field(raw, "eventID"),
                    "sequence_number": sequence,
                    "event_name": _field(raw, "eventName"),
                },
            )
            failures.append({"itemIdentifier": sequence})
    if changed:
        _mark_changed()
    return {"batchItemFailures": failures}


def _mark_changed() -> None:
    """One write per batch tells every open console that its queue may have changed (a poll reads just this)."""
    from chalicelib import wiring

    try:
        wiring.change_marks().bump(wiring.desk().clock.now())
    except Exception:
        logger.exception("could not bump the console's change mark")  # consoles then refresh on their next change


def _field(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else None
