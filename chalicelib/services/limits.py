"""Abuse limits on what anyone can post without signing in, counted in fixed hourly windows.

Each count is one conditional atomic update of a counter item on the desk table (`DeskStore.count_new_ticket`, the
counter the per-address ticket limit always used): no read before the write, so concurrent posts cannot both slip
under a limit, and the item's TTL clears old windows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.addresses import normalised_address
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import RateLimitedError

WINDOW = timedelta(hours=1)
KEEP = timedelta(hours=2)  # the counter item's TTL: past its window, plus DynamoDB's slack
_FROM_IP = "This network address has sent {} posts this hour, the most the desk takes"


class Counters(Protocol):
    def count_new_ticket(self, requester_email: str, hour: str, limit: int, expires_at: datetime) -> bool:
        """Add one to the counter `requester_email` (any key) for `hour`; False, adding nothing, at `limit`."""


def window(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H")


def seconds_left(now: datetime) -> int:
    """Seconds until the current window ends and its counts no longer hold anyone back."""
    return 3600 - now.minute * 60 - now.second


class Limits:
    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    def _count(self, key: str, limit: int, now: datetime, message: str) -> None:
        if not self.counters.count_new_ticket(key, window(now), limit, now + KEEP):
            seconds = seconds_left(now)
            minutes = -(-seconds // 60)
            when = f"you can send again in {minutes} minute{'' if minutes == 1 else 's'}"
            raise RateLimitedError(f"{message}; {when}", retry_after_seconds=seconds)

    def admit_ticket(self, config: DeskConfig, source_ip: str | None, email: str, now: datetime) -> None:
        """Count a new ticket against its source IP and its requester's address (however it is spelled)."""
        settings = config.desk
        if source_ip:
            self._count(
                f"ip#{source_ip}",
                settings.posts_per_ip_per_hour,
                now,
                _FROM_IP.format(settings.posts_per_ip_per_hour),
            )
        self._count(
            f"addr#{normalised_address(email)}",
            settings.new_tickets_per_hour,
            now,
            f"This email address has opened {settings.new_tickets_per_hour} tickets this hour, the most the desk takes",
        )

    def admit_comment(self, config: DeskConfig, source_ip: str | None, email: str, now: datetime) -> None:
        """Count a requester's portal comment against its source IP and the ticket's requester address."""
        settings = config.desk
        if source_ip:
            self._count(
                f"ip#{source_ip}",
                settings.posts_per_ip_per_hour,
                now,
                _FROM_IP.format(settings.posts_per_ip_per_hour),
            )
        self._count(
            f"comments#{normalised_address(email)}",
            settings.portal_comments_per_hour,
            now,
            f"This request has had {settings.portal_comments_per_hour} comments this hour, the most the desk takes",
        )

    def admit_acknowledgement(self, config: DeskConfig, now: datetime) -> bool:
        """Whether the desk may still send an acknowledgement this hour (counting it if so)."""
        limit = config.desk.acknowledgements_per_hour
        return self.counters.count_new_ticket("desk#acknowledgements", window(now), limit, now + KEEP)
