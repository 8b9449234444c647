"""DynamoDB's capacity arithmetic for moto: what each call would be billed, from the items moto holds."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

# moto answers `ConsumedCapacity` with constants (1.0 or 0.5, whatever the item size, no index ever written). A
# `CapacityModel` hooks every botocore DynamoDB client (boto3 and PynamoDB alike) and, for each call:
#
# * before it (`before-call`, ahead of moto's `before-send`), keeps the items a write will touch as they are;
# * after it (`after-call`, registered first so that any other handler, like the desk's meter, sees its numbers),
#   reads them again, computes the read and write request units the way DynamoDB bills them, adds them to its
#   ledger (`charges`), and, if the call asked for it, puts `ConsumedCapacity` into the parsed answer in DynamoDB's
#   shape in place of moto's.
#
# The rules, from AWS's developer guide (each rule is quoted where it is applied):
# * "DynamoDB item sizes and formats" (CapacityUnitCalculations.html): an item's size;
# * "DynamoDB read and write operations" (read-write-operations.html): 1 KB write units, 4 KB read units, eventually
#   consistent reads at half, conditional writes that fail still billed;
# * "Amazon DynamoDB Transactions: how it works" (transaction-apis.html, "Capacity management for transactions"):
#   every item of a transaction read or written twice (prepare and commit);
# * "Using Global Secondary Indexes" (GSI.html, "Provisioned throughput considerations", "Write activity"): what a
#   table write costs each index.
# Two points the guide leaves open follow what other emulators measured against DynamoDB itself (nubo-db/dynoxide
# PRs #123, #177, #188): a transaction's index writes are not doubled (only its table writes are), a ConditionCheck
# in a transaction is billed as a transactional write of the item it read, and a write that leaves an index's entry
# as it was costs that index nothing.
# Not charged: Scan (the desk never issues one), PartiQL, a same-token TransactWriteItems replay (moto keeps no
# tokens). A cancelled transaction is charged as transactional writes of its items, no index: the guide says
# nothing of it, and the desk's meter counts one the same way.

KB = 1024
WRITE_UNIT_BYTES = KB  # "One write request unit represents one write for an item up to 1 KB in size."
READ_UNIT_BYTES = 4 * KB  # "One read request unit represents one strongly consistent read ... up to 4 KB"
DEFAULT_ACCOUNT = "123456789012"  # moto's, unless MOTO_ACCOUNT_ID names another
CONTEXT_KEY = "localdesk.capacity"

READS = frozenset({"GetItem", "BatchGetItem", "TransactGetItems", "Query"})
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
LISTED = frozenset({"BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})
TRANSACTIONS = frozenset({"TransactGetItems", "TransactWriteItems"})
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"

Item = Mapping[str, Any]  # DynamoDB JSON: {"pk": {"S": "x"}, "n": {"N": "1"}}


# item sizes -------------------------------------------------------------------------------------------------


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes per "DynamoDB item sizes and formats": "the sum of the lengths of its attribute names and values"."""
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def value_size(value: Mapping[str, Any]) -> int:
    """One attribute value's bytes (without its name)."""
    (kind, data), *_ = value.items()
    if kind == "S":  # "The size of a string is ... (number of UTF-8-encoded bytes)."
        return _utf8(data)
    if kind == "N":
        return number_size(data)
    if kind == "B":  # "the value's raw byte length is used for calculating size"
        return _binary_size(data)
    if kind in ("BOOL", "NULL"):  # "The size of a null attribute or a Boolean attribute is ... (1 byte)."
        return 1
    if kind == "SS":
        return sum(_utf8(element) for element in data)
    if kind == "NS":
        return sum(number_size(element) for element in data)
    if kind == "BS":
        return sum(_binary_size(element) for element in data)
    # "An attribute of type List or Map requires 3 bytes of overhead, regardless of its contents. ... each List or
    # Map element also requires 1 byte of overhead."; a Map's element is its name and its value.
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in data)
    if kind == "M":
        return 3 + sum(_utf8(name) + value_size(element) + 1 for name, element in data.items())
    raise ValueError(f"not a DynamoDB attribute value: {kind!r}")


