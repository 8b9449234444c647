"""The local run's scheduled jobs: found on the app, run at their rates inside the gate, and on request."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chalice import Chalice, Cron, Rate
from chalice.app import CloudWatchEvent
from chalice.test import Client

from chalicelib.adapters.clock import AdjustableClock
from localdesk.jobs import JobRunner, discover_jobs, schedule_of, scheduled_event
from localdesk.mail import MailLog
from localdesk.routes import register_local_routes
from localdesk.server import GateClosedError

WAIT = 10.0  # generous: how long a test waits for something that should happen within a fraction of a second
FAST = 0.001  # scales a minute to 60 ms


class Calls:
    """What the tiny app's jobs were called with."""

    def __init__(self) -> None:
        self.ticks: list[CloudWatchEvent] = []
        self.booms = 0


def tiny_app(calls: Calls) -> Chalice:
    app = Chalice(app_name="jobs-test")

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def tick(event: CloudWatchEvent) -> dict[str, Any]:
        calls.ticks.append(event)
        return {"ticks": len(calls.ticks), "at": event.time}

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="boom")
    def explode(event: CloudWatchEvent) -> dict[str, Any]:
        calls.booms += 1
        raise RuntimeError(f"boom number {calls.booms}")

    @app.route("/")
    def index() -> dict[str, str]:
        return {"hello": "world"}

    return app


class Turns:
    """Stands in for the gate: counts the turns taken and refuses one inside another."""

    def __init__(self) -> None:
        self.taken = 0
        self.held = False
        self._lock = threading.Lock()

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            assert not self.held, "a turn was taken inside another"
            self.held = True
            self.taken += 1
        try:
            yield
        finally:
            self.held = False


def until(condition: Callable[[], bool], seconds: float = WAIT) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def turns() -> Turns:
    return Turns()


@pytest.fixture
def runner(calls: Calls, turns: Turns) -> Iterator[JobRunner]:
    built = JobRunner.for_app(tiny_app(calls), turns.turn)
    yield built
    built.stop()


def test_the_apps_scheduled_functions_are_found_with_their_rates(calls: Calls) -> None:
    jobs = discover_jobs(tiny_app(calls))

    assert [job.name for job in jobs] == ["tick", "boom"]
    assert [(job.schedule.text, job.schedule.every_seconds) for job in jobs] == [("rate(1 minute)", 60)] * 2


@pytest.mark.parametrize(
    ("expression", "text", "seconds"),
    [
        (Rate(5, unit=Rate.MINUTES), "rate(5 minutes)", 300),
        (Rate(1, unit=Rate.HOURS), "rate(1 hour)", 3600),
        (Rate(2, unit=Rate.DAYS), "rate(2 days)", 172800),
        ("rate(15 minutes)", "rate(15 minutes)", 900),
        ("rate(1 day)", "rate(1 day)", 86400),
        (Cron(0, 8, "*", "*", "?", "*"), "cron(0 8 * * ? *) (locally: every hour)", 3600),
        ("cron(0/10 * * * ? *)", "cron(0/10 * * * ? *) (locally: every hour)", 3600),
    ],
)
def test_rates_run_at_their_rate_and_cron_every_hour_saying_so(expression: Any, text: str, seconds: int) -> None:
    schedule = schedule_of(expression)

    assert (schedule.text, schedule.every_seconds) == (text, seconds)


def test_a_scheduled_event_looks_like_eventbridges() -> None:
    event = scheduled_event("stale_sweep", datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC))

    assert event["time"] == "2026-11-23T09:30:15Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/stale_sweep"]
    assert {k: v for k, v in event.items() if k not in ("id", "time", "resources")} == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "region": "us-east-1",
        "detail": {},
    }
    assert event["id"] != scheduled_event("stale_sweep", datetime.now(UTC))["id"]


def test_run_now_returns_what_the_job_returned_without_taking_a_turn(
    runner: JobRunner, calls: Calls, turns: Turns
) -> None:
    with turns.turn():  # as the HTTP request that asks for it holds the turn
        result = runner.run_now("tick")

    assert result["ticks"] == 1
    assert turns.taken == 1, "run_now took a turn of its own"
    tick = {job["name"]: job for job in runner.listing()}["tick"]
    assert tick["last_result"] == result
    assert tick["last_error"] is None
    assert tick["schedule"] == "rate(1 minute)"
    assert tick["every_seconds"] == 60
    assert datetime.fromisoformat(tick["last_run_at"]).tzinfo is not None


def test_the_event_carries_the_time_the_runner_is_given(calls: Calls, turns: Turns) -> None:
    runner = JobRunner.for_app(tiny_app(calls), turns.turn, now=lambda: datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))

    runner.run_now("tick")

    assert calls.ticks[0].time == "2030-01-02T03:04:05Z"
    assert calls.ticks[0].to_dict()["source"] == "aws.events"
    assert getattr(calls.ticks[0].context, "function_name", None) == "tick"


