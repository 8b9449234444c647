# ruff: noqa: F811 - the mail-in fixtures are imported into this module, and tests name them as parameters
"""Files that arrive by mail are kept on the ticket: every attachment and inline image, within the desk's limits,
stored once whatever the number of deliveries, and named in the text when the limits keep one out.

The first part runs the inbound service on the desk's in-memory fakes with the real Attachments service (its
records and bucket faked); the second runs SES's notification through the deployed entry on moto."""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import wiring
from chalicelib.domain.attachments import MB, Attachment, AttachmentLimits, valid_id
from chalicelib.domain.threading import reply_address
from chalicelib.mail.inbound import read_mail
from chalicelib.services.attachments import Attachments
from chalicelib.services.desk import Desk
from chalicelib.services.inbound import NO_FILES, Inbound, MailSettings, Receipt, file_id, mail_id
from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.mail_fixtures import Mailbox, mailbox  # noqa: F401
from tests.clocks import ManualClock
from tests.services.fakes import (
    FakeAttachmentBlobs,
    FakeAttachmentRecords,
    FakeDeskStore,
    FakeEventStore,
    FakeTicketStore,
    SequentialIds,
)
from tests.services.test_inbound import Deliver, deliver, desk  # noqa: F401 - the mail-in fixtures (moto)

CORPUS = Path(__file__).parents[1] / "mail" / "corpus"
MIXED = (CORPUS / "mixed_attachments.eml").read_bytes()  # an inline PNG by cid:, a PDF, an attached message
INBOUND = "help@desk.example.org"
HEDY = "hedy@lamarr.example"
ROSALIND = "rosalind@franklin.example"  # MIXED's sender
AGENT = "ada@example.org"  # the admin_token fixture's agent (and the fake desk's, below)
STRANGER = "someone@else.example"


