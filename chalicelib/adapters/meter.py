"""The desk's meter of itself: what each invocation used of AWS, added to daily counters in one DynamoDB write.

Every Chalice handler runs inside `measure` (app.py's middleware). While it runs, botocore hooks on the desk's clients
count what AWS bills: the `ConsumedCapacity` DynamoDB answers (the hooks ask for it), the mails SES took and their
bytes, S3 requests and the bytes put, and a logging handler counts the bytes logged. When the handler returns, the
invocation's counters (with its billed duration) go to one item per function and UTC day in the events table:

    pk = "meter#<YYYY-MM>", sk = "<YYYY-MM-DD>#<function>"     ADD of every counter, in one UpdateItem
    pk = "meter#<YYYY-MM>", sk = "<YYYY-MM-DD>#storage"        the tables' and the files' sizes, once a day
    pk = "meter#attachments", sk = "stored"                    the files' bytes, changed as files come and go, and
                                                               `since`: the first day storage was recorded

A month is one partition, its days and functions the sort key: a cost estimate of N days reads N x (functions + 1)
small items (its cost grows with the period, never with tickets or requests) in one Query per month touched, so a
year is 13 round trips rather than 366. A stream batch or SNS message delivered again is not counted again: its
flush is a transaction with a marker item (desk table, TTL) that must not exist yet. An invocation that called no
AWS service writes nothing: its counts wait for its function's next write in the same container.

This module is imported by app.py on every cold start: it imports nothing of boto3, botocore or PynamoDB itself.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalice.app import CloudWatchEvent, DynamoDBEvent, Request, SNSEvent

from chalicelib.adapters.settings import LAMBDA_MEMORY_MB
from chalicelib.domain.cost import COUNTERS

if TYPE_CHECKING:
    from collections.abc import Callable

    from chalicelib.domain.cost import FunctionDay, StorageDay

logger = logging.getLogger("helpdesk.meter")

# The functions as app.py names them (Chalice's handler names); a deployed function's name holds its logical id
# ("<stack>-TicketChanges-<suffix>"), which `function_name` maps back, so the tests, the local run and the deploy
# count under the same names.
FUNCTIONS = (
    "api_handler",
    "ticket_changes",
    "stale_sweep",
    "sla_sweep",
    "survey_sender",
    "outbox_retry",
    "inbound_mail",
    "webhook_sender",
)
DEFAULT_FUNCTION = "api_handler"
SNAPSHOT_FUNCTION = "stale_sweep"  # hourly: the first run of a UTC day records the storage
# What one function's day item adds up (rru/wru are DynamoDB request units: a read can be half a unit), as the
# cost estimate reads it: one list in chalicelib/domain/cost.py.
STORED = ("stored_bytes", "stored_files")  # the files' changes: written to the desk-wide total, not the day item
PARTITION_PREFIX = "meter#"
STORAGE = "storage"
ATTACHMENTS_KEY = {"pk": {"S": "meter#attachments"}, "sk": {"S": "stored"}}
MARKER_PREFIX = "meter-batch#"
BUS_CHUNK = 64 * 1024  # EventBridge bills a custom event per 64 KB of an entry
MARKER_DAYS = 3  # a redelivery comes within minutes; Lambda gives up on a record after an hour (infra/package.py)
# The meter's own writes, added to what it records: the day item stays well under 1 KB (one write unit); a
# transaction costs two units per item (marker and day item).
FLUSH_WRITE_UNITS = 1
FLUSH_TRANSACTION_UNITS = 4
STORED_WRITE_UNITS = 1
# Lambda's own START, END and REPORT lines for each invocation, as the Lambda developer guide shows them
# (docs.aws.amazon.com/lambda/latest/dg/python-logging.html): "START RequestId: <36> Version: $LATEST" (71 bytes
# with its newline), "END RequestId: <36>" (52), "REPORT RequestId: <36>\tDuration: 12.34 ms\tBilled Duration: 13 ms
# \tMemory Size: 512 MB\tMax Memory Used: 80 MB\t" (141). A cold start's "Init Duration" (25 more) is not added.
LAMBDA_PLATFORM_LOG_BYTES = 264
# Lambda's Python runtime writes each root-logger record as "[LEVEL]\t<24-char UTC time>\t<36-char request id>\t
# <message>\n"; Chalice's app logger (named after the app, and not propagating to the root) as "<logger> -
# <LEVEL> - <message>\n" on stdout.
APP_LOGGER = "helpdesk"
LAMBDA_RECORD_EXTRA = 24 + 1 + 36 + 1 + 1
INBOUND_CHUNK_BYTES = 256 * 1024  # SES bills received mail per 256 KB chunk
DYNAMODB_READS = {"GetItem", "BatchGetItem", "Query", "TransactGetItems"}  # the desk issues no Scan
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
S3_PUT_CLASS = ("Put", "Copy", "Post", "List", "Create", "Complete", "Upload", "Restore")
S3_FREE = ("Delete", "Abort")
ATTACHMENT = re.compile(rb"(?im)^content-disposition:[ \t]*attachment")
MARK = "_helpdesk_metered"
CONTEXT_KEY = "helpdesk_meter"


@dataclass
class Usage:
    counts: dict[str, Decimal] = field(default_factory=dict)

    def add(self, name: str, amount: float | int | Decimal) -> None:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        if value:
            self.counts[name] = self.counts.get(name, Decimal(0)) + value

    def merge(self, other: Usage) -> None:
        for name, value in other.counts.items():
            self.add(name, value)

    def take(self, names: tuple[str, ...]) -> dict[str, Decimal]:
        return {name: self.counts.pop(name) for name in names if name in self.counts}


@dataclass
class Invocation:
    function: str
    kind: str  # "http", "stream", "sns", "schedule" or "other"
    started: float
    marker: str | None  # the delivery's identity (stream batch, SNS message): counted once
    usage: Usage = field(default_factory=Usage)
    object_bytes: int = 0  # the largest object a HeadObject measured (inbound: the received mail)
    calls: int = 0  # AWS calls the hooks saw


_local = threading.local()
_lock = threading.Lock()
_carried: dict[str, Usage] = {}  # per function: what waits for that function's next flush in this process
_carried_since: dict[str, float] = {}  # when the oldest of it was carried (time.monotonic)
# An invocation that called no AWS service (a static asset, the OpenAPI document, a preflight) leaves its counts to
# the function's next flush, unless they have waited this long: fewer writes, at most this much lost with a container.
CARRY_SECONDS = 300
_snapshot_day: date | None = None
_served = False  # whether this process (container) served an invocation yet
_log_counters: list[logging.Handler] = []


def reset() -> None:
    """Forget the process's state (tests start each from nothing)."""
    global _snapshot_day, _served
    with _lock:
        _carried.clear()
        _carried_since.clear()
        _snapshot_day = None
        _served = False
    _local.current = None


