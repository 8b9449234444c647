"""The composition root: builds the desk's services with their adapters, once, on first use."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from chalicelib.adapters.settings import Settings
from chalicelib.services.desk import Desk
from chalicelib.services.ports import Clock, EventStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from chalicelib.adapters.console import DynamoChangeMarks
    from chalicelib.adapters.eventbridge import EventBridgeBus
    from chalicelib.domain.webhooks import Webhook
    from chalicelib.services.attachments import Attachments
    from chalicelib.services.console import Console
    from chalicelib.services.cost import CostReport
    from chalicelib.services.jobs import Jobs
    from chalicelib.services.mailing import Notifier, Postman
    from chalicelib.services.personal_data import PersonalData
    from chalicelib.services.pipeline import Pipeline
    from chalicelib.services.ports import SentMail
    from chalicelib.services.reports import Reports
    from chalicelib.services.saved_replies import SavedReplies
    from chalicelib.services.sessions import Sessions
    from chalicelib.services.surveys import Surveys
    from chalicelib.services.webhooks import Deliverer, DeliveryKey, EventsOut, Poster, WebhookAdmin

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
_events_out: EventsOut | None = None
_deliverer: Deliverer | None = None
_webhook_handoff: Callable[[list[DeliveryKey]], None] | None = None
_webhook_poster: Poster | None = None
_webhooks_bound_for: Desk | None = None
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
            _publishing(DynamoEventStore()),
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
            built.events,
            built.config,
            built.tickets,
            mail()[1],
            DynamoAgendaStore(),
            DynamoStatsStore(),
            built.clock,
            erased=lambda before: personal_data().settle(before),
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
            desk(),
            DynamoAgendaStore(),
            notifier,
            postman,
            DynamoOptOutStore(),
            lambda t, c: pipeline().refresh(t, c),
            lambda: deliverer().retry_due(),
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


def personal_data() -> PersonalData:
    """A requester's export and erasure, and the retention job; the report recount goes through the pipeline."""
    from chalicelib.adapters.personal_data import DynamoPersonalDataStore
    from chalicelib.adapters.raw_mail import RawMailSettings
    from chalicelib.adapters.surveys import DynamoSurveyStore
    from chalicelib.services.personal_data import PersonalData

    return PersonalData(
        desk(),
        DynamoPersonalDataStore(RawMailSettings.from_env(os.environ)),
        DynamoSurveyStore(),
        attachments,
        lambda ticket_id, config: pipeline().refresh(ticket_id, config),
    )


def _publishing(events: EventStore) -> EventStore:
    """The history store that publishes each event it writes for the first time (chalicelib/services/webhooks.py)."""
    from chalicelib.services.webhooks import PublishingEventStore

    return PublishingEventStore(events, events_out)


def _bind_webhooks() -> None:
    """Once per built desk (which binds the tables and the meter first): a model rebound makes a new connection."""
    global _webhooks_bound_for
    built = desk()
    if _webhooks_bound_for is not built:
        from chalicelib.adapters import webhooks as records

        config = settings()
        records.bind(config.desk_table, config.events_table, config.region)
        _webhooks_bound_for = built


def runs_locally() -> bool:
    """The local run (localdesk/) says so: webhooks may then target http://localhost."""
    return os.environ.get("HELPDESK_LOCAL_RUN") == "1"


def webhook_admin() -> WebhookAdmin:
    import secrets

    from chalicelib.adapters.webhooks import DynamoDeliveryLog, DynamoSecretOffers, DynamoWebhookStore
    from chalicelib.services.webhooks import WebhookAdmin

    _bind_webhooks()
    built = desk()
    return WebhookAdmin(
        DynamoWebhookStore(),
        DynamoDeliveryLog(),
        built.clock,
        built.ids,
        lambda: "whsec_" + secrets.token_urlsafe(32),
        local=runs_locally(),
        offers=DynamoSecretOffers(),
    )


def use_webhook_handoff(handoff: Callable[[list[DeliveryKey]], None] | None, poster: Poster | None = None) -> None:
    """How deliveries reach the deliverer when no webhook_sender function is deployed (the local run's thread), and
    how it POSTs (the local run's, outside its gate)."""
    global _webhook_handoff, _webhook_poster, _events_out, _deliverer
    _webhook_handoff, _webhook_poster, _events_out, _deliverer = handoff, poster, None, None


