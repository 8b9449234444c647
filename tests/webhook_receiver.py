"""A webhook receiver as a desk's user would write one: a real HTTP server that checks each delivery's signature
with its own code (not the desk's) and refuses deliveries signed more than five minutes from its own clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WINDOW_SECONDS = 300
OK, FAIL, SLOW = "ok", "fail", "slow"


def verify(secret: str, headers: dict[str, str], body: bytes, now: float) -> str | None:
    """Why a delivery is refused, or None: the check docs/EVENTS.md documents, written out independently."""
    timestamp = headers.get("webhook-timestamp", "")
    signature = headers.get("webhook-signature", "")
    if not timestamp.isdigit():
        return "no timestamp"
    if abs(now - int(timestamp)) > WINDOW_SECONDS:
        return "outside the replay window"
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, given.strip()) for given in signature.split(",")):
        return "bad signature"
    return None


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """`mode`: ok (204), fail (500) or slow (answers only after `release()` or a few seconds)."""

    def __init__(self, mode: str = OK, now: Callable[[], float] = time.time) -> None:
        self.mode = mode
        self.now = now
        self.secret = ""
        self.accepted: list[Received] = []
        self.refused: list[str] = []
        self.requests = 0
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def events(self) -> list[Any]:
        return [r.event for r in self.accepted]

    def release(self) -> None:
        self._release.set()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.requests += 1
                if receiver.mode == SLOW:
                    receiver._release.wait(5)
                if receiver.mode == FAIL:
                    self._answer(500)
                    return
                reason = verify(receiver.secret, headers, body, receiver.now())
                with receiver._lock:
                    if reason:
                        receiver.refused.append(reason)
                    else:
                        receiver.accepted.append(Received(headers, body))
                self._answer(400 if reason else 204)

            def _answer(self, status: int) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the desk gave up waiting (a slow receiver)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def replay(self, received: Received) -> int:
        """Send a delivery this receiver got once more, as an attacker who captured it would."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.url, data=received.body, headers=received.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)


@contextmanager
def receivers(*modes: str) -> Iterator[list[Receiver]]:
    started = [Receiver(mode) for mode in modes]
    for receiver in started:
        receiver.thread.start()
    try:
        yield started
    finally:
        for receiver in started:
            receiver.release()
            receiver.server.shutdown()
            receiver.server.server_close()
