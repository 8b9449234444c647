"""The Attachments service on moto's S3 and the tickets table: limits, direct uploads, who may see which file."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from dataclasses import replace

import boto3
import pytest
import requests

from chalicelib.adapters import attachment_records
from chalicelib.adapters.attachment_records import DynamoAttachmentRecords
from chalicelib.adapters.attachment_store import AttachmentStoreSettings, S3AttachmentStore
from chalicelib.domain.attachments import OCTET_STREAM, AttachmentLimits, AttachmentTooLargeError, UploadMissingError
from chalicelib.domain.errors import NotFoundError, ValidationError
from chalicelib.services.attachments import Attachments, Upload
from tests.clocks import ManualClock
from tests.services.fakes import SequentialIds

TICKET_A = "01JTICKETAAAA"
TICKET_B = "01JTICKETBBBB"
LIMITS = AttachmentLimits(max_file_bytes=1000, max_ticket_bytes=1500, max_files_per_comment=3)
SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'


def png_bytes() -> bytes:
    """A real 1x1 PNG (signature, IHDR, IDAT, IEND with their CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def bucket(aws: dict[str, str]) -> str:
    return aws["AttachmentsBucketName"]


@pytest.fixture
def service(aws: dict[str, str], clock: ManualClock) -> Attachments:
    attachment_records.bind(aws["TicketsTableName"], "us-east-1")
    store = S3AttachmentStore(AttachmentStoreSettings(bucket=aws["AttachmentsBucketName"]))
    return Attachments(DynamoAttachmentRecords(), store, clock, SequentialIds(), LIMITS)


def _keys(bucket: str, ticket_id: str) -> list[str]:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=bucket, Prefix=f"attachments/{ticket_id}/"
    )
    return [item["Key"] for item in listed.get("Contents", [])]


def _upload(upload: Upload, data: bytes) -> None:
    answer = requests.post(upload.url, data=upload.fields, files={"file": ("f", data)}, timeout=10)
    assert answer.status_code in (200, 204), answer.text


# --- files the desk receives whole ------------------------------------------------------------------------------


def test_a_stored_file_is_sniffed_hashed_recorded_and_counted(service: Attachments, bucket: str) -> None:
    png = png_bytes()
    stored = service.store_bytes(TICKET_A, None, "../../shot.png", "IMAGE/PNG", png, "requester")
    assert (stored.filename, stored.size, stored.declared_type, stored.sniffed_type) == (
        "shot.png",
        len(png),
        "image/png",
        "image/png",
    )
    assert _keys(bucket, TICKET_A) == [f"attachments/{TICKET_A}/{stored.id}"]
    assert service.records.used(TICKET_A) == len(png)
    assert service.listing(TICKET_A, for_requester=False) == [stored]
    download = service.for_download(TICKET_A, stored.id, for_requester=True)
    assert b"".join(download.body) == png
    assert download.headers["Content-Type"] == "image/png"


def test_an_svg_with_a_script_named_png_downloads_as_bytes(service: Attachments) -> None:
    stored = service.store_bytes(TICKET_A, None, "cat.png", "image/png", SVG_WITH_SCRIPT, "requester")
    headers = service.for_download(TICKET_A, stored.id, for_requester=False).headers
    assert headers["Content-Type"] == OCTET_STREAM
    assert headers["Content-Disposition"].startswith('attachment; filename="cat.png"')
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_file_over_the_limit_is_refused_before_anything_is_stored(service: Attachments, bucket: str) -> None:
    with pytest.raises(AttachmentTooLargeError):
        service.store_bytes(TICKET_A, None, "big.bin", None, b"x" * 1001, "agent")
    with pytest.raises(ValidationError):
        service.store_bytes(TICKET_A, None, "empty.txt", None, b"", "agent")
    assert _keys(bucket, TICKET_A) == []
    assert service.records.used(TICKET_A) == 0


def test_the_ticket_total_refuses_the_file_that_would_pass_it(service: Attachments, bucket: str) -> None:
    service.store_bytes(TICKET_A, None, "one.txt", None, b"a" * 1000, "requester")
    with pytest.raises(AttachmentTooLargeError) as refused:
        service.store_bytes(TICKET_A, None, "two.txt", None, b"b" * 501, "requester")
    assert refused.value.details == {"size": 501, "limit": 1500, "used": 1000}
    last = service.store_bytes(TICKET_A, None, "three.txt", None, b"c" * 500, "requester")
    assert service.records.used(TICKET_A) == 1500
    assert len(_keys(bucket, TICKET_A)) == 2
    service.store_bytes(TICKET_B, None, "other.txt", None, b"d" * 1000, "requester")  # each ticket its own total
    assert last.size == 500