def number_size(text: str) -> int:
    """ "Numbers are variable length, with up to 38 significant digits. Leading and trailing zeroes are trimmed. The
    size of a number is approximately ... (1 byte per two significant digits) + (1 byte)." """
    try:
        digits = Decimal(str(text)).normalize().as_tuple().digits
    except InvalidOperation:
        digits = tuple(int(c) for c in str(text) if c.isdigit())
    significant = len(digits) if any(digits) else 1  # zero is one digit
    return math.ceil(significant / 2) + 1


def _utf8(text: Any) -> int:
    return len(str(text).encode("utf-8"))


def _binary_size(data: Any) -> int:
    if isinstance(data, bytes | bytearray | memoryview):
        return len(data)
    try:  # the wire form (and moto's) is base64
        return len(base64.b64decode(str(data), validate=True))
    except (binascii.Error, ValueError):
        return _utf8(data)


# units --------------------------------------------------------------------------------------------------------


def write_units(size: int) -> int:
    """ "If you need to write an item that is larger than 1 KB, DynamoDB needs to consume additional write request
    units"; an item "up to 1 KB" (even an absent one) is one."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    """ "Item sizes for reads are rounded up to the next 4 KB multiple" (a missing item "will still consume read
    throughput"); "For an eventually consistent read, which is the default, divide this number by two." """
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Charge:
    operation: str  # "PutItem", "Query", ...
    table: str
    index: str | None  # None = the table itself; a GSI name for index reads and for GSI writes
    kind: str  # "read" | "write"
    units: float  # request units (RRU may be 0.5 steps)


# the indexes of a table, read from moto's definition ----------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    name: str
    local: bool
    keys: tuple[str, ...]
    projection: str  # "ALL" | "KEYS_ONLY" | "INCLUDE"
    included: tuple[str, ...]

    def entry(self, table_keys: tuple[str, ...], item: Item | None) -> tuple[str, dict[str, Any]] | None:
        """The item's entry in this index (its index key and what is projected), or None when it is not in it:
        an index holds only the items that have every attribute of its key."""
        if item is None or any(name not in item for name in self.keys):
            return None
        if self.projection == "ALL":
            projected = dict(item)
        else:  # KEYS_ONLY: "Only the index and primary keys are projected"; INCLUDE: and the named attributes
            names = (*table_keys, *self.keys, *(self.included if self.projection == "INCLUDE" else ()))
            projected = {name: item[name] for name in names if name in item}
        return _canonical({name: item[name] for name in self.keys}), projected

    def write_units(self, table_keys: tuple[str, ...], old: Item | None, new: Item | None) -> int:
        """GSI.html, "Write activity": "If you write a new item to the table that defines an indexed attribute, or
        you update an existing item to define a previously undefined indexed attribute, one write operation is
        required to put the item into the index. If an update to the table changes the value of an indexed key
        attribute (from A to B), two writes are required, one to delete the previous item from the index and another
        write to put the new item into the index. If an item was present in the index, but a write to the table caused
        the indexed attribute to be deleted, one write is required to delete the old item projection from the index.
        If an item is not present in the index before or after the item is updated, there is no additional write cost
        for the index. If an update to the table only changes the value of projected attributes in the index key
        schema, but does not change the value of any indexed key attribute, one write is required to update the values
        of the projected attributes into the index." Each of those writes is sized on the index entry ("Larger index
        entries require additional write capacity units"); an update of an entry on the larger of its two sizes, as
        a table update is."""
        before, after = self.entry(table_keys, old), self.entry(table_keys, new)
        if before is None and after is None:
            return 0
        if before is None:
            return write_units(item_size(after[1])) if after is not None else 0
        if after is None:
            return write_units(item_size(before[1]))
        if before[0] != after[0]:
            return write_units(item_size(before[1])) + write_units(item_size(after[1]))
        if _canonical(before[1]) == _canonical(after[1]):
            return 0
        return write_units(max(item_size(before[1]), item_size(after[1])))


@dataclass(frozen=True)
class _Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[_Index, ...]
    model: Any  # moto's Table

    def key(self, attributes: Item) -> dict[str, Any] | None:
        if any(name not in attributes for name in self.keys):
            return None
        return {name: attributes[name] for name in self.keys}

    def item(self, key: Item | None) -> dict[str, Any] | None:
        """The item as moto holds it now, in DynamoDB JSON (a copy: moto updates its items in place)."""
        if key is None:
            return None
        from moto.dynamodb.models.dynamo_type import DynamoType

        found = self.model.items.get(DynamoType(key[self.keys[0]]))
        if found is not None and len(self.keys) > 1:
            found = found.get(DynamoType(key[self.keys[1]]))
        if found is None:
            return None
        copied: dict[str, Any] = json.loads(json.dumps(found.to_json()["Attributes"], default=_jsonable))
        return copied

    def index(self, name: str) -> _Index | None:
        return next((index for index in self.indexes if index.name == name), None)


def _describe(model: Any) -> _Table:
    keys = tuple(key for key in (model.hash_key_attr, model.range_key_attr) if key)
    indexes = [
        _Index(
            name=index.name,
            local=local,
            keys=tuple(k["AttributeName"] for k in index.schema),
            projection=(index.projection or {}).get("ProjectionType", "ALL"),
            included=tuple((index.projection or {}).get("NonKeyAttributes", ())),
        )
        for local, group in ((False, model.global_indexes or []), (True, model.indexes or []))
        for index in group
    ]
    return _Table(name=model.name, keys=keys, indexes=tuple(indexes), model=model)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot size {type(value).__name__}")


# what a Query evaluated: moto's Table.query, observed ------------------------------------------------------------

_observed = threading.local()
_query_hook_lock = threading.Lock()


def _hook_moto_query() -> None:
    """Once per process: moto's Table.query reports, to the call being charged on this thread, every item it
    evaluated (after the key condition, from ExclusiveStartKey, up to Limit) before applying FilterExpression and
    ProjectionExpression itself, exactly as moto does (filter, then projection). Inert when no call is charged."""
    from moto.dynamodb.models.table import Table

    with _query_hook_lock:
        if getattr(Table.query, "capacity_observed", False):
            return
        inner = Table.query

        @functools.wraps(inner)
        def query(self: Any, *args: Any, **kwargs: Any) -> Any:
            seen: list[tuple[str, str | None, int]] | None = getattr(_observed, "query", None)
            legacy_filter = set(kwargs) - {"hash_key_conditions", "range_key_conditions", *_QUERY_ARGS}
            if seen is None or legacy_filter:
                return inner(self, *args, **kwargs)
            positional = list(args)
            projection = _take(positional, kwargs, "projection_expressions")
            condition = _take(positional, kwargs, "filter_expression")
            index_name = _peek(positional, kwargs, "index_name")
            evaluated, scanned, last_key = inner(self, *positional, **kwargs)
            seen.extend((self.name, index_name, item_size(item.to_json()["Attributes"])) for item in evaluated)
            results = evaluated
            if condition is not None:
                results = [item for item in results if condition.expr(item)]
            if projection:
                results = [item.project(projection) for item in results]
            return results, scanned, last_key

        query.capacity_observed = True  # type: ignore[attr-defined]
        Table.query = query  # type: ignore[method-assign]


# moto's Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
# projection_expressions, index_name, consistent_read, filter_expression, ...)
_QUERY_ARGS = (
    "hash_key",
    "range_comparison",
    "range_objs",
    "limit",
    "exclusive_start_key",
    "scan_index_forward",
    "projection_expressions",
    "index_name",
    "consistent_read",
    "filter_expression",
)


def _take(positional: list[Any], kwargs: dict[str, Any], name: str) -> Any:
    at = _QUERY_ARGS.index(name)
    if at < len(positional):
        value, positional[at] = positional[at], None
        return value
    return kwargs.pop(name, None)


def _peek(positional: list[Any], kwargs: dict[str, Any], name: str) -> Any:
    at = _QUERY_ARGS.index(name)
    return positional[at] if at < len(positional) else kwargs.get(name)


# one call being charged ------------------------------------------------------------------------------------------


@dataclass
class _Call:
    operation: str
    request: dict[str, Any]
    backend: Any
    before: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    units: dict[tuple[str, str | None, str], float] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # the tables, as the request names them
    tables: dict[str, _Table] = field(default_factory=dict)
    evaluated: list[tuple[str, str | None, int]] = field(default_factory=list)  # a Query's: table, index, size

    def table(self, name: str) -> _Table | None:
        if name not in self.tables:
            model = self.backend.tables.get(name) or _by_arn(self.backend, name)
            if model is None:
                return None
            self.tables[name] = _describe(model)
        return self.tables[name]

    def charge(self, table: str, index: str | None, kind: str, units: float) -> None:
        if table not in self.order:
            self.order.append(table)
        if units:
            key = (table, index, kind)
            self.units[key] = self.units.get(key, 0.0) + units

    def keep(self, table_name: str, attributes: Item, is_item: bool = False) -> None:
        """The item a write names, as it is before the write."""
        table = self.table(table_name)
        if table is None:
            return
        key = table.key(attributes) if is_item else dict(attributes)
        if key is not None:
            self.before[(table.name, _canonical(key))] = table.item(key)

    def old(self, table: _Table, key: Item | None) -> dict[str, Any] | None:
        return None if key is None else self.before.get((table.name, _canonical(key)))


def _by_arn(backend: Any, name: str) -> Any:
    return next((table for table in list(backend.tables.values()) if table.table_arn == name), None)


class CapacityModel:
    """DynamoDB's billing of every call made through the clients it hooks; see the module's docstring."""

    def __init__(self) -> None:
        self.charges: list[Charge] = []
        self._lock = threading.Lock()
        self._active = False
        self._patched: Callable[..., Any] | None = None
        self._original: Callable[..., Any] | None = None
        self._tag = f"localdesk-capacity-{id(self)}"

    # installing --------------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Every botocore DynamoDB client created from now on (boto3 and PynamoDB alike) is charged."""
        import botocore.session

        if self._active:
            return
        _hook_moto_query()
        original = botocore.session.Session.create_client
        model = self

        @functools.wraps(original)
        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            model.attach(client)
            return client

        self._original, self._patched = original, create_client
        botocore.session.Session.create_client = create_client
        self._active = True

    def attach(self, client: Any) -> None:
        """Charge a client created before `install()` too (any other service's client is left alone)."""
        if client.meta.service_model.service_name != "dynamodb":
            return
        events = client.meta.events
        events.register("before-call.dynamodb", self._before, unique_id=f"{self._tag}-before")
        # First of all, under each operation's own name: botocore calls the handlers of "after-call.dynamodb.PutItem"
        # before those of "after-call.dynamodb", whichever was registered first.
        for operation in sorted(READS | WRITES):
            name = f"after-call.dynamodb.{operation}"
            events.register_first(name, self._after, unique_id=f"{self._tag}-after-{operation}")

    def uninstall(self) -> None:
        """No client is charged any more; clients made from now on are not hooked."""
        import botocore.session

        if self._patched is not None and botocore.session.Session.create_client is self._patched:
            botocore.session.Session.create_client = self._original
        self._patched = self._original = None
        self._active = False

    def reset(self) -> None:
        with self._lock:
            self.charges.clear()

    def totals(self) -> dict[tuple[str, str | None, str], float]:
        """(table, index, kind) -> units, over the whole ledger."""
        found: dict[tuple[str, str | None, str], float] = {}
        with self._lock:
            for charge in self.charges:
                key = (charge.table, charge.index, charge.kind)
                found[key] = found.get(key, 0.0) + charge.units
        return found

    def total(self, kind: str) -> float:
        """All the read ("read") or write ("write") request units charged so far."""
        return sum(units for (_, _, charged), units in self.totals().items() if charged == kind)

    # the hooks ---------------------------------------------------------------------------------------------------

    def _before(self, model: Any, params: Any, context: Any = None, **_: Any) -> None:
        if not self._active or not isinstance(context, dict) or model.name not in READS | WRITES:
            return
        from moto.dynamodb.models import dynamodb_backends

        region = context.get("client_region") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)
        call = _Call(model.name, _body(params), dynamodb_backends[account][region])
        for table_name, attributes, is_item in _written(call.operation, call.request):
            call.keep(table_name, attributes, is_item)
        if call.operation == "Query":  # one list per call, whichever model's hook sees it first
            if getattr(_observed, "call", None) is not context:
                _observed.call, _observed.query = context, []
            call.evaluated = _observed.query
        context[CONTEXT_KEY] = call

    def _after(self, http_response: Any, parsed: Any, model: Any, context: Any = None, **_: Any) -> None:
        call = context.pop(CONTEXT_KEY, None) if isinstance(context, dict) else None
        if getattr(_observed, "call", None) is context:
            _observed.call = _observed.query = None  # moto is done with this call: stop observing
        if not self._active or not isinstance(call, _Call) or not isinstance(parsed, dict):
            return
        status = getattr(http_response, "status_code", 200)
        error = (parsed.get("Error") or {}).get("Code") if status >= 300 else None
        if error is None:
            _charge_done(call, parsed)
        elif error == CONDITION_FAILED and call.operation in ("PutItem", "UpdateItem", "DeleteItem"):
            _charge_refused_write(call)
        elif error == TRANSACTION_CANCELED and call.operation == "TransactWriteItems":
            _charge_canceled_transaction(call)
        else:
            return  # refused before any item was read (validation, a missing table): nothing is billed
        with self._lock:
            self.charges.extend(
                Charge(call.operation, table, index, kind, units) for (table, index, kind), units in call.units.items()
            )
        if error is None:
            _answer(call, parsed)


