"""The browser tooling works end to end: Chromium opens the local desk's public web form, and axe-core checks it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.support import AxeCheck
from tests.localrun import LocalDesk


def test_the_public_form_opens_in_a_real_browser_and_passes_axe(
    local_desk: LocalDesk, page: Page, axe_check: AxeCheck
) -> None:
    response = page.goto(f"{local_desk.url}/form")

    assert response is not None
    assert response.status == 200
    assert page.title().strip()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert not axe_check(page)
