"""Working the desk in the console, over the real app and moto: views and counts, a ticket, replies and notes,
the traffic cop, bulk changes, presence and polling, search, saved replies, admin and report pages."""

from __future__ import annotations

import html as html_module
import json
import re

import pytest

from tests.api.conftest import Api
from tests.api.console_client import Console
from tests.api.mail_fixtures import Mailbox
from tests.api.page_html import Element, parse
from tests.clocks import ManualClock
from tests.streams import Stream


@pytest.fixture
def agents(api: Api) -> dict[str, dict[str, str]]:
    made = {}
    for key, name in (("sam", "Sam Agent"), ("kim", "Kim Agent")):
        status, created = api.json("POST", "/admin/agents", {"name": name, "email": f"{key}@example.org"})
        assert status == 201
        made[key] = {"id": created["agent"]["id"], "token": created["token"], "name": name}
    return made


@pytest.fixture
def sam(api: Api, agents: dict[str, dict[str, str]], mailbox: Mailbox) -> Console:
    console = Console(api.client)
    console.sign_in_with_token(agents["sam"]["token"])
    return console


@pytest.fixture
def kim(api: Api, agents: dict[str, dict[str, str]], mailbox: Mailbox) -> Console:
    console = Console(api.client)
    console.sign_in_with_token(agents["kim"]["token"])
    return console


@pytest.fixture
def admin(api: Api, mailbox: Mailbox) -> Console:
    console = Console(api.client)
    console.sign_in_with_token(api.token)
    return console


def page(console: Console, path: str, status: int = 200) -> str:
    response = console.get(path)
    assert response.status_code == status, console.text(response)[:2000]
    return console.text(response)


def count_of(html: str, view: str) -> int:
    found = re.search(rf'data-count-for="{re.escape(view)}">(\d+)<', html)
    assert found, f"no count for {view}"
    return int(found.group(1))


def form_values(html: str, action_end: str) -> dict[str, str]:
    """The hidden inputs of the first form whose action ends with `action_end`."""
    found = re.search(rf'<form[^>]*action="[^"]*{re.escape(action_end)}"', html)
    assert found, f"no form posting to {action_end}"
    start = found.start()
    end = html.index("</form>", start)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html[start:end]))


def test_the_sidebar_counts_come_from_the_backlog(
    api: Api, sam: Console, stream: Stream, agents: dict[str, dict[str, str]]
) -> None:
    first = api.open(subject="Printer offline")
    api.open(subject="VPN drops")
    api.json("PATCH", f"/tickets/{first['id']}", {"assignee": agents["sam"]["id"], "version": 1})
    stream.drain()
    html = page(sam, "/console")
    assert count_of(html, "open") == 2
    assert count_of(html, "mine") == 1
    assert count_of(html, "unassigned") == 1
    assert count_of(html, "status:submitted") == 2
    assert count_of(html, "breached") == 0


def test_views_list_mine_unassigned_and_recently_done(
    api: Api, sam: Console, stream: Stream, agents: dict[str, dict[str, str]], clock: ManualClock
) -> None:
    mine = api.open(subject="Mine to do")
    free = api.open(subject="Nobody has it")
    done = api.open(subject="Already solved")
    api.json("PATCH", f"/tickets/{mine['id']}", {"assignee": agents["sam"]["id"], "version": 1})
    clock.advance(minutes=5)
    api.move(done["id"], "resolved")
    stream.drain()
    assert "Mine to do" in page(sam, "/console?view=mine")
    assert "Nobody has it" not in page(sam, "/console?view=mine")
    unassigned = page(sam, "/console?view=unassigned")
    assert "Nobody has it" in unassigned
    assert "Mine to do" not in unassigned
    assert "Already solved" not in unassigned
    assert "Already solved" in page(sam, "/console?view=done")
    assert free["ref"] in page(sam, "/console?view=open&priority=medium")


def test_a_ticket_whose_requester_spoke_last_is_marked(api: Api, sam: Console) -> None:
    opened = api.open()
    token = opened["portal_url"].split("token=", 1)[1]
    api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Which printer?", "public": True})
    assert "Requester replied" not in page(sam, "/console")
    api.json("POST", f"/portal/tickets/{opened['id']}/comments?token={token}", {"body": "The one upstairs"}, token=None)
    assert "Requester replied" in page(sam, "/console")


