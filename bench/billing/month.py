"""One simulated month of a small desk: moto as AWS, the real app through Chalice's test client, and the people,
Lambda's stream poller and EventBridge's schedules all acting on the desk's clock, in time order."""

from __future__ import annotations

import heapq
import itertools
import json
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from bench.billing.hours import Hours
from bench.billing.meter import Meter
from bench.billing.storage import dynamodb_bytes, s3_bytes
from bench.billing.web import PUBLIC_URL, Browser, Page, Routes, path_of

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
SENDER = "desk@example.org"
INBOUND = "help@desk.example.org"
WEBSITE = "https://www.example.org"  # the organisation's site, whose contact widget posts JSON (CORS: prod stage)
OFFICE_IP = "203.0.113.10"
STAGE = "prod"
CONFIG = ROOT / "chalicelib" / "configs" / "default.json"

TYPES = (("question", 0.58), ("defect", 0.25), ("consultation", 0.09), ("training", 0.08))
PRIORITIES = (("critical", 0.03), ("high", 0.17), ("medium", 0.50), ("low", 0.30))
OUTSIDE_HOURS = 0.15  # tickets that arrive in the evening, at night or at the weekend
ATTACHED = 0.04  # tickets whose first message carries a small file
FILE_BYTES = 48 * 1024
# Working minutes from arrival (or from the desk opening) to an agent's first look, by priority.
FIRST_LOOK = {"critical": (5, 40), "high": (20, 180), "medium": (45, 420), "low": (90, 720)}
# Working minutes between an agent's sessions on one ticket, by workflow.
BETWEEN = {"question": (20, 240), "defect": (60, 900), "consultation": (60, 900), "training": (60, 900)}
POLL_MS = 30_000  # console.js, unless the queue page carries data-poll-ms
BEAT_S = 20  # console.js presence heartbeat while a ticket page is visible
FORM_FIELDS = {
    "defect": {"product": "Billing", "version_affected": "4.2", "steps_to_reproduce": "Open an invoice, press Save."},
    "consultation": {"topic": "Migrating our invoices to the new ledger"},
    "training": {"course": "Month-end closing for the new team", "attendees": "6", "format": "Remote"},
    "question": {},
}
WORDS = [
    "the",
    "invoice",
    "screen",
    "shows",
    "an",
    "error",
    "when",
    "we",
    "save",
    "after",
    "changing",
    "the",
    "customer",
    "address",
    "and",
    "it",
    "worked",
    "last",
    "week",
    "before",
    "the",
    "update",
    "we",
    "also",
    "see",
    "the",
    "export",
    "to",
    "the",
    "ledger",
    "stop",
    "halfway",
    "through",
    "could",
    "you",
    "have",
    "a",
    "look",
    "please",
    "thanks",
    "for",
    "the",
    "quick",
    "answer",
    "we",
    "tried",
    "again",
    "this",
    "morning",
    "and",
    "it",
    "is",
    "the",
    "same",
    "on",
    "two",
    "computers",
]


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


def words(rng: random.Random, low: int, high: int) -> str:
    count = rng.randint(low, high)
    return " ".join(rng.choice(WORDS) for _ in range(count)).capitalize() + "."


@dataclass(frozen=True)
class Params:
    tickets: int = 1000
    days: int = 30
    agents: int = 5
    start: date = date(2026, 11, 2)  # a Monday
    seed: int = 14
    idle: bool = False  # jobs only: no tickets, no people


class SimClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current


Step = Callable[[], None] | Generator[Any, None, None]


class Scheduler:
    """Runs steps in time order on the desk's clock. A generator step yields how long to wait (seconds or a
    timedelta) or until when (a datetime), and goes on from there."""

    def __init__(self, clock: SimClock, after_step: Callable[[], None]) -> None:
        self.clock = clock
        self.after_step = after_step
        self._heap: list[tuple[datetime, int, Step]] = []
        self._order = itertools.count()
        self.steps = 0

    def at(self, when: datetime, step: Step) -> None:
        heapq.heappush(self._heap, (when, next(self._order), step))

    def run(self, end: datetime) -> None:
        while self._heap and self._heap[0][0] < end:
            when, _, step = heapq.heappop(self._heap)
            self.clock.current = max(self.clock.current, when)
            self.steps += 1
            if isinstance(step, Generator):
                try:
                    wait = next(step)
                except StopIteration:
                    pass
                else:
                    self.at(self._after(wait), step)
            else:
                step()
            self.after_step()

    def _after(self, wait: Any) -> datetime:
        now = self.clock.current
        if isinstance(wait, datetime):
            return max(now, wait)
        if isinstance(wait, timedelta):
            return now + wait
        return now + timedelta(seconds=float(wait))


@dataclass
class Agent:
    index: int
    id: str
    name: str
    email: str
    token: str
    team: str
    admin: bool
    uses_api: bool
    by_mail: bool  # signs in with the mailed link rather than a pasted token
    browser: Browser
    signed_in: bool = False
    visible: bool = False
    queue: dict[str, str] = field(default_factory=dict)
    queue_loaded: int = 0  # which queue page is showing: a reload starts its poll timer again
    sign_in_links: list[str] = field(default_factory=list)
    last_page: Page | None = None
    queue_stopped: bool = False  # the queue tab stopped polling (a 401)


@dataclass
class Requester:
    email: str
    name: str
    browser: Browser


