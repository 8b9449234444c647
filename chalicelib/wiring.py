"""The composition root: builds the desk's services with their adapters, once, on first use."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from chalicelib.adapters.settings import Settings
from chalicelib.services.desk import Desk
from chalicelib.services.ports import Clock

if TYPE_CHECKING:
    from collections.abc import Callable

    from chalicelib.adapters.console import DynamoChangeMarks
    from chalicelib.services.attachments import Attachments
    from chalicelib.services.console import Console
    from chalicelib.services.cost import CostReport
    from chalicelib.services.jobs import Jobs
    from chalicelib.services.mailing import Notifier, Postman
    from chalicelib.services.pipeline import Pipeline
    from chalicelib.services.ports import SentMail
    from chalicelib.services.reports import Reports
    from chalicelib.services.saved_replies import SavedReplies
    from chalicelib.services.sessions import Sessions
    from chalicelib.services.surveys import Surveys

_settings: Settings | None = None
_desk: Desk | None = None
_pipeline: Pipeline | None = None
_clock: Clock | None = None
_on_sent: Callable[[SentMail], None] | None = None
_mail: tuple[Postman, Notifier] | None = None
_jobs: Jobs | None = None
_surveys: Surveys | None = None
_reports: Reports | None = None
_saved_replies: SavedReplies | None = None
_sessions: Sessions | None = None
_console: Console | None = None
_attachments: Attachments | None = None
LOCAL_URL = "http://127.0.0.1:8000"


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env(os.environ)
    return _settings


def desk() -> Desk:
    """Imports PynamoDB only here, so a handler that never touches DynamoDB never pays for it."""
    global _desk
    if _desk is None:
        from chalicelib.adapters.clock import SystemClock
        from chalicelib.adapters.dynamo import DynamoDeskStore, DynamoTicketStore
        from chalicelib.adapters.events import DynamoEventStore
        from chalicelib.adapters.ids import UlidSource
        from chalicelib.adapters.public_holidays import LibraryHolidays
        from chalicelib.adapters.records import bind_tables

        config = settings()
        bind_tables(config.tickets_table, config.desk_table, config.events_table, config.region)
        _desk = Desk(
            DynamoTicketStore(),
            DynamoDeskStore(),
            _clock or SystemClock(),
            UlidSource(),
            DynamoEventStore(),
            LibraryHolidays(),
        )
    return _desk


def mail() -> tuple[Postman, Notifier]:
    """The outbox, SES and the templates; imported only by the handlers that send mail."""
    global _mail
    if _mail is None:
        from chalicelib.adapters.outbox import DynamoOutboxStore
        from chalicelib.adapters.ses import SesMailer
        from chalicelib.mail.compose import TemplateComposer
        from chalicelib.services.mailing import Links, Notifier, Postman

        config = settings()
        built = desk()
        mailer = SesMailer(config.region, config.ses_configuration_set)
        postman = Postman(
            DynamoOutboxStore(),
            mailer,
            TemplateComposer(),
            built.clock,
            config.sender_email,
            on_sent=_on_sent,
            inbound_address=config.inbound_address,
            secret=built.store.signing_secret,
            files=attachments,  # built on the first mail about a comment; S3 only when a mail carries a file
        )
        links = Links(config.public_url or LOCAL_URL, built.store.signing_secret, built.clock)
        _mail = (postman, Notifier(built.store, postman, links, files=attachments))
    return _mail


def pipeline() -> Pipeline:
    """The stream pipeline, reading the desk's configuration through the same (cached) desk."""
    global _pipeline
    if _pipeline is None:
        from chalicelib.adapters.agenda import DynamoAgendaStore
        from chalicelib.adapters.stats import DynamoStatsStore
        from chalicelib.services.pipeline import Pipeline

        built = desk()
        _pipeline = Pipeline(
            built.events, built.config, built.tickets, mail()[1], DynamoAgendaStore(), DynamoStatsStore(), built.clock
        )
    return _pipeline


def jobs() -> Jobs:
    global _jobs
    if _jobs is None:
        from chalicelib.adapters.agenda import DynamoAgendaStore
        from chalicelib.adapters.surveys import DynamoOptOutStore
        from chalicelib.services.jobs import Jobs

        postman, notifier = mail()
        # The pipeline (and the report modules) load only when a job records something the reports count.
        _jobs = Jobs(
            desk(), DynamoAgendaStore(), notifier, postman, DynamoOptOutStore(), lambda t, c: pipeline().refresh(t, c)
        )
    return _jobs


