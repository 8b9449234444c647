"""What AWS would bill, counted from the calls themselves: every request moto answers, every handler invocation
(its measured duration and the bytes it logs), every API Gateway request and the bytes it sends back."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import math
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any, TypeVar
from urllib.parse import parse_qs

T = TypeVar("T")

MEMORY_MB = 512  # .chalice/config.json lambda_memory_size (read again by monthly_bill.py, which passes it in)
# A warm execution environment is reused while calls keep coming; AWS does not publish how long an idle one lives.
# Measurements people publish put it between 5 and 15 minutes: the bench assumes 10.
IDLE_RECYCLE = timedelta(minutes=10)
# Each log event costs its message's bytes and, as CloudWatch Logs counts a batch (PutLogEvents), 26 bytes more.
EVENT_OVERHEAD = 26
REQUEST_ID = "8f4c1b2e-3d5a-4e6f-9a7b-0c1d2e3f4a5b"  # 36 characters, as every Lambda request id
# The platform's own lines, as the deployed functions write them (LoggingConfig names no LogFormat: text).
START_LINE = f"START RequestId: {REQUEST_ID} Version: $LATEST"
END_LINE = f"END RequestId: {REQUEST_ID}"
INIT_START_LINE = (
    "INIT_START Runtime Version: python:3.11.v88\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:"
    "0f4c1b2e3d5a4e6f9a7b0c1d2e3f4a5b0f4c1b2e3d5a4e6f9a7b0c1d2e3f4a5b"
)
MAX_MEMORY_USED_MB = 110  # REPORT's "Max Memory Used" (only its digits count): this runtime's usual footprint
# Loggers of the AWS side (moto and what it runs on) and of the bench: never a Lambda's output.
NOT_LAMBDA = ("moto", "werkzeug", "responses", "jose", "bench", "localdesk", "py.warnings", "asyncio")
# API Gateway compresses an answer of at least minimum_compression_size bytes (.chalice/config.json) when the
# client accepts gzip, as browsers and the usual HTTP libraries do.
MINIMUM_COMPRESSION_SIZE = 1024
S3_GET_CLASS = {"GetObject", "HeadObject", "GetObjectTagging", "GetObjectAcl", "HeadBucket"}
S3_FREE = {"DeleteObject", "DeleteObjects"}
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def platform_report(duration_ms: float, billed_ms: int, init_ms: float | None) -> str:
    line = (
        f"REPORT RequestId: {REQUEST_ID}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed_ms} ms\t"
        f"Memory Size: {MEMORY_MB} MB\tMax Memory Used: {MAX_MEMORY_USED_MB} MB\t"
    )
    return line + (f"Init Duration: {init_ms:.2f} ms\t" if init_ms is not None else "")


@dataclass
class FunctionUse:
    """One Lambda function's month."""

    invocations: int = 0
    billed_ms: int = 0  # handler durations, each rounded up to 1 ms
    cold_starts: int = 0
    init_ms: int = 0  # billed INIT phases of the cold starts
    log_events: int = 0
    log_bytes: int = 0  # with EVENT_OVERHEAD per event
    app_log_events: int = 0


@dataclass
class KindUse:
    """One kind of request or invocation (e.g. "GET /console/poll", "stream batch", "job sla_sweep")."""

    count: int = 0  # requests or invocations of this kind
    api_requests: int = 0
    billed_ms: int = 0
    wru: float = 0.0
    rru: float = 0.0
    aws_calls: Counter[str] = field(default_factory=Counter)


@dataclass
class StorageSample:
    at: datetime
    dynamodb_tables: dict[str, int]  # table -> bytes (items + 100 bytes each)
    dynamodb_indexes: dict[str, int]  # "table/index" -> bytes
    s3_buckets: dict[str, int]
    logs_compressed: int


