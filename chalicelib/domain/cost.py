"""What the desk cost in AWS over a period: its own metered counters at the price list, per service and ticket."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from chalicelib.domain.prices import Prices

GB = 1024**3
MILLION = 1_000_000
THOUSAND = 1_000
# infra/package.py's deploy_resources makes one CloudWatch alarm (StreamDeadLetterAlarm); tests/domain/test_prices.py
# counts them in the package so this cannot drift.
ALARMS = 1
LOG_RETENTION_DAYS = 30  # infra/package.py's LOG_RETENTION_DAYS
# Every table of infra/template.json has point-in-time recovery on (checked by the same test); PITR is billed on the
# tables' own size (their indexes are not backed up).
PITR_TABLES = ("tickets", "desk", "events")
TABLES = PITR_TABLES
# The counters of one function's day: chalicelib/adapters/meter.py writes these, the estimate reads them.
COUNTERS = (
    "invocations",
    "cold_starts",
    "api_requests",
    "billed_ms",
    "mb_ms",
    "rru",
    "wru",
    "ses_mails",
    "ses_bytes",
    "ses_attachment_bytes",
    "inbound_mails",
    "inbound_chunks",
    "s3_put_requests",
    "s3_get_requests",
    "s3_put_bytes",
    "sns_publishes",
    "bus_events",
    "log_bytes",
)
LEAVES_OUT = (
    (
        "The free tier: every line is at list price from the first request (a small desk pays less, often nothing, "
        "for Lambda, DynamoDB and the first mails)."
    ),
    "Data transfer out of AWS (pages and downloads to browsers, mail to recipients) and taxes.",
    "KMS, CloudTrail, AWS Config, Route 53 and anything else the account has beside the desk's stack.",
    (
        "Lambda's init phase of each cold start (importing the code before the first request of a new container): "
        "counted as cold_starts, its time not measured."
    ),
    (
        "Lambda's own START, END and REPORT log lines are counted at 264 bytes an invocation; CloudWatch stores logs "
        "compressed, so the stored-logs line (from the bytes ingested in this period, kept 30 days) is an upper bound."
    ),
    (
        "S3 requests a browser makes itself: a direct upload's POST and a download through its short S3 link (one "
        "request each, $0.000005 and $0.0000004)."
    ),
    "The raw mail SES keeps in S3 until its retention ends (its PUT is counted; its storage is not).",
    "SQS: the stream's dead-letter queue gets a message only when a ticket change failed for good (none is metered).",
    "SNS for bounce and complaint events, and the mail-events subscription's mails.",
    "What the owner's own rules on the desk's EventBridge bus cost (their targets, cross-account delivery).",
    (
        "DynamoDB storage is read once a UTC day (DescribeTable); a day without its reading takes the nearest one. "
        "Under moto TableSizeBytes is 0, so the local run and the tests show no table storage."
    ),
    (
        "A container's counts that could not be written yet (an invocation that loaded no AWS client waits for the "
        "next one of its function) are lost when the container ends."
    ),
)
SERVICES = (
    "API Gateway",
    "AWS Lambda",
    "Amazon DynamoDB",
    "Amazon SES",
    "Amazon S3",
    "Amazon CloudWatch",
    "Amazon SNS",
    "Amazon EventBridge",
)


@dataclass(frozen=True)
class FunctionDay:
    day: date
    function: str
    counts: dict[str, float]


@dataclass(frozen=True)
class StorageDay:
    day: date
    counts: dict[str, float]

    def table_bytes(self) -> float:
        return sum(self.counts.get(f"{t}_bytes", 0.0) + self.counts.get(f"{t}_index_bytes", 0.0) for t in TABLES)

    def pitr_bytes(self) -> float:
        return sum(self.counts.get(f"{t}_bytes", 0.0) for t in PITR_TABLES)

    def attachment_bytes(self) -> float:
        return max(self.counts.get("attachment_bytes", 0.0), 0.0)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def month_share(day: date) -> float:
    """The part of its month a day is (GB-months and monthly prices are prorated by the day)."""
    return 1 / calendar.monthrange(day.year, day.month)[1]


def storage_months(
    first: date, through: date, readings: list[StorageDay], size: Callable[[StorageDay], float]
) -> float:
    """GB-months from the daily readings: each day at its reading, else the last one before it (the first reading
    for the days before it)."""
    by_day = {r.day: r for r in readings if first <= r.day <= through}
    if not by_day:
        return 0.0
    reading = by_day[min(by_day)]
    total = 0.0
    for day in days(first, through):
        reading = by_day.get(day, reading)
        total += size(reading) / GB * month_share(day)
    return total


def logs_stored_months(first: date, through: date, ingested: dict[date, float]) -> float:
    """GB-months of logs kept LOG_RETENTION_DAYS days, from the bytes ingested in the period (not before it)."""
    total = 0.0
    for day in days(first, through):
        kept = sum(v for d, v in ingested.items() if 0 <= (day - d).days < LOG_RETENTION_DAYS)
        total += kept / GB * month_share(day)
    return total


def _clean(number: float, places: int = 10) -> float | int:
    rounded = round(number, places)
    return int(rounded) if float(rounded).is_integer() and abs(rounded) < 2**53 else rounded


def estimate(
    first: date,
    last: date,
    today: date,
    functions: list[FunctionDay],
    storage: list[StorageDay],
    tickets_opened: int,
    prices: Prices,
    since: date | None = None,
) -> dict[str, Any]:
    """The estimate of `first`..`last` (UTC days, both in): one line per billed item, per service, per ticket.

    Time-priced lines (storage, alarms) count the days up to `today` only; the alarm every day from the desk's first
    (`since`, as the meter recorded it; without it, the period's first day with counts). Request-priced lines count
    what the meter recorded, whatever day it is.
    """
    in_period = [f for f in functions if first <= f.day <= last]
    totals = dict.fromkeys(COUNTERS, 0.0)
    per_function: dict[str, dict[str, float]] = {}
    ingested: dict[date, float] = {}
    for entry in in_period:
        own = per_function.setdefault(entry.function, dict.fromkeys(COUNTERS, 0.0))
        for name in COUNTERS:
            value = entry.counts.get(name, 0.0)
            totals[name] += value
            own[name] += value
        ingested[entry.day] = ingested.get(entry.day, 0.0) + entry.counts.get("log_bytes", 0.0)
    through = min(last, today)
    counted = through >= first
    lines: list[dict[str, Any]] = []

    def line(key: str, service: str, item: str, quantity: float, unit: str, price: float, per: int = 1) -> None:
        lines.append(
            {
                "key": key,
                "service": service,
                "item": item,
                "quantity": _clean(quantity, 6),
                "unit": unit,
                "unit_price": price,
                "per": per,
                "cost": quantity / per * price,
            }
        )

    p = prices
    line("api_gateway.requests", "API Gateway", "REST API requests", totals["api_requests"], "requests",
         p.api_gateway_per_million_requests, MILLION)  # fmt: skip
    line("lambda.requests", "AWS Lambda", "Invocations", totals["invocations"], "requests",
         p.lambda_per_million_requests, MILLION)  # fmt: skip
    line("lambda.duration", "AWS Lambda", "Billed duration at the configured memory", totals["mb_ms"] / 1024 / 1000,
         "GB-seconds", p.lambda_per_gb_second)  # fmt: skip
    line("dynamodb.writes", "Amazon DynamoDB", "Write request units (every index's too)", totals["wru"],
         "write request units", p.dynamodb_per_million_write_units, MILLION)  # fmt: skip
    line("dynamodb.reads", "Amazon DynamoDB", "Read request units", totals["rru"], "read request units",
         p.dynamodb_per_million_read_units, MILLION)  # fmt: skip
    table_months = storage_months(first, through, storage, StorageDay.table_bytes) if counted else 0.0
    line("dynamodb.storage", "Amazon DynamoDB", "Table and index storage", table_months, "GB-months",
         p.dynamodb_storage_per_gb_month)  # fmt: skip
    pitr_months = storage_months(first, through, storage, StorageDay.pitr_bytes) if counted else 0.0
    line("dynamodb.pitr", "Amazon DynamoDB", "Point-in-time recovery", pitr_months, "GB-months",
         p.dynamodb_pitr_per_gb_month)  # fmt: skip
    line("ses.mails", "Amazon SES", "Mails sent", totals["ses_mails"], "mails", p.ses_per_thousand_mails, THOUSAND)
    line("ses.attachments", "Amazon SES", "Mails with attachments, as sent", totals["ses_attachment_bytes"] / GB,
         "GB", p.ses_attachments_per_gb)  # fmt: skip
    line("ses.inbound_mails", "Amazon SES", "Mails received", totals["inbound_mails"], "mails",
         p.ses_inbound_per_thousand_mails, THOUSAND)  # fmt: skip
    line("ses.inbound_chunks", "Amazon SES", "Received mail, in 256 KB chunks", totals["inbound_chunks"], "chunks",
         p.ses_inbound_per_thousand_chunks, THOUSAND)  # fmt: skip
    file_months = storage_months(first, through, storage, StorageDay.attachment_bytes) if counted else 0.0
    line("s3.storage", "Amazon S3", "Files on tickets", file_months, "GB-months", p.s3_storage_per_gb_month)
    line("s3.put_requests", "Amazon S3", "PUT, COPY, POST and LIST requests", totals["s3_put_requests"], "requests",
         p.s3_per_thousand_put_requests, THOUSAND)  # fmt: skip
    line("s3.get_requests", "Amazon S3", "GET and other requests", totals["s3_get_requests"], "requests",
         p.s3_per_thousand_get_requests, THOUSAND)  # fmt: skip
    line("cloudwatch.logs_ingested", "Amazon CloudWatch", "Logs ingested", totals["log_bytes"] / GB, "GB",
         p.logs_ingested_per_gb)  # fmt: skip
    logs_months = logs_stored_months(first, through, ingested) if counted else 0.0
    line("cloudwatch.logs_stored", "Amazon CloudWatch", "Logs stored", logs_months, "GB-months",
         p.logs_stored_per_gb_month)  # fmt: skip
    # The alarm exists from the desk's first metered day: a period reaching back before the deploy does not pay for it
    # (a running desk's jobs record something every day).
    if since is not None:
        since = max(since, first)
    else:
        since = min([f.day for f in in_period] + [s.day for s in storage if first <= s.day <= last], default=None)
    alarm_months = ALARMS * sum(month_share(d) for d in days(since, through)) if counted and since else 0.0
    line("cloudwatch.alarms", "Amazon CloudWatch", f"Alarms ({ALARMS})", alarm_months, "alarm-months",
         p.alarm_per_month)  # fmt: skip
    line("sns.publishes", "Amazon SNS", "Notifications of received mail", totals["sns_publishes"], "publishes",
         p.sns_per_million_publishes, MILLION)  # fmt: skip
    line("eventbridge.events", "Amazon EventBridge", "History events put on the desk's bus, per 64 KB",
         totals["bus_events"], "events", p.eventbridge_per_million_events, MILLION)  # fmt: skip

    total = sum(entry["cost"] for entry in lines)
    services = [
        {"service": name, "cost": _clean(sum(e["cost"] for e in lines if e["service"] == name))} for name in SERVICES
    ]
    for priced in lines:
        priced["cost"] = _clean(priced["cost"])
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": (last - first).days + 1,
        "through": through.isoformat() if counted else None,
        "currency": "USD",
        "total": _clean(total),
        "tickets_opened": tickets_opened,
        "per_ticket": _clean(total / tickets_opened) if tickets_opened else None,
        "services": services,
        "lines": lines,
        "functions": [
            {"function": name, **{k: _clean(v, 6) for k, v in counts.items()}}
            for name, counts in sorted(per_function.items())
        ],
        "measured_days": len({entry.day for entry in in_period}),
        "prices": prices.document(),
        "leaves_out": list(LEAVES_OUT),
    }