def test_a_comment_carries_at_most_the_configured_number_of_files(service: Attachments) -> None:
    for n in range(3):
        service.store_bytes(TICKET_A, "01JCOMMENT1", f"{n}.txt", None, b"x", "agent")
    with pytest.raises(ValidationError) as refused:
        service.store_bytes(TICKET_A, "01JCOMMENT1", "4.txt", None, b"x", "agent")
    assert refused.value.errors == {"files": "at most 3 files"}
    service.store_bytes(TICKET_A, "01JCOMMENT2", "other.txt", None, b"x", "agent")


# --- direct uploads -------------------------------------------------------------------------------------------------


def test_a_direct_upload_is_pending_until_finished_then_sniffed_and_listed(service: Attachments) -> None:
    upload = service.begin_upload(TICKET_A, None, "report.pdf", "application/pdf", "requester")
    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert upload.fields["key"] == f"attachments/{TICKET_A}/{upload.attachment.id}"
    assert service.listing(TICKET_A, for_requester=False) == []  # pending files are nobody's yet
    with pytest.raises(NotFoundError):
        service.for_download(TICKET_A, upload.attachment.id, for_requester=False)
    _upload(upload, b"%PDF-1.7\n" + b"0" * 100)
    stored = service.finish_upload(TICKET_A, upload.attachment.id)
    assert (stored.state, stored.size, stored.sniffed_type) == ("stored", 109, "application/pdf")
    assert service.finish_upload(TICKET_A, upload.attachment.id) == stored  # finishing again changes nothing
    assert service.records.used(TICKET_A) == 109
    assert service.listing(TICKET_A, for_requester=True) == [stored]


def test_an_oversize_direct_upload_is_caught_deleted_and_refused(service: Attachments, bucket: str) -> None:
    upload = service.begin_upload(TICKET_A, None, "huge.bin", None, "requester")
    _upload(upload, b"x" * 5000)  # the embedded S3 does not enforce content-length-range
    with pytest.raises(AttachmentTooLargeError):
        service.finish_upload(TICKET_A, upload.attachment.id)
    assert _keys(bucket, TICKET_A) == []
    assert service.records.get(TICKET_A, upload.attachment.id) is None
    assert service.records.used(TICKET_A) == 0


def test_finishing_an_upload_that_never_happened_is_refused(service: Attachments) -> None:
    upload = service.begin_upload(TICKET_A, None, "x.txt", None, "agent")
    with pytest.raises(UploadMissingError):
        service.finish_upload(TICKET_A, upload.attachment.id)


def test_a_presigned_post_is_capped_at_the_room_left_on_the_ticket(service: Attachments) -> None:
    service.store_bytes(TICKET_A, None, "a.txt", None, b"a" * 1000, "requester")
    assert service.begin_upload(TICKET_A, None, "b.txt", None, "requester").max_bytes == 500
    service.store_bytes(TICKET_A, None, "c.txt", None, b"c" * 500, "requester")
    with pytest.raises(AttachmentTooLargeError):
        service.begin_upload(TICKET_A, None, "d.txt", None, "requester")


def test_of_two_uploads_racing_for_the_last_bytes_exactly_one_is_kept(service: Attachments, bucket: str) -> None:
    service.store_bytes(TICKET_A, None, "first.txt", None, b"a" * 1000, "requester")
    # Both begin while 500 bytes are left, and both upload 400: each alone would fit; together they would not.
    one = service.begin_upload(TICKET_A, None, "one.txt", None, "requester")
    two = service.begin_upload(TICKET_A, None, "two.txt", None, "agent")
    _upload(one, b"1" * 400)
    _upload(two, b"2" * 400)
    kept = service.finish_upload(TICKET_A, one.attachment.id)
    with pytest.raises(AttachmentTooLargeError):
        service.finish_upload(TICKET_A, two.attachment.id)
    assert service.records.used(TICKET_A) == 1400
    assert [a.filename for a in service.listing(TICKET_A, for_requester=False)] == ["first.txt", "one.txt"]
    assert kept.size == 400
    assert f"attachments/{TICKET_A}/{two.attachment.id}" not in _keys(bucket, TICKET_A)