def message(
    sender: str,
    subject: str,
    text: str,
    files: tuple[tuple[str, str, bytes], ...] = (),
    *,
    to: str = INBOUND,
    message_id: str = "1@example.net",
) -> bytes:
    """A mail with a text part and each (filename, type, bytes) attached."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"], mail["Message-ID"] = sender, to, subject, f"<{message_id}>"
    mail.set_content(text)
    for filename, kind, data in files:
        maintype, subtype = kind.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return mail.as_bytes()


def zeros(name: str, size: int) -> tuple[str, str, bytes]:
    return (name, "application/zip", b"PK\x03\x04" + b"\x00" * (size - 4))


# the service on the fakes -----------------------------------------------------------------------------------------


class FakeInboundLog:
    def __init__(self) -> None:
        self.received: dict[str, datetime] = {}
        self.done: set[str] = set()

    def claim(self, ses_message_id: str, sender: str, subject: str, size: int, at: datetime) -> Receipt:
        first = ses_message_id not in self.received
        self.received.setdefault(ses_message_id, at)
        return Receipt(first, ses_message_id in self.done, self.received[ses_message_id])

    def finish(
        self, ses_message_id: str, outcome: str, ticket_id: str | None, comment_id: str | None, at: datetime
    ) -> None:
        self.done.add(ses_message_id)


class Files:
    """The real Attachments service on in-memory records and bucket, its limits set by the test, and how often the
    inbound service asked for it."""

    def __init__(self, clock: ManualClock) -> None:
        self.records = FakeAttachmentRecords()
        self.blobs = FakeAttachmentBlobs()
        self.limits = AttachmentLimits()
        self.service = Attachments(self.records, self.blobs, clock, SequentialIds(), lambda: self.limits)
        self.built = 0

    def __call__(self) -> Attachments:
        self.built += 1
        return self.service

    def of(self, ticket_id: str) -> list[Attachment]:
        return self.service.listing(ticket_id, for_requester=False)


class Mail:
    """The inbound service on the fake desk: `receive` hands it one delivery."""

    def __init__(self, desk: Desk, clock: ManualClock, files: Files | None) -> None:
        settings = MailSettings(INBOUND, "desk@desk.example.org", desk.store.signing_secret, "https://x/form")
        self.desk = desk
        self.log = FakeInboundLog()
        self.inbound = Inbound(self.log, clock, desk, settings, lambda letters, config: None, files)

    def receive(self, ses_message_id: str, raw: bytes, to: str = INBOUND) -> dict[str, Any]:
        return self.inbound.receive(ses_message_id, raw, {"spf": "PASS", "dkim": "PASS"}, recipients=[to])

    def address(self, ticket_id: str) -> str:
        return reply_address(INBOUND, self.desk.store.signing_secret(), ticket_id)

    def text(self, ticket_id: str) -> tuple[str, list[tuple[str, bool]]]:
        """The ticket's description, and each comment's body and whether it is public."""
        found = self.desk.tickets.get_with_comments(ticket_id)
        assert found is not None
        ticket, comments = found
        return ticket.description, [(c.body, c.public) for c in comments]

    def public_ids(self, ticket_id: str) -> set[str]:
        found = self.desk.tickets.get_with_comments(ticket_id)
        assert found is not None
        return {c.id for c in found[1] if c.public}


class SignableIds(SequentialIds):
    """SequentialIds in upper case: a reply address signs only ids of upper-case letters and digits (as ULIDs)."""

    def new_id(self) -> str:
        return super().new_id().upper()


@pytest.fixture
def fake_desk(tickets: FakeTicketStore, store: FakeDeskStore, clock: ManualClock, events: FakeEventStore) -> Desk:
    built = Desk(tickets, store, clock, SignableIds(), events)
    built.create_agent({"name": "Ada Agent", "email": AGENT, "role": "admin"})
    return built


@pytest.fixture
def files(clock: ManualClock) -> Files:
    return Files(clock)


@pytest.fixture
def inbound(fake_desk: Desk, clock: ManualClock, files: Files) -> Mail:
    return Mail(fake_desk, clock, files)


def test_a_mail_without_files_never_builds_the_attachments_service(inbound: Mail, files: Files) -> None:
    opened = inbound.receive("plain0001", message(HEDY, "Projector", "No picture.\n"))
    address = inbound.address(opened["ticket_id"])
    reply = inbound.receive("plain0002", message(HEDY, "Re: Projector", "Still none.\n", to=address), to=address)

    assert (opened["outcome"], opened["files"], reply["outcome"], reply["files"]) == ("ticket", 0, "comment", 0)
    assert files.built == 0
    assert files.blobs.puts == []


def test_a_new_ticket_keeps_every_attachment_and_inline_image_as_the_requesters_own(
    inbound: Mail, files: Files, clock: ManualClock
) -> None:
    parts = read_mail(MIXED).attachments

    outcome = inbound.receive("mixed0001", MIXED)

    ticket_id = outcome["ticket_id"]
    stored = files.of(ticket_id)
    assert (outcome["outcome"], outcome["files"], outcome["not_kept"]) == ("ticket", 3, [])
    assert [(a.filename, a.declared_type, a.comment_id, a.uploaded_by) for a in stored] == [
        ("logo.png", "image/png", None, "requester"),  # the inline image the HTML showed by cid:
        ("Rechnung März 2025-031.pdf", "application/pdf", None, "requester"),
        ("attachment-3.eml", "message/rfc822", None, "requester"),
    ]
    assert [a.id for a in stored] == [file_id("mixed0001", clock.now(), index) for index in range(3)]
    assert [files.blobs.objects[(ticket_id, a.id)] for a in stored] == [part.data for part in parts]
    assert files.records.used(ticket_id) == sum(part.size for part in parts)
    assert files.service.listing(ticket_id, for_requester=True) == stored
    assert "(Not kept" not in inbound.text(ticket_id)[0]


def test_a_replys_files_are_stored_under_its_comment_before_the_comment_is_written(
    inbound: Mail, files: Files, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = inbound.receive("open0001", message(HEDY, "Projector", "No picture.\n"))
    ticket_id = opened["ticket_id"]
    address = inbound.address(ticket_id)
    seen_by_the_comment: list[list[str]] = []
    real = inbound.desk.mail_comment

    def writing(ticket: str, text: str, **kwargs: Any) -> Any:
        seen_by_the_comment.append([a.filename for a in files.service.of_comment(ticket, kwargs["comment_id"])])
        return real(ticket, text, **kwargs)

    monkeypatch.setattr(inbound.desk, "mail_comment", writing)
    clock.advance(minutes=3)
    raw = message(HEDY, "Re: Projector", "The cable, see photo.\n", (zeros("cable.zip", 2000),), to=address)

    reply = inbound.receive("reply0001", raw, to=address)

    assert (reply["outcome"], reply["files"], reply["comment_id"]) == ("comment", 1, mail_id("reply0001", clock.now()))
    [kept] = files.of(ticket_id)
    assert (kept.filename, kept.comment_id, kept.uploaded_by) == ("cable.zip", reply["comment_id"], "requester")
    assert seen_by_the_comment == [["cable.zip"]]
    assert inbound.text(ticket_id)[1] == [("The cable, see photo.", True)]


def test_a_redelivered_new_ticket_stores_and_counts_nothing_twice(
    inbound: Mail, files: Files, tickets: FakeTicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_finish = inbound.log.finish
    monkeypatch.setattr(inbound.log, "finish", lambda *args: (_ for _ in ()).throw(RuntimeError("throttled")))
    with pytest.raises(RuntimeError):
        inbound.receive("again0001", MIXED)
    [(ticket_id, _)] = tickets.tickets
    used, puts = files.records.used(ticket_id), list(files.blobs.puts)
    monkeypatch.setattr(inbound.log, "finish", real_finish)

    again = inbound.receive("again0001", MIXED)
    third = inbound.receive("again0001", MIXED)

    assert (again["ticket_id"], again["created"], again["files"]) == (ticket_id, False, 3)
    assert third["duplicate"] is True
    assert len(puts) == 3
    assert (files.blobs.puts, files.records.used(ticket_id), len(files.of(ticket_id))) == (puts, used, 3)


def test_files_stored_before_a_crash_are_reused_and_the_comment_is_written_when_redelivered(
    inbound: Mail, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = inbound.receive("open0002", message(HEDY, "Projector", "No picture.\n"))["ticket_id"]
    address = inbound.address(ticket_id)
    raw = message(HEDY, "Re: Projector", "Logs attached.\n", (zeros("a.zip", 3000), zeros("b.zip", 4000)), to=address)
    real = inbound.desk.mail_comment
    monkeypatch.setattr(inbound.desk, "mail_comment", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("timeout")))
    with pytest.raises(RuntimeError):
        inbound.receive("crash0001", raw, to=address)
    assert files.records.used(ticket_id) == 7000
    assert inbound.text(ticket_id)[1] == []
    monkeypatch.setattr(inbound.desk, "mail_comment", real)

    again = inbound.receive("crash0001", raw, to=address)

    assert (again["outcome"], again["created"], again["files"]) == ("comment", True, 2)
    assert inbound.text(ticket_id)[1] == [("Logs attached.", True)]
    assert len(files.blobs.puts) == 2
    assert files.records.used(ticket_id) == 7000
    assert [a.comment_id for a in files.of(ticket_id)] == [again["comment_id"]] * 2


def test_a_file_over_the_limit_is_not_kept_but_the_ticket_is_opened_and_says_so(
    inbound: Mail, files: Files, caplog: pytest.LogCaptureFixture
) -> None:
    files.limits = AttachmentLimits(max_file_bytes=1 * MB, max_ticket_bytes=50 * MB)
    big = zeros("big.zip", MB + MB // 2)
    raw = message(HEDY, "Crash dump", "Dump and log attached.\n", (big, zeros("log.zip", 500)))

    with caplog.at_level(logging.INFO, logger="helpdesk.inbound"):
        outcome = inbound.receive("big0001", raw)

    assert (outcome["outcome"], outcome["files"], outcome["not_kept"]) == ("ticket", 1, ["big.zip"])
    assert [a.filename for a in files.of(outcome["ticket_id"])] == ["log.zip"]
    description = inbound.text(outcome["ticket_id"])[0]
    assert description == "Dump and log attached.\n\n(Not kept: big.zip, 1.5 MB, over the 1 MB limit for a file.)"
    [refusal] = [r.getMessage() for r in caplog.records if "not kept" in r.getMessage()]
    assert f"'big.zip' ({MB + MB // 2} bytes)" in refusal
    assert "PK" not in caplog.text  # no file content in the log


def test_files_past_the_tickets_total_are_not_kept_whether_opening_it_or_replying(inbound: Mail, files: Files) -> None:
    files.limits = AttachmentLimits(max_file_bytes=1 * MB, max_ticket_bytes=2 * MB)
    parts = (zeros("one.zip", 900_000), zeros("two.zip", 900_000), zeros("three.zip", 900_000))
    opened = inbound.receive("total0001", message(HEDY, "Scans", "Three scans.\n", parts))
    ticket_id = opened["ticket_id"]
    address = inbound.address(ticket_id)
    raw = message(HEDY, "Re: Scans", "One more.\n", (zeros("four.zip", 400_000),), to=address)

    reply = inbound.receive("total0002", raw, to=address)

    assert (opened["files"], opened["not_kept"], reply["files"], reply["not_kept"]) == (
        2,
        ["three.zip"],
        0,
        ["four.zip"],
    )
    assert [a.filename for a in files.of(ticket_id)] == ["one.zip", "two.zip"]
    assert files.records.used(ticket_id) == 1_800_000
    description, comments = inbound.text(ticket_id)
    assert description.endswith("\n\n(Not kept: three.zip, 879 KB, past the 2 MB a ticket's files may come to.)")
    assert comments == [
        ("One more.\n\n(Not kept: four.zip, 391 KB, past the 2 MB a ticket's files may come to.)", True)
    ]


def test_a_reply_with_more_files_than_a_message_may_bring_keeps_the_first_ones(inbound: Mail, files: Files) -> None:
    files.limits = AttachmentLimits(max_files_per_comment=2)
    ticket_id = inbound.receive("count0001", message(HEDY, "Photos", "See below.\n"))["ticket_id"]
    address = inbound.address(ticket_id)
    photos = tuple(zeros(f"p{n}.zip", 2048) for n in range(1, 4))

    reply = inbound.receive("count0002", message(HEDY, "Re: Photos", "Three photos.\n", photos, to=address), to=address)

    assert (reply["files"], reply["not_kept"]) == (2, ["p3.zip"])
    assert [a.filename for a in files.of(ticket_id)] == ["p1.zip", "p2.zip"]
    assert inbound.text(ticket_id)[1] == [
        ("Three photos.\n\n(Not kept: p3.zip, 2 KB, over the 2 files one message may bring.)", True)
    ]


def test_an_agents_note_by_mail_keeps_its_file_from_the_requester_and_a_public_reply_does_not(
    inbound: Mail, files: Files, clock: ManualClock
) -> None:
    ticket_id = inbound.receive("agent0001", message(HEDY, "VPN", "It fails.\n", (zeros("mine.zip", 100),)))[
        "ticket_id"
    ]
    address = inbound.address(ticket_id)
    note = message(AGENT, "Re: VPN", "#note Server log, do not share.\n", (zeros("server.zip", 200),), to=address)
    public = message(AGENT, "Re: VPN", "The fixed profile.\n", (zeros("profile.zip", 300),), to=address)

    clock.advance(minutes=1)
    noted = inbound.receive("agent0002", note, to=address)
    clock.advance(minutes=1)
    replied = inbound.receive("agent0003", public, to=address)

    assert (noted["public"], replied["public"]) == (False, True)
    everything = files.of(ticket_id)
    assert [(a.filename, a.uploaded_by) for a in everything] == [
        ("mine.zip", "requester"),
        ("server.zip", "agent"),
        ("profile.zip", "agent"),
    ]
    seen = files.service.listing(ticket_id, for_requester=True, public_comment_ids=inbound.public_ids(ticket_id))
    assert [a.filename for a in seen] == ["mine.zip", "profile.zip"]


def test_a_strangers_reply_with_a_file_opens_a_ticket_that_keeps_it(inbound: Mail, files: Files) -> None:
    first = inbound.receive("stranger0001", message(HEDY, "Printer", "Jammed.\n"))["ticket_id"]
    address = inbound.address(first)
    raw = message(STRANGER, "Re: Printer", "Mine too.\n", (zeros("jam.zip", 100),), to=address)

    outcome = inbound.receive("stranger0002", raw, to=address)

    assert outcome["outcome"] == "ticket"
    assert outcome["ticket_id"] != first
    assert files.of(first) == []
    [kept] = files.of(outcome["ticket_id"])
    assert (kept.filename, kept.comment_id, kept.uploaded_by) == ("jam.zip", None, "requester")


def test_without_an_attachments_service_the_files_are_named_as_not_kept(fake_desk: Desk, clock: ManualClock) -> None:
    inbound = Mail(fake_desk, clock, None)

    outcome = inbound.receive("nofiles0001", MIXED)

    assert outcome["not_kept"] == ["logo.png", "Rechnung März 2025-031.pdf", "attachment-3.eml"]
    assert inbound.text(outcome["ticket_id"])[0].endswith(
        f"\n\n(Not kept: logo.png, 69 bytes, {NO_FILES}; Rechnung März 2025-031.pdf, 125 bytes, {NO_FILES}; "
        f"attachment-3.eml, 222 bytes, {NO_FILES}.)"
    )


def test_the_ids_of_a_mails_files_are_attachment_ids_fixed_by_the_message_in_its_order(clock: ManualClock) -> None:
    ids = [file_id("ses0001", clock.now(), index) for index in range(12)]

    assert all(valid_id(i) and len(i) == 26 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 12
    assert ids == [file_id("ses0001", clock.now(), index) for index in range(12)]
    assert file_id("ses0002", clock.now(), 0) != ids[0]


# through the deployed entry, on moto ------------------------------------------------------------------------------


@pytest.fixture
def bucket(deliver: Deliver, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The attachments bucket of the stack, named to the handler (tests/conftest.py's aws fixture does not)."""
    monkeypatch.setenv("HELPDESK_ATTACHMENTS_BUCKET", aws["AttachmentsBucketName"])
    return aws["AttachmentsBucketName"]


