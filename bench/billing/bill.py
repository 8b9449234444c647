"""The month's bill from what the meter counted: one line per billed item, priced from the one price table."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.billing.meter import EVENT_OVERHEAD, IDLE_RECYCLE, MEMORY_MB, Meter
from bench.billing.prices import GB, PRICES

S3_PUT_CLASS = {
    "PutObject",
    "CopyObject",
    "PostObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
}
S3_GET_CLASS = {"GetObject", "HeadObject", "GetObjectTagging", "GetObjectAcl", "HeadBucket", "GetObjectAttributes"}
S3_FREE = {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"}
SERVICES = ("API Gateway", "Lambda", "DynamoDB", "SES", "S3", "CloudWatch", "SQS", "SNS")


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    price: str
    cost: float


@dataclass
class Bill:
    lines: list[Line]
    tickets: int
    days: int
    functions: dict[str, dict[str, float]] = field(default_factory=dict)
    kinds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.cost for line in self.lines)

    def by_service(self) -> dict[str, float]:
        totals = dict.fromkeys(SERVICES, 0.0)
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.cost
        return totals

    def document(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Bill:
        return cls(
            [Line(**line) for line in document["lines"]],
            document["tickets"],
            document["days"],
            document.get("functions", {}),
            document.get("kinds", []),
        )


def _line(service: str, item: str, quantity: float, price: str) -> Line:
    p = PRICES[price]
    return Line(service, item, quantity, p.unit, p.text(), p.cost(quantity))


def compute(meter: Meter, capacity: Any, tables: dict[str, str], alarms: int, tickets: int, days: int) -> Bill:
    """`tables`: the physical table name -> the name shown (e.g. "tickets"); `alarms`: the deploy's alarm count."""
    months = days / 30
    lines = [
        _line("API Gateway", "REST API requests", meter.api_requests, "api_requests"),
        _line("API Gateway", "data transfer out (answers, gzipped from 1 KB)", meter.data_out_bytes / GB, "data_out"),
    ]
    for name, use in sorted(meter.functions.items()):
        lines.append(_line("Lambda", f"requests: {name}", use.invocations, "lambda_requests"))
    handler_ms = sum(u.billed_ms for u in meter.functions.values())
    init_ms = sum(u.init_ms for u in meter.functions.values())
    colds = sum(u.cold_starts for u in meter.functions.values())
    gb = MEMORY_MB / 1024
    lines.append(
        _line("Lambda", f"GB-seconds: handler time at {MEMORY_MB} MB", handler_ms / 1000 * gb, "lambda_gb_seconds")
    )
    lines.append(_line("Lambda", f"GB-seconds: INIT of {colds} cold starts", init_ms / 1000 * gb, "lambda_gb_seconds"))

    if capacity is not None:
        totals = capacity.totals()
        for (table, index, kind), units in sorted(totals.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1] or "")):
            shown = tables.get(table, table) + (f" / index {index}" if index else "")
            item = ("write request units: " if kind == "write" else "read request units: ") + shown
            lines.append(_line("DynamoDB", item, units, "dynamodb_wru" if kind == "write" else "dynamodb_rru"))
    else:
        lines.append(
            Line("DynamoDB", "request units: not counted (localdesk/capacity.py is missing)", 0, "-", "-", 0.0)
        )
    samples = meter.samples
    if samples and samples[0].dynamodb_tables:
        table_bytes = sum(sum(s.dynamodb_tables.values()) for s in samples) / len(samples)
        index_bytes = sum(sum(s.dynamodb_indexes.values()) for s in samples) / len(samples)
        lines.append(
            _line(
                "DynamoDB",
                "storage: tables and indexes (daily average)",
                (table_bytes + index_bytes) / GB * months,
                "dynamodb_storage",
            )
        )
        lines.append(
            _line("DynamoDB", "point-in-time recovery (tables' data)", table_bytes / GB * months, "dynamodb_pitr")
        )
    reads = sum(n for (source, service, op), n in meter.calls.items() if source == "poller" and op == "GetRecords")
    lines.append(_line("DynamoDB", "stream reads by Lambda's poller (GetRecords)", reads, "dynamodb_stream_reads"))

    lines.append(_line("SES", "mails sent", meter.ses_sent, "ses_sent"))
    lines.append(_line("SES", "attachments sent", meter.ses_attachment_bytes / GB, "ses_attachments"))
    lines.append(_line("SES", "mails received", meter.ses_received, "ses_received"))
    lines.append(_line("SES", "incoming 256 KB chunks", meter.ses_chunks, "ses_chunks"))

    s3 = [(op, n) for (source, service, op), n in meter.calls.items() if service == "s3" and source != "bench"]
    puts = sum(n for op, n in s3 if op in S3_PUT_CLASS or op.startswith("List"))
    gets = sum(n for op, n in s3 if op not in S3_PUT_CLASS and op not in S3_FREE and not op.startswith("List"))
    lines.append(_line("S3", "PUT, COPY, POST, LIST requests", puts, "s3_put"))
    lines.append(_line("S3", "GET and other requests", gets, "s3_get"))
    if samples:
        stored = sum(sum(s.s3_buckets.values()) for s in samples) / len(samples)
        lines.append(
            _line("S3", "storage: attachments and raw mail (daily average)", stored / GB * months, "s3_storage")
        )

    logged = sum(u.log_bytes for u in meter.functions.values())
    lines.append(_line("CloudWatch", "Logs ingested", logged / GB, "logs_ingested"))
    if samples:
        kept = sum(s.logs_compressed for s in samples) / len(samples)
        lines.append(_line("CloudWatch", "Logs stored, compressed (daily average)", kept / GB * months, "logs_stored"))
    lines.append(_line("CloudWatch", f"alarms ({alarms} in the deploy overlay)", alarms * months, "alarms"))

    sqs = meter.sqs_requests + sum(n for (s, service, _), n in meter.calls.items() if service == "sqs" and s != "bench")
    lines.append(_line("SQS", "stream dead-letter queue requests", sqs, "sqs_requests"))
    sns = meter.sns_publishes + sum(
        n for (s, service, op), n in meter.calls.items() if service == "sns" and op == "Publish" and s != "bench"
    )
    lines.append(
        _line("SNS", "publishes (inbound mail notices; SES bounce and complaint events)", sns, "sns_publishes")
    )

    functions = {
        name: {
            "invocations": use.invocations,
            "billed_ms": use.billed_ms,
            "cold_starts": use.cold_starts,
            "init_ms": use.init_ms,
            "log_bytes": use.log_bytes,
            "app_log_events": use.app_log_events,
        }
        for name, use in sorted(meter.functions.items())
    }
    kinds = []
    for name, use in meter.kinds.items():
        cost = (
            PRICES["api_requests"].cost(use.api_requests)
            + PRICES["lambda_requests"].cost(use.count)
            + PRICES["lambda_gb_seconds"].cost(use.billed_ms / 1000 * gb)
            + PRICES["dynamodb_wru"].cost(use.wru)
            + PRICES["dynamodb_rru"].cost(use.rru)
        )
        kinds.append(
            {
                "kind": name,
                "count": use.count,
                "billed_ms": use.billed_ms,
                "wru": use.wru,
                "rru": use.rru,
                "cost": cost,
                "calls": dict(use.aws_calls.most_common(4)),
            }
        )
    kinds.sort(key=lambda k: -k["cost"])
    return Bill(lines, tickets, days, functions, kinds)


