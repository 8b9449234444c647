"""The what-if page in a real browser: an admin edits a proposed target and sees both columns (CSP strict: no inline
script or style on the page)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.support import AxeCheck
from tests.browser.test_console import new_agent, sign_in, unique
from tests.localrun import LocalDesk


def test_an_admin_compares_a_tighter_first_response_target(
    local_desk: LocalDesk, page: Page, axe_check: AxeCheck
) -> None:
    _, token, _ = new_agent(local_desk, "Wanda Whatif", role="admin")
    local_desk.open_ticket(subject=unique("What if"))
    sign_in(page, local_desk, token)
    page.get_by_role("link", name="What-if SLA").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What-if SLA")
    field = page.get_by_label("Medium: first response")
    expect(field).to_have_value("8h")
    assert not axe_check(page)

    field.fill("1h")
    page.get_by_role("button", name="Compare").click()

    expect(page.get_by_role("table", name="First response")).to_be_visible()
    expect(page.get_by_role("heading", name="Timers that would change")).to_be_visible()
    expect(page.get_by_label("Medium: first response")).to_have_value("1h")
    assert not axe_check(page)