def _body(params: Any) -> dict[str, Any]:
    body = params.get("body") if isinstance(params, dict) else None
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8")
    if not body:
        return {}
    document = json.loads(body)
    return document if isinstance(document, dict) else {}


def _written(operation: str, request: Mapping[str, Any]) -> Iterator[tuple[str, Item, bool]]:
    """(table, key or item, whether it is a whole item) of every item a write names."""
    if operation == "PutItem":
        yield request.get("TableName", ""), request.get("Item") or {}, True
    elif operation in ("UpdateItem", "DeleteItem"):
        yield request.get("TableName", ""), request.get("Key") or {}, False
    elif operation == "BatchWriteItem":
        for table_name, requests in (request.get("RequestItems") or {}).items():
            for entry in requests:
                if "PutRequest" in entry:
                    yield table_name, entry["PutRequest"].get("Item") or {}, True
                elif "DeleteRequest" in entry:
                    yield table_name, entry["DeleteRequest"].get("Key") or {}, False
    elif operation == "TransactWriteItems":
        for entry in request.get("TransactItems") or []:
            for kind, action in entry.items():
                if kind == "Put":
                    yield action.get("TableName", ""), action.get("Item") or {}, True
                else:
                    yield action.get("TableName", ""), action.get("Key") or {}, False


