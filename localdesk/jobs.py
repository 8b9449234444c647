"""Runs the app's scheduled jobs at their rates, as EventBridge runs the deployed functions."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice import Chalice
from chalice.app import Rate, ScheduledEventConfig, ScheduleExpression
from chalice.local import LambdaContext

from localdesk.server import GateClosedError

logger = logging.getLogger("localdesk.jobs")
ACCOUNT = "123456789012"
REGION = "us-east-1"
MEMORY_SIZE = 512
TIMEOUT_MS = 20_000  # the stage's lambda_timeout unless the local run passes another
OTHERWISE_EVERY = 3600  # cron and anything else that is not a rate runs hourly locally
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)", re.IGNORECASE)
STOP_TIMEOUT = 5.0

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Schedule:
    text: str  # as the listing shows it, e.g. "rate(5 minutes)"
    every_seconds: int


def schedule_of(expression: str | ScheduleExpression) -> Schedule:
    """A rate as it is deployed; a cron expression (or anything else) every hour, and the text says so."""
    if isinstance(expression, Rate):
        seconds = int(expression.value) * UNIT_SECONDS.get(expression.unit.lower().rstrip("s"), 0)
        if seconds <= 0:
            raise ValueError(f"{expression.to_string()} is not a positive rate")
        return Schedule(expression.to_string(), seconds)
    text = expression.to_string() if isinstance(expression, ScheduleExpression) else str(expression).strip()
    match = RATE.fullmatch(text)
    if match:
        seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2).lower().rstrip("s")]
        if seconds <= 0:
            raise ValueError(f"{text} is not a positive rate")
        return Schedule(text, seconds)
    return Schedule(f"{text} (locally: every hour)", OTHERWISE_EVERY)


@dataclass
class Job:
    """One scheduled function and what its last run did."""

    name: str
    handler: Handler
    schedule: Schedule
    last_run_at: str | None = None  # wall clock, UTC
    last_result: Any = None  # what the last run returned (None after a failed run)
    last_error: str | None = None  # why the last run failed (None after a successful run)
    runs: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schedule": self.schedule.text,
            "every_seconds": self.schedule.every_seconds,
            "last_run_at": self.last_run_at,
            "last_result": self.last_result,
            "last_error": self.last_error,
            "runs": self.runs,
        }


def discover_jobs(app: Chalice) -> list[Job]:
    """Every `@app.schedule` function, in the order the app declares them."""
    return [
        Job(source.name, app.handler_map[source.name], schedule_of(source.schedule_expression))
        for source in app.event_sources
        if isinstance(source, ScheduledEventConfig)
    ]


def scheduled_event(name: str, at: datetime) -> dict[str, Any]:
    """The event EventBridge hands a scheduled function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"],
        "detail": {},
    }


def jsonable(value: Any) -> Any:
    """What a job returned, as JSON can carry it (anything else as its text)."""
    return json.loads(json.dumps(value, default=str))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JobRunner:
    """A thread that runs each job every interval (the first run one interval after `start()`), each run taking
    its turn at the gate; a job that fails is logged and recorded, and runs again at its next time.

    `scale` multiplies every interval (tests use a small one); `now` gives the time the events carry (the desk's
    clock, so a job asked for the time sees what the desk sees).
    """

    def __init__(
        self,
        jobs: Iterable[Job],
        turn: Callable[[], AbstractContextManager[Any]],
        *,
        now: Callable[[], datetime] = _utc_now,
        scale: float = 1.0,
        timeout_ms: int = TIMEOUT_MS,
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self._jobs = {job.name: job for job in jobs}
        self._turn = turn
        self._now = now
        self._scale = scale
        self._timeout_ms = timeout_ms
        self._lock = threading.Lock()  # guards the jobs' records, read by requests while the runner writes them
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="localdesk-jobs", daemon=True)

    @classmethod
    def for_app(cls, app: Chalice, turn: Callable[[], AbstractContextManager[Any]], **options: Any) -> JobRunner:
        return cls(discover_jobs(app), turn, **options)

    @property
    def names(self) -> list[str]:
        return list(self._jobs)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [job.summary() for job in self._jobs.values()]

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Promptly: a job running now finishes its run, no other starts."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_now(self, name: str) -> Any:
        """Run one job at once and return what it returned; the caller already holds the gate's turn (an HTTP
        request does), so this takes none. KeyError for an unknown name; a failing job's error is re-raised."""
        job = self._jobs[name]
        try:
            return self._call(job)
        except Exception:
            logger.exception("scheduled job %s failed (run on request)", name)
            raise

    def _call(self, job: Job) -> Any:
        event = scheduled_event(job.name, self._now())
        context = LambdaContext(job.name, memory_size=MEMORY_SIZE, max_runtime_ms=self._timeout_ms)
        started = _utc_now().isoformat(timespec="seconds")
        try:
            result = job.handler(event, context)
        except Exception as exc:
            with self._lock:
                job.last_run_at, job.last_result, job.last_error = started, None, f"{type(exc).__name__}: {exc}"
                job.runs += 1
            raise
        with self._lock:
            job.last_run_at, job.last_result, job.last_error = started, jsonable(result), None
            job.runs += 1
        return result

    def _run_scheduled(self, job: Job) -> None:
        try:
            with self._turn():
                if not self._stop.is_set():
                    self._call(job)
        except GateClosedError:
            self._stop.set()  # the desk is stopping: moto may be gone
        except Exception:
            logger.exception("scheduled job %s failed; it runs again at its next time", job.name)

    def _loop(self) -> None:
        every = {job.name: job.schedule.every_seconds * self._scale for job in self._jobs.values()}
        started = time.monotonic()
        due = {name: started + seconds for name, seconds in every.items()}
        while not self._stop.is_set():
            if not due:
                self._stop.wait()
                return
            name = min(due, key=lambda n: due[n])
            delay = due[name] - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
                continue
            self._run_scheduled(self._jobs[name])
            now = time.monotonic()
            following = due[name] + every[name]
            due[name] = following if following > now else now + every[name]  # runs missed while busy are skipped
