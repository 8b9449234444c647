"""The local run's outbox: each mail SES accepted, in memory and as an .eml file a mail client opens."""

from __future__ import annotations

import email
import email.policy
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.adapters.clock import AdjustableClock
from chalicelib.services.ports import SentMail
from localdesk.environment import MAIL_DIR, PROJECT_DIR, Listen, mail_directory, prepare
from localdesk.jobs import JobRunner
from localdesk.mail import MailLog
from localdesk.routes import register_local_routes

SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+\.eml")
SENT_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def sent_mail(
    number: int = 1,
    *,
    subject: str = "[HD-1001] We received your request: Printer",
    kind: str = "acknowledgement",
    to: str = "ann@example.org",
) -> SentMail:
    message = EmailMessage()
    message["From"] = "Help desk <desk@example.org>"
    message["To"] = to
    message["Subject"] = " ".join(subject.split())  # the library refuses CR/LF in a header, as the desk's mails do
    message["Message-ID"] = f"<mail-{number}@example.org>"
    text = f"Hello Ann,\n\nmail number {number}.\n"
    html = f"<p>Hello Ann,</p><p>mail number {number}.</p>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return SentMail(
        key=f"ticket-{number}#{kind}",
        ticket_id=f"01TICKET{number:04d}",
        kind=kind,
        to=to,
        subject=subject,
        text=text,
        html=html,
        raw=message.as_bytes(policy=email.policy.SMTP),
        message_id=f"ses-{number}",
        sent_at=SENT_AT + timedelta(minutes=number),
    )


@pytest.fixture
def mail_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    chosen = tmp_path / "outbox" / "mail"
    monkeypatch.setenv("HELPDESK_MAIL_DIR", str(chosen))
    return chosen


def test_the_mail_folder_is_helpdesk_mail_dir_else_in_the_project(mail_dir: Path) -> None:
    assert MailLog().directory == mail_dir
    assert mail_directory({}) == MAIL_DIR == PROJECT_DIR / ".localdesk" / "mail"
    assert mail_directory({"HELPDESK_MAIL_DIR": "  "}) == MAIL_DIR


def test_start_creates_the_folder_and_clears_only_old_eml_files(mail_dir: Path) -> None:
    log = MailLog()
    log.start()
    assert mail_dir.is_dir()
    (mail_dir / "0001-acknowledgement-old.eml").write_bytes(b"old")
    (mail_dir / "0002-reply-old.eml").write_bytes(b"old")
    (mail_dir / "notes.txt").write_text("keep me")
    (mail_dir / "folder.eml").mkdir()

    MailLog().start()

    assert sorted(p.name for p in mail_dir.iterdir()) == ["folder.eml", "notes.txt"]


def test_each_mail_is_written_as_an_eml_file_in_send_order(mail_dir: Path) -> None:
    log = MailLog().start()

    mails = [
        sent_mail(number, kind=kind, subject=f"[HD-1001] Mail {number}")
        for number, kind in enumerate(["acknowledgement", "reply", "survey"], start=1)
    ]
    for mail in mails:
        log.record(mail)

    names = sorted(p.name for p in mail_dir.iterdir())
    assert names == [
        "0001-acknowledgement-HD-1001-Mail-1.eml",
        "0002-reply-HD-1001-Mail-2.eml",
        "0003-survey-HD-1001-Mail-3.eml",
    ]
    opened = email.message_from_bytes((mail_dir / names[1]).read_bytes(), policy=email.policy.default)
    assert opened["Subject"] == "[HD-1001] Mail 2"
    assert opened["Message-ID"] == "<mail-2@example.org>"
    assert [(mail_dir / name).read_bytes() for name in names] == [mail.raw for mail in mails]


@pytest.mark.parametrize(
    "subject",
    ["../../etc/passwd\r\nBcc: x", "..", "/", "", "   ", "C:\\Windows\\system32", "Ünïcödé ✉ ☃ " * 20, ".hidden"],
)
def test_a_hostile_subject_still_names_a_safe_file_in_the_folder(mail_dir: Path, subject: str) -> None:
    log = MailLog().start()

    log.record(sent_mail(subject=subject, kind="../ack\n"))

    (written,) = mail_dir.iterdir()
    assert SAFE_NAME.fullmatch(written.name), written.name
    assert written.name.startswith("0001-")
    assert ".." not in written.name
    assert len(written.name) <= 100
    assert log.listing()[0]["eml"] == str(written)


def test_the_listing_is_newest_last_with_everything_a_person_checks(mail_dir: Path) -> None:
    log = MailLog().start()
    log.record(sent_mail(1, kind="acknowledgement"))
    log.record(sent_mail(2, kind="reply", to="bob@example.org"))

    first, second = log.listing()

    assert (first["id"], second["id"]) == (1, 2)
    assert second == {
        "id": 2,
        "to": "bob@example.org",
        "subject": "[HD-1001] We received your request: Printer",
        "text": "Hello Ann,\n\nmail number 2.\n",
        "html": "<p>Hello Ann,</p><p>mail number 2.</p>",
        "sent_at": "2026-11-23T09:02:00+00:00",
        "kind": "reply",
        "ticket_id": "01TICKET0002",
        "message_id": "ses-2",
        "eml": str(mail_dir / "0002-reply-HD-1001-We-received-your-request-Printer.eml"),
    }
    json.dumps(log.listing())  # all of it JSON


def test_mails_recorded_from_many_threads_each_get_their_own_number_and_file(mail_dir: Path) -> None:
    log = MailLog().start()

    def send_twenty(n: int) -> None:
        for i in range(20):
            log.record(sent_mail(n * 100 + i))

    threads = [threading.Thread(target=send_twenty, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [mail["id"] for mail in log.listing()] == list(range(1, 161))
    assert len(list(mail_dir.glob("*.eml"))) == 160


def test_a_mail_that_cannot_be_written_is_still_in_the_outbox(mail_dir: Path) -> None:
    log = MailLog().start()
    mail_dir.rmdir()

    log.record(sent_mail())

    assert [(mail["id"], mail["eml"]) for mail in log.listing()] == [(1, None)]


def test_the_local_run_sends_from_the_shells_sender_or_a_default() -> None:
    listen = Listen("127.0.0.1", 8000)
    defaulted: dict[str, str] = {}
    chosen = {"HELPDESK_SENDER_EMAIL": "help@example.com"}

    prepare(defaulted, listen, {})
    prepare(chosen, listen, {})

    assert defaulted["HELPDESK_SENDER_EMAIL"] == "desk@example.org"
    assert chosen["HELPDESK_SENDER_EMAIL"] == "help@example.com"


@pytest.fixture
def client(mail_dir: Path, tmp_path: Path) -> Iterator[tuple[Client, MailLog]]:
    app = Chalice(app_name="outbox-test")
    log = MailLog().start()
    register_local_routes(app, AdjustableClock(), JobRunner([], threading.Lock), log)
    with Client(app, project_dir=str(tmp_path)) as test_client:
        yield test_client, log


def test_get_local_outbox_lists_the_mails_newest_last(client: tuple[Client, MailLog], mail_dir: Path) -> None:
    http, log = client
    assert json.loads(http.http.get("/_local/outbox").body) == {"emails": [], "mail_dir": str(mail_dir)}
    log.record(sent_mail(1))
    log.record(sent_mail(2, kind="reply"))

    response = http.http.get("/_local/outbox")

    assert response.status_code == 200
    answer = json.loads(response.body)
    assert [mail["kind"] for mail in answer["emails"]] == ["acknowledgement", "reply"]
    assert answer["emails"][-1]["eml"].startswith(str(mail_dir))
