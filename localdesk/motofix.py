"""A faster rollback for moto's TransactWriteItems, for the local run and the tests.

moto backs up each table a transaction touches by deep-copying the whole table, once per item of the
transaction, so a transaction's time grows with everything the table holds. The stream pipeline writes the
report counters in one small transaction per ticket change, to the events table, which grows with every
change: under moto the local desk and the tests would slow down as they fill up. DynamoDB itself has no such
cost.

`install()` keeps moto's transaction code and its checks, but backs up only the items the transaction names,
and puts exactly those back when it is cancelled. Tables with a stream keep moto's own whole-table backup,
because that backup also takes back the stream records a cancelled transaction wrote. Likewise moto sorts a
whole table to answer a Query of one partition; `install()` gives it that partition only.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_state = threading.local()


class _ItemBackupCopy:
    """Stands in for the `copy` module inside moto's DynamoDB models: no whole-table copy while active."""

    def __init__(self, table_type: type) -> None:
        self.table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_state, "active", False) and isinstance(value, self.table_type):
            return value  # the table itself: this transaction restores its own items instead
        return copy.deepcopy(value, memo)

    def copy(self, value: Any) -> Any:
        return copy.copy(value)


def install() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "item_backup", False):
        return
    original = DynamoDBBackend.transact_write_items
    models.copy = _ItemBackupCopy(Table)  # type: ignore[assignment]

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        touched: list[tuple[Any, Any, Any]] = []
        for entry in transact_items:
            if len(entry) != 1:
                return original(self, transact_items)  # moto raises its own error for this
            _, operation = next(iter(entry.items()))
            table = self.tables.get(operation.get("TableName"))
            key = operation.get("Item") if "Item" in operation else operation.get("Key")
            if table is None or table.stream_shard is not None or not isinstance(key, dict):
                return original(self, transact_items)
            if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
                return original(self, transact_items)
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            touched.append((table, hash_key, range_key))
        saved = [(table, h, r, copy.deepcopy(table.get_item(h, r))) for table, h, r in touched]
        _state.active = True
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, item in reversed(saved):
                _restore(table, hash_key, range_key, item)
            raise
        finally:
            _state.active = False

    transact_write_items.item_backup = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _partition_queries(Table)


def _partition_queries(table_type: Any) -> None:
    """moto answers a Query of the table (not of an index) by sorting every item of the table and keeping the
    queried partition's; this hands it the queried partition only, which gives the same answer."""
    real_query = table_type.query
    real_all_items = table_type.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return real_query(self, hash_key, *args, **kwargs)
        _state.partition = (self, hash_key)
        try:
            return real_query(self, hash_key, *args, **kwargs)
        finally:
            _state.partition = None

    def all_items(self: Any) -> Any:
        hint = getattr(_state, "partition", None)
        if hint is None or hint[0] is not self:
            return real_all_items(self)
        found = self.items.get(hint[1])
        if found is None:
            return []
        items = list(found.values()) if self.range_key_attr else [found]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    table_type.query = query
    table_type.all_items = all_items


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if range_key is not None:
        if item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item