def surveys() -> Surveys:
    global _surveys
    if _surveys is None:
        from chalicelib.adapters.surveys import DynamoOptOutStore, DynamoSurveyStore
        from chalicelib.services.surveys import Surveys

        _surveys = Surveys(desk(), DynamoSurveyStore(), DynamoOptOutStore())
    return _surveys


def reports() -> Reports:
    global _reports
    if _reports is None:
        from chalicelib.adapters.stats import DynamoStatsStore
        from chalicelib.services.reports import Reports

        built = desk()
        _reports = Reports(DynamoStatsStore(), built.config, built.store, built.clock)
    return _reports


def saved_replies() -> SavedReplies:
    global _saved_replies
    if _saved_replies is None:
        from chalicelib.adapters.saved_replies import DynamoSavedReplyStore
        from chalicelib.services.saved_replies import SavedReplies

        built = desk()
        _saved_replies = SavedReplies(DynamoSavedReplyStore(), built.config, built.clock, built.ids)
    return _saved_replies


def sessions() -> Sessions:
    """Console sign-in and sessions; the sign-in mail goes through the desk's outbox like every other mail."""
    global _sessions
    if _sessions is None:
        from datetime import timedelta

        from chalicelib.adapters.console import DynamoSessionStore
        from chalicelib.domain.agents import Agent
        from chalicelib.services.sessions import Sessions

        built = desk()

        def send_link(agent: Agent, link: str, minutes: int) -> None:
            import secrets

            from chalicelib.services.mailing import sign_in_letter

            postman, _ = mail()
            config = built.config()
            letter = sign_in_letter(
                agent.email, agent.name, agent.id, link, minutes, config.desk.name, secrets.token_hex(8)
            )
            postman.post([letter], config)

        config = settings()
        _sessions = Sessions(
            DynamoSessionStore(),
            built.store,
            built.clock,
            built.authenticate,
            send_link,
            idle=timedelta(minutes=config.session_idle_minutes),
            lifetime=timedelta(hours=config.session_hours),
        )
    return _sessions


def change_marks() -> DynamoChangeMarks:
    from chalicelib.adapters.console import DynamoChangeMarks

    return DynamoChangeMarks()


def console() -> Console:
    global _console
    if _console is None:
        from chalicelib.adapters.console import DynamoChangeMarks, DynamoPresenceStore
        from chalicelib.adapters.stats import DynamoStatsStore
        from chalicelib.services.console import Console

        stats = DynamoStatsStore()
        _console = Console(desk(), DynamoPresenceStore(), DynamoChangeMarks(), stats.open_counts)
    return _console


def attachments() -> Attachments:
    """Files on tickets: records beside the ticket, bytes in the attachments bucket, limits from the desk's
    configuration (read on each use, so an admin's change applies at once). boto3's S3 loads on first use."""
    global _attachments
    if _attachments is None:
        from chalicelib.adapters import attachment_records
        from chalicelib.adapters.attachment_store import AttachmentStoreSettings, S3AttachmentStore
        from chalicelib.services.attachments import Attachments

        config = settings()
        built = desk()
        attachment_records.bind(config.tickets_table, config.region)
        _attachments = Attachments(
            attachment_records.DynamoAttachmentRecords(),
            S3AttachmentStore(AttachmentStoreSettings.from_env(os.environ)),
            built.clock,
            built.ids,
            lambda: built.config().attachments,
        )
    return _attachments


def cost() -> CostReport:
    """The cost estimate: the meter's counters (chalicelib/adapters/meter.py) and the reports' tickets opened."""
    from chalicelib.adapters.meter import DynamoMeterReadings
    from chalicelib.adapters.stats import DynamoStatsStore
    from chalicelib.services.cost import CostReport

    built = desk()
    return CostReport(DynamoMeterReadings(), DynamoStatsStore(), built.config, built.clock)


def reset(clock: Clock | None = None, on_sent: Callable[[SentMail], None] | None = None) -> None:
    """Forget the built services and settings (tests and the local run rebuild them from a new environment).

    `on_sent` is told of every mail SES accepted (the local run lists them and writes .eml files).
    """
    global _settings, _desk, _pipeline, _clock, _on_sent, _mail, _jobs, _surveys, _reports, _sessions, _console
    _settings, _desk, _pipeline, _clock, _on_sent = None, None, None, clock, on_sent
    _mail, _jobs, _surveys, _reports, _sessions, _console = None, None, None, None, None, None
    global _saved_replies, _attachments
    _saved_replies, _attachments = None, None
