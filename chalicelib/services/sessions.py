"""Signing in to the console: one-time mailed links or a pasted token; sessions with idle and absolute expiry."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.agents import Agent
from chalicelib.domain.errors import AuthenticationError, ForbiddenError
from chalicelib.domain.tickets import normalise_email, valid_email
from chalicelib.domain.tokens import sign_link, verify_link
from chalicelib.services.ports import Clock, DeskStore

logger = logging.getLogger("helpdesk.console")
SESSION = "session"
CSRF = "csrf"
LINK_MINUTES = 15
SIGN_IN_MAILS_PER_HOUR = 5
RENEW_AFTER = timedelta(
    seconds=60
)  # the idle timer is renewed at most once a minute: a write per minute, not per click


@dataclass(frozen=True)
class Session:
    id_hash: str  # the session id is only in the cookie; the table keeps its hash
    agent_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute end


@dataclass(frozen=True)
class SignedIn:
    agent: Agent
    session: Session
    cookie: str  # what the browser keeps (signed), to be sent back as the session cookie
    csrf: str  # the token every unsafe request of this session must carry


@dataclass(frozen=True)
class Presence:
    agent_id: str
    ticket_id: str
    typing: bool
    at: datetime


class SessionStore(Protocol):
    def create_session(self, session: Session) -> None: ...

    def get_session(self, id_hash: str) -> Session | None: ...

    def touch_session(self, id_hash: str, now: datetime) -> None: ...

    def end_session(self, id_hash: str) -> None: ...

    def create_sign_in(self, token_hash: str, agent_id: str, now: datetime, expires_at: datetime) -> None: ...

    def peek_sign_in(self, token_hash: str, now: datetime) -> str | None:
        """The agent a valid, unused link is for, without using it."""

    def take_sign_in(self, token_hash: str, now: datetime) -> str | None:
        """Use the link (once): its agent, or None if it is unknown, used or expired."""


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        desk: DeskStore,
        clock: Clock,
        authenticate: Callable[[str | None], Agent],
        send_link: Callable[[Agent, str, int], None],
        *,
        idle: timedelta = timedelta(minutes=30),
        lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        self.store = store
        self.desk = desk
        self.clock = clock
        self.authenticate = authenticate
        self.send_link = send_link  # (agent, link, minutes): the sign-in mail, through the desk's own outbox
        self.idle = idle
        self.lifetime = lifetime

    # signing in ------------------------------------------------------------------------------

    def request_link(self, raw_email: Any, confirm_url: str) -> None:
        """Mail a one-time link to an active agent with this address. Says nothing either way, so the page
        cannot tell who is an agent; at most a few mails per address per hour, so nobody can flood one."""
        if not isinstance(raw_email, str) or not valid_email(normalise_email(raw_email)):
            return
        email = normalise_email(raw_email)
        agent = next((a for a in self.desk.list_agents() if a.active and a.email == email), None)
        if agent is None:
            logger.info("sign-in link asked for an address that is no agent's")
            return
        now = self.clock.now()
        hour = now.strftime("%Y-%m-%dT%H")
        if not self.desk.count_new_ticket(f"signin#{email}", hour, SIGN_IN_MAILS_PER_HOUR, now + timedelta(hours=2)):
            logger.warning("sign-in mails to agent %s are over the hourly limit", agent.id)
            return
        self.send_link(agent, self.new_link(agent, confirm_url), LINK_MINUTES)

    def new_link(self, agent: Agent, confirm_url: str, minutes: int = LINK_MINUTES) -> str:
        """A one-time sign-in link for `agent` (the local run prints one for its admin when it starts)."""
        now = self.clock.now()
        token = secrets.token_urlsafe(32)
        self.store.create_sign_in(_hash(token), agent.id, now, now + timedelta(minutes=minutes))
        joiner = "&" if "?" in confirm_url else "?"
        return f"{confirm_url}{joiner}token={token}"

    def link_is_usable(self, token: Any) -> bool:
        return (
            isinstance(token, str)
            and 0 < len(token) <= 100
            and self.store.peek_sign_in(_hash(token), self.clock.now()) is not None
        )

    def confirm_link(self, token: Any) -> SignedIn:
        """The button on the page the link opens (mail scanners open links; they do not press buttons)."""
        if not isinstance(token, str) or not 0 < len(token) <= 100:
            raise AuthenticationError("this sign-in link is not valid")
        agent_id = self.store.take_sign_in(_hash(token), self.clock.now())
        agent = self.desk.get_agent(agent_id) if agent_id else None
        if agent is None or not agent.active:
            raise AuthenticationError("this sign-in link was used already or has expired; ask for a new one")
        return self._start(agent)

    def sign_in_with_token(self, token: Any) -> SignedIn:
        return self._start(self.authenticate(token.strip() if isinstance(token, str) else None))

    def _start(self, agent: Agent) -> SignedIn:
        now = self.clock.now()
        session_id = secrets.token_urlsafe(32)
        session = Session(_hash(session_id), agent.id, now, now, now + self.lifetime)
        self.store.create_session(session)
        return self._signed_in(agent, session, session_id)

    def _signed_in(self, agent: Agent, session: Session, session_id: str) -> SignedIn:
        secret = self.desk.signing_secret()
        cookie = sign_link(secret, SESSION, session_id, session.expires_at)
        csrf = sign_link(secret, CSRF, session.id_hash, session.expires_at)
        return SignedIn(agent, session, cookie, csrf)

    # every console request ---------------------------------------------------------------------

    def resume(self, cookie: str | None, *, renew: bool = True) -> SignedIn:
        """The session a cookie names, if it is still alive and its agent still active (a revoked agent is out
        at once, in every browser). Use renews the idle timer; a poll passes `renew=False`."""
        if not cookie:
            raise AuthenticationError("sign in to use the console")
        now = self.clock.now()
        try:
            session_id = verify_link(self.desk.signing_secret(), SESSION, cookie, now)
        except AuthenticationError:
            raise AuthenticationError("your session has ended; sign in again") from None
        session = self.store.get_session(_hash(session_id))
        if session is None or session.expires_at <= now or session.last_seen_at + self.idle <= now:
            raise AuthenticationError("your session has ended; sign in again")
        agent = self.desk.get_agent(session.agent_id)
        if agent is None or not agent.active:
            raise AuthenticationError("your access to the console was withdrawn")
        if renew and now - session.last_seen_at >= RENEW_AFTER:
            self.store.touch_session(session.id_hash, now)
        return self._signed_in(agent, session, session_id)

    def sign_out(self, signed_in: SignedIn) -> None:
        self.store.end_session(signed_in.session.id_hash)

    @staticmethod
    def check_csrf(signed_in: SignedIn, token: Any) -> None:
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), signed_in.csrf.encode()):
            raise ForbiddenError("this form has expired; reload the page and try again")
