"""The attachments bucket (moto, built from infra/template.json) and the attachment records in the tickets table."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import boto3
import pytest
import requests

from chalicelib.adapters import attachment_records
from chalicelib.adapters.attachment_records import DynamoAttachmentRecords
from chalicelib.adapters.attachment_store import AttachmentStoreSettings, S3AttachmentStore, object_key
from chalicelib.domain.attachments import Attachment, AttachmentTooLargeError, UploadMissingError
from chalicelib.domain.errors import ConflictError
from infra.tables import TEMPLATE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def s3(aws: dict[str, str]) -> object:
    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def store(aws: dict[str, str]) -> S3AttachmentStore:
    return S3AttachmentStore(
        AttachmentStoreSettings.from_env({"HELPDESK_ATTACHMENTS_BUCKET": aws["AttachmentsBucketName"]})
    )


@pytest.fixture
def records(aws: dict[str, str]) -> DynamoAttachmentRecords:
    attachment_records.bind(aws["TicketsTableName"], "us-east-1")
    return DynamoAttachmentRecords()


def test_the_bucket_is_encrypted_private_owner_enforced_and_an_output(aws: dict[str, str], s3: object) -> None:
    client: object = s3
    encryption = client.get_bucket_encryption(Bucket=aws["AttachmentsBucketName"])  # type: ignore[attr-defined]
    [rule] = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # moto's CloudFormation does not apply these two: the template says them.
    template = json.loads(TEMPLATE.read_text())
    props = template["Resources"]["AttachmentsBucket"]["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert template["Outputs"]["AttachmentsBucketName"] == {"Value": {"Ref": "AttachmentsBucket"}}


def test_browsers_may_post_uploads_only_from_the_desks_own_origin() -> None:
    cors = json.loads(TEMPLATE.read_text())["Resources"]["AttachmentsBucket"]["Properties"]["CorsConfiguration"]
    condition, configured, absent = cors["Fn::If"]
    assert (condition, absent) == ("AllowsScriptedUploads", {"Ref": "AWS::NoValue"})
    [rule] = configured["CorsRules"]
    assert (rule["AllowedMethods"], rule["AllowedOrigins"]) == (["POST"], [{"Ref": "AttachmentUploadOrigin"}])


def test_a_server_side_put_lands_under_the_ticket_with_the_type_it_will_be_served_as(
    aws: dict[str, str], s3: object, store: S3AttachmentStore
) -> None:
    store.put("01JTICKETA", "01JATT1", b"%PDF-1.4 body", "application/pdf")
    stored = s3.get_object(Bucket=aws["AttachmentsBucketName"], Key="attachments/01JTICKETA/01JATT1")  # type: ignore[attr-defined]
    assert (stored["ContentType"], stored["ContentDisposition"]) == ("application/pdf", "attachment")
    assert b"".join(store.open("01JTICKETA", "01JATT1")) == b"%PDF-1.4 body"


def test_keys_are_made_only_of_plain_ids() -> None:
    assert object_key("01JT", "01JA") == "attachments/01JT/01JA"
    for ticket, att in (("../x", "a"), ("a", "b/c"), ("", "a"), ("a", "..")):
        with pytest.raises(ValueError, match="not an attachment key"):
            object_key(ticket, att)


def _policy(fields: dict[str, str]) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(base64.b64decode(fields["policy"]))
    return decoded


def _post(upload: dict[str, object], data: bytes) -> int:
    fields = upload["fields"]
    assert isinstance(fields, dict)
    answer = requests.post(str(upload["url"]), data=fields, files={"file": ("f.bin", data)}, timeout=10)
    return answer.status_code


def test_a_presigned_post_names_the_exact_key_a_size_range_and_a_fixed_type(store: S3AttachmentStore) -> None:
    upload = store.presigned_post("01JTICKETA", "01JATT2", max_bytes=10, expires_in=900)
    assert upload["fields"]["key"] == "attachments/01JTICKETA/01JATT2"
    conditions = _policy(upload["fields"])["conditions"]
    assert isinstance(conditions, list)
    assert ["content-length-range", 1, 10] in conditions
    assert {"key": "attachments/01JTICKETA/01JATT2"} in conditions
    assert {"Content-Type": "application/octet-stream"} in conditions
    assert not any(isinstance(c, list) and c[0] == "starts-with" for c in conditions)


def test_an_oversize_direct_upload_is_caught_by_verify_and_deleted(
    aws: dict[str, str], s3: object, store: S3AttachmentStore
) -> None:
    upload = store.presigned_post("01JTICKETA", "01JATT3", max_bytes=10, expires_in=900)
    assert _post(upload, b"x" * 1000) in (200, 204)  # the embedded S3 ignores content-length-range
    with pytest.raises(AttachmentTooLargeError) as refused:
        store.verify("01JTICKETA", "01JATT3", max_bytes=10)
    assert (refused.value.details["size"], refused.value.details["limit"]) == (1000, 10)
    listed = s3.list_objects_v2(Bucket=aws["AttachmentsBucketName"], Prefix="attachments/01JTICKETA/")  # type: ignore[attr-defined]
    assert listed.get("KeyCount") == 0


def test_verify_gives_the_size_and_only_the_first_4_kb(store: S3AttachmentStore) -> None:
    data = bytes(range(256)) * 40  # 10 240 bytes
    upload = store.presigned_post("01JTICKETA", "01JATT4", max_bytes=20_000, expires_in=900)
    assert _post(upload, data) in (200, 204)
    size, head = store.verify("01JTICKETA", "01JATT4", max_bytes=20_000)
    assert (size, head) == (10_240, data[:4096])
    assert store.sha256("01JTICKETA", "01JATT4", 20_000) == (10_240, hashlib.sha256(data).hexdigest())


def test_verify_of_nothing_uploaded_and_open_of_nothing_stored_say_so(store: S3AttachmentStore) -> None:
    with pytest.raises(UploadMissingError):
        store.verify("01JTICKETA", "01JNEVER", max_bytes=10)
    with pytest.raises(UploadMissingError):
        store.open("01JTICKETA", "01JNEVER")


def _attachment(ticket: str, att: str, **changes: object) -> Attachment:
    values: dict[str, object] = {
        "id": att,
        "ticket_id": ticket,
        "comment_id": None,
        "filename": "a.txt",
        "size": 3,
        "declared_type": "text/plain",
        "sniffed_type": "text/plain",
        "sha256": "ab" * 32,
        "created_at": NOW,
        "uploaded_by": "requester",
    }
    values.update(changes)
    return Attachment(**values)  # type: ignore[arg-type]


def test_records_live_in_the_tickets_partition_and_list_with_one_query(
    records: DynamoAttachmentRecords, dynamo_reads: object
) -> None:
    records.add(_attachment("01JTICKETA", "01JATT1"))
    records.add(_attachment("01JTICKETA", "01JATT2", comment_id="01JC", state="pending", size=0))
    records.add(_attachment("01JTICKETB", "01JATT3"))
    assert records.reserve("01JTICKETA", 3, 100)  # the usage item shares the partition but not the prefix
    assert [a.id for a in records.of_ticket("01JTICKETA")] == ["01JATT1", "01JATT2"]
    assert dynamo_reads.queries == 1  # type: ignore[attr-defined]
    assert records.get("01JTICKETA", "01JATT2") == _attachment(
        "01JTICKETA", "01JATT2", comment_id="01JC", state="pending", size=0
    )
    assert records.get("01JTICKETB", "01JATT1") is None  # another ticket's id finds nothing
    with pytest.raises(ConflictError):
        records.add(_attachment("01JTICKETA", "01JATT1"))


def test_a_pending_record_is_marked_stored_once(records: DynamoAttachmentRecords) -> None:
    pending = _attachment("01JTICKETA", "01JATT1", state="pending", size=0, sha256="")
    records.add(pending)
    done = _attachment("01JTICKETA", "01JATT1", size=7, sniffed_type="image/png")
    assert records.mark_stored(done)
    assert not records.mark_stored(done)
    assert records.get("01JTICKETA", "01JATT1") == done
    records.remove("01JTICKETA", "01JATT1")
    assert records.get("01JTICKETA", "01JATT1") is None


def test_the_ticket_total_refuses_past_its_limit_and_gives_back_what_was_released(
    records: DynamoAttachmentRecords,
) -> None:
    assert records.used("01JTICKETA") == 0
    assert records.reserve("01JTICKETA", 60, 100)
    assert not records.reserve("01JTICKETA", 41, 100)
    assert records.reserve("01JTICKETA", 40, 100)
    assert records.used("01JTICKETA") == 100
    assert not records.reserve("01JTICKETA", 1, 100)
    assert not records.reserve("01JTICKETB", 101, 100)
    records.release("01JTICKETA", 40)
    assert records.used("01JTICKETA") == 60
    assert records.used("01JTICKETB") == 0
