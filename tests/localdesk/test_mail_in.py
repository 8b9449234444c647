"""Mail in, end to end through the local run's SMTP port: new mail, the requester's reply, a stranger's, an
auto-reply; and a notification SNS delivers again (in this process, where the handler can be called twice).

The SMTP server answers 250 only after the handler has run, so what a mail made is there when smtplib returns;
only the acknowledgement waits for the stream pipeline, and the test waits for it to appear in the outbox."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.localdesk.test_smtp import Recorder, server  # noqa: F401 - the in-process SMTP server fixture
from tests.localrun import LocalDesk, LocalRun

SMTP_AT = re.compile(r"Mail in\s+(\S+) at smtp://([0-9.]+):([0-9]+)")
WAIT = 60  # seconds the stream pipeline may take to send a mail (a ceiling, not a measured expectation)


@pytest.fixture(scope="module")
def local() -> Iterator[tuple[LocalDesk, str, tuple[str, int]]]:
    run = LocalRun()
    try:
        desk = LocalDesk(run)
        deadline = time.monotonic() + WAIT
        match = SMTP_AT.search(run.output)
        while match is None and time.monotonic() < deadline:
            time.sleep(0.1)
            match = SMTP_AT.search(run.output)
        assert match is not None, run.output
        yield desk, match.group(1), (match.group(2), int(match.group(3)))
    finally:
        run.close()


def message(sender: str, to: str, subject: str, body: str, **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


def send(smtp_at: tuple[str, int], mail: EmailMessage) -> None:
    with smtplib.SMTP(*smtp_at) as smtp:
        assert smtp.send_message(mail) == {}


def wait_for_mail(desk: LocalDesk, to: str, kind: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = [m for m in desk.outbox() if m["to"] == to and m["kind"] == kind]
        if found:
            return found[-1]
        time.sleep(0.2)
    pytest.fail(f"no {kind} mail to {to} within {WAIT} s: {desk.outbox()}")


def tickets_of(desk: LocalDesk, requester: str) -> list[dict[str, Any]]:
    status, answer = desk.api("GET", f"/tickets?state=all&requester={requester}")
    assert status == 200, answer
    return list(answer["tickets"])


def test_a_conversation_by_mail(local: tuple[LocalDesk, str, tuple[str, int]]) -> None:
    desk, address, smtp_at = local
    send(smtp_at, message("Hedy Lamarr <hedy@lamarr.example>", address, "Wi-Fi in room B", "It drops hourly.\n"))

    [ticket] = tickets_of(desk, "hedy@lamarr.example")
    ack = wait_for_mail(desk, "hedy@lamarr.example", "acknowledgement")
    sent = email.message_from_bytes(Path(ack["eml"]).read_bytes(), policy=email.policy.default)
    reply_to, message_id = str(sent["Reply-To"]), str(sent["Message-ID"])
    quoted = "\n".join(f"> {line}" for line in ack["text"].splitlines())
    body = f"It happened again at 10:05.\n\nOn Tue, 4 Mar 2025 at 10:00, Help desk wrote:\n{quoted}\n"
    threading = {"In_Reply_To": message_id, "References": message_id}

    send(smtp_at, message("hedy@lamarr.example", reply_to, f"Re: {sent['Subject']}", body, **threading))
    send(smtp_at, message("eve@evil.example", reply_to, f"Re: {sent['Subject']}", "Let me in.\n", **threading))
    auto = message(
        "hedy@lamarr.example", reply_to, "Automatic reply: away", "I am away.\n", Auto_Submitted="auto-replied"
    )
    send(smtp_at, auto)

    status, detail = desk.api("GET", f"/tickets/{ticket['id']}")
    assert status == 200
    assert [(c["body"], c["author"]["role"]) for c in detail["comments"]] == [
        ("It happened again at 10:05.", "requester")
    ]
    [strangers] = tickets_of(desk, "eve@evil.example")
    assert strangers["id"] != ticket["id"]
    assert len(tickets_of(desk, "hedy@lamarr.example")) == 1  # the auto-reply opened nothing


def test_a_redelivered_notification_changes_nothing(server: Any) -> None:  # noqa: F811
    listen, recorder, _ = server
    with smtplib.SMTP(listen.host, listen.port) as smtp:
        smtp.send_message(message("Ada <ada@example.org>", "help@desk.example.org", "The printer jams", "Again.\n"))

    again = recorder(recorder.events[0])  # SNS delivers at least once
    [first] = recorder.outcomes[:1]

    assert (first["outcome"], first["ref"]) == ("ticket", "HD-1001")
    assert again == {"ses_message_id": first["ses_message_id"], "duplicate": True}
    from chalicelib import wiring

    assert wiring.desk().tickets.id_for_ref("HD-1002") is None