def test_of_two_server_side_stores_racing_for_the_last_bytes_exactly_one_is_kept(service: Attachments) -> None:
    """Each passes the per-file check; the conditional update on the ticket's total admits only one."""
    service.store_bytes(TICKET_A, None, "first.txt", None, b"a" * 1000, "requester")
    outcomes = []
    for name in ("x.txt", "y.txt"):
        try:
            outcomes.append(service.store_bytes(TICKET_A, None, name, None, b"z" * 300, "requester").filename)
        except AttachmentTooLargeError:
            outcomes.append("refused")
    assert outcomes == ["x.txt", "refused"]
    assert service.records.used(TICKET_A) == 1300


# --- who sees which file ----------------------------------------------------------------------------------------


def test_an_attachment_id_of_ticket_a_opens_nothing_through_ticket_b(service: Attachments) -> None:
    """The attachment IDOR: the id is looked up under the ticket the caller was authorised for, never alone."""
    secret = service.store_bytes(TICKET_A, None, "contract.pdf", None, b"%PDF-1.4 secret", "requester")
    for for_requester in (True, False):
        with pytest.raises(NotFoundError):
            service.for_download(TICKET_B, secret.id, for_requester=for_requester)
    assert service.listing(TICKET_B, for_requester=False) == []
    with pytest.raises(NotFoundError):
        service.finish_upload(TICKET_B, secret.id)
    for junk in ("../" + secret.id, "", secret.id + "/x"):
        with pytest.raises(NotFoundError):
            service.for_download(TICKET_A, junk, for_requester=False)


def test_a_requester_never_sees_or_gets_a_file_on_an_internal_note(service: Attachments) -> None:
    reply = service.store_bytes(TICKET_A, "01JREPLY", "steps.txt", None, b"do this", "agent")
    note = service.store_bytes(TICKET_A, "01JNOTE", "internal.txt", None, b"the customer is wrong", "agent")
    own = service.store_bytes(TICKET_A, None, "form.txt", None, b"from the form", "requester")
    loose = service.store_bytes(TICKET_A, None, "draft.txt", None, b"not on a comment yet", "agent")
    public = {"01JREPLY"}
    assert service.listing(TICKET_A, for_requester=True, public_comment_ids=public) == [reply, own]
    assert service.listing(TICKET_A, for_requester=False) == [reply, note, own, loose]
    for hidden in (note, loose):
        with pytest.raises(NotFoundError):
            service.for_download(TICKET_A, hidden.id, for_requester=True, public_comment_ids=public)
    assert b"".join(service.for_download(TICKET_A, note.id, for_requester=False).body or ()) == b"the customer is wrong"


# --- files that a comment names, and what the desk tidies -------------------------------------------------------


def test_a_comment_takes_uploads_of_its_ticket_all_or_nothing_and_each_only_once(service: Attachments) -> None:
    loose = service.store_bytes(TICKET_A, None, "fix.txt", None, b"run fsck", "agent")
    upload = service.begin_upload(TICKET_A, None, "trace.txt", "text/plain", "agent")
    _upload(upload, b"trace\n")
    attached = service.attach(TICKET_A, [loose.id, upload.attachment.id, loose.id], "01JCOMMENT")
    assert [(a.filename, a.comment_id, a.state) for a in attached] == [
        ("fix.txt", "01JCOMMENT", "stored"),
        ("trace.txt", "01JCOMMENT", "stored"),
    ]
    assert [a.filename for a in service.of_comment(TICKET_A, "01JCOMMENT")] == ["fix.txt", "trace.txt"]
    other = service.store_bytes(TICKET_A, None, "new.txt", None, b"new", "agent")
    with pytest.raises(ValidationError):  # one of them is on a comment already: the other is not moved either
        service.attach(TICKET_A, [other.id, loose.id], "01JSECOND")
    assert service.records.get(TICKET_A, other.id).comment_id is None  # type: ignore[union-attr]
    b_file = service.store_bytes(TICKET_B, None, "b.txt", None, b"b", "agent")
    with pytest.raises(ValidationError):  # another ticket's upload is no upload of this one
        service.attach(TICKET_A, [b_file.id], "01JTHIRD")
    service.detach(TICKET_A, attached, "01JCOMMENT")  # the comment was then not written
    assert service.of_comment(TICKET_A, "01JCOMMENT") == []
    assert [a.comment_id for a in service.attach(TICKET_A, [loose.id], "01JFOURTH")] == ["01JFOURTH"]