def current() -> Invocation | None:
    found = getattr(_local, "current", None)
    return found if isinstance(found, Invocation) else None


# the middleware --------------------------------------------------------------------------------------------


def measure(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every handler: meter the invocation, whatever it answers or raises."""
    invocation = _begin(event)
    try:
        return get_response(event)
    finally:
        if invocation is not None:
            _end(invocation)


def function_name(raw: str | None) -> str:
    """The handler's name for Lambda's function name (or the test client's): "helpdesk-SlaSweep-1AB" -> sla_sweep."""
    if not raw:
        return DEFAULT_FUNCTION
    if raw in FUNCTIONS:
        return raw
    padded = f"-{raw}-"
    for name in FUNCTIONS:
        if f"-{logical_id(name)}-" in padded:
            return name
    return raw[:64]


def logical_id(name: str) -> str:
    """Chalice's CloudFormation name of a handler (chalice.utils.to_cfn_resource_name; the API's is APIHandler)."""
    if name == DEFAULT_FUNCTION:
        return "APIHandler"
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def _begin(event: Any) -> Invocation | None:
    global _served
    try:
        kind, context = _kind(event)
        name = function_name(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or getattr(context, "function_name", None))
        invocation = Invocation(name, kind, time.perf_counter(), _marker(kind, event))
        usage = invocation.usage
        usage.add("invocations", 1)
        with _lock:
            if not _served:
                usage.add("cold_starts", 1)
                _served = True
        if kind == "http":
            usage.add("api_requests", 1)
        elif kind == "sns":
            # SES received a mail: it stored it in S3 (a PUT billed to the bucket's owner) and published to SNS.
            usage.add("inbound_mails", 1)
            usage.add("sns_publishes", 1)
            usage.add("s3_put_requests", 1)
        _count_logs()
        _local.current = invocation
        return invocation
    except Exception:
        logger.exception("the meter could not start on this invocation")
        return None


def _end(invocation: Invocation) -> None:
    try:
        if invocation.function == SNAPSHOT_FUNCTION:
            _snapshot_storage()  # inside the invocation: its reads and write are counted with it
        _local.current = None
        usage = invocation.usage
        billed = max(1, math.ceil((time.perf_counter() - invocation.started) * 1000))
        usage.add("billed_ms", billed)
        usage.add("mb_ms", billed * memory_mb())
        usage.add("log_bytes", LAMBDA_PLATFORM_LOG_BYTES)
        if invocation.kind == "sns":
            usage.add("inbound_chunks", max(1, math.ceil(invocation.object_bytes / INBOUND_CHUNK_BYTES)))
            usage.add("s3_put_bytes", invocation.object_bytes)
        _flush(invocation)
    except Exception:
        logger.exception("the meter could not record this invocation")
    finally:
        _local.current = None


def memory_mb() -> int:
    raw = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or ""
    return int(raw) if raw.isdigit() and int(raw) > 0 else LAMBDA_MEMORY_MB


def _kind(event: Any) -> tuple[str, Any]:
    if isinstance(event, Request):
        return "http", event.lambda_context
    context = getattr(event, "context", None)
    if isinstance(event, DynamoDBEvent):
        return "stream", context
    if isinstance(event, SNSEvent):
        return "sns", context
    if isinstance(event, CloudWatchEvent):
        return "schedule", context
    return "other", context


def _marker(kind: str, event: Any) -> str | None:
    """What identifies a delivery Lambda may make again: a stream batch (its first and last records), an SNS message."""
    if kind not in ("stream", "sns"):
        return None
    records = event.to_dict().get("Records")
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        return None
    if kind == "sns":
        message = records[0].get("Sns") if isinstance(records[0].get("Sns"), dict) else {}
        identity: Any = ["sns", message.get("MessageId") or message.get("Message")]
    else:
        first, last = records[0], records[-1]
        identity = ["stream", len(records)]
        for record in (first, last):
            stream = record.get("dynamodb") if isinstance(record.get("dynamodb"), dict) else {}
            identity += [record.get("eventSourceARN"), record.get("eventID"), stream.get("SequenceNumber")]
    digest = hashlib.sha256(json.dumps(identity, default=str).encode()).hexdigest()[:40]
    return f"{MARKER_PREFIX}{kind}#{digest}"


# the flush -------------------------------------------------------------------------------------------------


def _carry(function: str, usage: Usage) -> None:
    if usage.counts:
        with _lock:
            _carried.setdefault(function, Usage()).merge(usage)
            _carried_since.setdefault(function, time.monotonic())


def _take_carried(function: str) -> Usage:
    with _lock:
        _carried_since.pop(function, None)
        return _carried.pop(function, None) or Usage()


def _may_wait(invocation: Invocation) -> bool:
    """Whether the invocation's counts can wait for a later flush (see CARRY_SECONDS); a delivery Lambda may repeat
    is written at once, with its marker."""
    if invocation.calls or invocation.marker is not None:
        return False
    with _lock:
        since = _carried_since.get(invocation.function)
    return since is None or time.monotonic() - since < CARRY_SECONDS


def _flush(invocation: Invocation) -> None:
    started = time.perf_counter()
    if _may_wait(invocation):
        _carry(invocation.function, invocation.usage)
        return
    carried = _take_carried(invocation.function)
    writer = _Writer.ready()
    if writer is None:
        # This invocation never loaded botocore (a static asset, the OpenAPI document, a preflight): importing boto3
        # and PynamoDB now would cost it more than it did. Its counts wait for this function's next flush in the
        # same container (lost if the container goes first).
        _carry(invocation.function, carried)
        _carry(invocation.function, invocation.usage)
        return
    total = Usage()
    total.merge(carried)
    total.merge(invocation.usage)
    try:
        if not writer.add(invocation.function, total, invocation.marker):
            _carry(invocation.function, carried)  # delivered before and counted then: only what waited is kept
    except Exception:
        logger.exception("the meter could not write its counters; they wait for the next invocation")
        _carry(invocation.function, total)
    spent = max(1, math.ceil((time.perf_counter() - started) * 1000))  # Lambda bills the flush too: next time
    later = Usage()
    later.add("billed_ms", spent)
    later.add("mb_ms", spent * memory_mb())
    _carry(invocation.function, later)


class _Writer:
    """The meter's writes, on the desk's own DynamoDB client (the one PynamoDB's transactions use)."""

    def __init__(self, client: Any, tickets: str, desk: str, events: str, now: datetime) -> None:
        self.client = client
        self.tickets_table, self.desk_table, self.events_table = tickets, desk, events
        self.now = now.astimezone(UTC)

    @classmethod
    def ready(cls) -> _Writer | None:
        """None unless this process already has the desk's tables bound (and so botocore loaded)."""
        records = sys.modules.get("chalicelib.adapters.records")
        if records is None or "botocore" not in sys.modules:
            return None
        try:
            connection = records.transaction_connection()
        except RuntimeError:
            return None
        from chalicelib import wiring

        return cls(
            connection.client,
            str(records.TicketRecord.Meta.table_name),
            str(records.CounterRecord.Meta.table_name),
            str(records.EventRecord.Meta.table_name),
            wiring.desk().clock.now(),
        )

    @property
    def day(self) -> date:
        return self.now.date()

    def add(self, function: str, usage: Usage, marker: str | None) -> bool:
        """ADD the counters to the function's item of the day; False when the marker says it was counted already."""
        from botocore.exceptions import ClientError

        stored = usage.take(STORED)
        if stored:
            self._add_stored(stored)
            usage.add("wru", STORED_WRITE_UNITS)
        usage.add("wru", FLUSH_TRANSACTION_UNITS if marker else FLUSH_WRITE_UNITS)
        counts = {name: value for name, value in usage.counts.items() if name in COUNTERS}
        update = {
            "TableName": self.events_table,
            "Key": day_key(self.day, function),
            "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counts))),
            "ExpressionAttributeNames": {f"#c{i}": name for i, name in enumerate(counts)},
            "ExpressionAttributeValues": {f":c{i}": {"N": _number(v)} for i, v in enumerate(counts.values())},
        }
        if marker is None:
            self.client.update_item(**update)
            return True
        expires = int((self.now + timedelta(days=MARKER_DAYS)).timestamp())
        mark = {"pk": {"S": marker}, "sk": {"S": "batch"}, "expires_at": {"N": str(expires)}}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.desk_table,
                            "Item": mark,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Update": update},
                ]
            )
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def _add_stored(self, stored: dict[str, Decimal]) -> None:
        names = {f"#s{i}": name for i, name in enumerate(stored)}
        self.client.update_item(
            TableName=self.events_table,
            Key=ATTACHMENTS_KEY,
            UpdateExpression="ADD " + ", ".join(f"#s{i} :s{i}" for i in range(len(stored))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":s{i}": {"N": _number(v)} for i, v in enumerate(stored.values())},
        )

    def snapshot(self) -> None:
        """The day's storage item: each table's size (DescribeTable: free, no read of the data) and the files'."""
        from botocore.exceptions import ClientError

        key = day_key(self.day, STORAGE)
        if self.client.get_item(TableName=self.events_table, Key=key, ProjectionExpression="pk").get("Item"):
            return
        item: dict[str, Any] = {**key, "recorded_at": {"S": self.now.strftime("%Y-%m-%dT%H:%M:%SZ")}}
        for role, name in (("tickets", self.tickets_table), ("desk", self.desk_table), ("events", self.events_table)):
            table = self.client.describe_table(TableName=name)["Table"]
            indexes = sum(int(i.get("IndexSizeBytes") or 0) for i in table.get("GlobalSecondaryIndexes") or [])
            item[f"{role}_bytes"] = {"N": str(int(table.get("TableSizeBytes") or 0))}
            item[f"{role}_index_bytes"] = {"N": str(indexes)}
            item[f"{role}_items"] = {"N": str(int(table.get("ItemCount") or 0))}
        # The files' total, and the desk's first recorded day (set once): what the alarm's line is paid from.
        total = self.client.update_item(
            TableName=self.events_table,
            Key=ATTACHMENTS_KEY,
            UpdateExpression="SET #since = if_not_exists(#since, :day)",
            ExpressionAttributeNames={"#since": "since"},
            ExpressionAttributeValues={":day": {"S": self.day.isoformat()}},
            ReturnValues="ALL_NEW",
        ).get("Attributes", {})
        item["attachment_bytes"] = {"N": total.get("stored_bytes", {}).get("N", "0")}
        item["attachment_files"] = {"N": total.get("stored_files", {}).get("N", "0")}
        try:
            self.client.put_item(TableName=self.events_table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise


def _snapshot_storage() -> None:
    global _snapshot_day
    try:
        writer = _Writer.ready()
        if writer is None or _snapshot_day == writer.day:
            return
        writer.snapshot()
        _snapshot_day = writer.day
    except Exception:
        logger.exception("the meter could not record the day's storage")


def month_key(day: date) -> str:
    return f"{PARTITION_PREFIX}{day.strftime('%Y-%m')}"


def day_key(day: date, name: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": month_key(day)}, "sk": {"S": f"{day.isoformat()}#{name}"}}


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


# what the desk's code tells the meter ------------------------------------------------------------------------


def count_stored(size: int, files: int) -> None:
    """A file kept (positive) or given up (negative), as the ticket's own total changed (attachment_records)."""
    invocation = current()
    if invocation is not None:
        invocation.usage.add("stored_bytes", size)
        invocation.usage.add("stored_files", files)


# the botocore hooks ------------------------------------------------------------------------------------------


def watch(client: Any) -> Any:
    """Register the meter's hooks on a botocore client (once); the client itself is returned."""
    if client is None or getattr(client, MARK, False):
        return client
    service = client.meta.service_model.service_id.hyphenize()
    events = client.meta.events
    if service == "dynamodb":
        events.register("before-parameter-build.dynamodb", _ask_capacity, unique_id="helpdesk-meter-ask")
        events.register("after-call.dynamodb", _count_capacity, unique_id="helpdesk-meter-units")
    elif service == "s3":
        events.register("before-parameter-build.s3", _s3_params, unique_id="helpdesk-meter-s3-params")
        events.register("after-call.s3", _count_s3, unique_id="helpdesk-meter-s3")
    elif service in ("ses", "sesv2"):
        events.register(f"before-parameter-build.{service}", _ses_params, unique_id="helpdesk-meter-ses-params")
        events.register(f"after-call.{service}", _count_ses, unique_id="helpdesk-meter-ses")
    elif service == "sns":
        events.register("after-call.sns.Publish", _count_publish, unique_id="helpdesk-meter-sns")
    elif service == "eventbridge":
        events.register("before-parameter-build.eventbridge.PutEvents", _bus_params, unique_id="helpdesk-meter-bus-p")
        events.register("after-call.eventbridge.PutEvents", _count_bus, unique_id="helpdesk-meter-bus")
    setattr(client, MARK, True)
    return client


def watch_pynamodb() -> None:
    """Hook every PynamoDB connection's client, as it is made: models, transactions and the low-level uses of
    `transaction_connection().client` (stats, the meter) all go through `Connection.client`."""
    from pynamodb.connection import base

    built: Any = base.Connection.__dict__["client"]  # the property itself
    if getattr(built.fget, MARK, False):
        return

    def client(self: Any) -> Any:
        return watch(built.fget(self))

    setattr(client, MARK, True)
    setattr(base.Connection, "client", property(client))  # noqa: B010 - replacing a property of the class


def _ask_capacity(params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
    shape = model.input_shape
    if shape is not None and "ReturnConsumedCapacity" in shape.members and not params.get("ReturnConsumedCapacity"):
        params["ReturnConsumedCapacity"] = "INDEXES"  # every GSI's units too
    if isinstance(context, dict) and model.name == "TransactWriteItems":
        context[CONTEXT_KEY] = len(params.get("TransactItems") or [])


def _count_capacity(http_response: Any, parsed: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
    invocation = current()
    operation = model.name
    if invocation is None:
        return
    invocation.calls += 1
    if operation not in DYNAMODB_READS | DYNAMODB_WRITES:
        return
    read, written = capacity_units(parsed.get("ConsumedCapacity"), operation)
    if getattr(http_response, "status_code", 200) >= 300:
        code = (parsed.get("Error") or {}).get("Code")
        if code == "ConditionalCheckFailedException":
            written += Decimal(1)  # a refused write still costs at least one unit (none is reported)
        elif code == "TransactionCanceledException" and isinstance(context, dict):
            written += Decimal(2 * int(context.get(CONTEXT_KEY) or 1))  # as if each item were under 1 KB
    invocation.usage.add("rru", read)
    invocation.usage.add("wru", written)


def capacity_units(capacity: Any, operation: str) -> tuple[Decimal, Decimal]:
    """Read and write units of a ConsumedCapacity (one, or a list for transactions and batches), every index in."""
    entries = capacity if isinstance(capacity, list) else [capacity] if isinstance(capacity, dict) else []
    read = written = Decimal(0)
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if "ReadCapacityUnits" in entry or "WriteCapacityUnits" in entry:
            read += _units(entry.get("ReadCapacityUnits"))
            written += _units(entry.get("WriteCapacityUnits"))
            continue
        total = _units(entry.get("CapacityUnits"))
        if "CapacityUnits" not in entry:
            total = _units((entry.get("Table") or {}).get("CapacityUnits"))
            for group in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                total += sum((_units(i.get("CapacityUnits")) for i in (entry.get(group) or {}).values()), Decimal(0))
        if operation in DYNAMODB_READS:
            read += total
        else:
            written += total
    return read, written


def _units(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)
    return number if number.is_finite() and number > 0 else Decimal(0)


def _length(body: Any) -> int:
    if isinstance(body, bytes | bytearray):
        return len(body)
    if isinstance(body, str):
        return len(body.encode())
    try:
        position = body.tell()
        body.seek(0, os.SEEK_END)
        size = int(body.tell()) - int(position)
        body.seek(position)
        return size
    except (AttributeError, OSError, TypeError, ValueError):
        return 0


def _s3_params(params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
    if isinstance(context, dict) and model.name == "PutObject":
        context[CONTEXT_KEY] = _length(params.get("Body"))


def _count_s3(http_response: Any, parsed: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
    invocation = current()
    operation = model.name
    if invocation is None:
        return
    invocation.calls += 1
    if operation.startswith(S3_FREE):
        return
    ok = getattr(http_response, "status_code", 200) < 300
    if operation.startswith(S3_PUT_CLASS):
        invocation.usage.add("s3_put_requests", 1)
        if ok and isinstance(context, dict):
            invocation.usage.add("s3_put_bytes", int(context.get(CONTEXT_KEY) or 0))
    else:
        invocation.usage.add("s3_get_requests", 1)
    if ok and operation == "HeadObject":
        invocation.object_bytes = max(invocation.object_bytes, int(parsed.get("ContentLength") or 0))


def _ses_params(params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
    if not isinstance(context, dict) or model.name not in ("SendEmail", "SendRawEmail"):
        return
    destination = params.get("Destination") or {}
    recipients = sum(len(destination.get(k) or []) for k in ("ToAddresses", "CcAddresses", "BccAddresses"))
    recipients = recipients or len(params.get("Destinations") or []) or 1
    raw: Any = ((params.get("Content") or {}).get("Raw") or {}).get("Data")
    if raw is None:
        raw = (params.get("RawMessage") or {}).get("Data")
    if raw is None:  # a simple message: its subject and bodies
        raw = json.dumps(params.get("Content") or params.get("Message") or {}, ensure_ascii=False)
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    context[CONTEXT_KEY] = (recipients, len(data), bool(ATTACHMENT.search(data)))


def _count_ses(http_response: Any, parsed: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
    invocation = current()
    sent = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
    if invocation is not None:
        invocation.calls += 1
    if invocation is None or sent is None or getattr(http_response, "status_code", 200) >= 300:
        return
    recipients, size, attached = sent
    invocation.usage.add("ses_mails", recipients)
    invocation.usage.add("ses_bytes", size)
    if attached:
        invocation.usage.add("ses_attachment_bytes", size)  # SES bills the attachments as sent, encoded


def _count_publish(http_response: Any, **_: Any) -> None:
    invocation = current()
    if invocation is not None:
        invocation.calls += 1
        invocation.usage.add("sns_publishes", 1)


def _bus_params(params: dict[str, Any], context: Any = None, **_: Any) -> None:
    """Each entry's billed events: one per 64 KB chunk of its size as EventBridge reckons it (the UTF-8 bytes of
    Source, DetailType, Detail and each resource, 14 for a Time)."""
    if not isinstance(context, dict):
        return
    chunks = []
    for entry in params.get("Entries") or []:
        size = 14 if entry.get("Time") else 0
        for name in ("Source", "DetailType", "Detail"):
            size += len(str(entry.get(name) or "").encode())
        size += sum(len(str(r).encode()) for r in entry.get("Resources") or [])
        chunks.append(max(1, math.ceil(size / BUS_CHUNK)))
    context[CONTEXT_KEY] = chunks


def _count_bus(http_response: Any, parsed: dict[str, Any], context: Any = None, **_: Any) -> None:
    """The entries the bus took (a refused entry is not billed)."""
    invocation = current()
    chunks = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
    if invocation is not None:
        invocation.calls += 1
    if invocation is None or not chunks or getattr(http_response, "status_code", 200) >= 300:
        return
    results = parsed.get("Entries") or []
    refused = {i for i, r in enumerate(results) if isinstance(r, dict) and r.get("ErrorCode")}
    invocation.usage.add("bus_events", sum(c for i, c in enumerate(chunks) if i not in refused))


# the bytes logged --------------------------------------------------------------------------------------------


class LogCounter(logging.Handler):
    """Adds each record's size, as it reaches CloudWatch Logs, to the invocation's `log_bytes`."""

    def __init__(self, app_logger: bool) -> None:
        super().__init__()
        self.app_logger = app_logger
        self.plain = logging.Formatter("%(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        invocation = current()
        if invocation is None or getattr(record, MARK, False):
            return
        try:
            setattr(record, MARK, True)
            text = len(self.plain.format(record).encode("utf-8", "replace"))
            if self.app_logger:
                size = len(f"{record.name} - {record.levelname} - ".encode()) + text + 1
            else:
                size = len(f"[{record.levelname}]\t".encode()) + LAMBDA_RECORD_EXTRA + text
            invocation.usage.add("log_bytes", size)
        except (TypeError, ValueError, KeyError, AttributeError):
            return  # a record that cannot be formatted is the logging handlers' business, not the meter's


def _count_logs() -> None:
    """On the root logger (the runtime's records) and on Chalice's app logger, which does not propagate to it."""
    with _lock:
        if _log_counters:
            return
        for name, is_app in ((None, False), (APP_LOGGER, True)):
            counter = LogCounter(is_app)
            logging.getLogger(name).addHandler(counter)
            _log_counters.append(counter)


# reading the counters back -----------------------------------------------------------------------------------


class DynamoMeterReadings:
    """The meter's items of a period: one Query per month partition touched."""

    def first_day(self) -> date | None:
        """The first day the meter recorded the desk's storage (its first day, within the hour of the deploy's first
        stale_sweep): one GetItem."""
        from chalicelib.adapters.records import EventRecord, transaction_connection

        client = transaction_connection().client
        table = str(EventRecord.Meta.table_name)
        item = client.get_item(TableName=table, Key=ATTACHMENTS_KEY, ProjectionExpression="since").get("Item") or {}
        since = item.get("since", {}).get("S")
        return date.fromisoformat(since) if since else None

    def readings(self, first: date, last: date) -> tuple[list[FunctionDay], list[StorageDay]]:
        from chalicelib.adapters.records import EventRecord, transaction_connection
        from chalicelib.domain.cost import FunctionDay, StorageDay

        client = transaction_connection().client
        functions: list[FunctionDay] = []
        storage: list[StorageDay] = []
        month = first.replace(day=1)
        while True:
            month_end = month.replace(day=calendar.monthrange(month.year, month.month)[1])
            low, high = max(first, month), min(last, month_end)
            request: dict[str, Any] = {
                "TableName": str(EventRecord.Meta.table_name),
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": {
                    ":pk": {"S": month_key(month)},
                    ":low": {"S": f"{low.isoformat()}#"},
                    ":high": {"S": f"{high.isoformat()}#~"},
                },
            }
            while True:
                page = client.query(**request)
                for item in page.get("Items", []):
                    day, name = item["sk"]["S"].split("#", 1)
                    counts = {k: float(v["N"]) for k, v in item.items() if isinstance(v, dict) and "N" in v}
                    if name == STORAGE:
                        storage.append(StorageDay(date.fromisoformat(day), counts))
                    else:
                        functions.append(FunctionDay(date.fromisoformat(day), name, counts))
                if not page.get("LastEvaluatedKey"):
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            if month_end >= last:
                return functions, storage
            month = month_end + timedelta(days=1)
