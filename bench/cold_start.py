"""Cold-start import cost: median wall time of fresh interpreters importing what each Lambda loads.

    .venv/bin/python bench/cold_start.py [runs]

Prints measurements; asserts nothing (these machines are noisy).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBES = {
    "python itself": "pass",
    "import app (every handler)": "import app",
    "app + DynamoDB adapters (first API request)": (
        "import app; from chalicelib.adapters import dynamo, records; records.bind_tables('t', 'd', 'e', 'us-east-1')"
    ),
    "app + page rendering (first /form)": (
        "import app; from chalicelib.web import pages; pages.render('message.html', title='t', message='m')"
    ),
}


def measure(code: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    baseline = statistics.median(measure("pass", runs))
    print(f"{'probe':48} {'median ms':>10} {'over python':>12}  ({runs} fresh interpreters each)")
    for name, code in PROBES.items():
        median = statistics.median(measure(code, runs))
        print(f"{name:48} {median:10.0f} {median - baseline:12.0f}")


if __name__ == "__main__":
    main()
