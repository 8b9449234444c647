"""The agents' console in a real browser (Debian's Chromium) against `python -m localdesk`, as a person uses it."""

from __future__ import annotations

import itertools
import re
import time
from datetime import datetime, timedelta
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.support import AxeCheck, NewContext
from tests.localrun import LocalDesk

_serial = itertools.count(1)


def unique(text: str) -> str:
    return f"{text} {next(_serial)}-{time.monotonic_ns() % 1_000_000}"


def new_agent(desk: LocalDesk, name: str, role: str = "agent") -> tuple[str, str, str]:
    email = f"{name.split(maxsplit=1)[0].lower()}.{next(_serial)}.{time.monotonic_ns() % 1_000_000}@example.org"
    agent_id, token = desk.create_agent(name, email, role)
    return agent_id, token, email


def sign_in(page: Page, desk: LocalDesk, token: str) -> None:
    page.goto(f"{desk.url}/console")
    page.get_by_label("Agent token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("All open")


def wait_for_stream(desk: LocalDesk, ticket_id: str, predicate: Any = None) -> None:
    """The local run feeds the stream to the pipeline within about a second: wait until it has."""
    for _ in range(50):
        status, history = desk.api("GET", f"/tickets/{ticket_id}/history")
        if status == 200 and history["events"] and (predicate is None or predicate(history["events"])):
            return
        time.sleep(0.1)
    raise AssertionError(f"the stream did not process ticket {ticket_id}")


def test_the_banner_link_and_the_mailed_link_sign_in_after_a_button_press(
    local_desk: LocalDesk, new_context: NewContext, axe_check: AxeCheck
) -> None:
    printed = re.search(r"Console\s+(http://\S+/console/sign-in/confirm\?token=\S+)", local_desk.run.output)
    assert printed, local_desk.run.output
    first = new_context().new_page()
    first.goto(printed.group(1))
    assert not axe_check(first)
    first.get_by_role("button", name="Sign in").click()
    expect(first.get_by_role("heading", level=1)).to_have_text("All open")

    _, _, email = new_agent(local_desk, "Mira Mailed")
    page = new_context().new_page()
    page.goto(f"{local_desk.url}/console/sign-in")
    assert not axe_check(page)
    page.get_by_label("Your work email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_text("a sign-in link is on its way")).to_be_visible()
    mails = [m for m in local_desk.outbox() if m["to"] == email]
    assert mails
    assert "Sign in" in mails[-1]["subject"]
    link = re.search(r"http://\S+/console/sign-in/confirm\?token=[\w-]+", mails[-1]["text"])
    assert link
    page.goto(link.group(0))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("All open")
    expect(page.locator(".who")).to_have_text("Mira Mailed")
    cookies = page.context.cookies()
    assert [c["httpOnly"] for c in cookies if c["name"] == "hd_session"] == [True]
    assert page.evaluate("document.cookie") == ""  # nothing of the session is readable by script
    assert page.evaluate("Object.keys(localStorage).length") == 0


def test_the_queue_views_list_and_order_tickets(local_desk: LocalDesk, page: Page, axe_check: AxeCheck) -> None:
    _, token, _ = new_agent(local_desk, "Quinn Queue")
    low = local_desk.open_ticket(subject=unique("Low one"))
    urgent = local_desk.open_ticket(subject=unique("Server down"))
    local_desk.api("PATCH", f"/tickets/{urgent['id']}", {"priority": "critical", "version": 1})
    wait_for_stream(local_desk, urgent["id"], lambda events: any(e["kind"] == "priority_changed" for e in events))
    sign_in(page, local_desk, token)
    assert not axe_check(page)
    refs = page.locator("#queue-rows td.ref a").all_inner_texts()
    assert refs.index(urgent["ref"]) < refs.index(low["ref"])  # critical first, then oldest
    expect(page.locator(f'tr[data-id="{urgent["id"]}"]')).to_have_class(re.compile("top"))
    page.get_by_role("link", name=re.compile("^Unassigned")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unassigned")
    expect(page.get_by_role("link", name=low["ref"])).to_be_visible()
    page.get_by_label("Priority").select_option("critical")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name=urgent["ref"])).to_be_visible()
    expect(page.get_by_role("link", name=low["ref"])).to_have_count(0)
    for view in ("SLA at risk", "SLA breached", "Recently done"):
        page.get_by_role("link", name=re.compile(f"^{view}")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(view)
    page.locator('a[data-view="waiting"]').click()  # its name is also the "Waiting on requester" status view's
    expect(page.get_by_role("heading", level=1)).to_have_text("Waiting on requester")
    assert not axe_check(page)


def test_a_reply_and_a_note_and_what_the_requester_sees(
    local_desk: LocalDesk, page: Page, new_context: NewContext, axe_check: AxeCheck
) -> None:
    _, token, _ = new_agent(local_desk, "Rhea Reply")
    ticket = local_desk.open_ticket(subject=unique("Cannot print"))
    sign_in(page, local_desk, token)
    page.goto(f"{local_desk.url}/console/tickets/{ticket['id']}")
    assert not axe_check(page)
    page.get_by_label("Your message").fill("Please restart the printer.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Your reply was sent to the requester.")).to_be_visible()
    page.get_by_label("Internal note").check()
    expect(page.locator("#composer")).to_have_class(re.compile("as-note"))
    page.get_by_label("Your message").fill("Second time this month.")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_text("Your internal note was added.")).to_be_visible()
    note = page.locator(".entry.note")
    expect(note).to_contain_text("Internal note")
    expect(note).to_contain_text("not visible to the requester")
    expect(page.locator(".entry.reply")).to_contain_text("Please restart the printer.")

    requester = new_context().new_page()
    requester.goto(ticket["portal_url"])
    expect(requester.get_by_text("Please restart the printer.")).to_be_visible()
    expect(requester.get_by_text("Second time this month.")).to_have_count(0)


