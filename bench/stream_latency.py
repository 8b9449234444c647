"""How long after a change its history is readable on the local run: the stream poller's latency, measured.

Starts `python -m localdesk` as a person runs it, moves tickets through the API and polls each one's history until
the change is there. Prints the median and the worst of the waits; nothing is asserted (these machines are noisy).

    .venv/bin/python bench/stream_latency.py [changes]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.localrun import LocalDesk, LocalRun

GIVE_UP_AFTER = 30.0


def main(changes: int) -> None:
    run = LocalRun()
    try:
        desk = LocalDesk(run)
        waits: list[float] = []
        for n in range(changes):
            ticket = desk.open_ticket(subject=f"Latency {n}")
            history = f"/tickets/{ticket['id']}/history"
            desk.api("POST", f"/tickets/{ticket['id']}/transitions", {"to": "in_progress", "version": 1})
            started = time.monotonic()
            while time.monotonic() - started < GIVE_UP_AFTER:
                _, answer = desk.api("GET", history)
                if any(e["kind"] == "status_changed" for e in answer["events"]):
                    break
                time.sleep(0.02)
            waits.append(time.monotonic() - started)
        waits.sort()
        print(f"changes measured: {len(waits)}")
        print(
            f"history readable after a change: median {statistics.median(waits) * 1000:.0f} ms, "
            f"p90 {waits[int(len(waits) * 0.9) - 1] * 1000:.0f} ms, worst {waits[-1] * 1000:.0f} ms"
        )
    finally:
        run.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