def test_a_reply_reaches_the_portal_and_a_note_never_does(api: Api, sam: Console, mailbox: Mailbox) -> None:
    opened = api.open()
    html = page(sam, f"/console/tickets/{opened['id']}")
    seen = form_values(html, "/reply")
    answer = sam.post(f"/console/tickets/{opened['id']}/reply", {**seen, "kind": "reply", "body": "Try turning it on."})
    assert answer.status_code == 303
    html = page(sam, f"/console/tickets/{opened['id']}")
    seen = form_values(html, "/reply")
    sam.post(f"/console/tickets/{opened['id']}/reply", {**seen, "kind": "note", "body": "She called twice already."})
    html = page(sam, f"/console/tickets/{opened['id']}")
    assert 'class="entry reply"' in html
    assert 'class="entry note"' in html
    assert "Internal note</span>" in html
    assert "not visible to the requester" in html
    token = opened["portal_url"].split("token=", 1)[1]
    _status, portal = api.json("GET", f"/portal/tickets/{opened['id']}?token={token}", token=None)
    bodies = [c["body"] for c in portal["comments"]]
    assert bodies == ["Try turning it on."]


def test_a_reply_with_a_move_is_one_change(api: Api, sam: Console) -> None:
    opened = api.open()
    seen = form_values(page(sam, f"/console/tickets/{opened['id']}"), "/reply")
    sam.post(
        f"/console/tickets/{opened['id']}/reply",
        {**seen, "kind": "reply", "body": "Fixed: the cable was loose.", "move_to": "resolved"},
    )
    ticket = api.ticket(opened["id"])
    assert ticket["status"]["key"] == "resolved"
    assert [c["body"] for c in ticket["comments"]] == ["Fixed: the cable was loose."]


def test_the_traffic_cop_keeps_the_draft_when_someone_else_replied(
    api: Api, sam: Console, kim: Console, clock: ManualClock
) -> None:
    opened = api.open()
    sam_seen = form_values(page(sam, f"/console/tickets/{opened['id']}"), "/reply")
    kim_seen = form_values(page(kim, f"/console/tickets/{opened['id']}"), "/reply")
    clock.advance(minutes=1)
    kim.post(f"/console/tickets/{opened['id']}/reply", {**kim_seen, "kind": "reply", "body": "Kim's answer first."})
    refused = sam.post(f"/console/tickets/{opened['id']}/reply", {**sam_seen, "kind": "reply", "body": "Sam's draft"})
    assert refused.status_code == 409
    html = sam.text(refused)
    assert "Someone changed this ticket while you had it open" in html
    assert "Kim Agent</strong> replied" in html
    assert "Kim&#39;s answer first." in html
    assert "Sam&#39;s draft</textarea>" in html
    assert [c["body"] for c in api.ticket(opened["id"])["comments"]] == ["Kim's answer first."]
    again = form_values(html, "/reply")
    sent = sam.post(f"/console/tickets/{opened['id']}/reply", {**again, "kind": "reply", "body": "Sam's draft"})
    assert sent.status_code == 303
    assert len(api.ticket(opened["id"])["comments"]) == 2


def test_a_stale_move_is_refused_and_shows_what_changed(
    api: Api, sam: Console, stream: Stream, clock: ManualClock
) -> None:
    opened = api.open()
    seen = form_values(page(sam, f"/console/tickets/{opened['id']}"), "/transition")
    clock.advance(minutes=1)
    api.json("PATCH", f"/tickets/{opened['id']}", {"priority": "high", "version": 1})
    stream.drain()
    refused = sam.post(f"/console/tickets/{opened['id']}/transition", {**seen, "to": "resolved"})
    assert refused.status_code == 409
    assert "set the priority to High" in sam.text(refused)
    assert api.ticket(opened["id"])["status"]["key"] == "submitted"


def test_a_bulk_change_reports_each_refusal_and_applies_the_rest(api: Api, sam: Console, stream: Stream) -> None:
    tickets = [api.open(subject=f"Ticket {n}") for n in range(3)]
    api.move(tickets[2]["id"], "in_progress")  # it cannot move to where it already is
    stream.drain()
    html = page(sam, "/console?view=open")
    fields: dict[str, str] = {"bulk": "transition:in_progress"}
    for ticket in tickets:
        fields[f"t-{ticket['id']}"] = "on"
        version = api.ticket(ticket["id"])["version"]
        fields[f"v-{ticket['id']}"] = str(version)
    fields[f"v-{tickets[1]['id']}"] = "99"  # someone changed it after the list was loaded
    answer = sam.post("/console/bulk?view=open", fields)
    assert answer.status_code == 200
    text = sam.text(answer)
    assert "1 of 3 changed." in text
    assert f"<strong>{tickets[1]['ref']}</strong>: someone changed it" in text
    # In plain words, statuses by their labels: never a status's key ('in_progress') or a move's name.
    refusal = re.search(rf"<strong>{tickets[2]['ref']}</strong>: ([^<]*)</li>", text)
    assert refusal, text
    assert refusal.group(1).startswith("it is already In progress; from In progress it can move to ")
    assert "Resolved" in refusal.group(1)
    assert "in_progress" not in refusal.group(1)
    assert "&#39;" not in refusal.group(1)
    statuses = [api.ticket(t["id"])["status"]["key"] for t in tickets]
    assert statuses == ["in_progress", "submitted", "in_progress"]
    assert api.ticket(tickets[2]["id"])["version"] == 2
    assert html  # the list the agent chose from