def objects(bucket: str, ticket_id: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"attachments/{ticket_id}/").get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def signed(ticket_id: str) -> str:
    return reply_address(INBOUND, wiring.desk().store.signing_secret(), ticket_id)


def public_ids(ticket_id: str) -> set[str]:
    found = wiring.desk().tickets.get_with_comments(ticket_id)
    assert found is not None
    return {c.id for c in found[1] if c.public}


def test_mail_in_keeps_the_attachment_and_inline_image_in_s3_once(desk: Api, deliver: Deliver, bucket: str) -> None:
    parts = read_mail(MIXED).attachments

    outcome = deliver(MIXED, "s3mixed0001", source=ROSALIND)
    again = deliver(MIXED, "s3mixed0001", source=ROSALIND)

    ticket_id = outcome["ticket_id"]
    listed = wiring.attachments().listing(ticket_id, for_requester=True)
    assert (outcome["outcome"], outcome["files"], again["duplicate"]) == ("ticket", 3, True)
    assert [(a.filename, a.sniffed_type, a.comment_id) for a in listed] == [
        ("logo.png", "image/png", None),
        ("Rechnung März 2025-031.pdf", "application/pdf", None),
        ("attachment-3.eml", "text/plain", None),
    ]
    assert objects(bucket, ticket_id) == {
        f"attachments/{ticket_id}/{a.id}": p.data for a, p in zip(listed, parts, strict=True)
    }
    assert wiring.attachments().records.used(ticket_id) == sum(p.size for p in parts)


