"""DynamoDB agenda: per ticket, the next stale reminder and the survey, in the due index while a step is due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.records import AgendaRecord, is_condition_failure
from chalicelib.domain.tickets import stamp
from chalicelib.services.ports import AgendaEntry

AGENDA_PREFIX = "agenda#"


def _entry(record: AgendaRecord) -> AgendaEntry:
    return AgendaEntry(
        ticket_id=record.pk,
        job=str(record.sk)[len(AGENDA_PREFIX) :],
        status=record.status,
        since=datetime.fromisoformat(record.since),
        step=int(record.step),
        due_at=record.due_at,
        last_sent_at=record.last_sent_at,
        version=int(record.version or 0),
    )


def _due_actions(job: str, due_at: datetime | None) -> list[Any]:
    if due_at is None:
        return [AgendaRecord.due_at.remove(), AgendaRecord.due_shard.remove(), AgendaRecord.next_due_at.remove()]
    return [
        AgendaRecord.due_at.set(due_at),
        AgendaRecord.due_shard.set(job),
        AgendaRecord.next_due_at.set(stamp(due_at)),
    ]


class DynamoAgendaStore:
    def plan(self, entry: AgendaEntry) -> bool:
        """An update, so what an earlier stay left (the survey's last_sent_at) stays. Stays are ordered by the
        ticket version that began them, which every write bumps: two moves in one instant, or a clock running a
        little behind on another Lambda, still leave the entry on the stay the ticket is in."""
        since = stamp(entry.since)
        actions = [
            AgendaRecord.status.set(entry.status),
            AgendaRecord.since.set(since),
            AgendaRecord.step.set(entry.step),
            AgendaRecord.version.set(entry.version),
            *_due_actions(entry.job, entry.due_at),
        ]
        try:
            AgendaRecord(pk=entry.ticket_id, sk=AGENDA_PREFIX + entry.job).update(
                actions=actions, condition=AgendaRecord.pk.does_not_exist() | (AgendaRecord.version < entry.version)
            )
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def due(self, job: str, now: datetime, limit: int) -> list[AgendaEntry]:
        results = AgendaRecord.by_due.query(job, AgendaRecord.next_due_at <= stamp(now), limit=limit, page_size=limit)
        return [_entry(r) for r in results]

    def advance(self, entry: AgendaEntry, step: int, due_at: datetime | None, last_sent_at: datetime | None) -> bool:
        actions = [AgendaRecord.step.set(step), *_due_actions(entry.job, due_at)]
        if last_sent_at is not None:
            actions.append(AgendaRecord.last_sent_at.set(last_sent_at))
        try:
            AgendaRecord(pk=entry.ticket_id, sk=AGENDA_PREFIX + entry.job).update(
                actions=actions,
                condition=(AgendaRecord.since == stamp(entry.since)) & (AgendaRecord.step == entry.step),
            )
        except UpdateError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