def test_bulk_assignment_to_me(api: Api, sam: Console, agents: dict[str, dict[str, str]]) -> None:
    tickets = [api.open(subject=f"Ticket {n}") for n in range(2)]
    page(sam, "/console")
    fields = {"bulk": "assign:me"}
    for ticket in tickets:
        fields[f"t-{ticket['id']}"] = "on"
        fields[f"v-{ticket['id']}"] = "1"
    assert "2 of 2 changed." in sam.text(sam.post("/console/bulk", fields))
    assert {api.ticket(t["id"])["assignee"] for t in tickets} == {agents["sam"]["id"]}


def test_presence_shows_who_else_has_the_ticket_open_and_typing(
    api: Api, sam: Console, kim: Console, clock: ManualClock
) -> None:
    opened = api.open()
    page(kim, f"/console/tickets/{opened['id']}")
    beat = kim.post(
        f"/console/tickets/{opened['id']}/presence", {"typing": "1"}, headers={"Accept": "application/json"}
    )
    assert beat.status_code == 200
    assert "Kim Agent (typing a reply)" in page(sam, f"/console/tickets/{opened['id']}")
    assert "Open by Kim Agent (typing)" in page(sam, "/console")
    seen = sam.post(f"/console/tickets/{opened['id']}/presence", {}, headers={"Accept": "application/json"})
    assert sam.text(seen) == '{"others": [{"name": "Kim Agent", "typing": true}]}'
    clock.advance(minutes=2)
    assert "Also here" not in page(sam, f"/console/tickets/{opened['id']}")


def test_opening_a_ticket_page_is_a_heartbeat(api: Api, sam: Console, kim: Console) -> None:
    """The next agent to open the ticket sees the first one at once, before any script has run."""
    opened = api.open()
    assert "Also here" not in page(kim, f"/console/tickets/{opened['id']}")
    assert "Also here: Kim Agent" in page(sam, f"/console/tickets/{opened['id']}")
    assert "Also here: Sam Agent" in page(kim, f"/console/tickets/{opened['id']}")


def test_a_poll_answers_unchanged_until_a_ticket_changes(api: Api, sam: Console, stream: Stream) -> None:
    api.open()
    stream.drain()
    html = page(sam, "/console")
    token = re.search(r'data-token="([0-9a-f]+)"', html)
    assert token
    json_header = {"Accept": "application/json"}
    quiet = sam.get(f"/console/poll?view=open&token={token.group(1)}", headers=json_header)
    assert sam.text(quiet) == f'{{"changed": false, "token": "{token.group(1)}"}}'
    api.open(subject="A new one")
    stream.drain()
    changed = sam.get(f"/console/poll?view=open&token={token.group(1)}", headers=json_header)
    assert '"changed": true' in sam.text(changed)
    rows = page(sam, "/console/rows?view=open")
    assert "A new one" in rows
    assert 'id="queue-rows"' in rows


def test_search_finds_by_reference_email_and_subject_words(api: Api, sam: Console) -> None:
    first = api.open(subject="Printer offline upstairs")
    api.open(subject="VPN drops", requester_email="lee@example.org")
    by_ref = sam.get(f"/console/search?q={first['ref'].lower()}")
    assert by_ref.status_code == 303
    assert by_ref.headers["Location"].endswith(f"/console/tickets/{first['id']}")
    assert "VPN drops" in page(sam, "/console/search?q=lee@example.org")
    words = page(sam, "/console/search?q=printer+UPSTAIRS")
    assert "Printer offline upstairs" in words
    assert "VPN drops" not in words


