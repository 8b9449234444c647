"""Entry glue for the webhook_sender function: send the deliveries named in the event, each on its own."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("helpdesk.webhooks")


def send(event: Any) -> dict[str, Any]:
    """What became of each delivery. A delivery that fails stays due for the outbox job, so nothing is raised for
    it (an asynchronous invocation that raises is retried by Lambda, which would only add attempts)."""
    from chalicelib import wiring
    from chalicelib.adapters.webhook_transport import keys_of

    keys = keys_of(event)
    tally = wiring.deliverer().deliver(keys)
    logger.info("webhook deliveries", extra={"deliveries": len(keys), "tally": tally})
    return tally
