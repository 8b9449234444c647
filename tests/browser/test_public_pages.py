"""The public pages in Chromium: the form's error summary takes focus with no script, the portal confirms a reply,
the stylesheet loads under the strict Content-Security-Policy, and axe-core finds nothing serious."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.support import AxeCheck
from tests.localrun import LocalDesk


def _focused(page: Page) -> str:
    """The focused element as `tag#id.class`."""
    return str(
        page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') }"
        )
    )


@pytest.fixture
def refusals(page: Page) -> list[str]:
    """What the browser refused to load or apply on the page, as its console says (CSP refusals among them)."""
    refused: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused" in message.text:
            refused.append(message.text)

    page.on("console", listen)
    return refused


def test_a_form_sent_with_errors_opens_on_the_summary_and_its_links_lead_to_the_fields(
    local_desk: LocalDesk, page: Page, axe_check: AxeCheck, refusals: list[str]
) -> None:
    page.goto(f"{local_desk.url}/form?type=question")
    page.get_by_label("Your email").fill("not an address")

    page.get_by_role("button", name="Send").click()

    assert page.title().startswith("Error: Question")
    assert _focused(page) == "div.error-summary"
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    email = page.get_by_label("Your email")
    expect(email).to_have_value("not an address")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description("Error: Your email must be an email address")
    assert not axe_check(page)
    page.get_by_role("link", name="Your email must be an email address").click()
    assert _focused(page) == "input#requester_email"
    assert refusals == []


def test_the_honeypot_is_never_reached_with_the_tab_key(local_desk: LocalDesk, page: Page) -> None:
    page.goto(f"{local_desk.url}/form?type=question")
    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        reached.append(_focused(page))
    assert "input#website" not in reached
    assert "input#requester_name" in reached


def test_the_portal_confirms_a_reply_and_is_styled_by_the_desks_stylesheet(
    local_desk: LocalDesk, page: Page, axe_check: AxeCheck, refusals: list[str]
) -> None:
    ticket = local_desk.open_ticket()
    page.goto(ticket["portal_url"])
    assert not axe_check(page)
    page.get_by_label("Your message").fill("The light is blinking orange now.")

    page.get_by_role("button", name="Send reply").click()

    expect(page.get_by_role("status")).to_have_text("Thank you — your reply was sent. We will answer by email.")
    assert _focused(page) == "div.notice"
    border = page.get_by_label("Your message").evaluate("e => getComputedStyle(e).borderTopColor")
    assert border == "rgb(107, 114, 128)"  # #6b7280 from desk.css, so the stylesheet loaded under the CSP
    assert not axe_check(page)
    assert refusals == []