def test_a_reply_by_mail_keeps_its_file_under_its_comment_even_when_redelivered_after_a_crash(
    desk: Api, deliver: Deliver, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = desk.open()
    address = signed(opened["id"])
    raw = message("rosa@example.org", "Re: Printer", "The error page.\n", (zeros("error.zip", 5000),), to=address)
    real = Desk.mail_comment
    monkeypatch.setattr(Desk, "mail_comment", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("timeout")))
    with pytest.raises(RuntimeError):
        deliver(raw, "s3reply0001", to=address)
    before = objects(bucket, opened["id"])
    monkeypatch.setattr(Desk, "mail_comment", real)

    outcome = deliver(raw, "s3reply0001", to=address)

    assert (outcome["outcome"], outcome["created"], outcome["files"]) == ("comment", True, 1)
    [kept] = wiring.attachments().listing(opened["id"], for_requester=True, public_comment_ids=public_ids(opened["id"]))
    assert (kept.filename, kept.comment_id, kept.uploaded_by) == ("error.zip", outcome["comment_id"], "requester")
    assert objects(bucket, opened["id"]) == before == {f"attachments/{opened['id']}/{kept.id}": raw_part(raw)}
    assert wiring.attachments().records.used(opened["id"]) == 5000
    assert [c["body"] for c in desk.ticket(opened["id"])["comments"]] == ["The error page."]