def quantity_text(value: float) -> str:
    if value == 0:
        return "0"
    if value == int(value) and value >= 1:
        return f"{int(value):,}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def render(bill: Bill, title: str) -> list[str]:
    out = [title, f"{'service':12} {'item':68} {'quantity':>14} {'unit':12} {'unit price':32} {'cost':>10}"]
    for line in bill.lines:
        out.append(
            f"{line.service:12} {line.item[:68]:68} {quantity_text(line.quantity):>14} {line.unit:12} {line.price:32} "
            f"${line.cost:9.4f}"
        )
    out.append(f"{'':12} {'TOTAL':68} {'':>14} {'':12} {'':32} ${bill.total:9.4f}")
    if bill.tickets:
        out.append(
            f"{'':12} {'per ticket (' + str(bill.tickets) + ' tickets)':68} {'':>14} {'':12} {'':32} "
            f"${bill.total / bill.tickets:9.5f}"
        )
    by = bill.by_service()
    out.append("by service: " + ", ".join(f"{s} ${c:.4f}" for s, c in by.items()))
    return out


def render_functions(bill: Bill) -> list[str]:
    out = [
        (
            f"{'function':16} {'invocations':>11} {'billed s':>10} {'avg ms':>8} {'cold':>5} {'INIT s':>7} "
            f"{'log KB':>8} {'app log lines':>13}"
        )
    ]
    for name, f in bill.functions.items():
        count = max(1, int(f["invocations"]))
        out.append(
            f"{name:16} {int(f['invocations']):>11,} {f['billed_ms'] / 1000:>10.1f} {f['billed_ms'] / count:>8.1f} "
            f"{int(f['cold_starts']):>5} {f['init_ms'] / 1000:>7.1f} {f['log_bytes'] / 1024:>8.0f} "
            f"{int(f['app_log_events']):>13}"
        )
    return out