class LogCapture(logging.Handler):
    """The bytes a Lambda's log records would take in CloudWatch, written in Lambda's JSON log format; only while
    an invocation runs, and only the function's own loggers (moto's and the bench's are the AWS side)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.active = False
        self.events = 0
        self.bytes = 0
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not self.active or record.name.startswith(NOT_LAMBDA):
            return
        document: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": REQUEST_ID,
        }
        if record.exc_info and record.exc_info[0] is not None:
            document["errorType"] = record.exc_info[0].__name__
            document["errorMessage"] = str(record.exc_info[1])
            document["stackTrace"] = logging.Formatter().formatException(record.exc_info).splitlines()
        line = json.dumps(document)
        self.events += 1
        self.bytes += len(line.encode()) + EVENT_OVERHEAD
        self.lines.append(line)


class Meter:
    """Counts, for one simulated month. `source` says who calls AWS now (a function's name while it runs; "ses"
    while SES stores a received mail; "poller" for Lambda's stream reads; "bench" for the harness itself)."""

    def __init__(self, clock: Callable[[], datetime], capacity: Any = None) -> None:
        self.clock = clock
        self.capacity = capacity  # localdesk.capacity.CapacityModel, or None when it is not there
        self.source = "bench"
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (source, service, operation)
        self.functions: dict[str, FunctionUse] = {}
        self.kinds: dict[str, KindUse] = {}
        self.api_requests = 0
        self.data_out_bytes = 0
        self.ses_sent = 0
        self.ses_attachment_bytes = 0
        self.ses_received = 0
        self.ses_chunks = 0
        self.sns_publishes = 0
        self.sqs_requests = 0
        self.dynamodb_writes = 0
        self.watched_table = ""  # the table with a stream: it needs reading only after a write to it
        self.stream_writes = 0
        self.samples: list[StorageSample] = []
        self.logs = LogCapture()
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip, as the stored logs are counted
        self._compressed = 0
        self._last_call: dict[str, datetime] = {}
        self.init_ms: dict[str, float] = {}  # function -> measured INIT (set by the caller), plus first-call loads
        self._kind: str | None = None
        self._installed: list[Callable[[], None]] = []

    # AWS calls ----------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Count every request botocore hands to moto (before-send: one per attempt, as AWS bills retries)."""
        from moto.core.botocore_stubber import BotocoreStubber

        real = BotocoreStubber.__call__
        meter = self

        def counting(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            if stubber.enabled:
                meter._aws_call(event_name, request)
            return real(stubber, event_name, request, **kwargs)

        BotocoreStubber.__call__ = counting  # type: ignore[method-assign]
        self._installed.append(lambda: setattr(BotocoreStubber, "__call__", real))
        root, desk = logging.getLogger(), logging.getLogger("helpdesk")
        root.addHandler(self.logs)
        desk.addHandler(self.logs)  # Chalice keeps the app's logger to itself (propagate off, level ERROR)
        # Lambda's JSON log format sets the root logger to the application log level, INFO by default.
        level = root.level
        root.setLevel(logging.INFO)
        self._installed.append(lambda: (root.removeHandler(self.logs), desk.removeHandler(self.logs)))
        self._installed.append(lambda: root.setLevel(level))

    def uninstall(self) -> None:
        while self._installed:
            self._installed.pop()()

    def _aws_call(self, event_name: str, request: Any) -> None:
        _, service, operation = ([*event_name.split(".", 2), "", ""])[:3]
        self.calls[(self.source, service, operation)] += 1
        if self._kind is not None:
            self.kinds[self._kind].aws_calls[f"{service}.{operation}"] += 1
        if service == "dynamodb" and operation in DYNAMODB_WRITES:
            self.dynamodb_writes += 1
            body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
            if self.watched_table and self.watched_table.encode() in body:
                self.stream_writes += 1
        elif service in ("sesv2", "ses") and operation in ("SendEmail", "SendRawEmail"):
            self.ses_sent += 1
            raw = raw_message(service, request.body)
            if raw is not None:
                self.ses_attachment_bytes += attachment_bytes(raw)
        elif service == "sns" and operation == "Publish":
            self.sns_publishes += 1
        elif service == "sqs":
            self.sqs_requests += 1

    @contextmanager
    def calling_as(self, source: str) -> Iterator[None]:
        before, self.source = self.source, source
        try:
            yield
        finally:
            self.source = before

    # invocations --------------------------------------------------------------------------------------------

    def invoke(self, function: str, kind: str, call: Callable[[], T]) -> T:
        """Run one invocation of `function` and bill it: measured wall time rounded up to 1 ms, a cold start when
        the function has been idle longer than IDLE_RECYCLE, the bytes it logs and Lambda's own lines."""
        use = self.functions.setdefault(function, FunctionUse())
        kind_use = self.kinds.setdefault(kind, KindUse())
        now = self.clock()
        last = self._last_call.get(function)
        cold = last is None or now - last > IDLE_RECYCLE
        charges_before = len(self.capacity.charges) if self.capacity is not None else 0
        outer_source, outer_kind = self.source, self._kind
        self.source, self._kind = function, kind
        self.logs.active = True
        events, logged = self.logs.events, self.logs.bytes
        started = time.perf_counter()
        try:
            return call()
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.logs.active = False
            self.source, self._kind = outer_source, outer_kind
            self._last_call[function] = self.clock()
            billed = max(1, math.ceil(elapsed_ms))
            init: float | None = None
            if cold:
                init = self.init_ms.get(function, 0.0)
                use.cold_starts += 1
                use.init_ms += math.ceil(init)
            use.invocations += 1
            use.billed_ms += billed
            kind_use.count += 1
            kind_use.billed_ms += billed
            platform = [START_LINE, END_LINE, platform_report(elapsed_ms, billed, init)]
            if cold:
                platform.insert(0, INIT_START_LINE)
            app_events = self.logs.events - events
            use.app_log_events += app_events
            use.log_events += app_events + len(platform)
            use.log_bytes += self.logs.bytes - logged + sum(len(p) + EVENT_OVERHEAD for p in platform)
            lines = [*self.logs.lines, *platform]
            self.logs.lines.clear()
            self._compressed += len(self._compressor.compress(("\n".join(lines) + "\n").encode()))
            if self.capacity is not None:
                for charge in self.capacity.charges[charges_before:]:
                    if charge.kind == "write":
                        kind_use.wru += charge.units
                    else:
                        kind_use.rru += charge.units

    def http(
        self, client: Any, kind: str, method: str, path: str, headers: dict[str, str], body: bytes | str | None
    ) -> Any:
        """One API Gateway request, served by the API handler."""
        self.api_requests += 1
        self.kinds.setdefault(kind, KindUse()).api_requests += 1
        payload = body.encode() if isinstance(body, str) else (body or b"")
        response = self.invoke("api_handler", kind, lambda: client.http.request(method, path, headers, payload))
        self.data_out_bytes += answer_bytes(response)
        return response

    # mail in ------------------------------------------------------------------------------------------------

    def received(self, size: int) -> None:
        """A mail SES received: billed per mail and per started 256 KB chunk; SES then notifies over SNS."""
        self.ses_received += 1
        self.ses_chunks += max(1, math.ceil(size / (256 * 1024)))
        self.sns_publishes += 1

    # storage ------------------------------------------------------------------------------------------------

    def sample_storage(self, dynamodb: dict[str, int], indexes: dict[str, int], s3: dict[str, int]) -> None:
        self._compressed += len(self._compressor.flush(zlib.Z_SYNC_FLUSH))
        self.samples.append(StorageSample(self.clock(), dynamodb, indexes, s3, self._compressed))


def raw_message(service: str, body: Any) -> bytes | None:
    """The MIME message a send call carries (SES v2 JSON Content.Raw.Data, or SES v1's RawMessage.Data)."""
    data = body.encode() if isinstance(body, str) else bytes(body or b"")
    try:
        if service == "sesv2":
            raw = json.loads(data or b"{}").get("Content", {}).get("Raw", {}).get("Data")
            return base64.b64decode(raw) if raw else None
        value = parse_qs(data.decode()).get("RawMessage.Data", [None])[0]
        return base64.b64decode(value) if value else None
    except ValueError:
        return None


def attachment_bytes(raw: bytes) -> int:
    """The bytes of a message's attachments as they travel (the encoded part bodies, as SES counts them)."""
    message = message_from_bytes(raw, policy=policy.default)
    total = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        if disposition == "attachment" or (disposition == "inline" and part.get_content_maintype() != "text"):
            payload = part.get_payload()
            total += len(payload.encode() if isinstance(payload, str) else payload or b"")
    return total


def answer_bytes(response: Any) -> int:
    """What API Gateway sends back: the status line and headers, and the body, gzipped from 1 KB."""
    body = response.body if isinstance(response.body, bytes) else str(response.body or "").encode()
    if len(body) >= MINIMUM_COMPRESSION_SIZE:
        body = gzip.compress(body, 6)
    headers = sum(len(str(k)) + len(str(v)) + 4 for k, v in (response.headers or {}).items())
    return len(body) + headers + 17 + 150  # status line; API Gateway's own headers (x-amzn-RequestId, Date, Via ...)


def request_id() -> str:
    return str(uuid.uuid4())
