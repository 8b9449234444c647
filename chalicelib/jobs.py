"""Entry glue for the scheduled jobs: each schedule handler runs one job and answers what it did."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("helpdesk.jobs")
JOB_NAMES = ("stale_sweep", "sla_sweep", "survey_sender", "outbox_retry")
# The retention job rides on the hourly stale sweep: a schedule of its own would cost an invocation an hour.
RETENTION_HOST = "stale_sweep"


def run(name: str) -> dict[str, Any]:
    """Run one job now; every job is idempotent, so a rerun or an overlapping run changes nothing twice."""
    from chalicelib import wiring

    if name not in JOB_NAMES:
        raise ValueError(f"unknown job {name!r}")
    summary: dict[str, Any] = getattr(wiring.jobs(), name)()
    if name == RETENTION_HOST and (erased := _retention()):
        summary["retention"] = erased  # only when the desk keeps tickets for a while: off, it adds nothing
    logger.info("job %s done", name, extra={"job": name, "summary": summary})
    return summary


def _retention() -> dict[str, Any]:
    """Erase the done tickets past the desk's retention (a bounded number per run); its failure is logged and
    leaves the stale sweep's work done (the next hour's run continues where the last one stopped)."""
    from chalicelib import wiring

    try:
        return wiring.personal_data().retention_sweep()
    except Exception:
        logger.exception("the retention job failed")
        return {"failed": True}
