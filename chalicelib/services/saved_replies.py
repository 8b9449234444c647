"""Saved replies: admins write and change them, agents list, search and fill them in."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.domain import saved_replies as rules
from chalicelib.domain.agents import Agent
from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import MalformedRequestError, NotFoundError, StaleVersionError, ValidationError
from chalicelib.domain.saved_replies import SavedReply
from chalicelib.services.desk import agent_actor, is_plausible_id
from chalicelib.services.ports import Clock, IdSource

logger = logging.getLogger("helpdesk")


class SavedReplyStore(Protocol):
    def list_all(self) -> builtins.list[SavedReply]: ...

    def get(self, reply_id: str) -> SavedReply | None: ...

    def put_new(self, reply: SavedReply) -> None:
        """Write a reply whose id is not taken yet."""

    def replace(self, reply: SavedReply, expected_version: int) -> None:
        """Write a changed reply if the stored one is still at `expected_version` (else StaleVersionError)."""

    def delete(self, reply_id: str) -> bool:
        """Remove it; False if there was none."""


class SavedReplies:
    def __init__(self, store: SavedReplyStore, config: Callable[[], DeskConfig], clock: Clock, ids: IdSource) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.ids = ids

    def list(self, query: str | None = None) -> builtins.list[SavedReply]:
        """Every reply, by title; with a query, those whose title or body contains it (whatever the case).

        Reads the whole partition and filters here: a desk has tens or hundreds of replies, not millions."""
        wanted = rules.check_query(query)
        return rules.by_title([r for r in self.store.list_all() if rules.matches(r, wanted)])

    def get(self, reply_id: str) -> SavedReply:
        found = self.store.get(reply_id) if is_plausible_id(reply_id) else None
        if found is None:
            raise NotFoundError(f"no saved reply {reply_id[:64]!r}")
        return found

    def create(self, raw: Any, admin: Agent) -> SavedReply:
        content = rules.check_reply(_object(raw), self.config())
        reply = rules.new_reply(self.ids.new_id(), content, agent_actor(admin).label, self.clock.now())
        self.store.put_new(reply)
        return reply

    def update(self, reply_id: str, raw: Any, admin: Agent) -> SavedReply:
        """Replace the reply's content, if it is still the version the admin read (409 otherwise, nothing applied).

        What a read answered may be sent back as it is: its read-only fields are passed over."""
        body = _object(raw)
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValidationError(
                "the version the change is based on is required", {"version": "must be the version you read"}
            )
        current = self.get(reply_id)
        if current.version != version:
            raise StaleVersionError(
                "the saved reply changed since you read it; reload it and try again", current_version=current.version
            )
        content = rules.check_reply(body, self.config(), ignored=rules.READ_ONLY_FIELDS)
        revised = rules.revise(current, content, agent_actor(admin).label, self.clock.now())
        if revised is not current:
            self.store.replace(revised, expected_version=version)
        return revised

    def delete(self, reply_id: str, admin: Agent) -> SavedReply:
        """Remove the reply; what it was is answered, so a mistake can be put back."""
        reply = self.get(reply_id)
        if not self.store.delete(reply.id):
            raise NotFoundError(f"no saved reply {reply_id!r}")
        logger.info("saved reply %s (%s) deleted by %s", reply.id, reply.title, agent_actor(admin).label)
        return reply

    @staticmethod
    def fill(reply: SavedReply, values: dict[str, str]) -> str:
        """The reply's body with the ticket's details in place of its placeholders (see rules.values_for)."""
        return rules.fill(reply, values)


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MalformedRequestError("the body must be a JSON object")
    return raw