def test_storing_a_file_again_under_its_fixed_id_keeps_one_copy_counted_once(service: Attachments) -> None:
    first = service.store_bytes(TICKET_A, "01JMAIL", "a.txt", None, b"abc", "requester", attachment_id="M1P0")
    again = service.store_bytes(TICKET_A, "01JMAIL", "a.txt", None, b"abc", "requester", attachment_id="M1P0")
    assert again == first
    assert service.records.used(TICKET_A) == 3
    assert len(service.listing(TICKET_A, for_requester=False)) == 1


def test_a_refused_comments_files_are_discarded_and_no_longer_counted(service: Attachments, bucket: str) -> None:
    service.store_bytes(TICKET_A, "01JREFUSED", "a.txt", None, b"abcd", "agent")
    service.store_bytes(TICKET_A, "01JKEPT", "b.txt", None, b"ef", "agent")
    service.discard_comment_files(TICKET_A, "01JREFUSED")
    assert [a.filename for a in service.listing(TICKET_A, for_requester=False)] == ["b.txt"]
    assert service.records.used(TICKET_A) == 2
    assert len(_keys(bucket, TICKET_A)) == 1


def test_direct_uploads_never_finished_are_cleared_when_the_ticket_gets_a_new_one(
    service: Attachments, clock: ManualClock, bucket: str
) -> None:
    abandoned = service.begin_upload(TICKET_A, None, "gone.bin", None, "agent")
    _upload(abandoned, b"never finished")
    clock.advance(minutes=30)
    recent = service.begin_upload(TICKET_A, None, "recent.bin", None, "agent")
    assert service.records.get(TICKET_A, abandoned.attachment.id) is not None  # not yet an hour: kept
    clock.advance(minutes=31)
    service.begin_upload(TICKET_A, None, "later.bin", None, "agent")
    assert service.records.get(TICKET_A, abandoned.attachment.id) is None
    assert service.records.get(TICKET_A, recent.attachment.id) is not None
    assert f"attachments/{TICKET_A}/{abandoned.attachment.id}" not in _keys(bucket, TICKET_A)


def test_a_file_over_the_inline_limit_is_a_short_link_that_s3_serves_as_a_download(service: Attachments) -> None:
    stored = service.store_bytes(TICKET_A, None, "big.txt", None, b"z" * 600, "requester")
    small = service.for_download(TICKET_A, stored.id, for_requester=True, inline_limit=1000)
    assert small.url is None
    assert small.body is not None
    linked = service.for_download(TICKET_A, stored.id, for_requester=True, inline_limit=500)
    assert linked.body is None
    assert linked.url is not None
    answer = requests.get(linked.url, timeout=10)
    assert answer.content == b"z" * 600
    assert answer.headers["Content-Disposition"].startswith("attachment;")


def test_of_two_deliveries_storing_one_fixed_id_at_once_the_file_stays_and_counts_once(
    service: Attachments, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loser of the record's conditional write must not delete the object the winner's record points at."""
    first_look = service.records.get
    looks = iter([None])  # the second delivery looks before the first has recorded it, then finds it there
    monkeypatch.setattr(service.records, "get", lambda t, a: next(looks, None) or first_look(t, a))
    service.records.add(
        replace(service.store_bytes(TICKET_B, None, "seed.txt", None, b"x", "requester"), ticket_id=TICKET_A, id="M2P0")
    )
    service.records.reserve(TICKET_A, 5, LIMITS.max_ticket_bytes)
    service.blobs.put(TICKET_A, "M2P0", b"hello", "text/plain")
    again = service.store_bytes(TICKET_A, "01JMAIL", "seed.txt", None, b"hello", "requester", attachment_id="M2P0")
    assert again.id == "M2P0"
    assert service.records.used(TICKET_A) == 5
    assert f"attachments/{TICKET_A}/M2P0" in _keys(bucket, TICKET_A)
