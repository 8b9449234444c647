"""The tickets a what-if replays: those created in a period, from the tickets' `by_state` index.

The index sorts each open/done partition by `queue_sort = "<rank, 2 digits>#<created_at>#<id>"`, so the tickets of
one rank created in a period are one key range: a Query per (state, rank) that reads only them.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.dynamo import HIGH
from chalicelib.adapters.records import TicketRecord
from chalicelib.domain.tickets import stamp
from chalicelib.services.what_if import PeriodTicket

SHOWN = ["pk", "ref", "subject", "created_at", "queue_sort"]
PAGE = 200  # items per Query request: a few round trips for a busy period


class DynamoCreatedTickets:
    def created_between(self, state: str, rank: int, first: datetime, last: datetime, limit: int) -> list[PeriodTicket]:
        low, high = f"{rank:02d}#{stamp(first)}", f"{rank:02d}#{stamp(last)}{HIGH}"
        results = TicketRecord.by_state.query(
            state,
            TicketRecord.queue_sort.between(low, high),
            limit=limit,
            page_size=min(limit, PAGE),
            attributes_to_get=SHOWN,
        )
        return [PeriodTicket(r.pk, r.ref, r.subject, r.created_at) for r in results]