def raw_part(raw: bytes) -> bytes:
    [part] = read_mail(raw).attachments
    return part.data


def test_a_file_over_the_desks_limit_is_not_kept_but_the_ticket_is_made_with_the_line(
    desk: Api, deliver: Deliver, bucket: str
) -> None:
    _, answer = desk.json("GET", "/admin/config")
    config = answer["config"]
    config["attachments"] = {"max_file_bytes": MB, "max_ticket_bytes": 50 * MB}
    code, saved = desk.json("PUT", "/admin/config", {"config": config, "version": answer["version"]})
    assert code == 200, saved
    raw = message(HEDY, "Crash dump", "Dump and log attached.\n", (zeros("dump.zip", 2 * MB), zeros("log.zip", 700)))

    outcome = deliver(raw, "s3big0001", source=HEDY)

    ticket = desk.ticket(outcome["ticket_id"])
    not_kept = "(Not kept: dump.zip, 2 MB, over the 1 MB limit for a file.)"
    assert ticket["description"] == f"Dump and log attached.\n\n{not_kept}"
    assert [a.filename for a in wiring.attachments().listing(outcome["ticket_id"], for_requester=False)] == ["log.zip"]
    assert len(objects(bucket, outcome["ticket_id"])) == 1


def test_an_agents_note_by_mail_keeps_its_file_from_the_requesters_listing(
    desk: Api, deliver: Deliver, bucket: str
) -> None:
    opened = desk.open()
    address = signed(opened["id"])
    raw = message(
        AGENT, "Re: Printer", "#note The vendor's internal notice.\n", (zeros("notice.zip", 900),), to=address
    )

    outcome = deliver(raw, "s3note0001", to=address)

    assert (outcome["outcome"], outcome["public"], outcome["files"]) == ("comment", False, 1)
    service = wiring.attachments()
    [kept] = service.listing(opened["id"], for_requester=False)
    assert (kept.comment_id, kept.uploaded_by) == (outcome["comment_id"], "agent")
    assert service.listing(opened["id"], for_requester=True, public_comment_ids=public_ids(opened["id"])) == []


def test_mail_in_without_files_does_not_build_the_attachments_service(
    desk: Api, deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unwanted() -> Attachments:
        raise AssertionError("the attachments service was built for a mail without files")

    monkeypatch.setattr(wiring, "attachments", unwanted)

    outcome = deliver(message(HEDY, "Projector", "No picture.\n"), "s3plain0001", source=HEDY)

    assert (outcome["outcome"], outcome["files"]) == ("ticket", 0)