# the charges of a call that succeeded ------------------------------------------------------------------------------


def _charge_done(call: _Call, parsed: Mapping[str, Any]) -> None:
    request, operation = call.request, call.operation
    if operation == "GetItem":
        _charge_get(call, request.get("TableName", ""), request.get("Key") or {}, bool(request.get("ConsistentRead")))
    elif operation == "BatchGetItem":
        unprocessed = parsed.get("UnprocessedKeys") or {}
        for table_name, wanted in (request.get("RequestItems") or {}).items():
            skipped = {_canonical(_wire(key)) for key in (unprocessed.get(table_name) or {}).get("Keys", [])}
            for key in wanted.get("Keys", []):
                if _canonical(key) not in skipped:
                    # "BatchGetItem ... processes each item in the batch as an individual GetItem request"
                    _charge_get(call, table_name, key, bool(wanted.get("ConsistentRead")))
    elif operation == "TransactGetItems":
        for entry in request.get("TransactItems") or []:
            get = entry.get("Get") or {}
            # "A transactional read request of an item up to 4 KB requires two read units."
            _charge_get(call, get.get("TableName", ""), get.get("Key") or {}, consistent=True, times=2)
    elif operation == "Query":
        _charge_query(call, parsed)
    elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
        _charge_write(call, request.get("TableName", ""), _key_named(call, operation, request))
    elif operation == "BatchWriteItem":
        unprocessed = {
            (table_name, _canonical(_wire(entry)))
            for table_name, entries in (parsed.get("UnprocessedItems") or {}).items()
            for entry in entries
        }
        for table_name, entries in (request.get("RequestItems") or {}).items():
            for entry in entries:
                if (table_name, _canonical(entry)) in unprocessed:
                    continue
                kind = "PutItem" if "PutRequest" in entry else "DeleteItem"
                action = entry.get("PutRequest") or entry.get("DeleteRequest") or {}
                _charge_write(call, table_name, _key_named(call, kind, {"TableName": table_name, **action}))
    elif operation == "TransactWriteItems":
        for entry in request.get("TransactItems") or []:
            for kind, action in entry.items():
                table_name = action.get("TableName", "")
                if kind == "ConditionCheck":
                    _charge_check(call, table_name, action.get("Key") or {})
                else:
                    operation_kind = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}[kind]
                    key = _key_named(call, operation_kind, action)
                    _charge_write(call, table_name, key, times=2)


