"""A flood of anonymous posts against the running local desk (`make run`), over HTTP, and the mails it produced.

    make run                                   # in one terminal
    .venv/bin/python bench/flood_local.py      # in another; --url if the desk is not on http://127.0.0.1:8000

Prints counts; asserts nothing. Every post comes from this machine, so the local gateway reports one source IP
(127.0.0.1) for all of them: this shows the per-IP and per-requester limits and the comment coalescing on the real
local stack (HTTP server, moto, the stream poller, the SMTP sink). `bench/flood.py` shows floods from many IPs,
which only an in-process run can fake. Before each phase the local clock is moved on an hour (`/_local/clock`), so
each starts with fresh hourly windows even on a desk already used; the mails are read from `/_local/outbox`.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

TICKET = {"subject": "Help", "description": "Please help.", "requester_name": "Flood"}


class Desk:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 - http(s) only
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local desk's URL
                return response.status, dict(response.headers), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")

    def mails(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/_local/outbox")[2]["emails"])

    def settled_mails(self, before: int) -> list[dict[str, Any]]:
        """The mails sent since `before`, once the stream poller and the outbox have gone quiet for two seconds."""
        self.call("POST", "/_local/jobs/outbox_retry")
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 2:
            count = len(self.mails())
            if count != seen:
                seen, quiet_since = count, time.monotonic()
            time.sleep(0.2)
        return self.mails()[before:]


def flood(desk: Desk, label: str, posts: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    before = len(desk.mails())
    started = time.monotonic()
    answers = [desk.call("POST", path, body) for path, body in posts]
    elapsed = time.monotonic() - started
    mails = desk.settled_mails(before)
    codes = Counter(code for code, _, _ in answers)
    retry = sorted({headers.get("Retry-After", "-") for code, headers, _ in answers if code == 429})
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(Counter(m["kind"] for m in mails).items())) or "none"
    print(f"{label}")
    print(
        f"  {len(posts)} posts in {elapsed:.1f} s: accepted {codes[201]}, refused 429 {codes[429]} "
        f"(Retry-After {', '.join(retry) or '-'} s), other {len(posts) - codes[201] - codes[429]}"
    )
    print(f"  mails sent: {len(mails)} ({kinds})")
    return [body for code, _, body in answers if code == 201]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--comments", type=int, default=50)
    args = parser.parse_args()
    desk = Desk(args.url)
    desk.call("POST", "/_local/clock", {"advance": "61m"})
    flood(
        desk,
        f"{args.tickets} new tickets from one IP, each from a different address",
        [("/tickets", {**TICKET, "requester_email": f"flood{i}@example.net"}) for i in range(args.tickets)],
    )
    desk.call("POST", "/_local/clock", {"advance": "61m"})
    one = [("/tickets", {**TICKET, "requester_email": "r@example.net"})]
    opened = flood(desk, "one more ticket, an hour later", one)
    portal = opened[0]["portal_url"].split("/portal/", 1)[1]
    path = "/portal/" + portal.replace("?token=", "/comments?token=")
    flood(
        desk,
        f"{args.comments} portal comments on that ticket within a minute",
        [(path, {"body": f"comment {i}"}) for i in range(args.comments)],
    )


if __name__ == "__main__":
    main()