def _handoff() -> Callable[[list[DeliveryKey]], None]:
    """Deployed: an asynchronous invocation of webhook_sender. The local run: its own (a thread). Otherwise (the
    tests): the deliverer right away, in this call."""
    function = os.environ.get("HELPDESK_WEBHOOK_SENDER_FUNCTION", "").strip()
    if function:
        from chalicelib.adapters.webhook_transport import LambdaHandoff

        return LambdaHandoff(function, settings().region)
    if _webhook_handoff is not None:
        return _webhook_handoff

    def inline(keys: list[DeliveryKey]) -> None:
        deliverer().deliver(keys)

    return inline


def events_out() -> EventsOut:
    """The bus (when the stage names one) and the webhooks; boto3's EventBridge client loads on the first put."""
    global _events_out
    if _events_out is None:
        from chalicelib.adapters.webhooks import DynamoDeliveryStore, DynamoWebhookStore
        from chalicelib.services.webhooks import EventsOut

        _bind_webhooks()
        built = desk()
        tickets = built.tickets
        _events_out = EventsOut(
            DynamoWebhookStore(), DynamoDeliveryStore(), tickets.get, built.clock, _handoff(), _event_bus()
        )
    return _events_out


def _event_bus() -> EventBridgeBus | None:
    """The stage's bus (HELPDESK_EVENT_BUS), or none; boto3's EventBridge client loads on the first put."""
    bus_name = os.environ.get("HELPDESK_EVENT_BUS", "").strip()
    if not bus_name:
        return None
    from chalicelib.adapters.eventbridge import EventBridgeBus

    return EventBridgeBus(bus_name, settings().region)


def deliverer() -> Deliverer:
    global _deliverer
    if _deliverer is None:
        from chalicelib.adapters.clock import SystemClock
        from chalicelib.adapters.webhook_transport import HttpPoster
        from chalicelib.adapters.webhooks import DynamoDeliveryLog, DynamoDeliveryStore, DynamoWebhookStore
        from chalicelib.services.webhooks import Deliverer

        _bind_webhooks()
        built = desk()
        _deliverer = Deliverer(
            DynamoWebhookStore(),
            DynamoDeliveryStore(),
            DynamoDeliveryLog(),
            _webhook_poster or HttpPoster(local=runs_locally()),
            built.clock,
            _handoff(),
            _tell_admins,
            signing_clock=SystemClock(),
            bus=_event_bus(),
        )
    return _deliverer


def _tell_admins(webhook: Webhook, last_answer: str) -> None:
    """One mail per admin through the outbox, keyed by the switch-off, so it is sent once."""
    from chalicelib.services.mailing import admin_letters
    from chalicelib.services.webhooks import OWNER, switched_off_context, switched_off_key

    postman, _ = mail()
    built = desk()
    config = built.config()
    console_url = f"{settings().public_url or LOCAL_URL}/console/admin/webhooks/{webhook.id}"
    context = switched_off_context(webhook, config.desk.name, console_url, last_answer)
    letters = admin_letters(built.store.list_agents(), OWNER, switched_off_key(webhook), "webhook_off", context)
    if letters:
        postman.post(letters, config)


def reset(clock: Clock | None = None, on_sent: Callable[[SentMail], None] | None = None) -> None:
    """Forget the built services and settings (tests and the local run rebuild them from a new environment).

    `on_sent` is told of every mail SES accepted (the local run lists them and writes .eml files).
    """
    global _settings, _desk, _pipeline, _clock, _on_sent, _mail, _jobs, _surveys, _reports, _sessions, _console
    _settings, _desk, _pipeline, _clock, _on_sent = None, None, None, clock, on_sent
    _mail, _jobs, _surveys, _reports, _sessions, _console = None, None, None, None, None, None
    global _saved_replies, _attachments
    _saved_replies, _attachments = None, None
    global _events_out, _deliverer, _webhook_handoff, _webhook_poster, _webhooks_bound_for
    _events_out, _deliverer, _webhook_handoff, _webhook_poster, _webhooks_bound_for = None, None, None, None, None