def render_kinds(bill: Bill, limit: int = 45) -> list[str]:
    tickets = max(1, bill.tickets)
    out = [
        (
            f"{'request or invocation':52} {'count':>8} {'/ticket':>8} {'avg ms':>7} {'WRU':>9} {'RRU':>9} "
            f"{'est. $':>8}  AWS calls (most)"
        )
    ]
    for k in bill.kinds[:limit]:
        count = max(1, k["count"])
        calls = ", ".join(f"{re.sub('^dynamodb.', '', op)} {n}" for op, n in k["calls"].items())
        out.append(
            f"{k['kind'][:52]:52} {k['count']:>8,} {k['count'] / tickets:>8.2f} {k['billed_ms'] / count:>7.1f} "
            f"{k['wru']:>9,.0f} {k['rru']:>9,.0f} {k['cost']:>8.4f}  {calls}"
        )
    if len(bill.kinds) > limit:
        rest = bill.kinds[limit:]
        out.append(
            f"{'(' + str(len(rest)) + ' more kinds)':52} {sum(k['count'] for k in rest):>8,} {'':>8} {'':>7} "
            f"{sum(k['wru'] for k in rest):>9,.0f} {sum(k['rru'] for k in rest):>9,.0f} "
            f"{sum(k['cost'] for k in rest):>8.4f}"
        )
    return out


ASSUMPTIONS = [
    (
        f"Lambda: {MEMORY_MB} MB (.chalice/config.json); each invocation's wall time on this machine under moto "
        "(moto answers in-process, standing in for DynamoDB's network round trips), rounded up to 1 ms."
    ),
    (
        f"Lambda cold starts: an environment idle more than {int(IDLE_RECYCLE.total_seconds() // 60)} minutes is "
        "gone (AWS publishes no figure); INIT = a fresh interpreter importing app.py and what its first call loads, "
        "measured here."
    ),
    (
        "CloudWatch Logs: each record a handler logs, in Lambda's JSON log format; plus START, END and REPORT (and "
        "INIT_START on a cold start) per invocation, as written in text format (~72, ~52, ~150 bytes); "
        f"{EVENT_OVERHEAD} bytes more per event; stored compressed (gzip of the same lines), kept 30 days (the "
        "overlay's retention)."
    ),
    (
        "DynamoDB storage: item sizes by DynamoDB's rules + 100 bytes per item and per index entry, sampled daily at "
        "23:59; point-in-time recovery on the tables' data (not their global indexes)."
    ),
    (
        "API Gateway data out: answers' bodies (gzipped from 1 KB, as minimum_compression_size asks), headers, ~170 "
        "bytes of status line and API Gateway's own headers."
    ),
]
