"""Real-browser tests: Debian's Chromium (/usr/bin/chromium, `make browser` installs it) driven by Playwright against
the local desk as a person starts it (`python -m localdesk`).

Session-scoped fixtures are per pytest-xdist worker: each worker has its own desk (own port, mail folder and
in-memory tables) and its own browser; every test gets a fresh browser context, so no cookie leaks between tests.
Tests in this folder are marked `browser` (`pytest -m "not browser"` leaves them out).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.support import BROWSER_ADMIN_TOKEN, CHROMIUM, CHROMIUM_ARGS, AxeCheck, NewContext, serious_violations
from tests.localrun import LocalDesk, LocalRun


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def local_desk() -> Iterator[LocalDesk]:
    """`python -m localdesk` on a free port with a known admin token and its own mail folder, ready; stopped with
    Ctrl-C (SIGINT) at the end of the worker's session."""
    run = LocalRun(admin_token=BROWSER_ADMIN_TOKEN)
    try:
        yield LocalDesk(run)
    finally:
        run.close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium and chromium-driver)")
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[NewContext]:
    """A factory of fresh browser contexts (own cookies and storage), for tests that need two people at once;
    keyword arguments go to Browser.new_context. All are closed after the test."""
    opened: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    """A page in a context of its own: nothing (cookies, storage) is shared with another test."""
    return new_context().new_page()


@pytest.fixture(scope="session")
def axe_check() -> AxeCheck:
    """`assert not axe_check(page)`: axe-core (bundled with axe-playwright-python, nothing is downloaded) on the page
    as it is now; the violations of impact serious or critical, with a readable summary printed when there are any."""
    axe = Axe()

    def check(page: Page) -> list[dict[str, Any]]:
        return serious_violations(axe, page)

    return check
