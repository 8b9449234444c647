"""Starts moto, builds the tables from infra/, seeds the desk, serves app.py; Ctrl-C stops it all."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from localdesk.environment import STAGE, Listen, SetupError, chalice_config, listen_address, prepare, use_tables
from localdesk.smtp import DEFAULT_SMTP_PORT

if TYPE_CHECKING:
    from chalice import Chalice
    from chalice.local import LocalDevServer

    from localdesk.capacity import CapacityModel
    from localdesk.jobs import JobRunner
    from localdesk.mail import MailLog
    from localdesk.server import Gate
    from localdesk.smtp import InboundDelivery, SMTPListen
    from localdesk.streams import StreamPoller

ADMIN = {"name": "Local admin", "email": "admin@example.org", "role": "admin"}
STACK_NAME = "helpdesk"


class LocalDesk:
    """The running pieces, started in order and stopped in reverse; `stop()` is safe after a partial start."""

    def __init__(self, listen: Listen) -> None:
        self.listen = listen
        self.admin_token = ""
        self.sign_in_link = ""
        self._mock: Any = None
        self._gate: Gate | None = None
        self._server: LocalDevServer | None = None
        self._serving: threading.Thread | None = None
        self._poller: StreamPoller | None = None
        self._jobs: JobRunner | None = None
        self._smtp: Any = None
        self.smtp_listen: SMTPListen | None = None
        self.inbound: InboundDelivery | None = None
        self.mail_log: MailLog | None = None
        self.capacity: CapacityModel | None = None  # DynamoDB's billing of every call, in place of moto's constants

    def start(self) -> None:
        # Heavy imports happen here, after the signal handlers are in place and the environment is set.
        import boto3
        from chalice.config import Config
        from moto import mock_aws

        from chalicelib import wiring
        from chalicelib.adapters.clock import AdjustableClock
        from chalicelib.adapters.raw_mail import RawMailSettings, RawMailStore
        from infra.tables import create_stack
        from localdesk.capacity import CapacityModel
        from localdesk.jobs import JobRunner
        from localdesk.mail import MailLog
        from localdesk.motofix import install as install_moto_fix
        from localdesk.routes import register_local_routes
        from localdesk.server import Gate, build_server
        from localdesk.smtp import InboundDelivery, smtp_listen, start_smtp
        from localdesk.webhooks import install as install_webhooks

        self._gate = Gate()  # everything that touches moto from another thread takes its turn here
        config = Config(chalice_stage=STAGE, config_from_disk=chalice_config())
        prepare(os.environ, self.listen, config.environment_variables)
        install_moto_fix()  # moto's transactions would otherwise slow down as the tables fill
        self._mock = mock_aws()
        self._mock.start()
        self.capacity = CapacityModel()
        self.capacity.install()  # before any DynamoDB client: each answers the ConsumedCapacity DynamoDB would
        region = os.environ["AWS_DEFAULT_REGION"]
        outputs = create_stack(boto3.client("cloudformation", region_name=region), STACK_NAME)
        use_tables(os.environ, outputs)
        # SES refuses to send from an address that is not a verified identity, in moto as in AWS.
        boto3.client("ses", region_name=region).verify_email_identity(EmailAddress=os.environ["HELPDESK_SENDER_EMAIL"])

        clock = AdjustableClock()
        self.mail_log = MailLog().start()
        wiring.reset(clock=clock, on_sent=self.mail_log.record)
        desk = wiring.desk()
        desk.seed_config()
        admin, self.admin_token = desk.create_agent(ADMIN, token=os.environ.get("HELPDESK_ADMIN_TOKEN") or None)
        # One click from the banner into the console: a one-time link, as the sign-in mail would carry.
        self.sign_in_link = wiring.sessions().new_link(admin, f"{self.listen.url}/console/sign-in/confirm", 12 * 60)

        app = _deployed_app()
        timeout_ms = (config.lambda_timeout or 20) * 1000  # the stage's Lambda timeout, as the jobs get when deployed
        self._jobs = JobRunner.for_app(app, self._gate.turn, now=clock.now, timeout_ms=timeout_ms)
        raw_mail = RawMailStore(RawMailSettings.from_env(os.environ), boto3.client("s3", region_name=region))
        address = os.environ["HELPDESK_INBOUND_ADDRESS"]
        self.inbound = InboundDelivery.for_app(app, raw_mail, address, self._gate.turn, clock.now)
        register_local_routes(app, clock, self._jobs, self.mail_log, self.inbound)
        install_webhooks(app, self._gate, region)  # the local bus; deliveries in a thread, within seconds
        self._poller = stream_poller(app, outputs["TicketsTableStreamArn"], region, self._gate)
        self._poller.start()
        self._jobs.start()
        self.smtp_listen = smtp_listen(os.environ.get("HELPDESK_SMTP_PORT", ""))
        self._smtp = start_smtp(self.inbound, self.smtp_listen)
        try:
            self._server = build_server(app, config, self.listen.host, self.listen.port, self._gate)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SetupError(f"port {self.listen.port} is already in use: set PORT to a free one") from None
            raise SetupError(f"cannot listen on {self.listen.host}:{self.listen.port}: {exc.strerror}") from None
        self._serving = threading.Thread(target=self._server.server.serve_forever, name="localdesk-http")
        self._serving.start()

    def jobs_text(self) -> str:
        """E.g. "stale_sweep rate(1 hour), sla_sweep rate(5 minutes)"."""
        if self._jobs is None or not self._jobs.names:
            return "none"
        return ", ".join(f"{job['name']} {job['schedule']}" for job in self._jobs.listing())

    def wait(self) -> None:
        """Until a signal interrupts the main thread (the HTTP server only stops when told to)."""
        while self._serving is not None and self._serving.is_alive():
            self._serving.join(0.5)

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._jobs is not None:
            self._jobs.stop()
        if self._poller is not None:
            self._poller.stop()
        if self._server is not None:
            if self._serving is not None and self._serving.is_alive():
                self._server.shutdown()
                self._serving.join()
            self._server.server.server_close()
        if self._gate is not None:
            self._gate.close()  # a request still running finishes; later ones are refused before moto goes
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self.capacity is not None:
            self.capacity.uninstall()


def stream_poller(app: Chalice, stream_arn: str, region: str, gate: Gate) -> StreamPoller:
    """What Lambda's event source mapping does when deployed: feed the stream to `ticket_changes`."""
    import boto3
    from chalice.local import LambdaContext

    from localdesk.streams import StreamPoller, StreamReader

    handler = app.handler_map["ticket_changes"]
    context = LambdaContext("ticket_changes", memory_size=512)
    reader = StreamReader(boto3.client("dynamodbstreams", region_name=region), stream_arn, region)
    return StreamPoller(reader, lambda event: handler(event, context), gate.turn)


