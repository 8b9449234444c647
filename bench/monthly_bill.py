"""A month of a small desk through the real handlers under moto, and what AWS would bill for it.

    .venv/bin/python bench/monthly_bill.py                      # the full month: 1,000 tickets, 5 agents, 30 days
    .venv/bin/python bench/monthly_bill.py --tickets 60 --days 3  # a quick look

Prints the run's parameters, what the people did, the request mix per kind, the Lambda functions, one bill line per
billed item (quantity, unit, us-east-1 list price, cost: bench/billing/prices.py), the total and the cost per ticket;
then the same for an idle month (a fresh moto, no tickets, the scheduled jobs only; run alongside in a second
process); then the desk's own estimate (GET /reports/cost) for the same month beside the bill. Asserts nothing.

Everything goes through the deployed app: HTTP requests through Chalice's test client (API Gateway's part), the
scheduled jobs, the stream handler and the inbound mail handler through its Lambda client, each one an invocation;
the desk's clock moves through the month as things happen. See bench/billing/month.py for what the people do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_name]
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's fake credentials
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    AWS_CONFIG_FILE="/dev/null",
    AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    HELPDESK_PUBLIC_URL="https://desk.example.org",
)
os.environ.pop("AWS_PROFILE", None)

from bench.billing import bill as billing  # noqa: E402
from bench.billing import meter as metering  # noqa: E402
from bench.billing.month import Month, Params  # noqa: E402

# What a cold start loads, run in fresh interpreters: the API handler's first request also loads the adapters and
# the page templates; the other functions load the adapters (bench/cold_start.py measures these in more detail).
ADAPTERS = "from chalicelib.adapters import dynamo, records; records.bind_tables('t', 'd', 'e', 'us-east-1')"
INIT_PROBES = {
    "api_handler": (
        f"import app; {ADAPTERS}; from chalicelib.web import pages; "
        "pages.render('message.html', title='t', message='m', back=None)"
    ),
    "other": f"import app; {ADAPTERS}",
}


def measure_init(runs: int = 3) -> dict[str, float]:
    """Milliseconds of a fresh interpreter loading what a cold start of each function loads (median)."""
    found = {}
    for name, code in INIT_PROBES.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
            times.append((time.perf_counter() - started) * 1000)
        found[name] = statistics.median(times)
    return found


def memory_size() -> int:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return int(config.get("lambda_memory_size", 128))


def alarm_count() -> int:
    from infra.package import deploy_resources

    return sum(1 for r in deploy_resources().values() if r.get("Type") == "AWS::CloudWatch::Alarm")


def simulate(params: Params, init_ms: dict[str, float]) -> tuple[Month, billing.Bill, Any]:
    month = Month(params)
    month.open()
    month.meter.init_ms = {name: init_ms["api_handler" if name == "api_handler" else "other"] for name in (
        "api_handler", "ticket_changes", "inbound_mail", "sla_sweep", "outbox_retry", "survey_sender", "stale_sweep"
    )}  # fmt: skip
    month.run()
    names = {
        month.outputs["TicketsTableName"]: "tickets",
        month.outputs["DeskTableName"]: "desk",
        month.outputs["EventsTableName"]: "events",
    }
    bill = billing.compute(month.meter, month.capacity, names, alarm_count(), len(month.tickets), params.days)
    report = None if params.idle else cost_report(month, params)
    return month, bill, report


def cost_report(month: Month, params: Params) -> tuple[int, Any]:
    """The desk's own estimate for the same month (GET /reports/cost, as an admin); not billed, the month is over."""
    admin = next(a for a in month.agents if a.admin)
    last = params.start + timedelta(days=params.days - 1)
    path = f"/reports/cost?from={params.start.isoformat()}&to={last.isoformat()}"
    headers = {"Authorization": f"Bearer {admin.token}", "Accept": "application/json"}
    with month.meter.calling_as("bench"):
        response = month.client.http.get(path, headers=headers)
    body = response.body.decode() if isinstance(response.body, bytes) else str(response.body or "")
    try:
        return response.status_code, json.loads(body)
    except ValueError:
        return response.status_code, body


# GET /reports/cost names services as AWS's bill does; the bill here uses short names.
ESTIMATE_NAMES = {
    "API Gateway": "API Gateway",
    "AWS Lambda": "Lambda",
    "Amazon DynamoDB": "DynamoDB",
    "Amazon SES": "SES",
    "Amazon S3": "S3",
    "Amazon CloudWatch": "CloudWatch",
    "Amazon SQS": "SQS",
    "Amazon SNS": "SNS",
}


def estimate_by_service(answer: dict[str, Any]) -> tuple[dict[str, float], float]:
    """The per-service dollars and the total of /reports/cost's answer (`services: [{service, cost}]`, `total`)."""
    found = {ESTIMATE_NAMES.get(s["service"], s["service"]): float(s["cost"]) for s in answer["services"]}
    return found, float(answer["total"])


