"""Mail about a comment carries its files, on moto: stored in S3, recorded by id in the outbox, attached when sent.

The desk runs as deployed: the services write tickets, comments and files; moto's real tickets stream goes to
the deployed stream handler; SES (moto) takes the mail; the outbox job retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.adapters import records
from chalicelib.adapters.attachment_store import S3AttachmentStore, object_key
from chalicelib.adapters.outbox import DynamoOutboxStore
from chalicelib.domain.agents import Agent
from chalicelib.domain.attachments import Attachment
from chalicelib.domain.tickets import stamp
from chalicelib.services.desk import Opened
from chalicelib.services.ports import SentMail
from tests.api.mail_fixtures import ADMIN, REQUESTER, SENDER, Mailbox, mailbox, parsed, run_job  # noqa: F401
from tests.clocks import ManualClock
from tests.streams import Stream

PDF = (b"%PDF-1.7\n" + bytes(range(256)) * 1200)[
    : 300 * 1024
]  # 300 KB, every byte value: what arrives must be these bytes
NOTE_FILE = b"salaries 2026: confidential\n"
PDF_NAME = "Angebot «Q4» für Rosa.pdf"


class Desk:
    """The desk on moto with its stream, an admin agent and one open ticket (acknowledged already)."""

    def __init__(self, stream: Stream, agent: Agent, opened: Opened, box: Mailbox) -> None:
        self.stream = stream
        self.agent = agent
        self.opened = opened
        self.ticket_id = opened.ticket.id
        self.mailbox = box

    def store(self, comment_id: str, name: str, data: bytes, by: str = "agent", kind: str = "") -> Attachment:
        return wiring.attachments().store_bytes(self.ticket_id, comment_id, name, kind or None, data, by)

    def comment(self, body: str, public: bool, files: Sequence[tuple[str, bytes]] = ()) -> list[Attachment]:
        """An agent's comment with its files stored first under its id, as the console and the API do."""
        comment_id = wiring.desk().new_comment_id()
        stored = [self.store(comment_id, name, data) for name, data in files]
        wiring.desk().comment(self.ticket_id, {"body": body, "public": public}, self.agent, comment_id)
        return stored

    def to_requester(self) -> list[SentMail]:
        return [m for m in self.mailbox.to(REQUESTER) if m.kind != "acknowledgement"]