def test_a_failing_job_is_recorded_and_logged(runner: JobRunner, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="localdesk.jobs"), pytest.raises(RuntimeError, match="boom number 1"):
        runner.run_now("boom")

    boom = {job["name"]: job for job in runner.listing()}["boom"]
    assert boom["last_error"] == "RuntimeError: boom number 1"
    assert boom["last_result"] is None
    assert boom["last_run_at"] is not None
    assert any(r.name == "localdesk.jobs" and "boom" in r.getMessage() for r in caplog.records)


def test_an_unknown_job_is_a_key_error(runner: JobRunner) -> None:
    with pytest.raises(KeyError):
        runner.run_now("nope")


def test_the_runner_runs_every_job_at_its_rate_each_in_a_turn_and_a_failure_stops_nothing(
    calls: Calls, turns: Turns, caplog: pytest.LogCaptureFixture
) -> None:
    runner = JobRunner.for_app(tiny_app(calls), turns.turn, scale=FAST)
    with caplog.at_level(logging.ERROR, logger="localdesk.jobs"):
        runner.start()
        try:
            assert until(lambda: len(calls.ticks) >= 3 and calls.booms >= 3), (len(calls.ticks), calls.booms)
        finally:
            runner.stop()

    assert turns.taken >= len(calls.ticks) + calls.booms, "every scheduled run takes its turn at the gate"
    listing = {job["name"]: job for job in runner.listing()}
    assert listing["tick"]["last_result"]["ticks"] == len(calls.ticks)
    assert listing["boom"]["last_error"] == f"RuntimeError: boom number {calls.booms}"
    assert sum("boom" in r.getMessage() for r in caplog.records if r.name == "localdesk.jobs") == calls.booms


def test_the_first_run_is_one_interval_after_start_and_stop_ends_the_thread(calls: Calls, turns: Turns) -> None:
    runner = JobRunner.for_app(tiny_app(calls), turns.turn)  # a real minute: nothing runs during this test
    runner.start()

    runner.stop()

    assert not runner.running
    assert turns.taken == 0
    assert calls.ticks == []


def test_the_runner_stops_when_the_gate_closes(calls: Calls) -> None:
    @contextmanager
    def closed() -> Iterator[None]:
        raise GateClosedError
        yield

    runner = JobRunner.for_app(tiny_app(calls), closed, scale=FAST)
    runner.start()

    assert until(lambda: not runner.running)
    assert calls.ticks == []


def test_an_app_without_schedules_has_no_jobs(turns: Turns) -> None:
    runner = JobRunner.for_app(Chalice(app_name="none"), turns.turn)
    runner.start()
    runner.stop()

    assert runner.listing() == []
    assert not runner.running


# The /_local/jobs routes, on the tiny app (no moto, no wiring).


@pytest.fixture
def client(calls: Calls, turns: Turns, tmp_path: Path) -> Iterator[Client]:
    app = tiny_app(calls)
    runner = JobRunner.for_app(app, turns.turn)
    register_local_routes(app, AdjustableClock(), runner, MailLog(tmp_path))
    with Client(app, project_dir=str(tmp_path)) as test_client:
        yield test_client


def answer(response: Any) -> Any:
    return json.loads(response.body)


def test_get_local_jobs_lists_every_job(client: Client) -> None:
    response = client.http.get("/_local/jobs")

    assert response.status_code == 200
    jobs = answer(response)["jobs"]
    assert [job["name"] for job in jobs] == ["tick", "boom"]
    assert set(jobs[0]) >= {"name", "schedule", "every_seconds", "last_run_at", "last_result", "last_error"}


@pytest.mark.parametrize("content_type", [None, "application/json", "application/x-www-form-urlencoded", "text/csv"])
def test_post_local_job_runs_it_now_whatever_the_body(client: Client, calls: Calls, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = client.http.post("/_local/jobs/tick", headers=headers, body=b"ignored")

    assert response.status_code == 200, response.body
    assert answer(response)["job"] == "tick"
    assert answer(response)["result"]["ticks"] == len(calls.ticks) == 1
    assert answer(client.http.get("/_local/jobs"))["jobs"][0]["last_result"]["ticks"] == 1


def test_post_an_unknown_job_is_404_naming_the_known_ones(client: Client) -> None:
    response = client.http.post("/_local/jobs/nope")

    assert response.status_code == 404
    error = answer(response)["error"]
    assert error["code"] == "not_found"
    assert error["known"] == ["tick", "boom"]


def test_post_a_failing_job_says_why(client: Client) -> None:
    response = client.http.post("/_local/jobs/boom")

    assert response.status_code == 500
    assert answer(response)["error"]["code"] == "job_failed"
    assert "boom number 1" in answer(response)["error"]["message"]
    assert answer(client.http.get("/_local/jobs"))["jobs"][1]["last_error"] == "RuntimeError: boom number 1"