def render_comparison(bill: billing.Bill, report: tuple[int, Any] | None) -> list[str]:
    if report is None:
        return []
    status, answer = report
    out = ["The desk's own estimate for the same month (GET /reports/cost) beside the bill:"]
    if status != 200:
        out.append(
            f"  skipped: GET /reports/cost answered {status} ({str(answer)[:120]!r}); "
            "the comparison runs once it exists"
        )
        return out
    estimate, total = estimate_by_service(answer)
    measured = bill.by_service()
    out.append(f"  {'service':12} {'bill':>10} {'estimate':>10} {'difference':>11}")
    for service in billing.SERVICES:
        mine, theirs = measured.get(service, 0.0), estimate.get(service)
        if theirs is None:
            out.append(f"  {service:12} ${mine:9.4f} {'-':>10} {'(not estimated)':>11}")
            continue
        out.append(f"  {service:12} ${mine:9.4f} ${theirs:9.4f} {percent(theirs, mine):>11}")
    out.append(f"  {'total':12} ${bill.total:9.4f} ${total:9.4f} {percent(total, bill.total):>11}")
    if bill.tickets and isinstance(answer.get("per_ticket"), int | float):
        out.append(f"  {'per ticket':12} ${bill.total / bill.tickets:9.5f} ${answer['per_ticket']:9.5f}")
    out += [
        "",
        (
            f"GET /reports/cost?from={answer['from']}&to={answer['to']} (its lines; {answer['days']} days, "
            f"{answer['tickets_opened']} tickets opened, measured days {answer['measured_days']}):"
        ),
    ]
    for line in answer["lines"]:
        out.append(
            f"  {ESTIMATE_NAMES.get(line['service'], line['service']):12} {line['item'][:60]:60} "
            f"{line['quantity']:>14,.2f} {line['unit'][:14]:14} ${line['cost']:9.4f}"
        )
    out.append(f"  {'':12} {'total':60} {'':>14} {'':14} ${total:9.4f}")
    return out


def percent(estimate: float, measured: float) -> str:
    if measured == 0:
        return "n/a" if estimate else "0%"
    return f"{(estimate - measured) / measured * 100:+.1f}%"


def summary(month: Month) -> list[str]:
    tickets = month.tickets
    out = []
    if tickets:
        for label, key in (
            ("channel", "channel"),
            ("type", "type"),
            ("priority", "priority"),
            ("status at the end (as last seen)", "status"),
        ):
            counts = Counter(getattr(t, key) for t in tickets)
            out.append(f"  tickets by {label}: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()))
        out.append(f"  tickets with a file: {sum(t.attached for t in tickets)}; requesters: {len(month.requesters)}")
    for note, count in sorted(month.notes.items()):
        out.append(f"  {note}: {count:,}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 2), help="a Monday")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle month")
    parser.add_argument("--report-json", type=Path, help="also write GET /reports/cost's whole answer to this file")
    parser.add_argument("--idle-json", action="store_true", help=argparse.SUPPRESS)  # the idle month's process
    parser.add_argument("--init-ms", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    metering.MEMORY_MB = billing.MEMORY_MB = memory_size()

    if args.idle_json:
        init = {k: float(v) for k, v in (pair.split("=") for pair in args.init_ms.split(",") if pair)}
        month, bill, _ = simulate(Params(0, args.days, 0, args.start, args.seed, idle=True), init)
        month.close()
        print(json.dumps(bill.document()))
        return

    started = time.monotonic()
    init = measure_init()
    idle: subprocess.Popen[str] | None = None
    if not args.no_idle:
        init_arg = ",".join(f"{k}={v:.1f}" for k, v in init.items())
        command = [sys.executable, __file__, "--idle-json", "--days", str(args.days), "--start", args.start.isoformat()]
        idle = subprocess.Popen([*command, "--init-ms", init_arg], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    params = Params(args.tickets, args.days, args.agents, args.start, args.seed)
    month, bill, report = simulate(params, init)
    month.close()
    if args.report_json and report is not None:
        args.report_json.write_text(json.dumps(report[1], indent=1))
    month_seconds = time.monotonic() - started

    lines = [
        "Monthly bill, measured: a small desk's month through the real handlers under moto",
        "",
        "Parameters:",
        (
            f"  {params.tickets} tickets, {params.agents} agents, {params.days} days from {params.start} 00:00 "
            f"({month.hours.zone.key}), seed {params.seed}"
        ),
        (
            f"  a third each by web form, by mail, by JSON POST /tickets; {int(100 * 0.15)}% outside working hours; "
            f"working hours {month.hours.open_hours[0][0]:%H:%M}-{month.hours.open_hours[0][1]:%H:%M} Mon-Fri"
        ),
        f"  queue polling: {month.poll_schedule}; the queue tab visible during working hours; presence every 20 s",
        "  scheduled jobs: " + ", ".join(f"{j.name} every {j.schedule.every_seconds // 60} min" for j in month.jobs),
        (
            f"  Lambda memory {metering.MEMORY_MB} MB; INIT measured: API handler {init['api_handler']:.0f} ms, "
            f"the others {init['other']:.0f} ms"
        ),
        "  prices: us-east-1 list, no free tier (bench/billing/prices.py)",
        "",
        "What happened:",
        *summary(month),
        f"  simulated steps: {month.scheduler.steps:,}",
        "",
        "Request mix per kind (the month; est. $ = API Gateway + Lambda requests and time + DynamoDB units):",
        *billing.render_kinds(bill),
        "",
        "Lambda functions (durations: this machine, under moto):",
        *billing.render_functions(bill),
        "",
        *billing.render(bill, f"The bill for the month ({params.days} days, {len(month.tickets)} tickets):"),
        "",
    ]
    if idle is not None:
        output, _ = idle.communicate()
        if idle.returncode == 0 and output.strip():
            idle_bill = billing.Bill.from_document(json.loads(output.strip().splitlines()[-1]))
            lines += [
                *billing.render(idle_bill, f"An idle month ({params.days} days, no tickets, the scheduled jobs only):"),
                *billing.render_functions(idle_bill),
                "",
            ]
        else:
            lines += [f"The idle month's process failed (exit {idle.returncode}).", ""]
    lines += render_comparison(bill, report)
    lines += ["", "Assumptions and approximations:", *(f"  {a}" for a in billing.ASSUMPTIONS)]
    lines += ["", f"Wall time: {time.monotonic() - started:.0f} s (the month itself {month_seconds:.0f} s)"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
