"""What the browser tests share besides fixtures: the browser's launch flags and the axe-core check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")  # Debian's (`make browser`); Playwright never downloads a browser here
BROWSER_ADMIN_TOKEN = "browser-test-admin-token"
# --no-sandbox: we run as root in CI. The rest keep Chromium off the (closed) network: no background requests, no
# component or sync updates, and no name lookups at all except for the loopback desk.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
SERIOUS = ("serious", "critical")

NewContext = Callable[..., BrowserContext]
AxeCheck = Callable[[Page], list[dict[str, Any]]]


def _summary(violations: list[dict[str, Any]]) -> str:
    lines = [f"axe-core: {len(violations)} serious or critical violation(s)"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    {target}: {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n      ")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


def serious_violations(axe: Axe, page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now; printed readably if any."""
    results = axe.run(page)
    violations = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    if violations:
        print(f"{page.url}\n{_summary(violations)}")
    return violations