@pytest.fixture
def s3_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The attachment ids whose bytes were read from S3."""
    reads: list[str] = []
    real_open = S3AttachmentStore.open

    def counting_open(self: S3AttachmentStore, ticket_id: str, attachment_id: str) -> Iterator[bytes]:
        reads.append(attachment_id)
        return real_open(self, ticket_id, attachment_id)

    monkeypatch.setattr(S3AttachmentStore, "open", counting_open)
    return reads


@pytest.fixture
def desk(aws: dict[str, str], mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:  # noqa: F811
    from app import app

    monkeypatch.setenv("HELPDESK_ATTACHMENTS_BUCKET", aws["AttachmentsBucketName"])
    with Client(app) as client:
        stream = Stream(client, aws["TicketsTableStreamArn"])
        agent, _ = wiring.desk().create_agent({"name": "Ada Admin", "email": ADMIN, "role": "admin"})
        opened = wiring.desk().open_ticket(
            {
                "type": "question",
                "subject": "Printer offline",
                "description": "The office printer shows as offline.",
                "requester_name": "Rosa Diaz",
                "requester_email": REQUESTER,
            },
            from_form=False,
            idempotency_key=None,
        )
        stream.drain()
        assert mailbox.kinds() == ["acknowledgement"]
        yield Desk(stream, agent, opened, mailbox)


def files_of(mail: SentMail) -> list[tuple[str | None, str, Any]]:
    found = []
    for part in parsed(mail).iter_attachments():
        assert isinstance(part, EmailMessage)
        found.append((part.get_filename(), part.get_content_type(), part.get_payload(decode=True)))
    return found


def test_an_agents_public_reply_reaches_the_requester_with_its_file_intact_and_once(
    desk: Desk, s3_reads: list[str]
) -> None:
    (stored,) = desk.comment("Here is the offer.", True, [(PDF_NAME, PDF)])
    written = desk.stream.drain()

    (reply,) = desk.to_requester()
    assert reply.kind == "reply"
    assert files_of(reply) == [(PDF_NAME, "application/pdf", PDF)]
    assert f"{PDF_NAME} (300 KB)" in reply.text
    assert "Angebot «Q4» für Rosa.pdf" in reply.html
    # The outbox keeps the file's id, never its bytes (an item is at most 400 KB); SES got the whole mail.
    item = DynamoOutboxStore().get(reply.ticket_id, reply.key)
    assert item is not None
    assert item.attachment_ids == (stored.id,)
    assert len(item.raw) < len(PDF) < len(reply.raw)
    assert s3_reads == [stored.id]

    assert desk.stream.deliver(written) == []  # Lambda hands the same records over again
    assert desk.to_requester() == [reply]
    assert s3_reads == [stored.id]


def test_an_internal_notes_file_never_reaches_the_requester(desk: Desk) -> None:
    desk.comment("Internal: the salary sheet, for the record.", False, [("salaries.txt", NOTE_FILE)])
    desk.stream.drain()
    assert desk.mailbox.kinds() == ["acknowledgement"]  # a note is mailed to no one

    desk.comment("Your printer is fixed; the log is attached.", True, [("printer-log.txt", b"all good\n")])
    desk.stream.drain()

    (reply,) = desk.to_requester()
    assert files_of(reply) == [("printer-log.txt", "text/plain", b"all good\n")]
    for mail in desk.mailbox.to(REQUESTER):
        assert b"salaries" not in mail.raw
        assert "salaries" not in mail.text
        assert "salaries" not in mail.html
        assert b"c2FsYXJpZXMg" not in mail.raw  # nor the file's bytes, base64-encoded


def test_a_requesters_comment_brings_its_files_to_the_agents(desk: Desk) -> None:
    comment_id = wiring.desk().new_comment_id()
    photo = b"\x89PNG\r\n\x1a\n" + b"\x10" * 2000

    def store_photo() -> None:
        desk.store(comment_id, "error.png", photo, by="requester", kind="image/png")

    wiring.desk().portal_comment(
        desk.ticket_id,
        desk.opened.portal_token,
        "A photo of the error message.",
        comment_id=comment_id,
        before_write=store_photo,
    )
    desk.stream.drain()

    (comment,) = desk.mailbox.to(ADMIN, "requester_comment")
    assert files_of(comment) == [("error.png", "image/png", photo)]
    assert "error.png (2 KB)" in comment.text
    assert desk.to_requester() == []


def test_a_file_over_the_budget_is_named_in_the_mail_but_not_attached(desk: Desk) -> None:
    big = b"PK\x03\x04" + b"\x00" * 7_300_000  # more than SES's 10 MB once encoded, with the rest of the mail
    desk.comment("The full dump, and a summary.", True, [("dump.zip", big), ("summary.txt", b"3 errors\n")])
    desk.stream.drain()

    (reply,) = desk.to_requester()
    assert files_of(reply) == [("summary.txt", "text/plain", b"3 errors\n")]
    assert len(reply.raw) < 100_000
    attached, _, rest = reply.text.partition("too large to send with this mail")
    assert "summary.txt (9 bytes)" in attached
    assert "summary.txt" not in rest
    assert "dump.zip (7 MB)" in rest
    assert "through your private link below" in rest
    assert "dump.zip" in reply.html


def test_a_file_erased_before_the_mail_goes_out_is_left_out_and_the_mail_still_goes(
    desk: Desk, clock: ManualClock, caplog: pytest.LogCaptureFixture, aws: dict[str, str]
) -> None:
    ses = boto3.client("ses", region_name="us-east-1")
    ses.delete_identity(Identity=SENDER)  # the first attempt fails: the mail waits in the outbox for the job
    kept, erased = desk.comment("Two files.", True, [("kept.txt", b"kept\n"), ("erased.txt", b"erased\n")])
    desk.stream.drain()
    assert desk.to_requester() == []

    boto3.client("s3", region_name="us-east-1").delete_object(
        Bucket=aws["AttachmentsBucketName"], Key=object_key(desk.ticket_id, erased.id)
    )
    ses.verify_email_identity(EmailAddress=SENDER)
    clock.advance(minutes=5)
    with caplog.at_level(logging.WARNING, logger="helpdesk.mail"):
        assert run_job(desk.stream.client, "outbox_retry")["sent"] == 1

    (reply,) = desk.to_requester()
    assert files_of(reply) == [("kept.txt", "text/plain", b"kept\n")]
    assert any(
        erased.id in record.getMessage() and "no longer stored" in record.getMessage() for record in caplog.records
    )
    assert kept.id not in caplog.text


def test_a_reply_without_files_never_touches_s3(desk: Desk, s3_reads: list[str]) -> None:
    desk.comment("No files this time.", True)
    desk.stream.drain()

    (reply,) = desk.to_requester()
    assert files_of(reply) == []
    assert "attached" not in reply.text
    assert s3_reads == []
    blobs = wiring.attachments().blobs
    assert isinstance(blobs, S3AttachmentStore)
    assert blobs._client is None  # boto3's S3 client was never even built


def test_an_outbox_item_recorded_before_files_were_mailed_still_loads_and_sends(desk: Desk) -> None:
    (ack,) = desk.mailbox.to(REQUESTER, "acknowledgement")
    records.OutboxRecord(
        pk=desk.ticket_id,
        sk="mail#old#1",
        kind="reply",
        to=REQUESTER,
        subject=ack.subject,
        text=ack.text,
        html=ack.html,
        raw=ack.raw,
        created_at=ack.sent_at,
        state="pending",
        attempts=0,
        next_attempt_at=ack.sent_at,
        due_shard="outbox",
        next_due_at=stamp(ack.sent_at),
    ).save()

    item = DynamoOutboxStore().get(desk.ticket_id, "old#1")
    assert item is not None
    assert item.attachment_ids == ()
    assert [i.key for i in DynamoOutboxStore().due(ack.sent_at, 10)] == ["old#1"]
    assert wiring.mail()[0].deliver(item) == "sent"
    assert desk.mailbox.sent[-1].raw == ack.raw


class ListedFiles:
    """A reader of stored files that answers whatever it is given (the Notifier must still choose well)."""

    def __init__(self, files: list[Attachment]) -> None:
        self.files = files

    def of_comment(self, ticket_id: str, comment_id: str) -> list[Attachment]:
        return list(self.files)

    def content(self, ticket_id: str, attachment_id: str) -> tuple[Attachment, bytes]:
        raise AssertionError("a letter is made from the records alone")


def test_a_letter_to_the_requester_carries_only_the_replys_own_stored_files(desk: Desk) -> None:
    from dataclasses import replace

    from chalicelib.domain.notices import TO_ASSIGNEE, TO_REQUESTER, Notice
    from chalicelib.services.mailing import Notifier

    ticket, at = desk.opened.ticket, desk.opened.ticket.created_at
    own = Attachment("F1", ticket.id, "C1", "offer.pdf", 10, "application/pdf", "application/pdf", "", at, "agent")
    files = [
        own,
        replace(own, id="F2", comment_id="NOTE", filename="salaries.txt"),  # another comment's (a note's)
        replace(own, id="F3", state="pending", filename="half-uploaded.pdf"),
        replace(own, id="F4", comment_id=None, uploaded_by="requester", filename="from-the-form.pdf"),
        replace(own, id="F5", ticket_id="OTHERTICKET", filename="elsewhere.pdf"),
    ]
    postman, notifier = wiring.mail()
    listed = Notifier(notifier.store, postman, notifier.links, files=lambda: ListedFiles(files))
    config = wiring.desk().config()
    data = {"comment_id": "C1", "author_name": "Ada Admin", "body": "Here."}

    (letter,) = listed.letters(config, ticket, Notice(ticket.id, "k#reply", "reply", TO_REQUESTER, at, data))
    assert letter.attachments == ("F1",)
    assert letter.context["files_attached"] == [{"name": "offer.pdf", "size": 10}]
    assert letter.context["files_on_ticket"] == []

    theirs = [replace(own, uploaded_by="requester"), replace(own, id="F6", filename="second.png", size=2048)]
    listed = Notifier(notifier.store, postman, notifier.links, files=lambda: ListedFiles(theirs + files[1:]))
    to_agents = Notice(ticket.id, "k#comment", "requester_comment", TO_ASSIGNEE, at, data)
    (letter,) = listed.letters(config, ticket, to_agents)  # the admin, the desk's one agent
    assert letter.attachments == ("F1", "F6")
    assert letter.context["files_attached"] == [{"name": "offer.pdf", "size": 10}, {"name": "second.png", "size": 2048}]

    status = Notice(ticket.id, "k#status", "status", TO_REQUESTER, at, {**data, "status": "waiting"})
    assert [letter.attachments for letter in listed.letters(config, ticket, status)] == [()]


def test_a_file_s3_cannot_give_now_keeps_the_mail_pending_and_the_job_sends_it_whole(
    desk: Desk, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    real_open = S3AttachmentStore.open

    def unreachable(self: S3AttachmentStore, ticket_id: str, attachment_id: str) -> Iterator[bytes]:
        raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")

    monkeypatch.setattr(S3AttachmentStore, "open", unreachable)
    desk.comment("The log.", True, [("printer-log.txt", b"all good\n")])
    desk.stream.drain()  # the stream record does not fail: the mail waits in the outbox

    assert desk.to_requester() == []
    (pending,) = wiring.mail()[0].listing("pending", None)
    assert pending.attempts == 1
    assert "could not be read" in (pending.last_error or "")
    assert "EndpointConnectionError" in (pending.last_error or "")

    monkeypatch.setattr(S3AttachmentStore, "open", real_open)
    clock.advance(minutes=5)
    assert run_job(desk.stream.client, "outbox_retry")["sent"] == 1
    (reply,) = desk.to_requester()
    assert files_of(reply) == [("printer-log.txt", "text/plain", b"all good\n")]