def test_a_transition_from_the_ticket_page(local_desk: LocalDesk, page: Page) -> None:
    _, token, _ = new_agent(local_desk, "Theo Transition")
    ticket = local_desk.open_ticket(subject=unique("Move me"))
    sign_in(page, local_desk, token)
    page.goto(f"{local_desk.url}/console/tickets/{ticket['id']}")
    page.get_by_role("button", name=re.compile("^Start work")).click()
    expect(page.get_by_text("Moved to In progress.")).to_be_visible()
    expect(page.locator(".status-pill")).to_have_text("In progress")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(".summary")).to_contain_text("Theo Transition")


def test_the_traffic_cop_with_two_browsers_on_one_ticket(local_desk: LocalDesk, new_context: NewContext) -> None:
    _, first_token, _ = new_agent(local_desk, "Ann First")
    _, second_token, _ = new_agent(local_desk, "Ben Second")
    ticket = local_desk.open_ticket(subject=unique("Two agents"))
    ann, ben = new_context().new_page(), new_context().new_page()
    for page, token in ((ann, first_token), (ben, second_token)):
        sign_in(page, local_desk, token)
        page.goto(f"{local_desk.url}/console/tickets/{ticket['id']}")
    expect(ben.get_by_text("Also here: Ann First")).to_be_visible(timeout=25_000)
    ann.get_by_label("Your message").fill("Ann answers first.")
    ann.get_by_role("button", name="Send reply").click()
    expect(ann.get_by_text("Your reply was sent")).to_be_visible()
    ben.get_by_label("Your message").fill("Ben's own answer.")
    ben.get_by_role("button", name="Send reply").click()
    expect(ben.get_by_role("heading", name="Someone changed this ticket while you had it open")).to_be_visible()
    expect(ben.locator(".conflict")).to_contain_text("Ann First replied")
    expect(ben.locator(".conflict")).to_contain_text("Ann answers first.")
    expect(ben.get_by_label("Your message")).to_have_value("Ben's own answer.")
    ben.get_by_role("button", name="Send anyway").click()
    expect(ben.get_by_text("Your reply was sent")).to_be_visible()
    _, detail = local_desk.api("GET", f"/tickets/{ticket['id']}")
    assert [c["body"] for c in detail["comments"]] == ["Ann answers first.", "Ben's own answer."]