@dataclass
class Ticket:
    number: int
    arrives: datetime
    type: str
    priority: str
    channel: str  # "form", "mail" or "json"
    requester: Requester
    attached: bool
    answers_survey: bool
    id: str = ""
    portal: str = ""  # the portal page's path with its token
    owner: Agent | None = None
    sessions: int = 0
    pending: datetime | None = None  # when the next agent session is scheduled
    generation: int = 0  # a session scheduled earlier replaces a later one
    plan: dict[str, Any] = field(default_factory=dict)
    status: str = "submitted"  # as the bench last saw or made it
    decided: set[str] = field(default_factory=set)  # statuses the requester already reacted to
    last_mail: Any = None  # the last mail the desk sent the requester (a mail requester replies to it)
    survey_answered: bool = False


class Month:
    """Set up with `open()`, run with `run()`, and `close()` moto afterwards."""

    def __init__(self, params: Params, out: Callable[[str], None] = print) -> None:
        self.params = params
        self.out = out
        self.rng = random.Random(params.seed)  # noqa: S311 - a repeatable month, not secrets
        document = json.loads(CONFIG.read_text())
        self.hours = Hours.of(document["sla"]["calendar"])
        self.workflows = {t["key"]: t["workflow"] for t in document["types"]}
        self.teams = {t["key"]: t["team"] for t in document["types"]}
        self.type_priority = {
            t["key"]: t.get("default_priority", document["desk"]["default_priority"]) for t in document["types"]
        }
        categories = {s["key"]: s["category"] for s in document["statuses"]}
        self.done = {k for k, c in categories.items() if c == "done"}
        self.waiting = {k for k, c in categories.items() if c == "waiting"}
        self.labels = {s["key"]: s["label"] for s in document["statuses"]}
        self.start = self.hours.at(params.start, time(0, 0))
        self.end = self.start + timedelta(days=params.days)
        self.clock = SimClock(self.start)
        self.tickets: list[Ticket] = []
        self.by_id: dict[str, Ticket] = {}
        self.agents: list[Agent] = []
        self.requesters: dict[str, Requester] = {}
        self.notes: Counter[str] = Counter()  # what happened, for the run's summary
        self.poll_schedule = "30 s fixed (console.js)"
        self._stream_seen = 0

    # the AWS side and the app -------------------------------------------------------------------------------

    def open(self) -> None:
        import boto3
        from chalice.local import LambdaEventConverter
        from chalice.test import Client
        from moto import mock_aws

        from bench.billing.motospeed import install as install_moto_speed
        from bench.billing.motospeed import install_after_motofix
        from chalicelib import wiring
        from chalicelib.adapters.raw_mail import RawMailSettings, RawMailStore
        from infra.tables import create_stack
        from localdesk.environment import use_tables
        from localdesk.jobs import discover_jobs
        from localdesk.motofix import install as install_moto_fix
        from localdesk.smtp import InboundAddress, InboundDelivery
        from localdesk.streams import StreamReader

        quick = not os.environ.get("BENCH_MOTO_AS_IS")
        if quick:
            install_moto_speed()  # some of moto's slow paths made quick (answers unchanged)
        install_moto_fix()  # moto's transactions and queries, made to scale as DynamoDB's do (answers unchanged)
        if quick:
            install_after_motofix()
        self._mock = mock_aws()
        self._mock.start()
        self.capacity = load_capacity()
        if self.capacity is not None:
            self.capacity.install()
        self.meter = Meter(self.clock.now, self.capacity)
        self.meter.install()
        outputs = create_stack(boto3.client("cloudformation", region_name=REGION))
        self.outputs = outputs
        use_tables(os.environ, outputs)
        os.environ.update(
            HELPDESK_PUBLIC_URL=PUBLIC_URL,
            HELPDESK_SENDER_EMAIL=SENDER,
            HELPDESK_INBOUND_ADDRESS=INBOUND,
            HELPDESK_RAW_MAIL_PREFIX="inbound/",
        )
        self.meter.watched_table = outputs["TicketsTableName"]
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        wiring.reset(clock=self.clock, on_sent=self._mail_sent)
        desk = wiring.desk()
        desk.seed_config()
        from app import app

        self.app = app
        self.client = Client(app, stage_name=STAGE, project_dir=str(ROOT))
        self.routes = Routes(list(app.routes))

        def set_ip(ip: str) -> None:
            LambdaEventConverter.LOCAL_SOURCE_IP = ip

        self._set_ip = set_ip
        self.reader = StreamReader(
            boto3.client("dynamodbstreams", region_name=REGION), outputs["TicketsTableStreamArn"], REGION
        )
        store = RawMailStore(RawMailSettings.from_env(os.environ), boto3.client("s3", region_name=REGION))

        def inbound_handler(event: dict[str, Any]) -> Any:
            return self.meter.invoke(
                "inbound_mail",
                "mail in (inbound_mail)",
                lambda: self.client.lambda_.invoke("inbound_mail", event).payload,
            )

        self.inbound = InboundDelivery(store, inbound_handler, InboundAddress(INBOUND), nullcontext, self.clock.now)
        self.jobs = discover_jobs(app)
        teams = ("support", "support", "engineering", "engineering", "services")
        for index in range(0 if self.params.idle else self.params.agents):
            name = f"Agent {index + 1}"
            email = f"agent{index + 1}@example.org"
            role = "admin" if index == 0 else "agent"
            agent, token = desk.create_agent({"name": name, "email": email, "role": role})
            uses_api = self.params.agents >= 3 and index == self.params.agents - 1
            self.agents.append(
                Agent(
                    index, agent.id, name, email, token, teams[index % len(teams)], index == 0, uses_api,
                    index == 1, self._browser(OFFICE_IP),
                )
            )  # fmt: skip
        if self.params.idle:
            desk.create_agent({"name": "Admin", "email": "admin@example.org", "role": "admin"})
        # What setup cost is not the month's.
        self.meter.calls.clear()
        self.meter.dynamodb_writes = self.meter.stream_writes = 0
        if self.capacity is not None:
            self.capacity.reset()

    def close(self) -> None:
        self.meter.uninstall()
        if self.capacity is not None:
            self.capacity.uninstall()
        self._mock.stop()

    def _browser(self, ip: str) -> Browser:
        return Browser(self.meter, self.client, self.routes, ip, self._set_ip)

    # the month ----------------------------------------------------------------------------------------------

    def run(self) -> None:
        self.scheduler = Scheduler(self.clock, self._drain_stream)
        for job in self.jobs:
            self.scheduler.at(self.start + timedelta(seconds=job.schedule.every_seconds), self._job(job))
        for day in range(self.params.days):
            moment = self.hours.at(self.params.start + timedelta(days=day), time(23, 59, 59))
            self.scheduler.at(moment, self._sample_storage)
        if not self.params.idle:
            self._plan_tickets()
            for ticket in self.tickets:
                self.scheduler.at(ticket.arrives, self._arrive(ticket))
            for agent in self.agents:
                self.scheduler.at(self.start, self._agent_days(agent))
        self.scheduler.run(self.end)
        self.clock.current = self.end

    def _job(self, job: Any) -> Iterator[float]:
        from localdesk.jobs import scheduled_event

        while True:
            event = scheduled_event(job.name, self.clock.now())
            self.meter.invoke(
                job.name, f"job {job.name}", lambda event=event: self.client.lambda_.invoke(job.name, event)
            )
            yield job.schedule.every_seconds

    def _drain_stream(self) -> None:
        """As Lambda's poller: the records written since the last read, in batches of up to 100, to the handler;
        a batch is retried from its first failed record, at most 5 times (the deployed mapping's
        MaximumRetryAttempts), then its position goes to the dead-letter queue (one SQS message)."""
        while self.meter.stream_writes != self._stream_seen:
            self._stream_seen = self.meter.stream_writes
            with self.meter.calling_as("poller"):
                batches = []
                while batch := self.reader.read(100):
                    batches.append(batch)
            for batch in batches:
                pending = batch
                for _ in range(6):
                    event = {"Records": pending}
                    answer = self.meter.invoke(
                        "ticket_changes",
                        "stream batch (ticket_changes)",
                        lambda event=event: self.client.lambda_.invoke("ticket_changes", event).payload,  # type: ignore[misc]
                    )
                    failed = [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]
                    if not failed:
                        break
                    numbers = [r["dynamodb"]["SequenceNumber"] for r in pending]
                    pending = pending[min(numbers.index(n) for n in failed if n in numbers) :]
                    self.notes["stream batches retried"] += 1
                else:
                    self.meter.sqs_requests += 1
                    self.notes["stream batches sent to the dead-letter queue"] += 1

    def _sample_storage(self) -> None:
        if self.capacity is None:
            tables: dict[str, int] = {}
            indexes: dict[str, int] = {}
        else:
            from localdesk.capacity import item_size

            names = [self.outputs[k] for k in ("TicketsTableName", "DeskTableName", "EventsTableName")]
            tables, indexes = dynamodb_bytes(item_size, names)
        buckets = s3_bytes([self.outputs["AttachmentsBucketName"], self.outputs["RawMailBucketName"]])
        self.meter.sample_storage(tables, indexes, buckets)

    # tickets arriving ---------------------------------------------------------------------------------------

    def _plan_tickets(self) -> None:
        rng = self.rng
        working: list[tuple[datetime, datetime]] = []
        for day in range(self.params.days):
            span = self.hours.span(self.params.start + timedelta(days=day))
            if span is not None:
                working.append(span)
        open_seconds = sum((b - a).total_seconds() for a, b in working)
        total = (self.end - self.start).total_seconds()
        channels = ["form", "mail", "json"] * (self.params.tickets // 3 + 1)
        channels = channels[: self.params.tickets]
        rng.shuffle(channels)
        pool = [f"requester{n}@customer{n % 40}.example" for n in range(max(1, int(self.params.tickets * 0.7)))]
        early = list(range(self.params.tickets))
        answering = set(rng.sample(early[: int(len(early) * 0.92)] or early, k=self.params.tickets // 3))
        times = []
        for _ in range(self.params.tickets):
            if rng.random() >= OUTSIDE_HOURS and working:
                offset = rng.uniform(0, open_seconds)
                for a, b in working:
                    length = (b - a).total_seconds()
                    if offset < length:
                        times.append(a + timedelta(seconds=offset))
                        break
                    offset -= length
            else:
                while True:
                    moment = self.start + timedelta(seconds=rng.uniform(0, total))
                    if not self.hours.is_open(moment):
                        times.append(moment)
                        break
        times.sort()
        for number, arrives in enumerate(times):
            kind = pick(rng, TYPES)
            if channels[number] == "mail" and kind in ("consultation", "training"):
                kind = "question"  # mail names a type only by its alias (help+bugs@ is a defect)
            email = rng.choice(pool)
            requester = self.requesters.get(email)
            if requester is None:
                ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                requester = Requester(email, f"Customer {len(self.requesters) + 1}", self._browser(ip))
                self.requesters[email] = requester
            ticket = Ticket(
                number, arrives, kind, pick(rng, PRIORITIES), channels[number], requester, rng.random() < ATTACHED,
                number in answering,
            )  # fmt: skip
            ticket.plan = {
                "quick": rng.random() < 0.12,  # a question answered and resolved at the first look
                "ask": rng.random() < 0.4,  # the agent asks the requester for more first
                "no_repro": rng.random() < 0.15,
                "test_fails": rng.random() < 0.1,
                "note_at": rng.randint(1, 3) if rng.random() < 0.3 else 0,  # the session that adds an internal note
                "reassign_at": 2 if rng.random() < 0.08 else 0,
                "portal_look": rng.random() < 0.5,
                "follow_up": rng.random() < 0.15,  # the requester adds something on the portal or by mail
            }
            self.tickets.append(ticket)

    def _arrive(self, ticket: Ticket) -> Iterator[Any]:
        if ticket.channel == "json":
            self._open_by_json(ticket)
        elif ticket.channel == "form":
            yield from self._open_by_form(ticket)
        else:
            self._open_by_mail(ticket)
        if ticket.id:
            self.by_id[ticket.id] = ticket
            self._schedule_session(ticket, first=True)
        else:
            self.notes["tickets not opened"] += 1

    def _fields(self, ticket: Ticket) -> dict[str, str]:
        return dict(FORM_FIELDS[ticket.type])

    def _open_by_json(self, ticket: Ticket) -> None:
        widget = ticket.number % 2 == 0  # half from the website's contact widget (a CORS preflight first)
        browser = ticket.requester.browser
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Accept-Encoding": "gzip"}
        if widget:
            preflight = {
                "Origin": WEBSITE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            }
            browser.request("OPTIONS", "/tickets", headers=preflight, assets=False)
            headers["Origin"] = WEBSITE
        fields: dict[str, Any] = self._fields(ticket)
        if "attendees" in fields:
            fields["attendees"] = int(fields["attendees"])
        body = {
            "type": ticket.type,
            "subject": words(self.rng, 3, 8),
            "description": words(self.rng, 30, 220),
            "requester_name": ticket.requester.name,
            "requester_email": ticket.requester.email,
            "fields": fields,
        }
        page = browser.request("POST", "/tickets", headers=headers, body=json.dumps(body), assets=False)
        if page.status == 201:
            answer = json.loads(page.text)
            ticket.id = answer["id"]
            ticket.portal = path_of(answer["portal_url"])
        else:
            self.notes[f"JSON ticket refused ({page.status})"] += 1

    def _open_by_form(self, ticket: Ticket) -> Iterator[Any]:
        browser = ticket.requester.browser
        if ticket.number % 2 == 0:
            browser.get("/form")  # the index of request types, then the chosen one
            yield self.rng.uniform(5, 30)
        page = browser.get(f"/form?type={ticket.type}")
        yield self.rng.uniform(60, 400)  # filling it in
        form = page.form("/tickets")
        if form is None:
            self.notes["form page without a form"] += 1
            return
        values = {
            **form.hidden,
            "website": "",
            "requester_name": ticket.requester.name,
            "requester_email": ticket.requester.email,
            "subject": words(self.rng, 3, 8),
            "description": words(self.rng, 30, 220),
            **self._fields(ticket),
        }
        if ticket.attached:
            from urllib3.filepost import encode_multipart_formdata

            parts: list[tuple[str, Any]] = [
                *values.items(),
                ("files", ("screenshot.png", png(FILE_BYTES), "image/png")),
            ]
            data, content_type = encode_multipart_formdata(parts)
            answer = browser.post_multipart("/tickets", data, content_type)
        else:
            answer = browser.post_form("/tickets", values, csrf=False)
        query = parse_qs(urlsplit(answer.path).query)
        if "ticket" in query and "token" in query:
            ticket.id = query["ticket"][0]
            ticket.portal = f"/portal/tickets/{ticket.id}?{urlencode({'token': query['token'][0]})}"
        else:
            self.notes[f"form post not thanked ({answer.status})"] += 1

    def _open_by_mail(self, ticket: Ticket) -> None:
        mail = EmailMessage()
        mail["From"] = f"{ticket.requester.name} <{ticket.requester.email}>"
        to = "help+bugs@desk.example.org" if ticket.type == "defect" else INBOUND
        mail["To"] = to
        mail["Subject"] = words(self.rng, 3, 8)
        mail["Message-ID"] = make_msgid(domain="customer.example")
        mail["Date"] = self.clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000")
        mail.set_content(words(self.rng, 30, 220) + "\n\n-- \nSent from my phone\n")
        if ticket.attached:
            mail.add_attachment(pdf(FILE_BYTES), maintype="application", subtype="pdf", filename="invoice.pdf")
        outcome = self._deliver_mail(mail, ticket.requester.email, to)
        ticket.id = str((outcome or {}).get("ticket_id") or "")

    def _deliver_mail(self, mail: EmailMessage, sender: str, to: str) -> Any:
        raw = mail.as_bytes()
        self.meter.received(len(raw))
        with self.meter.calling_as("ses"):  # SES stores the message in the bucket (billed to it), then notifies
            done = self.inbound.deliver_now(raw, sender, [to], "mail.customer.example")
        return done.get("outcome")

    # mail the desk sends ------------------------------------------------------------------------------------

    def _mail_sent(self, mail: Any) -> None:
        """Told of each mail SES accepted (inside a handler): people react later, on the scheduler."""
        agent = next((a for a in self.agents if a.email == mail.to), None)
        if agent is not None:
            if mail.kind == "sign_in":
                found = re.search(r"https://desk\.example\.org/console/sign-in/confirm\?token=[^\s\"<>]+", mail.text)
                if found:
                    agent.sign_in_links.append(found.group(0))
            return
        ticket = self.by_id.get(mail.ticket_id)
        if ticket is None or ticket.requester.email != mail.to:
            return
        ticket.last_mail = mail
        if not ticket.portal:
            found = re.search(r"https://desk\.example\.org/portal/tickets/[^\s\"<>?]+\?token=[^\s\"<>&]+", mail.text)
            if found:
                ticket.portal = path_of(found.group(0))
        rng = self.rng
        later = self.clock.now()
        if mail.kind == "survey":
            if ticket.answers_survey and not ticket.survey_answered:
                ticket.survey_answered = True
                self.scheduler.at(later + timedelta(minutes=rng.uniform(10, 1800)), self._answer_survey(ticket, mail))
        elif mail.kind == "acknowledgement":
            if ticket.plan["portal_look"]:
                self.scheduler.at(later + timedelta(minutes=rng.uniform(2, 90)), self._requester_visit(ticket, "look"))
        elif mail.kind in ("status", "reply", "reminder"):
            delay = rng.uniform(20, 600) if mail.kind != "reply" else rng.uniform(10, 240)
            self.scheduler.at(later + timedelta(minutes=delay), self._requester_visit(ticket, mail.kind))

    # requesters ---------------------------------------------------------------------------------------------

    def _requester_visit(self, ticket: Ticket, why: str) -> Iterator[Any]:
        """The requester opens the request's page from a mail and may answer, confirm, approve or decline."""
        rng = self.rng
        if not ticket.portal:
            return
        browser = ticket.requester.browser
        page = browser.get(ticket.portal)
        if page.status != 200:
            self.notes[f"portal page answered {page.status}"] += 1
            return
        moves = [f for f in page.forms() if "/transitions" in f.action and "to" in f.hidden]
        status = moves[0].hidden.get("from", ticket.status) if moves else ticket.status
        ticket.status = status
        yield rng.uniform(20, 120)
        choice: str | None = None
        if status not in ticket.decided or why == "reminder":
            draw = rng.random()
            if status == "client_testing":
                choice = (
                    "completed"
                    if draw < 0.75
                    else ("in_progress" if draw < 0.85 and "failed" not in ticket.plan else None)
                )
            elif status == "estimate_pending_approval":
                choice = "approved" if draw < 0.8 else ("estimate_declined" if draw < 0.9 else None)
            elif status == "waiting_on_requester":
                choice = "comment" if draw < 0.85 else None
            elif why in ("reply", "look") and ticket.plan["follow_up"] and status not in self.done:
                choice = "comment"
                ticket.plan["follow_up"] = False
            if (
                why == "reminder"
                and choice is None
                and draw < 0.5
                and status in ("client_testing", "estimate_pending_approval")
            ):
                choice = "completed" if status == "client_testing" else "approved"
            ticket.decided.add(status)
        if choice is None:
            return
        if choice == "comment":
            body = words(rng, 8, 80)
            if ticket.channel == "mail" and ticket.last_mail is not None:
                self._reply_by_mail(ticket, body)
            else:
                form = page.form("/comments")
                if form is None:
                    return
                browser.post_form(form.action, {**form.hidden, "body": body}, csrf=False)
            self.notes["requester comments"] += 1
            if status not in self.done:
                ticket.status = "in_progress" if status == "waiting_on_requester" else status
                self._schedule_session(ticket)
            return
        form = next((f for f in moves if f.hidden.get("to") == choice), None)
        if form is None:
            return
        if choice == "in_progress":
            ticket.plan["failed"] = True
        fields = {**form.hidden, "comment": words(rng, 4, 30) if choice != "completed" else ""}
        browser.post_form(form.action, fields, csrf=False)
        self.notes[f"requester moves to {choice}"] += 1
        ticket.status = choice
        if choice not in self.done:
            self._schedule_session(ticket)

    def _reply_by_mail(self, ticket: Ticket, body: str) -> None:
        from email import message_from_bytes, policy

        sent = message_from_bytes(ticket.last_mail.raw, policy=policy.default)
        reply = EmailMessage()
        reply["From"] = f"{ticket.requester.name} <{ticket.requester.email}>"
        to = str(sent.get("Reply-To") or sent.get("From") or INBOUND)
        reply["To"] = to
        reply["Subject"] = "Re: " + str(sent.get("Subject", ""))
        reply["Message-ID"] = make_msgid(domain="customer.example")
        reply["In-Reply-To"] = str(sent.get("Message-ID", ""))
        reply["References"] = str(sent.get("Message-ID", ""))
        reply.set_content(
            body + "\n\nOn a earlier date the desk wrote:\n> " + ticket.last_mail.text[:400].replace("\n", "\n> ")
        )
        address = re.search(r"[^\s<>]+@[^\s<>]+", to)
        self._deliver_mail(reply, ticket.requester.email, address.group(0) if address else INBOUND)
        self.notes["requester replies by mail"] += 1

    def _answer_survey(self, ticket: Ticket, mail: Any) -> Iterator[Any]:
        links = re.findall(r"https://desk\.example\.org/surveys/[^\s\"<>]+", mail.text)
        if not links:
            self.notes["survey mail without a link"] += 1
            return
        rating = self.rng.choices([5, 4, 3, 2, 1], [45, 30, 12, 8, 5])[0]
        link = next((u for u in links if f"rating={rating}" in u), links[0])
        browser = ticket.requester.browser
        page = browser.get(path_of(link))
        yield self.rng.uniform(10, 90)
        form = next((f for f in page.forms() if "/surveys/" in f.action), None)
        if form is None:
            self.notes["survey page without a form"] += 1
            return
        comment = words(self.rng, 3, 40) if self.rng.random() < 0.6 else ""
        browser.post_form(form.action, {**form.hidden, "rating": str(rating), "comment": comment}, csrf=False)
        self.notes["surveys answered"] += 1

    # agents -------------------------------------------------------------------------------------------------

    def _agent_days(self, agent: Agent) -> Iterator[Any]:
        """Each working day: sign in at opening, the queue tab visible (and polling) until closing; the admin
        opens the reports page once in the afternoon."""
        for day in range(self.params.days):
            span = self.hours.span(self.params.start + timedelta(days=day))
            if span is None:
                continue
            opens, closes = span
            yield opens + timedelta(minutes=self.rng.uniform(0, 10))
            agent.visible = True
            yield from self._open_queue(agent, "open")
            if agent.admin:
                self.scheduler.at(closes - timedelta(minutes=self.rng.uniform(20, 60)), self._reports(agent))
            yield closes
            agent.visible = False

    def _sign_in(self, agent: Agent, page: Page) -> Generator[Any, None, Page]:
        browser = agent.browser
        if not page.path.startswith("/console/sign-in"):
            page = browser.get("/console/sign-in")
        form = page.form("/console/sign-in")
        hidden = form.hidden if form is not None else {}
        if agent.by_mail:
            before = len(agent.sign_in_links)
            browser.post_form("/console/sign-in", {**hidden, "email": agent.email}, csrf=False)
            yield self.rng.uniform(15, 60)  # the mail arrives; the agent clicks its link
            if len(agent.sign_in_links) > before:
                confirm = browser.get(path_of(agent.sign_in_links[-1]))
                form = confirm.form("/console/sign-in/confirm")
                if form is not None:
                    yield self.rng.uniform(1, 5)
                    done = browser.post_form(form.action, form.hidden, csrf=False)
                    agent.signed_in = True
                    self.notes["sign-ins by mailed link"] += 1
                    return done
            self.notes["mailed sign-in links that did not come"] += 1
        done = browser.post_form("/console/sign-in", {**hidden, "token": agent.token}, csrf=False)
        agent.signed_in = True
        self.notes["sign-ins with a token"] += 1
        return done

    def _console(self, agent: Agent, path: str) -> Generator[Any, None, Page]:
        """GET a console page, signing in first when the session has ended (a generator: signing in by mail
        waits for the mail); returns the page. A queue tab that stopped polling is opened again after signing in
        (the agent signs in from its "session ended" banner)."""
        page = agent.browser.get(path)
        if page.path.startswith("/console/sign-in"):
            page = yield from self._sign_in(agent, page)
            if page.path != path:
                page = agent.browser.get(path)
            if agent.queue_stopped and not path.startswith("/console?"):
                agent.queue_stopped = False
                self.scheduler.at(
                    self.clock.now() + timedelta(seconds=self.rng.uniform(5, 60)), self._open_queue(agent, "open")
                )
        agent.last_page = page
        return page

    def _open_queue(self, agent: Agent, view: str) -> Iterator[Any]:
        page = yield from self._console(agent, f"/console?view={view}")
        poll_url = page.attribute("data-poll-url")
        if poll_url is None:
            self.notes["queue page without polling"] += 1
            return
        agent.queue = {
            "poll": path_of(poll_url),
            "rows": path_of(page.attribute("data-rows-url") or ""),
            "token": page.attribute("data-token") or "",
        }
        first = page.attribute("data-poll-ms")
        longest = page.attribute("data-poll-max-ms")
        if first and longest and first.isdigit() and longest.isdigit():
            agent.queue["first_ms"], agent.queue["max_ms"] = first, longest
            self.poll_schedule = (
                f"from {int(first) / 1000:g} s, doubling while unchanged, at most {int(longest) / 1000:g} s"
            )
        agent.queue_loaded += 1
        agent.queue_stopped = False
        self.scheduler.at(self.clock.now(), self._poll(agent, agent.queue_loaded))

    def _poll(self, agent: Agent, loaded: int) -> Iterator[Any]:
        """console.js: poll with the change token while the tab is visible, and fetch the rows when it changed.
        With data-poll-ms and data-poll-max-ms on the page: first after data-poll-ms, twice as long after each
        unchanged answer up to data-poll-max-ms, back to data-poll-ms after a change; otherwise every 30 s. After
        a 401 (the session ended) the script either stops polling or keeps going, as the console.js served does."""
        backoff = "first_ms" in agent.queue
        first = int(agent.queue.get("first_ms", POLL_MS))
        longest = max(int(agent.queue.get("max_ms", POLL_MS)), first)
        interval = first
        while True:
            yield interval / 1000
            if agent.queue_loaded != loaded or not agent.visible:
                return
            url = agent.queue["poll"] + "&token=" + agent.queue["token"]
            answer = agent.browser.get(url, headers={"Accept": "application/json"}, assets=False)
            if answer.status == 401:
                agent.signed_in = False
                self.notes["polls answered 401 (session ended)"] += 1
                if self._stops_after_401(agent):
                    agent.queue_stopped = True
                    return
                continue
            if answer.status != 200:
                self.notes[f"polls answered {answer.status}"] += 1
                continue
            document = json.loads(answer.text)
            if document.get("changed"):
                agent.browser.get(agent.queue["rows"], headers={"Accept": "*/*"}, assets=False)
                agent.queue["token"] = document.get("token", "")
                interval = first
            elif backoff:
                interval = min(interval * 2, longest)

    def _stops_after_401(self, agent: Agent) -> bool:
        """Whether the console.js this browser loaded stops polling once a poll answered 401."""
        script = next(
            (text for path, text in agent.browser.assets.items() if "console" in path and path.endswith(".js")), ""
        )
        return bool(re.search(r"status === 401\)\s*\{\s*ended = true", script))

    def _reports(self, agent: Agent) -> Iterator[Any]:
        yield from self._console(agent, "/console/reports")
        self.notes["reports pages opened"] += 1

    def _schedule_session(self, ticket: Ticket, first: bool = False, after: timedelta | None = None) -> None:
        low, high = FIRST_LOOK[ticket.priority] if first else BETWEEN[self.workflows[ticket.type]]
        wait = after if after is not None else timedelta(minutes=self.rng.uniform(low, high))
        when = self.hours.add(self.clock.now(), wait)
        if ticket.pending is not None and ticket.pending <= when:
            return
        ticket.pending = when
        ticket.generation += 1
        self.scheduler.at(when, self._session(ticket, ticket.generation))

    def _owner(self, ticket: Ticket) -> Agent:
        if ticket.owner is None:
            team = self.teams[ticket.type]
            mates = [a for a in self.agents if a.team == team] or self.agents
            ticket.owner = mates[ticket.number % len(mates)]
        return ticket.owner

    def _session(self, ticket: Ticket, generation: int) -> Iterator[Any]:
        if generation != ticket.generation:
            return
        ticket.pending = None
        agent = self._owner(ticket)
        if not self.hours.is_open(self.clock.now()):
            self._schedule_session(ticket, after=timedelta(minutes=self.rng.uniform(5, 60)))
            return
        ticket.sessions += 1
        if agent.uses_api:
            yield from self._api_session(agent, ticket)
        else:
            yield from self._console_session(agent, ticket)

    def _actions(self, agent: Agent, ticket: Ticket, status: str) -> list[tuple[str, Any]]:
        """What the agent does on this look at the ticket, by its workflow and status."""
        plan = ticket.plan
        acts: list[tuple[str, Any]] = []
        if ticket.sessions == 1:
            acts.append(("assign_me", None))
            if ticket.priority != self.type_priority[ticket.type]:
                acts.append(("priority", ticket.priority))
        if plan["reassign_at"] == ticket.sessions and len(self.agents) > 1:
            other = next((a for a in self.agents if a is not agent and a.uses_api == agent.uses_api), None)
            if other is not None:
                acts.append(("assign", other))
        if plan["note_at"] == ticket.sessions:
            acts.append(("note", words(self.rng, 10, 60)))
        workflow = self.workflows[ticket.type]
        reply = words(self.rng, 20, 120)
        step: tuple[str, Any] | None = None
        if workflow == "question":
            if status == "submitted":
                step = ("reply", (reply, "resolved" if plan["quick"] else "in_progress"))
            elif status == "in_progress":
                if plan["ask"] and not plan.get("asked"):
                    plan["asked"] = True
                    step = ("reply", (reply, "waiting_on_requester"))
                else:
                    step = ("reply", (reply, "resolved"))
            elif status == "waiting_on_requester" and plan.get("chased"):
                step = ("reply", (reply, "resolved"))
        elif workflow == "defect":
            moves = {
                "approved": "in_progress",
                "in_progress": "ready_to_test",
                "ready_to_test": "in_testing",
            }
            if status == "submitted":
                step = ("reply", (reply, "in_review"))
            elif status == "in_review":
                step = ("reply", (reply, "cannot_replicate")) if plan["no_repro"] else ("move", "approved")
            elif status in moves:
                step = ("move", moves[status])
            elif status == "in_testing":
                if plan["test_fails"] and not plan.get("retested"):
                    plan["retested"] = True
                    step = ("move", "in_progress")
                else:
                    step = ("move", "ready_to_install")
            elif status == "ready_to_install":
                step = ("reply", (reply, "client_testing"))
        else:
            moves = {"needs_estimate": "estimate_ready", "approved": "in_progress"}
            if status == "submitted":
                step = ("reply", (reply, "needs_estimate"))
            elif status in moves:
                step = ("move", moves[status])
            elif status == "estimate_ready":
                step = ("reply", (reply, "estimate_pending_approval"))
            elif status == "in_progress":
                step = ("reply", (reply, "completed"))
        if step is not None:
            acts.append(step)
        return acts

    def _after_session(self, ticket: Ticket) -> None:
        status = ticket.status
        if status == "waiting_on_requester" and not ticket.plan.get("chased"):
            ticket.plan["chased"] = True  # no answer in three working days: the agent resolves it
            self._schedule_session(ticket, after=timedelta(hours=24))
        elif status not in self.done and status not in self.waiting:
            self._schedule_session(ticket)

    def _console_session(self, agent: Agent, ticket: Ticket) -> Iterator[Any]:
        rng = self.rng
        view = "unassigned" if ticket.sessions == 1 else ("mine" if rng.random() < 0.4 else None)
        if view is not None:
            yield from self._open_queue(agent, view)
            yield rng.uniform(5, 40)
        if rng.random() < 0.03:
            agent.browser.get(f"/console/search?q={urlencode({'q': ticket.requester.email})[2:]}")
            yield rng.uniform(5, 20)
        page = yield from self._console(agent, f"/console/tickets/{ticket.id}")
        status = self._status_on(page) or ticket.status
        ticket.status = status
        acts = self._actions(agent, ticket, status)
        yield from self._dwell(agent, page, rng.uniform(40, 150), typing=bool(acts))
        for what, value in acts:
            page = self._console_act(agent, ticket, page, what, value)
            yield from self._dwell(agent, page, rng.uniform(15, 80) if what != acts[-1][0] else rng.uniform(5, 30))
        self._after_session(ticket)

    def _status_on(self, page: Page) -> str | None:
        found = re.search(r'<span class="status-pill">([^<]+)</span>', page.text)
        if not found:
            return None
        label = found.group(1).strip()
        return next((k for k, v in self.labels.items() if v == label), None)

    def _dwell(self, agent: Agent, page: Page, seconds: float, typing: bool = False) -> Iterator[Any]:
        """The ticket page stays open: console.js's presence heartbeat every 20 s."""
        beat_url = page.attribute("data-presence-url")
        spent = 0.0
        while spent + BEAT_S <= seconds:
            yield BEAT_S
            spent += BEAT_S
            if beat_url:
                fields = {"csrf": agent.browser.csrf, "typing": "1" if typing else "0"}
                agent.browser.post_form(path_of(beat_url), fields, accept="application/json", assets=False)
        yield seconds - spent

    def _console_act(self, agent: Agent, ticket: Ticket, page: Page, what: str, value: Any) -> Page:
        browser = agent.browser
        tid = ticket.id
        if what in ("reply", "note"):
            body, move = (value, "") if what == "note" else value
            form = page.form("/reply")
            if form is None:
                return page
            fields = {**form.hidden, "kind": "note" if what == "note" else "reply", "body": body, "move_to": move}
            answer = browser.post_form(form.action, fields)
            if move and answer.status == 200:
                ticket.status = move
            self.notes[f"console {what}"] += 1
        elif what == "move":
            form = page.form("/transition")
            if form is None:
                return page
            answer = browser.post_form(form.action, {**form.hidden, "to": value})
            if answer.status == 200:
                ticket.status = value
            self.notes["console transition"] += 1
        elif what == "assign_me":
            form = page.form("/change")
            if form is None or "assign_me" not in form.hidden:
                return page
            answer = browser.post_form(form.action, form.hidden)
            self.notes["console assign to me"] += 1
        else:
            forms = [f for f in page.forms() if f.action.endswith("/change") and "assign_me" not in f.hidden]
            if not forms:
                return page
            field_value = value if what == "priority" else value.id
            answer = browser.post_form(
                forms[0].action, {**forms[0].hidden, what if what == "priority" else "assignee": field_value}
            )
            if what == "assign":
                ticket.owner = value
            self.notes[f"console {what}"] += 1
        if answer.status != 200 or not answer.path.startswith(f"/console/tickets/{tid}"):
            self.notes[f"console {what} answered {answer.status}"] += 1
        return answer

    def _api_session(self, agent: Agent, ticket: Ticket) -> Iterator[Any]:
        rng = self.rng
        headers = {
            "Authorization": f"Bearer {agent.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        browser = agent.browser

        def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            page = browser.request(
                method, path, headers=headers, body=None if body is None else json.dumps(body), assets=False
            )
            return page.status, json.loads(page.text) if page.text else None

        if ticket.sessions == 1 or rng.random() < 0.5:
            call(
                "GET",
                f"/tickets?assignee={agent.id}" if ticket.sessions > 1 else f"/tickets?team={self.teams[ticket.type]}",
            )
            yield rng.uniform(5, 30)
        code, shown = call("GET", f"/tickets/{ticket.id}")
        if code != 200:
            self.notes[f"API ticket read answered {code}"] += 1
            return
        if rng.random() < 0.2:
            call("GET", f"/tickets/{ticket.id}/history")
        shown_status = shown.get("status", ticket.status)
        status = shown_status.get("key", ticket.status) if isinstance(shown_status, dict) else str(shown_status)
        ticket.status = status
        version = shown.get("version", 1)
        yield rng.uniform(40, 150)
        for what, value in self._actions(agent, ticket, status):
            if what in ("reply", "note"):
                body, move = (value, None) if what == "note" else value
                code, answer = call("POST", f"/tickets/{ticket.id}/comments", {"body": body, "public": what == "reply"})
                version = (answer or {}).get("version", version) if code < 300 else version
                if move:
                    code, shown = call("GET", f"/tickets/{ticket.id}")
                    version = (shown or {}).get("version", version)
                    code, answer = call("POST", f"/tickets/{ticket.id}/transitions", {"to": move, "version": version})
                    if code < 300:
                        ticket.status = move
                        version = (answer or {}).get("version", version)
            elif what == "move":
                code, answer = call("POST", f"/tickets/{ticket.id}/transitions", {"to": value, "version": version})
                if code < 300:
                    ticket.status = value
                    version = (answer or {}).get("version", version)
            else:
                change = {"assign_me": {"assignee": agent.id}, "priority": {"priority": value}}.get(what)
                if what == "assign":
                    change = {"assignee": value.id}
                    ticket.owner = value
                code, answer = call("PATCH", f"/tickets/{ticket.id}", {**(change or {}), "version": version})
                if code < 300:
                    version = (answer or {}).get("version", version)
            self.notes[f"API {what}"] += 1
            if code >= 300:
                self.notes[f"API {what} answered {code}"] += 1
            yield rng.uniform(15, 80)
        self._after_session(ticket)


def load_capacity() -> Any:
    """localdesk/capacity.py's ledger (DynamoDB's request units from the real item state), if it is there."""
    try:
        from localdesk.capacity import CapacityModel
    except ImportError:
        return None
    return CapacityModel()


def png(size: int) -> bytes:
    """A real PNG header and chunk structure around `size` bytes of data, as a screenshot would be sent."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    noise = random.Random(size).randbytes(size)  # noqa: S311 - filler bytes
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", noise) + chunk(b"IEND", b"")


def pdf(size: int) -> bytes:
    body = random.Random(size + 1).randbytes(size)  # noqa: S311 - filler bytes
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Length "
        + str(size).encode()
        + b" >>\nstream\n"
        + body
        + b"\nendstream\nendobj\n%%EOF\n"
    )


def started_at(params: Params) -> datetime:
    return datetime.combine(params.start, time(0, 0), UTC)
