"""`python -m localdesk` as a person runs it: a real process, real HTTP on loopback, Ctrl-C to stop."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.localrun import ADMIN_TOKEN, ROOT, LocalRun, call


@pytest.fixture(scope="module")
def shared_run() -> Iterator[LocalRun]:
    """One local desk for the tests that only make requests (starting one takes a few seconds)."""
    run = LocalRun()
    try:
        yield run
    finally:
        run.close(graceful=False)  # test_ctrl_c_stops_the_local_run_cleanly checks the graceful stop


@pytest.fixture(scope="module")
def desk_url(shared_run: LocalRun) -> str:
    return shared_run.wait_ready()


@pytest.fixture
def own_run() -> Iterator[LocalRun]:
    run = LocalRun()
    try:
        yield run
    finally:
        run.close(graceful=False)  # test_ctrl_c_stops_the_local_run_cleanly checks the graceful stop


def open_ticket(desk_url: str, subject: str = "The printer on floor 2 jams") -> dict[str, Any]:
    status, _, body = call(
        "POST",
        f"{desk_url}/tickets",
        {
            "type": "question",
            "subject": subject,
            "description": "Every second page since Monday.",
            "requester_name": "Ada Requester",
            "requester_email": "ada@example.org",
        },
    )
    assert status == 201, body
    ticket: dict[str, Any] = json.loads(body)
    return ticket


def test_the_local_run_prints_its_urls_and_the_chosen_admin_token(shared_run: LocalRun, desk_url: str) -> None:
    assert desk_url.startswith("http://127.0.0.1:")
    assert f"{desk_url}/form" in shared_run.output
    assert ADMIN_TOKEN in shared_run.output
    assert "Ctrl-C" in shared_run.output


def test_the_local_run_serves_the_web_form(desk_url: str) -> None:
    status, headers, body = call("GET", f"{desk_url}/form")

    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"<html" in body


def test_a_ticket_opened_over_http_is_in_the_agents_queue(desk_url: str) -> None:
    ticket = open_ticket(desk_url)

    assert ticket["id"]
    assert ticket["ref"]
    assert ticket["status"]
    assert ticket["portal_url"].startswith(f"{desk_url}/"), "portal links point at the local desk"

    status, _, body = call("GET", f"{desk_url}/tickets", token=ADMIN_TOKEN)
    assert status == 200, body
    assert ticket["id"] in [t["id"] for t in json.loads(body)["tickets"]]


def test_the_queue_needs_an_agent_token(desk_url: str) -> None:
    status, _, body = call("GET", f"{desk_url}/tickets")

    assert status == 401, body


def test_the_local_clock_moves_forward_and_refuses_nonsense(desk_url: str) -> None:
    status, _, body = call("POST", f"{desk_url}/_local/clock", {"advance": "5d"})
    assert status == 200, body
    assert "now" in json.loads(body)

    status, _, body = call("POST", f"{desk_url}/_local/clock", {"advance": "soon"})
    assert status == 400
    assert "advance" in json.loads(body)["error"]["errors"]


def agent_json(method: str, url: str, body: Any = None) -> Any:
    status, _, answer = call(method, url, body, token=ADMIN_TOKEN)
    assert status in (200, 201), answer
    return json.loads(answer)


def history_kinds_within(url: str, expected: int, seconds: float) -> tuple[list[str], float]:
    """Poll the history until it has `expected` events; what it had and how long that took."""
    started = time.monotonic()
    kinds: list[str] = []
    while time.monotonic() - started < seconds:
        kinds = [e["kind"] for e in agent_json("GET", url)["events"]]
        if len(kinds) >= expected:
            break
        time.sleep(0.05)
    return kinds, time.monotonic() - started


def test_the_stream_poller_looks_several_times_a_second() -> None:
    """The contract's "within a second of the write" is the poller's design; bench/stream_latency.py measures it."""
    from localdesk.streams import StreamPoller

    assert inspect.signature(StreamPoller).parameters["interval"].default <= 0.25


def test_history_follows_a_change_on_its_own(desk_url: str) -> None:
    ticket = open_ticket(desk_url, "History for the local run")
    ticket_url = f"{desk_url}/tickets/{ticket['id']}"
    agent_json(
        "POST", f"{ticket_url}/transitions", {"to": "in_progress", "version": 1, "comment": "On it", "public": True}
    )

    kinds, _ = history_kinds_within(f"{ticket_url}/history", 3, seconds=30)

    assert kinds == ["created", "status_changed", "reply"]
    detail = agent_json("GET", ticket_url)
    assert detail["sla"]["first_response"]["state"] == "met"
    assert [s["key"] for s in detail["time_in_status"]] == ["submitted", "in_progress"]


def test_advancing_the_local_clock_breaches_a_running_sla_timer(desk_url: str) -> None:
    ticket = open_ticket(desk_url, "Nobody answers")
    ticket_url = f"{desk_url}/tickets/{ticket['id']}"
    before = agent_json("GET", ticket_url)["sla"]["first_response"]
    assert before["state"] == "running"

    agent_json("POST", f"{desk_url}/_local/clock", {"advance": "5d"})
    after = agent_json("GET", ticket_url)["sla"]["first_response"]

    assert before["breached"] is False
    assert after["breached"] is True
    assert after["remaining_seconds"] < 0


def edit_all_at_once(desk_url: str, ticket_id: str, editors: int) -> list[int]:
    """`editors` PATCHes of version 1 released together; their HTTP statuses."""
    start = threading.Barrier(editors)
    statuses: list[int] = []

    def edit(n: int) -> None:
        start.wait(timeout=30)
        body = {"version": 1, "subject": f"Edit {n}"}
        statuses.append(call("PATCH", f"{desk_url}/tickets/{ticket_id}", body, token=ADMIN_TOKEN)[0])

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(editors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_concurrent_edits_of_one_version_let_exactly_one_win(desk_url: str) -> None:
    """moto is not safe under concurrent conditional writes: the local run must serve one request at a time."""
    for round_ in range(3):
        ticket = open_ticket(desk_url, f"Race {round_}")

        statuses = edit_all_at_once(desk_url, ticket["id"], editors=12)

        assert sorted(statuses) == [200] + [409] * 11
        status, _, body = call("GET", f"{desk_url}/tickets/{ticket['id']}", token=ADMIN_TOKEN)
        assert status == 200, body
        assert json.loads(body)["version"] == 2


def test_ctrl_c_stops_the_local_run_cleanly(own_run: LocalRun) -> None:
    desk_url = own_run.wait_ready()
    open_ticket(desk_url)

    status = own_run.interrupt()

    assert status == 0, own_run.output
    assert "Traceback" not in own_run.output
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(desk_url.rsplit(":", 1)[1])), timeout=2).close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough drives the desk with curl")
def test_the_documented_walkthrough_runs_against_the_local_desk(own_run: LocalRun) -> None:
    """docs/walkthrough.sh is what the closing notes show: it must keep working as the desk changes."""
    desk_url = own_run.wait_ready()
    env = {**os.environ, "DESK": desk_url, "TOKEN": ADMIN_TOKEN}
    done = subprocess.run(
        ["bash", str(ROOT / "docs" / "walkthrough.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in order: each command, then its answer
        text=True,
        timeout=120,
        check=False,
    )
    transcript = done.stdout
    assert done.returncode == 0, transcript
    assert "-> Completed (version 9)" in transcript
    assert '"code": "transition_not_allowed"' in transcript
    assert "may: Approve estimate, Decline estimate" in transcript
    assert "last comment by requester: Go ahead." in transcript
    assert '"code": "stale_version"' in transcript
    queue_section, history_section = transcript.split("== 5.", 1)[1].split("== 6.", 1)
    queue_lines = queue_section.rstrip().splitlines()[-3:]
    assert "Critical" in queue_lines[0], transcript
    assert "status_changed  Estimate pending client approval -> Approved for action" in history_section
    assert "first_response: running, breached" in history_section
    assert "resolution: running, breached" in history_section
    mail_section, report_section = transcript.split("== 7.", 1)[1].split("== 8.", 1)
    runs = re.findall(r"reminders sent: (\d+)", mail_section)
    assert runs == ["0", "0", "1", "0"], mail_section  # not before its time (6 days), at it (a week), then once
    assert "lee@example.org  [" in mail_section, mail_section
    assert "Client testing" in mail_section, mail_section
    assert "Reminder 1 of 2" in mail_section, mail_section
    assert mail_section.rstrip().endswith("reminder_sent"), mail_section
    eml = re.search(r"saved as (\S+\.eml)", mail_section)
    assert eml is not None, mail_section
    assert Path(eml.group(1)).is_file(), mail_section
    assert re.search(r"breach alerts: [1-9]", report_section), report_section  # the critical ticket of section 5
    assert re.search(r"arrivals [1-9]\d*, resolutions [1-9]\d*, reopened 0", report_section), report_section
    assert "so the backlog grew by" in report_section, report_section
    assert re.search(r"Critical +first response met \d+, breached [1-9]", report_section), report_section
    assert "Client testing           stays 1" in report_section, report_section
    assert "group,label,first_response_met,first_response_breached" in report_section, report_section
    assert re.search(r"open \d+, at risk \d+, breached \d+", report_section), report_section