def test_a_bulk_action_with_one_refused_ticket(local_desk: LocalDesk, page: Page) -> None:
    _, token, _ = new_agent(local_desk, "Bo Bulk")
    word = unique("Bulkword").replace(" ", "")
    tickets = [local_desk.open_ticket(subject=f"{word} {n}") for n in range(3)]
    moved = tickets[2]
    local_desk.api("POST", f"/tickets/{moved['id']}/transitions", {"to": "in_progress", "version": 1})
    wait_for_stream(local_desk, moved["id"], lambda events: any(e["kind"] == "status_changed" for e in events))
    sign_in(page, local_desk, token)
    page.goto(f"{local_desk.url}/console/search?q={word}")
    page.goto(f"{local_desk.url}/console?view=open")
    for ticket in tickets:
        page.get_by_label(f"Select {ticket['ref']}").check()
    page.get_by_label("With the selected tickets").select_option("transition:in_progress")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("2 of 3 changed.")).to_be_visible()
    refused = page.locator(f'tr[data-id="{moved["id"]}"] .tag.refused')
    expect(refused).to_contain_text("Not changed")
    for ticket in tickets[:2]:
        _, detail = local_desk.api("GET", f"/tickets/{ticket['id']}")
        assert detail["status"]["key"] == "in_progress"


def test_saved_replies_are_kept_by_admins_and_inserted_by_agents(
    local_desk: LocalDesk, new_context: NewContext, axe_check: AxeCheck
) -> None:
    _, admin_token, _ = new_agent(local_desk, "Ada Admin", role="admin")
    _, agent_token, _ = new_agent(local_desk, "Sol Saved")
    title = unique("Restart advice")
    admin = new_context().new_page()
    sign_in(admin, local_desk, admin_token)
    admin.goto(f"{local_desk.url}/console/admin/saved-replies")
    assert not axe_check(admin)
    form = admin.locator("form.card").last
    form.get_by_label("Title").fill(title)
    form.get_by_label("Text").fill("Hello {{requester_name}}, please restart it. {{agent_name}}")
    form.get_by_label("Also move the ticket to (optional)").select_option("resolved")
    form.get_by_role("button", name="Add saved reply").click()
    expect(admin.get_by_text(title)).to_be_visible()

    ticket = local_desk.open_ticket(subject=unique("Printer again"), requester_name="Pat Printer")
    agent = new_context().new_page()
    sign_in(agent, local_desk, agent_token)
    agent.goto(f"{local_desk.url}/console/tickets/{ticket['id']}")
    agent.get_by_label("Find a saved reply").fill("please restart")
    agent.get_by_label("Saved reply", exact=True).select_option(label=title)
    expect(agent.get_by_label("Your message")).to_have_value("Hello Pat Printer, please restart it. Sol Saved")
    expect(agent.get_by_label("and then")).to_have_value("resolved")
    agent.get_by_role("button", name="Send reply").click()
    expect(agent.locator(".status-pill")).to_have_text("Resolved")
    _, listed = local_desk.api("GET", "/saved-replies", token=agent_token)
    assert title in [r["title"] for r in listed["saved_replies"]]


def test_keyboard_shortcuts_and_switching_them_off(local_desk: LocalDesk, page: Page, axe_check: AxeCheck) -> None:
    _, token, _ = new_agent(local_desk, "Kai Keys")
    local_desk.open_ticket(subject=unique("Keyboard one"))
    sign_in(page, local_desk, token)
    page.locator("body").press("?")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("dialog")).to_contain_text("Assign to me")
    assert not axe_check(page)
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    first = page.locator("#queue-rows tr[data-href]").first
    expect(first).to_have_class(re.compile("selected"))
    href = first.get_attribute("data-href")
    page.keyboard.press("Enter")
    page.wait_for_url(href or "")
    page.keyboard.press("a")
    expect(page.locator(".summary")).to_contain_text("Kai Keys")
    page.keyboard.press("n")
    expect(page.get_by_label("Internal note")).to_be_checked()
    expect(page.get_by_label("Your message")).to_be_focused()
    page.keyboard.press("Escape")
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()

    page.goto(f"{local_desk.url}/console/settings")
    assert not axe_check(page)
    page.get_by_label(re.compile("Single-key keyboard shortcuts")).uncheck()
    page.get_by_role("button", name="Save").click()
    page.goto(f"{local_desk.url}/console")
    page.keyboard.press("j")
    expect(page.locator("#queue-rows tr.selected")).to_have_count(0)
    page.locator("h1").click()
    page.keyboard.press("?")  # with single-key shortcuts off, `?` is a key like the others
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("for keyboard shortcuts")).to_have_count(0)


