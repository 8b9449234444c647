"""The Lambda bundle, lean: without what the Python runtime already has, with bytecode, the same bytes every time.

`chalice package` vendors every dependency of requirements.txt, and pynamodb's botocore (with its own
dependencies) is ~90% of its zip. The Lambda Python runtimes ship boto3 and what it needs in /var/runtime, on
`sys.path` after the function's own code, so the bundle leaves those distributions out and imports the runtime's.
The deployed desk then runs on the botocore AWS ships (older than the pinned one, and updated by AWS): the app uses
only long-standing botocore APIs (clients, `Config` timeouts and retry modes, `ClientError`).

Lambda unpacks the bundle read-only, so Python cannot write `__pycache__` there: without bytecode in the zip every
cold start compiles every module it imports. The bundle carries unchecked hash-based `.pyc` files (PEP 552): valid
for the interpreter that packaged it, which is the runtime's version (Chalice names the runtime after it), and
never checked against a source file's timestamp, which unzipping would change.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import marshal
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

# What the Lambda Python runtimes have in /var/runtime (AWS's "Runtime-included SDK versions"): boto3 and its
# dependency closure.
RUNTIME_DISTRIBUTIONS = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
# Their import names, for building a stand-in for the runtime from an installed environment (tests, bench/).
RUNTIME_IMPORT_NAMES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
# 2 MiB until business calendars took their public holidays from the holidays library (issue 14): measured with
# `make package`, 1,933,588 bytes without it, 4,303,532 with it (its 500 modules' source, 0.84 MB zipped, and their
# bytecode, 1.35 MB: importing one country imports every country module, so the bytecode stays; its translations
# are left out, below, which saves 0.85 MB more). A desk whose calendar names no country never imports it. Lambda
# takes 50 MB zipped.
LIMIT_BYTES = 4608 * 1024  # 4.5 MiB
# Files of a kept distribution that the desk never reads: the holidays library's translations of holiday names
# (gettext catalogues, 0.66 MB of its 1.7 MB wheel). The desk asks only which days are public holidays, never
# their names in another language, and the library works without them (names in the country's own language).
UNUSED_FILES = re.compile(r"^holidays/locale/.+\.(?:mo|po)$")
# The earliest time a zip entry can carry: every entry gets it, so the bytes depend on the contents alone.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
UNIX = 3  # zip "made by" system: the mode bits in external_attr are Unix ones
DIST_INFO = re.compile(r"^([^/]+)\.dist-info/METADATA$")
# The pyc header flags of PEP 552: hash-based (bit 0), not checked against the source (bit 1 clear).
UNCHECKED_HASH = (1).to_bytes(4, "little")
PYCACHE = "__pycache__"  # where the import system looks for a module's bytecode (no PYTHONPYCACHEPREFIX there)


class BundleError(Exception):
    """The bundle cannot be stripped as it is (a distribution's files are not listed)."""


@dataclass(frozen=True)
class Distribution:
    name: str  # normalised, e.g. "python-dateutil"
    version: str
    files: frozenset[str]  # every zip entry that belongs to it, its .dist-info and .data included


@dataclass(frozen=True)
class Stripped:
    before_bytes: int
    after_bytes: int
    removed: tuple[str, ...]  # "botocore 1.44.8", ...
    kept: tuple[str, ...]
    compiled: int  # modules given bytecode


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(bundle: zipfile.ZipFile) -> list[Distribution]:
    """The installed distributions in a bundle, from their METADATA and RECORD (the wheel's list of its files)."""
    names = set(bundle.namelist())
    found = []
    for entry in sorted(names):
        match = DIST_INFO.match(entry)
        if not match:
            continue
        info = match.group(1)
        metadata = HeaderParser().parsestr(bundle.read(entry).decode("utf-8"))
        record = f"{info}.dist-info/RECORD"
        if record not in names:
            raise BundleError(f"{info}.dist-info has no RECORD: which files are {metadata['Name']}'s is unknown")
        listed = {row[0] for row in csv.reader(io.StringIO(bundle.read(record).decode("utf-8"))) if row}
        own = {n for n in names if n.startswith((f"{info}.dist-info/", f"{info}.data/"))}
        found.append(Distribution(normalise(metadata["Name"]), metadata["Version"], frozenset((listed & names) | own)))
    return found


def _bytecode(name: str, source: bytes) -> tuple[str, bytes] | None:
    """The `__pycache__` entry for a module, or None for a file this interpreter cannot compile (left as it is)."""
    try:
        code = compile(source, name, "exec", dont_inherit=True, optimize=0)  # what a plain `python` loads
    except (SyntaxError, ValueError):
        return None
    header = importlib.util.MAGIC_NUMBER + UNCHECKED_HASH + importlib.util.source_hash(source)
    folder, _, file = name.rpartition("/")
    cached = f"{folder}/{PYCACHE}/{file[: -len('.py')]}.{sys.implementation.cache_tag}.pyc".lstrip("/")
    return cached, header + marshal.dumps(code)


def _entries(bundle: zipfile.ZipFile, leave_out: set[str], bytecode: bool) -> Iterator[tuple[str, bytes, int]]:
    """(name, contents, mode) of every file kept, bytecode added if asked; the source zip's own bytecode dropped."""
    for info in bundle.infolist():
        name = info.filename
        if info.is_dir() or name in leave_out or f"{PYCACHE}/" in name or name.endswith(".pyc"):
            continue
        data = bundle.read(name)
        mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
        yield name, data, mode
        if bytecode and name.endswith(".py"):
            compiled = _bytecode(name, data)
            if compiled is not None:
                yield compiled[0], compiled[1], 0o644


def write_zip(target: Path, entries: Iterable[tuple[str, bytes, int]]) -> None:
    """Sorted entries with one timestamp and plain modes: the same files give the same zip."""
    with zipfile.ZipFile(target, "w") as out:
        for name, data, mode in sorted(entries):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.create_system = UNIX
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data, compresslevel=9)


def strip_bundle(source: Path, target: Path, *, bytecode: bool = True) -> Stripped:
    """Write target: source without the runtime's distributions and the files no one reads (`UNUSED_FILES`), with
    bytecode (source and target may be the same).

    `bytecode=False` is for measuring what the bytecode costs in size and saves in import time (bench/cold_start.py).
    """
    before = source.stat().st_size
    with zipfile.ZipFile(source) as bundle:
        found = distributions(bundle)
        removed = [d for d in found if d.name in RUNTIME_DISTRIBUTIONS]
        leave_out = {name for d in removed for name in d.files}
        leave_out |= {name for name in bundle.namelist() if UNUSED_FILES.match(name)}
        entries = list(_entries(bundle, leave_out, bytecode))
    write_zip(target, entries)
    return Stripped(
        before_bytes=before,
        after_bytes=target.stat().st_size,
        removed=tuple(f"{d.name} {d.version}" for d in removed),
        kept=tuple(f"{d.name} {d.version}" for d in found if d not in removed),
        compiled=sum(1 for name, _, _ in entries if name.endswith(".pyc")),
    )


def runtime_stand_in(site_packages: Path, target: Path) -> Path:
    """A folder holding only the runtime's libraries (links into an installed environment): what /var/runtime has."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_IMPORT_NAMES:
        package, module = site_packages / name, site_packages / f"{name}.py"
        installed = package if package.is_dir() else module
        if not installed.exists():
            raise BundleError(f"{name} is not installed in {site_packages}")
        (target / installed.name).symlink_to(installed, target_is_directory=installed.is_dir())
    return target