def test_a_saved_reply_fills_the_composer_with_its_placeholders(api: Api, admin: Console, sam: Console) -> None:
    status, _ = api.json(
        "POST",
        "/saved-replies",
        {
            "title": "Restart",
            "body": "Hello {{requester_name}}, about {{ticket_ref}}: restart it. {{agent_name}}",
            "status": "resolved",
        },
    )
    assert status == 201
    opened = api.open()
    html = page(sam, f"/console/tickets/{opened['id']}")
    reply_id = re.search(r'<option value="([0-9A-Z]+)" data-body="Hello Rosa Diaz, about ' + opened["ref"], html)
    assert reply_id, "the saved reply is offered with its placeholders filled"
    prefilled = page(sam, f"/console/tickets/{opened['id']}?saved={reply_id.group(1)}")
    assert f"Hello Rosa Diaz, about {opened['ref']}: restart it. Sam Agent</textarea>" in prefilled
    assert '<option value="resolved" selected>' in prefilled


def test_the_admin_pages_are_for_admins_only(sam: Console, admin: Console) -> None:
    for path in (
        "/console/admin/agents",
        "/console/admin/config",
        "/console/admin/mail",
        "/console/admin/saved-replies",
    ):
        assert sam.get(path).status_code == 403
        assert admin.get(path).status_code == 200


def test_an_admin_creates_an_agent_and_sees_the_token_once(admin: Console, api: Api) -> None:
    page(admin, "/console/admin/agents")
    created = admin.post("/console/admin/agents", {"action": "create", "name": "Lee New", "email": "lee@example.org"})
    assert created.status_code == 201
    token = re.search(r'<code class="token">(hd_[\w-]+)</code>', admin.text(created))
    assert token
    assert token.group(1) not in page(admin, "/console/admin/agents")
    status, _me = api.json("GET", "/tickets", token=token.group(1))
    assert status == 200


def test_a_bad_configuration_names_the_path_of_each_error(admin: Console, api: Api) -> None:
    html = page(admin, "/console/admin/config")
    version = form_values(html, "/console/admin/config")["version"]
    answer = admin.post("/console/admin/config", {"version": version, "config": '{"desk": {"name": 5}}'})
    assert answer.status_code == 422
    assert "<code>" in admin.text(answer)
    assert "There is a problem" in admin.text(answer)
    broken = admin.post("/console/admin/config", {"version": version, "config": "{not json"})
    assert "not valid JSON" in admin.text(broken)


def test_an_admin_saves_a_configuration_and_reads_an_earlier_version(admin: Console, api: Api) -> None:
    _, current = api.json("GET", "/admin/config")
    document = current["config"]
    for name in ("First name", "Renamed desk"):
        html = page(admin, "/console/admin/config")
        version = int(form_values(html, "/console/admin/config")["version"])
        document["desk"]["name"] = name
        saved = admin.post("/console/admin/config", {"version": str(version), "config": json.dumps(document)})
        assert saved.status_code == 303
    listing = page(admin, "/console/admin/config?saved=1")
    assert f"Saved as version {version + 1}." in listing
    assert "Renamed desk" in listing
    earlier = html_module.unescape(page(admin, f"/console/admin/config?version={version}"))
    assert f"Configuration version {version}" in earlier
    assert '"name": "First name"' in earlier
    assert '"name": "Renamed desk"' not in earlier
    assert admin.get("/console/admin/config?version=999").status_code == 404


def test_the_reports_page_draws_each_report_with_its_table_and_csv(api: Api, admin: Console, stream: Stream) -> None:
    api.open()
    stream.drain()
    html = page(admin, "/console/reports")
    assert html.count("<svg") >= 5
    assert html.count('role="img"') >= 5
    csv_link = re.search(r'href="https://desk.example.org/api(/console/reports/sla/csv\?[^"]+)"', html)
    assert csv_link
    csv = admin.get(csv_link.group(1).replace("&amp;", "&"))
    assert csv.status_code == 200
    assert csv.headers["Content-Type"].startswith("text/csv")


def test_shortcuts_can_be_switched_off_per_agent(sam: Console) -> None:
    assert "shortcuts-on" in page(sam, "/console")
    page(sam, "/console/settings")
    sam.post("/console/settings", {})
    assert "shortcuts-on" not in page(sam, "/console")


def body_of(html: str) -> Element:
    return parse(html).one("body")


def test_console_pages_carry_the_desks_time_for_their_countdowns(
    api: Api, sam: Console, stream: Stream, clock: ManualClock, agents: dict[str, dict[str, str]]
) -> None:
    """console.js counts down from the desk's clock (data-now, epoch ms), not from the computer's."""
    opened = api.open()
    stream.drain()
    clock.advance(hours=5, minutes=7)  # as `/_local/clock` moves a local run's desk ahead of the computer
    sam.sign_in_with_token(agents["sam"]["token"])  # the session idled out meanwhile
    desk_ms = str(int(clock.now().timestamp() * 1000))
    assert body_of(page(sam, "/console")).attrs.get("data-now") == desk_ms
    assert body_of(page(sam, f"/console/tickets/{opened['id']}")).attrs.get("data-now") == desk_ms
    assert body_of(page(sam, "/console/search?q=printer")).attrs.get("data-now") == desk_ms
    fragment = parse(page(sam, "/console/rows?view=open"))
    assert [e.attrs["data-now"] for e in fragment.all(None) if "data-now" in e.attrs] == [desk_ms]


