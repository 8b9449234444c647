"""An in-memory saved reply store, guarded like the DynamoDB one: new ids only, writes over the version read."""

from __future__ import annotations

from chalicelib.domain.errors import ConflictError, StaleVersionError
from chalicelib.domain.saved_replies import SavedReply


class FakeSavedReplyStore:
    def __init__(self) -> None:
        self.items: dict[str, SavedReply] = {}
        self.writes = 0

    def list_all(self) -> list[SavedReply]:
        return [self.items[key] for key in sorted(self.items)]  # the partition's key order, as a Query gives it

    def get(self, reply_id: str) -> SavedReply | None:
        return self.items.get(reply_id)

    def put_new(self, reply: SavedReply) -> None:
        if reply.id in self.items:
            raise ConflictError(f"a saved reply with id {reply.id!r} already exists")
        self.items[reply.id] = reply
        self.writes += 1

    def replace(self, reply: SavedReply, expected_version: int) -> None:
        stored = self.items.get(reply.id)
        if stored is None or stored.version != expected_version:
            raise StaleVersionError("the saved reply changed or was deleted since you read it")
        self.items[reply.id] = reply
        self.writes += 1

    def delete(self, reply_id: str) -> bool:
        self.writes += 1
        return self.items.pop(reply_id, None) is not None
