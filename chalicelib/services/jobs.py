"""The scheduled jobs: stale reminders, SLA alerts, surveys and outbox retries. Each reads only what is due,
through the due index, and is safe to rerun: every step is keyed by its cause and conditional on what it read."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import notices as rules
from chalicelib.domain import tickets as ticket_rules
from chalicelib.domain.config import DeskConfig, StaleRule
from chalicelib.domain.errors import StaleVersionError, TransitionNotAllowedError
from chalicelib.domain.history import (
    REMINDER_SENT,
    SLA_AT_RISK,
    SLA_BREACHED,
    SURVEY_SENT,
    HistoryEvent,
    job_event,
)
from chalicelib.domain.notices import TO_ASSIGNEE, TO_REQUESTER, TO_TEAM, Notice, SlaAlert
from chalicelib.domain.sla import Tracker
from chalicelib.domain.tickets import SYSTEM, Actor, Ticket, stamp
from chalicelib.services.desk import Desk
from chalicelib.services.mailing import Notifier, Postman
from chalicelib.services.ports import STALE, SURVEY, AgendaEntry, AgendaStore, OptOutStore

logger = logging.getLogger("helpdesk.jobs")
BATCH = 200  # per run; what is left is due on the next run
STALE_ACTOR = Actor(role=SYSTEM, id="stale_sweep", name="Desk automation")
SLA_ACTOR = "system:sla_sweep"
SURVEY_ACTOR = "system:survey_sender"


class Jobs:
    def __init__(
        self,
        desk: Desk,
        agenda: AgendaStore,
        notifier: Notifier,
        postman: Postman,
        optouts: OptOutStore,
        refresh: Callable[[str, DeskConfig], Tracker | None] | None = None,
        webhook_retries: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self.desk = desk
        self.agenda = agenda
        self.notifier = notifier
        self.postman = postman
        self.optouts = optouts
        # Recounts a ticket's share of the reports after a job recorded a breach or a survey sent.
        self.refresh = refresh
        # Hands the webhook deliveries due for another attempt to their deliverer (chalicelib/services/webhooks.py).
        self.webhook_retries = webhook_retries

    # stale reminders ------------------------------------------------------------------------------

    def stale_sweep(self) -> dict[str, Any]:
        now = self.desk.clock.now()
        config = self.desk.config()
        tally = {"due": 0, "reminders": 0, "moved": 0, "dropped": 0, "deferred": 0}
        for entry in self.agenda.due(STALE, now, BATCH):
            tally["due"] += 1
            ticket = self.desk.tickets.get(entry.ticket_id)
            rule = config.stale_rules.get(entry.status)
            if ticket is None or rule is None or not _same_stay(ticket, entry):
                self.agenda.advance(entry, entry.step, None, None)  # it moved on, or the rule is gone
                tally["dropped"] += 1
                continue
            step = entry.step + 1
            if step <= rule.times:
                self._remind(config, ticket, rule, entry, step)
                tally["reminders"] += 1
            elif rule.then is not None:
                if not self._move(config, ticket, rule.then):
                    tally["deferred"] += 1
                    continue  # the ticket changed meanwhile: look again next run
                tally["moved"] += 1
            calendar = config.sla.calendar
            self.agenda.advance(entry, step, rules.next_step_due(calendar, rule, step, now), None)
        return tally

    def _remind(self, config: DeskConfig, ticket: Ticket, rule: StaleRule, entry: AgendaEntry, step: int) -> None:
        now = self.desk.clock.now()
        due = entry.due_at or now
        since = stamp(entry.since)
        final_at = rules.next_step_due(config.sla.calendar, rule, step, now) if step == rule.times else None
        to_requester = rule.remind == TO_REQUESTER
        data: dict[str, Any] = {
            "status": ticket.status,
            "since": since,
            "number": step,
            "times": rule.times,
            "then": rule.then,
            "final_at": stamp(final_at) if final_at and rule.then else None,
            "waiting": rule.after.describe() if step == 1 else _waited(ticket, now),
        }
        audience = TO_REQUESTER if to_requester else (TO_ASSIGNEE if rule.remind == TO_ASSIGNEE else TO_TEAM)
        notice = Notice(
            ticket.id, f"stale#{since}#{step}", "reminder" if to_requester else "team_reminder", audience, due, data
        )
        event = job_event(
            ticket.id,
            REMINDER_SENT,
            due,
            f"stale_{since}_{step}",
            STALE_ACTOR.label,
            {"status": ticket.status, "number": step, "times": rule.times, "to": rule.remind, "sent_at": stamp(now)},
        )
        self.notifier.notify(config, ticket, [notice])
        self.desk.events.add([event])

    def _move(self, config: DeskConfig, ticket: Ticket, to: str) -> bool:
        now = self.desk.clock.now()
        try:
            moved = ticket_rules.automatic_transition(config, ticket, to, STALE_ACTOR, now)
            self.desk.tickets.save(moved, ticket.version)
        except StaleVersionError:
            return False
        except TransitionNotAllowedError:
            logger.warning("stale rule cannot move ticket %s from %s to %s", ticket.id, ticket.status, to)
        return True

    # SLA alerts -----------------------------------------------------------------------------------

    def sla_sweep(self) -> dict[str, Any]:
        """Every due tracker's alerts, mailed together: a recipient with alerts on several tickets gets one digest.

        The order of writes keeps each alert once and never loses one: every mail is recorded in the outbox
        first, then every ticket's history events, then every tracker's `notified`; the mails are sent last.
        A sweep that dies before all of that is written finds the same alerts again and makes the same keys
        (a single alert's is its cause, a digest's what it found), and an alert whose history event was written
        is not mailed again (see `Notifier.sla_letters`).
        """
        now = self.desk.clock.now()
        config = self.desk.config()
        tally = {"due": 0, "at_risk": 0, "breached": 0}
        found: list[_Found] = []
        to_mail: list[tuple[Ticket, Notice]] = []
        told: set[tuple[str, str]] = set()
        for due in self.desk.events.due_trackers(now, BATCH):
            tally["due"] += 1
            tracker = due.tracker
            ticket = self.desk.tickets.get(tracker.ticket_id)
            alerts, notified, next_due = rules.sla_alerts(tracker, now, due.notified)
            events: list[HistoryEvent] = []
            if ticket is not None:
                notices: list[Notice] = []
                for alert in alerts:
                    if not _still_running(ticket, alert.timer):
                        continue  # the pipeline has not caught up with a reply or a close yet
                    cause = f"sla_{alert.timer}_{alert.level}"
                    data = {"timer": alert.timer, "level": alert.level, "due": stamp(_due_of(tracker, alert))}
                    notices.append(
                        Notice(ticket.id, f"sla#{alert.timer}#{alert.level}", "sla", TO_ASSIGNEE, alert.moment, data)
                    )
                    kind = SLA_BREACHED if alert.level == rules.BREACHED else SLA_AT_RISK
                    events.append(job_event(ticket.id, kind, alert.moment, cause, SLA_ACTOR, dict(data)))
                # Only read when there is something to say: an alert whose event is written was mailed before.
                written = {e.key for e in self.desk.events.all_events(ticket.id)} if events else set()
                for notice, event in zip(notices, events, strict=True):
                    to_mail.append((ticket, notice))
                    if event.key in written:
                        told.add((ticket.id, notice.key))
                    else:
                        tally[str(notice.data["level"])] += 1
            breached = any(alert.level == rules.BREACHED for alert in alerts)
            found.append(_Found(tracker, events, notified, next_due, breached))
        letters = self.notifier.sla_letters(config, to_mail, frozenset(told))
        outgoing, _ = self.postman.record(letters, config)
        events = [event for item in found for event in item.events]
        if events:
            self.desk.events.add(events)
        for item in found:
            current = item.tracker
            if self.refresh is not None and item.breached:
                # The breach counts in the reports from its moment; the refreshed tracker has one more event.
                current = self.refresh(item.tracker.ticket_id, config) or item.tracker
            self.desk.events.note_alerts(current, item.notified, item.next_due)
        digests = sum(1 for letter in letters if letter.kind == "sla_digest")
        if digests:
            tally["digests"] = digests
        self.postman.deliver_all(outgoing, {})
        return tally

    # surveys --------------------------------------------------------------------------------------

    def survey_sender(self) -> dict[str, Any]:
        now = self.desk.clock.now()
        config = self.desk.config()
        settings = config.survey
        tally = {"due": 0, "sent": 0, "skipped": 0}
        for entry in self.agenda.due(SURVEY, now, BATCH):
            tally["due"] += 1
            ticket = self.desk.tickets.get(entry.ticket_id)
            quiet = timedelta(days=settings.quiet_days)
            if (
                ticket is None
                or not settings.enabled
                or entry.status not in settings.statuses
                or not _same_stay(ticket, entry)
                or (entry.last_sent_at is not None and now - entry.last_sent_at < quiet)
                or self.optouts.opted_out(ticket.requester_email)
            ):
                self.agenda.advance(entry, entry.step, None, None)
                tally["skipped"] += 1
                continue
            since = stamp(entry.since)
            at = entry.due_at or now
            notice = Notice(ticket.id, f"survey#{since}", "survey", TO_REQUESTER, at, {})
            event = job_event(
                ticket.id,
                SURVEY_SENT,
                at,
                f"survey_{since}",
                SURVEY_ACTOR,
                {"status": ticket.status, "to": "requester"},
            )
            self.notifier.notify(config, ticket, [notice])
            self.desk.events.add([event])
            if self.refresh is not None:
                self.refresh(ticket.id, config)  # a survey sent counts toward the response rate
            self.agenda.advance(entry, 1, None, now)
            tally["sent"] += 1
        return tally

    # outbox -----------------------------------------------------------------------------------------

    def outbox_retry(self) -> dict[str, Any]:
        tally: dict[str, Any] = self.postman.retry_due()
        if self.webhook_retries is not None:
            webhooks = self.webhook_retries()
            if webhooks["due"]:
                tally["webhooks"] = webhooks
        return tally


@dataclass(frozen=True)
class _Found:
    """What the SLA sweep found for one due tracker, to write once the mails are recorded."""

    tracker: Tracker
    events: list[HistoryEvent]
    notified: frozenset[str]
    next_due: datetime | None
    breached: bool


def _same_stay(ticket: Ticket, entry: AgendaEntry) -> bool:
    return ticket.status == entry.status and ticket.status_since == entry.since


def _still_running(ticket: Ticket, timer: str) -> bool:
    if timer == "first_response":
        return ticket.first_response_at is None and ticket.is_open
    return ticket.is_open


def _due_of(tracker: Tracker, alert: SlaAlert) -> datetime:
    """When the timer is (or was) due: the moment its used time reaches the target."""
    due = next((t.breached_at for t in tracker.timers if t.kind == alert.timer), None)
    return due or alert.moment


def _waited(ticket: Ticket, now: datetime) -> str:
    days = (now - ticket.status_since).days
    return f"{days} day{'' if days == 1 else 's'}"
