"""Attachment records in the ticket's partition (sk `att#<id>`), and the ticket's byte total kept beside them."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from chalicelib.adapters import meter
from chalicelib.adapters.records import _Meta, is_condition_failure
from chalicelib.domain.attachments import Attachment
from chalicelib.domain.errors import ConflictError

PREFIX = "att#"
USAGE_SK = "attachments"  # not under PREFIX: listing a ticket's files never reads its total


class AttachmentRecord(Model):
    """pk = ticket id, sk = "att#<attachment id>" (ULIDs: the partition lists them in upload order)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    comment_id = UnicodeAttribute(null=True)
    filename = UnicodeAttribute()
    size = NumberAttribute()
    declared_type = UnicodeAttribute()
    sniffed_type = UnicodeAttribute()
    sha256 = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()
    uploaded_by = UnicodeAttribute()
    state = UnicodeAttribute()


class AttachmentUsageRecord(Model):
    """pk = ticket id, sk = "attachments": the bytes and files the ticket holds (atomic ADD under a condition)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    total_bytes = NumberAttribute(null=True)
    files = NumberAttribute(null=True)


MODELS: tuple[type[Model], ...] = (AttachmentRecord, AttachmentUsageRecord)


def bind(table: str, region: str) -> None:
    """Point the models at the tickets table (records.bind_tables binds only the models listed there)."""
    for model in MODELS:
        model.Meta.table_name = table
        model.Meta.region = region
        model._connection = None


def _sk(attachment_id: str) -> str:
    return f"{PREFIX}{attachment_id}"


def _from_record(record: AttachmentRecord) -> Attachment:
    return Attachment(
        id=record.id,
        ticket_id=record.pk,
        comment_id=record.comment_id,
        filename=record.filename,
        size=int(record.size),
        declared_type=record.declared_type,
        sniffed_type=record.sniffed_type,
        sha256=record.sha256 or "",
        created_at=record.created_at,
        uploaded_by=record.uploaded_by,
        state=record.state,
    )


class DynamoAttachmentRecords:
    def add(self, attachment: Attachment) -> None:
        record = AttachmentRecord(
            attachment.ticket_id,
            _sk(attachment.id),
            id=attachment.id,
            comment_id=attachment.comment_id,
            filename=attachment.filename,
            size=attachment.size,
            declared_type=attachment.declared_type,
            sniffed_type=attachment.sniffed_type,
            sha256=attachment.sha256,
            created_at=attachment.created_at,
            uploaded_by=attachment.uploaded_by,
            state=attachment.state,
        )
        try:
            record.save(condition=AttachmentRecord.pk.does_not_exist())
        except PutError as error:
            if is_condition_failure(error):
                raise ConflictError(f"attachment {attachment.id} exists already") from None
            raise

    def get(self, ticket_id: str, attachment_id: str) -> Attachment | None:
        """One GetItem on the ticket's own key: an id from another ticket finds nothing here."""
        try:
            return _from_record(AttachmentRecord.get(ticket_id, _sk(attachment_id), consistent_read=True))
        except DoesNotExist:
            return None

    def of_ticket(self, ticket_id: str) -> list[Attachment]:
        """One Query of the ticket's partition, sort keys under `att#`."""
        query = AttachmentRecord.query(ticket_id, AttachmentRecord.sk.startswith(PREFIX), consistent_read=True)
        return [_from_record(record) for record in query]

    def mark_stored(self, attachment: Attachment) -> bool:
        """Record a checked direct upload; False when it was not pending any more (finished by another call)."""
        record = AttachmentRecord(attachment.ticket_id, _sk(attachment.id))
        try:
            record.update(
                actions=[
                    AttachmentRecord.size.set(attachment.size),
                    AttachmentRecord.sniffed_type.set(attachment.sniffed_type),
                    AttachmentRecord.sha256.set(attachment.sha256),
                    AttachmentRecord.state.set("stored"),
                ],
                condition=AttachmentRecord.state == "pending",
            )
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def assign(self, ticket_id: str, attachment_id: str, comment_id: str) -> bool:
        """Put a file not yet on a comment onto `comment_id`; False when it is on one already (or gone)."""
        record = AttachmentRecord(ticket_id, _sk(attachment_id))
        try:
            record.update(
                actions=[AttachmentRecord.comment_id.set(comment_id)],
                condition=AttachmentRecord.pk.exists() & AttachmentRecord.comment_id.does_not_exist(),
            )
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def unassign(self, ticket_id: str, attachment_id: str, comment_id: str) -> None:
        """Take a file off `comment_id` again (its comment was not written); nothing when it is not on it."""
        record = AttachmentRecord(ticket_id, _sk(attachment_id))
        try:
            record.update(
                actions=[AttachmentRecord.comment_id.remove()], condition=AttachmentRecord.comment_id == comment_id
            )
        except UpdateError as error:
            if not is_condition_failure(error):
                raise

    def remove(self, ticket_id: str, attachment_id: str) -> None:
        AttachmentRecord(ticket_id, _sk(attachment_id)).delete()

    def used(self, ticket_id: str) -> int:
        try:
            usage = AttachmentUsageRecord.get(ticket_id, USAGE_SK, consistent_read=True)
        except DoesNotExist:
            return 0
        return int(usage.total_bytes or 0)

    def reserve(self, ticket_id: str, size: int, limit: int) -> bool:
        """Add `size` to the ticket's total unless that would pass `limit`: one conditional UpdateItem, so of two
        uploads racing for the last bytes exactly one gets them."""
        room = limit - size
        if room < 0:
            return False
        usage = AttachmentUsageRecord(ticket_id, USAGE_SK)
        try:
            usage.update(
                actions=[AttachmentUsageRecord.total_bytes.add(size), AttachmentUsageRecord.files.add(1)],
                condition=AttachmentUsageRecord.total_bytes.does_not_exist()
                | (AttachmentUsageRecord.total_bytes <= room),
            )
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        meter.count_stored(size, 1)  # the desk-wide total of the files' bytes (the cost estimate's S3 storage)
        return True

    def release(self, ticket_id: str, size: int) -> None:
        """Give back what reserve() took, for a file that was not kept."""
        AttachmentUsageRecord(ticket_id, USAGE_SK).update(
            actions=[AttachmentUsageRecord.total_bytes.add(-size), AttachmentUsageRecord.files.add(-1)],
            condition=AttachmentUsageRecord.total_bytes.exists(),
        )
        meter.count_stored(-size, -1)
