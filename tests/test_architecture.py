"""The rules of the codebase that a reader should not have to trust: dependency direction, lean cold path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INNER = sorted((ROOT / "chalicelib" / "domain").glob("*.py")) + sorted((ROOT / "chalicelib" / "services").glob("*.py"))
FORBIDDEN = {"chalice", "boto3", "botocore", "pynamodb", "os", "moto", "jinja2"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_and_services_import_no_framework_no_aws_and_no_os() -> None:
    offenders = {path.name: sorted(_imports(path) & FORBIDDEN) for path in INNER if _imports(path) & FORBIDDEN}
    assert offenders == {}


def test_nothing_in_chalicelib_imports_the_app() -> None:
    """app.py depends on chalicelib, never the other way round (views receive the request)."""
    offenders = [p.name for p in sorted((ROOT / "chalicelib").rglob("*.py")) if "app" in _imports(p)]
    assert offenders == []


def test_the_domain_and_services_never_read_the_system_clock() -> None:
    readers = ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time(")
    offenders = [path.name for path in INNER if any(r in path.read_text() for r in readers)]
    assert offenders == []


def test_no_product_code_issues_a_scan() -> None:
    sources = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    offenders = [str(p.relative_to(ROOT)) for p in sources if ".scan(" in p.read_text() or "'Scan'" in p.read_text()]
    assert offenders == []


def test_importing_the_app_loads_neither_pynamodb_nor_boto3_nor_jinja2() -> None:
    """Every Lambda imports app.py; what only some handlers need is imported where it is used."""
    heavy = "('pynamodb', 'boto3', 'botocore', 'jinja2')"
    probe = f"import sys, app; print(' '.join(m for m in {heavy} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
