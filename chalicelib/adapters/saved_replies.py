"""The DynamoDB store of saved replies: one partition of the desk table, every write conditional on the version."""

from __future__ import annotations

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from chalicelib.adapters.records import SavedReplyRecord, is_condition_failure
from chalicelib.domain.errors import ConflictError, StaleVersionError
from chalicelib.domain.saved_replies import SavedReply

PARTITION = "saved_reply"


def _record(reply: SavedReply) -> SavedReplyRecord:
    return SavedReplyRecord(
        pk=PARTITION,
        sk=reply.id,
        title=reply.title,
        body=reply.body,
        status=reply.status,
        priority=reply.priority,
        public=reply.public,
        version=reply.version,
        updated_at=reply.updated_at,
        updated_by=reply.updated_by,
    )


def _reply(record: SavedReplyRecord) -> SavedReply:
    return SavedReply(
        id=record.sk,
        title=record.title,
        body=record.body,
        status=record.status,
        priority=record.priority,
        public=bool(record.public),
        version=int(record.version),
        updated_at=record.updated_at,
        updated_by=record.updated_by,
    )


class DynamoSavedReplyStore:
    def list_all(self) -> list[SavedReply]:
        """One Query of the partition (PynamoDB follows its pages)."""
        return [_reply(r) for r in SavedReplyRecord.query(PARTITION, consistent_read=True)]

    def get(self, reply_id: str) -> SavedReply | None:
        try:
            return _reply(SavedReplyRecord.get(PARTITION, reply_id, consistent_read=True))
        except DoesNotExist:
            return None

    def put_new(self, reply: SavedReply) -> None:
        try:
            _record(reply).save(condition=SavedReplyRecord.sk.does_not_exist())
        except PutError as error:
            if is_condition_failure(error):
                raise ConflictError(f"a saved reply with id {reply.id!r} already exists") from error
            raise

    def replace(self, reply: SavedReply, expected_version: int) -> None:
        """A whole-item put (an attribute set to None is removed), only over the version the change is based on."""
        try:
            _record(reply).save(condition=SavedReplyRecord.version == expected_version)
        except PutError as error:
            if is_condition_failure(error):
                raise StaleVersionError(
                    "the saved reply changed or was deleted since you read it; reload it and try again"
                ) from error
            raise

    def delete(self, reply_id: str) -> bool:
        try:
            SavedReplyRecord(pk=PARTITION, sk=reply_id).delete(condition=SavedReplyRecord.sk.exists())
        except DeleteError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
