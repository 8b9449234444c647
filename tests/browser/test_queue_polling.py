"""The queue's polling in a real browser: every poll is a paid request, so it backs off while nothing changes.

The page's clock is Playwright's (installed before the page loads), so the test moves time on and counts the polls
the page really sends; the answers come from the local desk.
"""

from __future__ import annotations

import time

from playwright.sync_api import Page, Request

from tests.browser.test_console import new_agent, sign_in, unique, wait_for_stream
from tests.localrun import LocalDesk


def test_the_queue_polls_half_as_often_while_nothing_changes_and_soon_again_after_a_change(
    local_desk: LocalDesk, page: Page
) -> None:
    polls: list[str] = []

    def seen(request: Request) -> None:
        if "/console/poll" in request.url:
            polls.append(request.url)

    def assigned_ticket(subject: str) -> str:
        ticket = local_desk.open_ticket(subject=unique(subject))
        local_desk.api("PATCH", f"/tickets/{ticket['id']}", {"assignee": agent_id, "version": 1})
        wait_for_stream(local_desk, ticket["id"], lambda events: any(e["kind"] == "assignee_changed" for e in events))
        return str(ticket["id"])

    # The agent's own view: the tests share one desk, where a new ticket may sort below the first page of "All open".
    agent_id, token, _ = new_agent(local_desk, "Paula Polls")
    assigned_ticket("Already mine")
    page.clock.install()
    sign_in(page, local_desk, token)
    page.goto(f"{local_desk.url}/console?view=mine")
    queue = page.locator(".queue")
    assert page.locator("#queue-rows tr[data-id]").count() == 1
    assert queue.get_attribute("data-poll-ms") == "30000"
    assert queue.get_attribute("data-poll-max-ms") == "120000"
    page.on("request", seen)

    def answered(count: int) -> None:
        """Wait (on real time) until the page has handled `count` poll answers, a rows fetch after a change included:
        the next poll's timer is set from then on."""
        page.wait_for_function(
            "n => document.querySelector('.queue').getAttribute('data-polls-answered') === String(n)", arg=count
        )

    def after(milliseconds: int, answers: int = 0) -> int:
        """Move the page's clock on and count the polls sent so far (first waiting until the page has handled
        `answers` poll answers, when a poll is due)."""
        page.clock.run_for(milliseconds)
        if answers:
            answered(answers)
        time.sleep(0.2)  # a poll that should not have been sent has time to show up
        return len(polls)

    assert after(29_000) == 0
    assert after(1_000, answers=1) == 1  # 30 s after the page loaded
    assert after(59_000) == 1
    assert after(1_000, answers=2) == 2  # nothing changed: 60 s later
    assert after(119_000) == 2
    assert after(1_000, answers=3) == 3  # 120 s later
    assert after(119_000) == 3
    assert after(1_000, answers=4) == 4  # and no less often than every 2 minutes

    assigned_ticket("Arrives while polling")
    # The change mark follows the stream: ask the poll endpoint (outside the page, so not counted) until it says so.
    seen_url = f"{queue.get_attribute('data-poll-url')}&token={queue.get_attribute('data-token')}"
    for _ in range(100):
        if page.request.get(seen_url).json()["changed"]:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the queue's change mark did not follow the new ticket")
    assert after(120_000, answers=5) == 5  # this poll sees the change ...
    assert page.locator("#queue-news").inner_text().startswith("1 new ticket")
    assert after(29_000) == 5
    assert after(1_000, answers=6) == 6  # ... so the next one comes 30 s later again

    page.evaluate("Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true})")
    assert after(600_000) == 6  # a hidden tab never polls
    page.evaluate("Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true})")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    answered(7)
    assert len(polls) == 7  # coming back into view polls at once
    assert after(59_000) == 7
    assert after(1_000, answers=8) == 8  # and backs off from 30 s again: nothing changed, so 60 s later
