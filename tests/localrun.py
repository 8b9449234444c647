"""`python -m localdesk` as a person runs it, for tests: a real process on a free port, real HTTP on loopback.

Shared by tests/test_local_run.py and the browser tests' `local_desk` fixture (tests/browser/conftest.py). Each
run has its own port and its own mail folder, so runs side by side (pytest-xdist workers) never meet.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import EllipsisType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "local-run-test-admin-token"
READY = re.compile(r"^Desk ready on (http://\S+)")
PORT_TAKEN = "is already in use"  # what the desk says when PORT is taken (localdesk/main.py)
START_TIMEOUT = 60
STOP_TIMEOUT = 15
START_ATTEMPTS = 3  # another process may take the free port between free_port() and the desk's bind


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalRun:
    """One `python -m localdesk` process on a free port; its merged stdout and stderr are collected line by line.

    If another process takes the port before the desk listens, `wait_ready` starts it again on another one."""

    def __init__(self, admin_token: str = ADMIN_TOKEN, extra_env: dict[str, str] | None = None) -> None:
        self.admin_token = admin_token
        self.mail_dir = tempfile.mkdtemp(prefix="localdesk-mail-")  # runs side by side keep their own .eml files
        self._env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "AWS_"))}
        self._env.update(
            HELPDESK_ADMIN_TOKEN=admin_token, HELPDESK_MAIL_DIR=self.mail_dir, PYTHONUNBUFFERED="1", **(extra_env or {})
        )
        self._env.setdefault("HELPDESK_SMTP_PORT", str(free_port()))  # runs side by side do not fight over 2525
        self.attempts = 0
        self._start()

    def _start(self) -> None:
        self.attempts += 1
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localdesk"],
            cwd=ROOT,
            env={**self._env, "PORT": str(self.port)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a Ctrl-C in pytest's terminal is not sent to it
        )
        self.lines: list[str] = []
        self._ready: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.process, self.lines, self._ready), daemon=True)
        self._reader.start()

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: list[str], ready: queue.Queue[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            match = READY.match(line)
            if match:
                ready.put(match.group(1))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> str:
        """The desk's URL once it prints "Desk ready on <url>"; fails the test if it exits or takes too long."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                return self._ready.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is None:
                    continue
                self._reader.join(timeout=2)
                if PORT_TAKEN in self.output and self.attempts < START_ATTEMPTS:
                    self._start()
                    continue
                pytest.fail(f"the local desk exited with {self.process.returncode} before it was ready:\n{self.output}")
        pytest.fail(f"the local desk was not ready within {START_TIMEOUT} s:\n{self.output}")

    def interrupt(self) -> int:
        """Ctrl-C, as the terminal sends it; the exit status."""
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=2)
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=2)

    def close(self, graceful: bool = True) -> None:
        """Stop the desk and remove its mail folder: Ctrl-C first, as a person does (killed if it does not stop in
        time), or at once with `graceful=False`."""
        try:
            if graceful and self.process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.interrupt()
        finally:
            self.kill()
            shutil.rmtree(self.mail_dir, ignore_errors=True)


def call(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """A real HTTP request; the status, headers and body whatever the status."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class LocalDesk:
    """A ready local desk and the calls browser tests make to set the scene (over real HTTP, as curl would).

    One desk serves all the tests of a session (of an xdist worker): tickets, agents, mail and the clock carry over
    from test to test, so a test looks for what it made (its ticket, its recipient), not for an empty desk."""

    def __init__(self, run: LocalRun) -> None:
        self.run = run
        self._requesters = itertools.count(1)
        self.url = run.wait_ready()
        self.admin_token = run.admin_token
        self.mail_dir = Path(run.mail_dir)

    def api(self, method: str, path: str, body: Any = None, token: str | EllipsisType | None = ...) -> tuple[int, Any]:
        """The status and the decoded JSON answer (text if it is not JSON); `token=...` (the default) is the admin's,
        `token=None` calls without one."""
        status, headers, raw = call(method, f"{self.url}{path}", body, self.admin_token if token is ... else token)
        text = raw.decode("utf-8", errors="replace")
        if headers.get("Content-Type", "").startswith("application/json") and text:
            return status, json.loads(text)
        return status, text

    def _ok(self, method: str, path: str, body: Any = None, token: str | EllipsisType | None = ...) -> Any:
        status, answer = self.api(method, path, body, token)
        assert 200 <= status < 300, f"{method} {path} answered {status}: {answer}"
        return answer

    def outbox(self) -> list[dict[str, Any]]:
        """Every mail sent so far, oldest first: each with to, subject, text and html."""
        emails: list[dict[str, Any]] = self._ok("GET", "/_local/outbox", token=None)["emails"]
        return emails

    def create_agent(self, name: str, email: str, role: str = "agent") -> tuple[str, str]:
        """A new agent (the admin creates it); its id and its bearer token."""
        answer = self._ok("POST", "/admin/agents", {"name": name, "email": email, "role": role})
        return answer["agent"]["id"], answer["token"]

    def open_ticket(self, **fields: Any) -> dict[str, Any]:
        """POST /tickets as a requester (no token); `fields` override a plain question. The answer (201): id, ref,
        status and portal_url. Unless `requester_email` is given, each ticket has a requester of its own: the desk
        takes at most a few new tickets an hour from one address, and every test of the session shares the desk."""
        body = {
            "type": "question",
            "subject": "The printer on floor 2 jams",
            "description": "Every second page since Monday.",
            "requester_name": "Ada Requester",
            "requester_email": f"requester{next(self._requesters)}@example.org",
            **fields,
        }
        status, answer = self.api("POST", "/tickets", body, token=None)
        assert status == 201, f"POST /tickets answered {status}: {answer}"
        ticket: dict[str, Any] = answer
        return ticket

    def advance_clock(self, advance: str) -> dict[str, Any]:
        """Move the whole desk's clock forward ("30m", "3h", "5d"); the desk's new time as {"now": ...}."""
        moved: dict[str, Any] = self._ok("POST", "/_local/clock", {"advance": advance}, token=None)
        return moved

    def run_job(self, name: str) -> dict[str, Any]:
        """Run a scheduled job now (stale_sweep, sla_sweep, outbox_retry, survey_sender); its {"job", "result"}."""
        done: dict[str, Any] = self._ok("POST", f"/_local/jobs/{name}", token=None)
        return done
