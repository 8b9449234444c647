"""Entry glue for the scheduled jobs: each schedule handler runs one job and answers what it did."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("helpdesk.jobs")
JOB_NAMES = ("stale_sweep", "sla_sweep", "survey_sender", "outbox_retry")


def run(name: str) -> dict[str, Any]:
    """Run one job now; every job is idempotent, so a rerun or an overlapping run changes nothing twice."""
    from chalicelib import wiring

    if name not in JOB_NAMES:
        raise ValueError(f"unknown job {name!r}")
    summary: dict[str, Any] = getattr(wiring.jobs(), name)()
    logger.info("job %s done", name, extra={"job": name, "summary": summary})
    return summary