def _key_named(call: _Call, operation: str, action: Mapping[str, Any]) -> dict[str, Any] | None:
    table = call.table(action.get("TableName", ""))
    if table is None:
        return None
    if operation == "PutItem":
        return table.key(action.get("Item") or {})
    return dict(action.get("Key") or {})


def _charge_get(call: _Call, table_name: str, key: Item, consistent: bool, times: int = 1) -> None:
    table = call.table(table_name)
    if table is None:
        return
    found = table.item(dict(key))
    size = item_size(found) if found is not None else 0
    call.charge(table.name, None, "read", times * read_units(size, consistent))


def _charge_query(call: _Call, parsed: Mapping[str, Any]) -> None:
    """ "Query—Reads multiple items that have the same partition key value. All items returned are treated as a
    single read operation, whereby DynamoDB computes the total size of all items and then rounds up to the next 4 KB
    boundary." A filter expression changes nothing: "the read capacity consumed is the same" as without it, since the
    items are read before the filter is applied. "Queries on global secondary indexes support eventual consistency
    only", and read the index's (projected) entries."""
    request = call.request
    table = call.table(request.get("TableName", ""))
    if table is None:
        return
    index_name = request.get("IndexName")
    sizes = [size for name, index, size in call.evaluated if name == table.name and index == index_name]
    if not call.evaluated:  # moto answered without its Table.query (or with a legacy QueryFilter): what it returned
        sizes = [item_size(_wire(item)) for item in parsed.get("Items") or []]
    index = table.index(index_name) if index_name else None
    consistent = bool(request.get("ConsistentRead")) and (index is None or index.local)
    call.charge(table.name, index_name, "read", read_units(sum(sizes), consistent))