def test_a_breached_timer_says_how_long_ago_on_the_queue_and_the_ticket(
    api: Api, sam: Console, stream: Stream, clock: ManualClock, agents: dict[str, dict[str, str]]
) -> None:
    opened = api.open(subject="Server down")
    api.json("PATCH", f"/tickets/{opened['id']}", {"priority": "critical", "version": 1})  # 1 h first response
    stream.drain()
    clock.advance(hours=3)
    stream.drain()
    sam.sign_in_with_token(agents["sam"]["token"])
    badge = parse(page(sam, "/console")).one("span", class_="sla sla-breached")
    assert badge.attrs["data-level"] == "breached"
    assert badge.text == "Breached 2h 0m ago"
    ticket = parse(page(sam, f"/console/tickets/{opened['id']}"))
    first = next(li for li in ticket.all("li") if "timer" in (li.attrs.get("class") or "").split())
    assert first.text.startswith("First response:")
    countdown = first.one("span")
    assert countdown.attrs["data-level"] == "breached"
    assert countdown.attrs["data-due"]
    assert countdown.text == "Breached 2h 0m ago"
    assert "left" not in first.text


def test_a_running_timer_counts_down_in_the_same_words_on_the_ticket(
    api: Api, sam: Console, stream: Stream, clock: ManualClock
) -> None:
    opened = api.open()
    api.json("PATCH", f"/tickets/{opened['id']}", {"priority": "critical", "version": 1})
    stream.drain()
    clock.advance(minutes=15)
    badge = parse(page(sam, "/console")).one("span", class_="sla sla-ok")
    spans = [s for s in parse(page(sam, f"/console/tickets/{opened['id']}")).all("span") if "data-due" in s.attrs]
    assert badge.text == "45m left"
    assert [(s.attrs["data-level"], s.text) for s in spans] == [("ok", "45m left"), ("ok", "7h 45m left")]


def test_with_shortcuts_off_there_is_no_shortcut_hint_nor_help(sam: Console) -> None:
    html = page(sam, "/console")
    assert "for keyboard shortcuts" in html
    assert 'id="shortcuts-help"' in html
    page(sam, "/console/settings")
    sam.post("/console/settings", {})
    html = page(sam, "/console")
    assert "shortcuts-on" not in html
    assert "for keyboard shortcuts" not in html
    assert 'id="shortcuts-help"' not in html


def test_the_rows_fragment_names_the_next_pages_tickets(api: Api, sam: Console, stream: Stream) -> None:
    """So that a poll tells a ticket pushed down onto the next page (still in the view) from one that left it."""
    opened = [api.open(subject=f"Ticket {n}", requester_email=f"r{n}@example.org") for n in range(27)]
    stream.drain()
    fragment = parse(page(sam, "/console/rows?view=open"))
    shown = [tr.attrs["data-id"] for tr in fragment.all("tr") if "data-id" in tr.attrs]
    below = (fragment.one("p", id="queue-next").attrs.get("data-ids") or "").split()
    assert len(shown) == 25
    assert sorted(shown + below) == sorted(t["id"] for t in opened)
    quiet = parse(page(sam, "/console/rows?view=unassigned&priority=critical"))
    assert quiet.one("p", id="queue-next").attrs.get("data-ids") == ""


def test_the_sla_chart_plots_first_responses_before_any_resolution(
    api: Api, admin: Console, sam: Console, stream: Stream, clock: ManualClock
) -> None:
    opened = api.open()
    seen = form_values(page(sam, f"/console/tickets/{opened['id']}"), "/reply")
    clock.advance(minutes=20)
    sent = sam.post(f"/console/tickets/{opened['id']}/reply", {**seen, "kind": "reply", "body": "On it."})
    assert sent.status_code == 303
    stream.drain()
    html = page(admin, "/console/reports")
    section = next(s for s in parse(html).all("section") if s.all("svg", id=None) and "SLA" in s.one("h2").text)
    assert section.one("h2").text == "SLA compliance by week: first response and resolution"
    chart = section.one("svg")
    assert "No data" not in chart.text
    assert "First response" in chart.text
    assert "Resolution" in chart.text
