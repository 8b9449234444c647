"""The console's items in the desk table: sessions, one-time sign-in links, presence and the queue's change mark."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError

from chalicelib.adapters.records import (
    ChangeMarkRecord,
    PresenceRecord,
    SessionRecord,
    SignInRecord,
    is_condition_failure,
)
from chalicelib.services.sessions import Presence, Session

SESSION_SK = "session"
SIGN_IN_SK = "signin"
PRESENCE_PK = "presence"
PRESENCE_KEPT = timedelta(hours=1)  # DynamoDB's TTL tidies old heartbeats; readers go by `at`, never by TTL


class DynamoSessionStore:
    def create_session(self, session: Session) -> None:
        SessionRecord(
            pk=f"session#{session.id_hash}",
            sk=SESSION_SK,
            agent_id=session.agent_id,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=session.expires_at,
        ).save(condition=SessionRecord.pk.does_not_exist())

    def get_session(self, id_hash: str) -> Session | None:
        try:
            record = SessionRecord.get(f"session#{id_hash}", SESSION_SK, consistent_read=True)
        except DoesNotExist:
            return None
        return Session(
            id_hash=id_hash,
            agent_id=record.agent_id,
            created_at=record.created_at,
            last_seen_at=record.last_seen_at,
            expires_at=record.expires_at,
        )

    def touch_session(self, id_hash: str, now: datetime) -> None:
        """Renew the idle timer; a session signed out meanwhile stays signed out (no item is recreated)."""
        record = SessionRecord(pk=f"session#{id_hash}", sk=SESSION_SK)
        try:
            record.update(actions=[SessionRecord.last_seen_at.set(now)], condition=SessionRecord.pk.exists())
        except UpdateError as error:
            if not is_condition_failure(error):
                raise

    def end_session(self, id_hash: str) -> None:
        SessionRecord(pk=f"session#{id_hash}", sk=SESSION_SK).delete()

    def create_sign_in(self, token_hash: str, agent_id: str, now: datetime, expires_at: datetime) -> None:
        SignInRecord(
            pk=f"signin#{token_hash}", sk=SIGN_IN_SK, agent_id=agent_id, created_at=now, expires_at=expires_at
        ).save(condition=SignInRecord.pk.does_not_exist())

    def peek_sign_in(self, token_hash: str, now: datetime) -> str | None:
        try:
            record = SignInRecord.get(f"signin#{token_hash}", SIGN_IN_SK, consistent_read=True)
        except DoesNotExist:
            return None
        return record.agent_id if record.expires_at > now else None

    def take_sign_in(self, token_hash: str, now: datetime) -> str | None:
        """The link's agent, deleting the link in a conditional write: of two clicks, exactly one signs in."""
        agent_id = self.peek_sign_in(token_hash, now)
        if agent_id is None:
            return None
        record = SignInRecord(pk=f"signin#{token_hash}", sk=SIGN_IN_SK)
        try:
            record.delete(condition=SignInRecord.pk.exists() & (SignInRecord.agent_id == agent_id))
        except DeleteError as error:
            if is_condition_failure(error):
                return None
            raise
        return agent_id


class DynamoPresenceStore:
    """One item per agent (the latest heartbeat), so reading everyone's is one Query as small as the team."""

    def beat(self, agent_id: str, ticket_id: str, typing: bool, now: datetime) -> None:
        PresenceRecord(
            pk=PRESENCE_PK, sk=agent_id, ticket_id=ticket_id, typing=typing, at=now, expires_at=now + PRESENCE_KEPT
        ).save()

    def leave(self, agent_id: str, ticket_id: str) -> None:
        with contextlib.suppress(DeleteError):
            PresenceRecord(pk=PRESENCE_PK, sk=agent_id).delete(condition=PresenceRecord.ticket_id == ticket_id)

    def everyone(self, since: datetime) -> list[Presence]:
        records = PresenceRecord.query(PRESENCE_PK, filter_condition=PresenceRecord.at >= since)
        return [Presence(agent_id=r.sk, ticket_id=r.ticket_id, typing=bool(r.typing), at=r.at) for r in records]


class DynamoChangeMarks:
    def bump(self, now: datetime) -> None:
        ChangeMarkRecord(pk="changes", sk="tickets").update(
            actions=[ChangeMarkRecord.seq.add(1), ChangeMarkRecord.at.set(now)]
        )

    def current(self) -> int:
        try:
            return int(ChangeMarkRecord.get("changes", "tickets").seq or 0)
        except DoesNotExist:
            return 0