def _charge_write(call: _Call, table_name: str, key: dict[str, Any] | None, times: int = 1) -> None:
    """ "PutItem—Writes a single item to a table. If an item with the same primary key exists in the table, the
    operation replaces the item. For calculating provisioned throughput consumption, the item size that matters is
    the larger of the two." "UpdateItem— ... the item size that matters is the larger of the two" (before and after).
    "DeleteItem—Removes a single item from a table. The item size used is the size of the deleted item." Then every
    index the change reaches (`_Index.write_units`); a transaction doubles the table's units only."""
    table = call.table(table_name)
    if table is None or key is None:
        return
    old, new = call.old(table, key), table.item(key)
    sizes = [item_size(found) for found in (old, new) if found is not None]
    call.charge(table.name, None, "write", float(times * write_units(max(sizes, default=0))))
    for index in table.indexes:
        call.charge(table.name, index.name, "write", float(index.write_units(table.keys, old, new)))


def _charge_check(call: _Call, table_name: str, key: Item) -> None:
    """A ConditionCheck writes nothing, yet is billed as a transactional write of the item it read."""
    table = call.table(table_name)
    if table is None:
        return
    old = call.old(table, dict(key))
    call.charge(table.name, None, "write", float(2 * write_units(item_size(old) if old is not None else 0)))


