"""Cold-start import cost: median wall time of fresh interpreters importing what each Lambda loads.

    .venv/bin/python bench/cold_start.py [runs]

First from the working tree (the venv's libraries), then from the deploy bundle as Lambda runs it: the stripped
deployment.zip unpacked, in `python -I -S -B` (no site-packages, no writing bytecode: /var/task is read-only) with
only the runtime's libraries (boto3, botocore and their dependencies) beside it, with and without the bundle's
bytecode. Also prints the bundle's size before and after stripping. Prints measurements; asserts nothing (these
machines are noisy).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra import bundle, package  # noqa: E402 - the repository root is on sys.path only now

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


# The same as the first probes, run from an unpacked bundle: sys.argv holds the bundle and the runtime's libraries.
BUNDLE_PROBES = {
    "import app": "import app",
    "app + DynamoDB adapters": PROBES["app + DynamoDB adapters (first API request)"],
}
ISOLATED = ["-I", "-S", "-B"]


def measure(code: str, runs: int, flags: tuple[str, ...] = (), args: tuple[str, ...] = ()) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *flags, "-c", code, *args], cwd=ROOT, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def bundles(scratch: Path) -> tuple[int, dict[str, tuple[int, Path]]]:
    """Chalice's bundle's size, and the stripped ones (with and without bytecode): their sizes and unpacked folders."""
    package.chalice_package("prod", scratch / "plain")
    chalices = scratch / "plain" / "deployment.zip"
    stripped = {}
    for label, bytecode in (("with bytecode", True), ("without bytecode", False)):
        lean = scratch / f"{label}.zip"
        done = bundle.strip_bundle(chalices, lean, bytecode=bytecode)
        folder = scratch / label.replace(" ", "-")
        with zipfile.ZipFile(lean) as archive:
            archive.extractall(folder)
        stripped[label] = (done.after_bytes, folder)
    return chalices.stat().st_size, stripped


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    baseline = statistics.median(measure("pass", runs))
    print(f"{'probe':48} {'median ms':>10} {'over python':>12}  ({runs} fresh interpreters each)")
    for name, code in PROBES.items():
        median = statistics.median(measure(code, runs))
        print(f"{name:48} {median:10.0f} {median - baseline:12.0f}")

    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as scratch:
        before, stripped = bundles(Path(scratch))
        site_packages = Path(str(distribution("botocore").locate_file("")))
        runtime = bundle.runtime_stand_in(site_packages, Path(scratch) / "runtime")
        print(f"\ndeployment.zip: {before / 1e6:.2f} MB as chalice packages it; stripped: ", end="")
        print(", ".join(f"{size / 1e6:.2f} MB {label}" for label, (size, _) in stripped.items()))
        isolated = statistics.median(measure("pass", runs, tuple(ISOLATED)))
        print(f"{'bundle, as Lambda imports it':48} {'median ms':>10} {'over python':>12}  (python -I -S -B)")
        for label, (_, folder) in stripped.items():
            for name, code in BUNDLE_PROBES.items():
                setup = f"import sys; sys.path[:0] = sys.argv[1:3]; {code}"
                median = statistics.median(measure(setup, runs, tuple(ISOLATED), (str(folder), str(runtime))))
                print(f"{f'{name}, {label}':48} {median:10.0f} {median - isolated:12.0f}")


if __name__ == "__main__":
    main()