def test_the_queue_announces_new_tickets_instead_of_reshuffling(local_desk: LocalDesk, page: Page) -> None:
    _, token, _ = new_agent(local_desk, "Nia News")
    sign_in(page, local_desk, token)
    before = page.locator("#queue-rows tr[data-id]").count()
    fresh = local_desk.open_ticket(subject=unique("Arrived meanwhile"))
    wait_for_stream(local_desk, fresh["id"])
    time.sleep(1.2)  # the gauges and the change mark follow the stream
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # as when the agent comes back
    expect(page.locator("#queue-news")).to_contain_text("1 new ticket", timeout=10_000)
    assert page.locator("#queue-rows tr[data-id]").count() == before  # nothing moved under the cursor
    page.get_by_role("button", name="Show the updated list").click()
    expect(page.get_by_role("link", name=fresh["ref"])).to_be_visible()


def test_signing_out_and_revocation(local_desk: LocalDesk, new_context: NewContext) -> None:
    agent_id, token, _ = new_agent(local_desk, "Ola Out")
    page = new_context().new_page()
    sign_in(page, local_desk, token)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{local_desk.url}/console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")

    contexts: list[BrowserContext] = [new_context(), new_context()]
    pages = [c.new_page() for c in contexts]
    for each in pages:
        sign_in(each, local_desk, token)
    status, _ = local_desk.api("DELETE", f"/admin/agents/{agent_id}")
    assert status == 200
    for each in pages:
        each.reload()
        expect(each.get_by_role("heading", level=1)).to_have_text("Sign in to the console")


def test_every_console_page_passes_axe(local_desk: LocalDesk, page: Page, axe_check: AxeCheck) -> None:
    _, token, _ = new_agent(local_desk, "Axel Admin", role="admin")
    ticket = local_desk.open_ticket(subject=unique("Axe"))
    sign_in(page, local_desk, token)
    for path in (
        "/console",
        f"/console/tickets/{ticket['id']}",
        "/console/search?q=printer",
        "/console/reports",
        "/console/settings",
        "/console/admin/agents",
        "/console/admin/saved-replies",
        "/console/admin/config",
        "/console/admin/mail",
    ):
        page.goto(f"{local_desk.url}{path}")
        assert not axe_check(page), path


def test_sla_countdowns_run_on_the_desks_clock_and_turn_to_breached(local_desk: LocalDesk, page: Page) -> None:
    _, token, _ = new_agent(local_desk, "Cleo Clock")
    ticket = local_desk.open_ticket(subject=unique("Countdown"))
    local_desk.api("PATCH", f"/tickets/{ticket['id']}", {"priority": "critical", "version": 1})  # 1 h to respond
    wait_for_stream(local_desk, ticket["id"], lambda events: any(e["kind"] == "priority_changed" for e in events))
    # This computer's clock is 5 hours ahead of the desk's: the desk's countdowns must not follow it.
    _, desk_time = local_desk.api("GET", "/_local/clock", token=None)
    page.clock.install(time=datetime.fromisoformat(desk_time["now"].replace("Z", "+00:00")) + timedelta(hours=5))
    sign_in(page, local_desk, token)
    badge = page.locator(f'tr[data-id="{ticket["id"]}"] .sla')
    expect(badge).to_have_text(re.compile(r"^\d+m left$"))
    page.goto(f"{local_desk.url}/console/tickets/{ticket['id']}")
    countdown = page.locator(".timers .sla[data-due]").first
    expect(countdown).to_have_text(re.compile(r"^\d+m left$"))
    # Two hours later for the desk too: the countdown passed zero in the browser and says so in the page's words.
    page.clock.fast_forward("02:00:00")
    expect(countdown).to_have_text(re.compile(r"^Breached (1h \d+m|\d+m) ago$"))
    expect(countdown).to_have_attribute("data-level", "breached")