def _charge_refused_write(call: _Call) -> None:
    """ "If a ConditionExpression evaluates to false during a conditional write, DynamoDB still consumes write
    capacity from the table. The amount consumed is dependent on the size of the existing item (or a minimum of 1).
    For example, if an existing item is 300kb and the new item you are trying to create or update is 310kb, the write
    capacity units consumed will be the 310kb for the new item." Nothing reaches an index. An update's new item is
    never made, so it is billed on the item it found."""
    request = call.request
    table = call.table(request.get("TableName", ""))
    if table is None:
        return
    key = _key_named(call, call.operation, request)
    old = call.old(table, key)
    sizes = [item_size(old)] if old is not None else []
    if call.operation == "PutItem":
        sizes.append(item_size(request.get("Item") or {}))
    call.charge(table.name, None, "write", float(write_units(max(sizes, default=0))))


def _charge_canceled_transaction(call: _Call) -> None:
    """A transaction DynamoDB cancels (a condition not met) has read and prepared its items: each is billed as a
    transactional write of the larger of the item found and the item put; nothing is written, so no index is."""
    for entry in call.request.get("TransactItems") or []:
        for kind, action in entry.items():
            table = call.table(action.get("TableName", ""))
            if table is None:
                continue
            put = action.get("Item") if kind == "Put" else None
            old = call.old(table, table.key(put) if put is not None else dict(action.get("Key") or {}))
            sizes = [item_size(found) for found in (old, put) if found is not None]
            call.charge(table.name, None, "write", float(2 * write_units(max(sizes, default=0))))


def _wire(value: Any) -> Any:
    """A parsed (boto3) value back in the wire's DynamoDB JSON: binary as base64 text."""
    return json.loads(json.dumps(value, default=_jsonable))


# the answer's ConsumedCapacity -----------------------------------------------------------------------------------


def _answer(call: _Call, parsed: dict[str, Any]) -> None:
    """DynamoDB's shape: TOTAL gives {TableName, CapacityUnits}; INDEXES adds "Table" and, for each index the call
    reached, "GlobalSecondaryIndexes" / "LocalSecondaryIndexes" ({name: {CapacityUnits, Read/WriteCapacityUnits}}).
    Batches and transactions answer a list, one entry per table; transactions also give the top-level
    ReadCapacityUnits / WriteCapacityUnits. Nothing is answered unless asked for, as DynamoDB does."""
    asked = call.request.get("ReturnConsumedCapacity", "NONE")
    if asked not in ("TOTAL", "INDEXES"):
        parsed.pop("ConsumedCapacity", None)
        return
    side = "ReadCapacityUnits" if call.operation in READS else "WriteCapacityUnits"
    entries = []
    for table_name in call.order:
        charged = {index: units for (name, index, _), units in call.units.items() if name == table_name}
        if not charged and call.operation in LISTED:
            continue
        total = sum(charged.values())
        entry: dict[str, Any] = {"TableName": table_name, "CapacityUnits": total}
        if call.operation in TRANSACTIONS:
            entry[side] = total
        if asked == "INDEXES":
            own = charged.get(None, 0.0)
            entry["Table"] = {"CapacityUnits": own, side: own}
            table = call.table(table_name)
            for index_name, units in charged.items():
                index = table.index(index_name) if table is not None and index_name is not None else None
                if index is None:
                    continue
                group = "LocalSecondaryIndexes" if index.local else "GlobalSecondaryIndexes"
                entry.setdefault(group, {})[index_name] = {"CapacityUnits": units, side: units}
        entries.append(entry)
    if call.operation in LISTED:
        parsed["ConsumedCapacity"] = entries
    elif entries:
        parsed["ConsumedCapacity"] = entries[0]
    else:
        parsed.pop("ConsumedCapacity", None)
