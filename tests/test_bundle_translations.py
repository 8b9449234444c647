"""The Lambda bundle leaves out the holidays library's translations (infra/bundle.py), and the library still answers
which days are public holidays without them, whatever language the environment asks for."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from infra import bundle

PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
from datetime import date
import holidays
assert holidays.__file__.startswith(sys.argv[1]), holidays.__file__
england = holidays.country_holidays("GB", subdiv="ENG")
bavaria = holidays.country_holidays("DE", subdiv="BY")
days = [(england, date(2026, 12, 25)), (england, date(2026, 12, 28)), (bavaria, date(2026, 1, 6))]
days.append((england, date(2026, 12, 29)))
print(*(day in where for where, day in days))
"""


def test_the_bundle_drops_the_holiday_name_translations_and_the_library_works_without_them(tmp_path: Path) -> None:
    spec = importlib.util.find_spec("holidays")
    assert spec is not None
    assert spec.origin is not None
    installed = Path(spec.origin).parent
    source = tmp_path / "source.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for file in sorted(installed.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                archive.write(file, f"holidays/{file.relative_to(installed).as_posix()}")
        archive.writestr("chalicelib/__init__.py", "")
    with zipfile.ZipFile(source) as archive:
        before = archive.namelist()
    translations = {n for n in before if n.endswith((".mo", ".po"))}
    assert translations
    assert all(n.startswith("holidays/locale/") for n in translations)

    bundle.strip_bundle(source, tmp_path / "stripped.zip", bytecode=False)

    with zipfile.ZipFile(tmp_path / "stripped.zip") as archive:
        after = archive.namelist()
        archive.extractall(tmp_path / "task")
    assert set(after) == set(before) - translations  # every module and data file kept, only the catalogues gone
    for language in ("de_DE.UTF-8", "en_GB.UTF-8", "C"):
        env = {"PATH": os.environ.get("PATH", ""), "LANG": language, "LANGUAGE": language.split(".")[0]}
        done = subprocess.run(
            [sys.executable, "-B", "-c", PROBE, str(tmp_path / "task")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["True", "True", "True", "False"], language
