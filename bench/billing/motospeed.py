"""Some of moto's slow paths made quick for the bench, every answer unchanged (as localdesk/motofix.py does for
transactions and queries): a month of requests is otherwise mostly moto shaping its answers.

* moto's response serializer asks six alias providers for every value of every answer; for a plain dict the keys
  they offer depend only on the picker's class, the shape and the key, so they are worked out once (by moto's own
  providers) and tried in moto's order;
* moto lists a response class's methods (inspect.getmembers) on every call; the list never changes, so it is kept;
* moto's update-expression validators rebuild their node class -> handler map for every node they visit, and ask
  the (abstract base) classes for every node whether it is one: a validator's map never changes and a node's class
  answers the same every time, so both are kept;
* moto parses an update expression twice per UpdateItem; the tree it builds is only read (the validators work on a
  deep copy), so one tree per expression text is kept; and that deep copy is made node by node directly, as
  copy.deepcopy makes it through __reduce_ex__ (a node is a plain object: its class and its attributes).

* moto sorts a table's items (and a global index's) by comparing DynamoType objects, each comparison converting
  both values again (a Decimal for every number); the items are sorted by the same values converted once each;
* moto backs up a table with a stream by deep-copying all of it before a transaction writes to it (the copy also
  takes back the stream records of a cancelled one); the items the transaction names and the stream's length are
  kept instead, and put back if it is cancelled (localdesk/motofix.py does the same for tables without a stream).

install() must run before localdesk.motofix.install(), which builds on the sorted items. BENCH_MOTO_AS_IS=1 in the
environment leaves moto as it is (bench/billing/month.py), to compare.
"""

from __future__ import annotations

import copy
import functools
from typing import Any


def install() -> None:
    from moto.core import responses, serialize

    if getattr(serialize.AttributePicker, "_bench_quick", False):
        return
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)  # type: ignore[assignment]
    _pick_quickly(serialize)
    _keep_processing_maps()
    _keep_update_trees()
    _sort_by_values()
    _back_up_stream_tables()


def _sort_by_values() -> None:
    from moto.dynamodb.models.table import Item, Table

    def all_items(self: Any) -> list[Any]:
        items: list[Any] = []
        for hash_set in self.items.values():
            if self.range_key_attr:
                items.extend(hash_set.values())
            else:
                items.append(hash_set)

        def key(x: Any) -> Any:
            return (x.hash_key.cast_value, x.range_key.cast_value) if x.range_key else x.hash_key.cast_value

        return sorted(items, key=key)

    def sorted_items(
        self: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Item]
    ) -> list[Item]:
        names = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda x: tuple([x.attrs[name].cast_value for name in names]))
        return items

    Table.all_items = all_items
    Table.sorted_items = sorted_items


def _back_up_stream_tables() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    from localdesk import motofix

    def later(installed: Any) -> Any:
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            touched: list[tuple[Any, Any, Any]] = []
            streams = False
            for entry in transact_items:
                if len(entry) != 1:
                    return installed(self, transact_items)
                _, operation = next(iter(entry.items()))
                table = self.tables.get(operation.get("TableName"))
                key = operation.get("Item") if "Item" in operation else operation.get("Key")
                if table is None or not isinstance(key, dict) or table.hash_key_attr not in key:
                    return installed(self, transact_items)
                if table.range_key_attr and table.range_key_attr not in key:
                    return installed(self, transact_items)
                streams = streams or table.stream_shard is not None
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                touched.append((table, hash_key, range_key))
            if not streams:
                return installed(self, transact_items)
            saved = [(t, h, r, copy.deepcopy(t.get_item(h, r))) for t, h, r in touched]
            lengths = {id(t): (t, len(t.stream_shard.items)) for t, _, _ in touched if t.stream_shard is not None}
            motofix._state.active = True  # moto's whole-table copies are the tables themselves meanwhile
            try:
                installed(self, transact_items)
            except BaseException:
                for table, hash_key, range_key, item in reversed(saved):
                    motofix._restore(table, hash_key, range_key, item)
                for table, length in lengths.values():
                    del table.stream_shard.items[length:]
                raise
            finally:
                motofix._state.active = False
            return None

        return transact_write_items

    DynamoDBBackend._bench_later = later  # applied by install_after_motofix()


def install_after_motofix() -> None:
    """The transaction backup wraps motofix's (which must be installed by now)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "_bench_streams", False) or not hasattr(
        DynamoDBBackend, "_bench_later"
    ):
        return
    wrapped = DynamoDBBackend._bench_later(DynamoDBBackend.transact_write_items)
    wrapped._bench_streams = True
    DynamoDBBackend.transact_write_items = wrapped


def _pick_quickly(serialize: Any) -> None:
    picked = serialize.AttributePicker.__call__
    candidates: dict[tuple[type, int, str], tuple[Any, tuple[str, ...] | None]] = {}

    def quick(self: Any, context: Any) -> Any:
        obj = context.obj
        key = context.key
        if type(obj) is not dict or self.response_transformers or not isinstance(key, str):
            return picked(self, context)
        shape = context.shape
        entry = candidates.get((type(self), id(shape), key))
        if entry is None:
            keys = tuple(self.get_possible_keys(context))
            entry = (shape, None if any("." in k for k in keys) else keys)  # a dotted key is a path: moto's way
            candidates[(type(self), id(shape), key)] = entry  # the shape is kept too: its id stays its own
        keys = entry[1]
        if keys is None:
            return picked(self, context)
        for possible in keys:
            if possible in obj:
                return obj[possible]
        return None

    serialize.AttributePicker.__call__ = quick
    serialize.AttributePicker._bench_quick = True


def _keep_processing_maps() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    is_node: dict[type, bool] = {}

    def processor_for(self: Any, kind: type) -> Any:
        """This traverser's handler for a node class (None: not handled), from its map in moto's order."""
        state = self.__dict__
        if "_bench_map" not in state:
            state["_bench_map"] = self._processing_map()
            state["_bench_by_class"] = {}
        by_class = state["_bench_by_class"]
        if kind not in by_class:
            by_class[kind] = next(
                (handler for class_key, handler in state["_bench_map"].items() if issubclass(kind, class_key)), None
            )
        return by_class[kind]

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        processor_for(self, type(None))
        return tuple(self.__dict__["_bench_map"].keys())

    def process(self: Any, node: Any) -> Any:
        handler = processor_for(self, type(node))
        return handler(node) if handler is not None else None

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        kind = type(node)
        node_class = is_node.get(kind)
        if node_class is None:
            node_class = is_node[kind] = issubclass(kind, Node)
        if node_class:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            handler = processor_for(self, kind)
            if handler is not None:
                node = handler(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    def node_copy(self: Any, memo: dict[int, Any]) -> Any:
        found = memo.get(id(self))
        if found is not None:
            return found
        copied = self.__class__.__new__(self.__class__)
        memo[id(self)] = copied
        copied.__dict__.update({k: copy.deepcopy(v, memo) for k, v in self.__dict__.items()})
        return copied

    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed
    DepthFirstTraverser.process = process
    DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively
    Node.__deepcopy__ = node_copy


def _keep_update_trees() -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.make.__func__
    kept = functools.lru_cache(maxsize=4096)(lambda text: make(UpdateExpressionParser, text))

    def cached(cls: type, text: str) -> Any:
        return kept(text) if cls is UpdateExpressionParser else make(cls, text)

    UpdateExpressionParser.make = classmethod(cached)