def test_the_agents_page_fits_a_phone(local_desk: LocalDesk, new_context: NewContext, axe_check: AxeCheck) -> None:
    _, token, _ = new_agent(local_desk, "Pia Phone", role="admin")
    _, _, other_email = new_agent(local_desk, "Rex Revocable-With-A-Rather-Long-Name")
    page = new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(page, local_desk, token)
    page.goto(f"{local_desk.url}/console/admin/agents")
    overflow = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert overflow[0] <= overflow[1], f"the page is {overflow[0]} px wide in a {overflow[1]} px window"
    row = page.locator("table.list tr", has_text=other_email)
    for action in ("Make admin", "Revoke"):
        button = row.get_by_role("button", name=action)
        button.scroll_into_view_if_needed()
        expect(button).to_be_in_viewport()
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= overflow[1], (action, box)
    assert not axe_check(page)


def test_a_ticket_pushed_onto_the_next_page_has_not_left_the_view(local_desk: LocalDesk, page: Page) -> None:
    agent_id, token, _ = new_agent(local_desk, "Pax Pages")
    word = unique("Pageword").replace(" ", "")
    tickets = [local_desk.open_ticket(subject=f"{word} {n}") for n in range(25)]  # one full page of "Mine"
    for ticket in tickets:
        local_desk.api("PATCH", f"/tickets/{ticket['id']}", {"assignee": agent_id, "version": 1})
    wait_for_stream(local_desk, tickets[-1]["id"], lambda events: any(e["kind"] == "assignee_changed" for e in events))
    time.sleep(1.2)  # the gauges and the change mark follow the stream
    sign_in(page, local_desk, token)
    page.goto(f"{local_desk.url}/console?view=mine")
    last = page.locator("#queue-rows tr[data-id]").last.get_attribute("data-id")
    assert page.locator("#queue-rows tr[data-id]").count() == 25
    urgent = local_desk.open_ticket(subject=f"{word} urgent")
    local_desk.api("PATCH", f"/tickets/{urgent['id']}", {"assignee": agent_id, "priority": "critical", "version": 1})
    wait_for_stream(local_desk, urgent["id"], lambda events: any(e["kind"] == "assignee_changed" for e in events))
    time.sleep(1.2)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # as when the agent comes back
    news = page.locator("#queue-news")
    expect(news).to_contain_text("1 new ticket, 1 moved down to the next page", timeout=10_000)
    expect(news).not_to_contain_text("left this view")
    expect(page.locator(f'#queue-rows tr[data-id="{last}"]')).not_to_have_class(re.compile("gone"))


PLACEHOLDER_ROOM = """() => {
  const q = document.getElementById("q");
  const style = getComputedStyle(q);
  const pen = document.createElement("canvas").getContext("2d");
  pen.font = style.font;
  const room = q.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [room, pen.measureText(q.placeholder).width];
}"""


def test_the_search_placeholder_is_never_cut_off_at_desktop_widths(local_desk: LocalDesk, page: Page) -> None:
    _, token, _ = new_agent(local_desk, "Sam Searcher-With-A-Long-Name", role="admin")  # the admin's longer menu
    sign_in(page, local_desk, token)
    for width in (1024, 1100, 1280, 1400, 1920):  # where the menu shares the bar's line with the search box
        page.set_viewport_size({"width": width, "height": 900})
        room, text = page.evaluate(PLACEHOLDER_ROOM)
        assert room >= text, f"at {width} px the placeholder needs {text:.0f} px and has {room:.0f}"