def _deployed_app() -> Chalice:
    """app.py as deployed, unchanged; the local routes are added to this object only, never in app.py."""
    try:
        from app import app
    except ModuleNotFoundError as exc:
        if exc.name != "app":
            raise
        raise SetupError("no app.py found: run this from the repository root (make run does)") from None
    return app


def banner(desk: LocalDesk, seconds: float) -> str:
    url = desk.listen.url
    token = desk.admin_token
    chosen = "from HELPDESK_ADMIN_TOKEN" if os.environ.get("HELPDESK_ADMIN_TOKEN") else "new for this run"
    mail_dir = desk.mail_log.directory if desk.mail_log is not None else "-"
    jobs = desk.jobs_text()
    address = desk.inbound.address.address if desk.inbound is not None else "-"
    smtp = desk.smtp_listen
    smtp_text = f"smtp://{smtp.host}:{smtp.port}" if smtp is not None else "-"
    if smtp is not None and not smtp.chosen and smtp.port != DEFAULT_SMTP_PORT:
        smtp_text += f"   ({DEFAULT_SMTP_PORT} is taken: set HELPDESK_SMTP_PORT to choose)"
    return "\n".join(
        [
            "",
            "Help desk, local run: AWS is moto inside this process; all data is in memory and gone on stop.",
            "",
            f"  Console      {desk.sign_in_link}",
            f"               (a one-time sign-in link for the admin, valid 12 hours; afterwards {url}/console)",
            f"  Desk API     {url}",
            f"  Web form     {url}/form",
            f"  Admin token  {token}   ({chosen}; set HELPDESK_ADMIN_TOKEN to choose it)",
            f"  Mail folder  {mail_dir}   (every mail sent, as an .eml file; set HELPDESK_MAIL_DIR to move it)",
            f"  Jobs         {jobs}",
            f"  Mail in      {address} at {smtp_text}",
            "               (any mail client, swaks or smtplib; or POST a raw message/rfc822 to /_local/inbound)",
            "",
            "  Try:",
            f'    export TOKEN="{token}"',
            f'    curl -H "Authorization: Bearer $TOKEN" {url}/tickets',
            f"    curl -X POST -H 'Content-Type: application/json' -d '{{\"advance\": \"5d\"}}' {url}/_local/clock",
            f"    curl {url}/_local/outbox                    # the mails sent, newest last",
            f"    curl {url}/_local/jobs                      # the scheduled jobs and their last runs",
            f"    curl -X POST {url}/_local/jobs/stale_sweep  # run one now",
            f"    curl '{url}/_local/search?text=rosa@example.org'  # every stored item and file holding it",
            f"    curl -X POST -H 'Content-Type: message/rfc822' --data-binary @mail.eml {url}/_local/inbound",
            "",
            "  Ctrl-C to stop.",
            "",
            f"Desk ready on {url}   (started in {seconds:.1f} s)",
        ]
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    started = time.monotonic()
    status = 0
    desk: LocalDesk | None = None
    try:
        desk = LocalDesk(listen_address(os.environ))
        print("Starting the local desk...", flush=True)
        desk.start()
        print(banner(desk, time.monotonic() - started), flush=True)
        desk.wait()
    except KeyboardInterrupt:
        pass
    except SetupError as exc:
        print(f"localdesk: {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        # A second Ctrl-C while stopping would only leave moto half torn down.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if desk is not None:
            print("\nStopping...", flush=True)
            desk.stop()
            print("Stopped.", flush=True)
    return status
