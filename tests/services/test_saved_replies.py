"""Saved replies as the service keeps them: made by admins, versioned, searched, filled in; no infrastructure."""

from __future__ import annotations

import pytest

from chalicelib.domain.agents import Agent
from chalicelib.domain.config import shipped_document
from chalicelib.domain.errors import MalformedRequestError, NotFoundError, StaleVersionError, ValidationError
from chalicelib.domain.saved_replies import SavedReply
from chalicelib.services.desk import Desk
from chalicelib.services.saved_replies import SavedReplies
from tests.clocks import ManualClock

from .fake_saved_replies import FakeSavedReplyStore
from .fakes import SequentialIds


@pytest.fixture
def replies_store() -> FakeSavedReplyStore:
    return FakeSavedReplyStore()


@pytest.fixture
def replies(replies_store: FakeSavedReplyStore, desk: Desk, clock: ManualClock) -> SavedReplies:
    return SavedReplies(replies_store, desk.config, clock, SequentialIds())


@pytest.fixture
def admin(desk: Desk) -> Agent:
    return desk.create_agent({"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"})[0]


def _make(replies: SavedReplies, admin: Agent, title: str = "Printer fixed", body: str = "It works.") -> SavedReply:
    return replies.create({"title": title, "body": body}, admin)


def test_an_admin_makes_a_reply_at_version_1_signed_with_their_label(
    replies: SavedReplies, admin: Agent, clock: ManualClock
) -> None:
    reply = replies.create({"title": "Printer fixed", "body": "Hi {{requester_name}}, it works."}, admin)

    assert (reply.id, reply.version, reply.public) == ("id000001", 1, True)
    assert (reply.updated_at, reply.updated_by) == (clock.now(), f"agent:{admin.id}")
    assert replies.get(reply.id) == reply


def test_a_reply_that_does_not_check_out_is_not_stored(
    replies: SavedReplies, replies_store: FakeSavedReplyStore, admin: Agent
) -> None:
    with pytest.raises(ValidationError) as caught:
        replies.create({"title": "Oops", "body": "Dear {{requestor}}"}, admin)

    assert set(caught.value.errors) == {"body"}
    assert replies_store.items == {}


@pytest.mark.parametrize("raw", [None, [], "text", 3])
def test_a_body_that_is_not_an_object_is_malformed(replies: SavedReplies, admin: Agent, raw: object) -> None:
    with pytest.raises(MalformedRequestError):
        replies.create(raw, admin)


def test_a_macros_status_and_priority_follow_the_current_configuration(
    replies: SavedReplies, desk: Desk, admin: Agent
) -> None:
    macro = replies.create(
        {"title": "Low and resolved", "body": "Done.", "status": "resolved", "priority": "low"}, admin
    )
    assert (macro.status, macro.priority) == ("resolved", "low")

    desk.seed_config(shipped_document("urgent_normal"))

    with pytest.raises(ValidationError) as caught:
        replies.create({"title": "Low", "body": "Done.", "priority": "low"}, admin)
    assert set(caught.value.errors) == {"priority"}
    assert replies.create({"title": "Normal", "body": "Done.", "priority": "normal"}, admin).priority == "normal"


def test_the_list_is_ordered_by_title(replies: SavedReplies, admin: Agent) -> None:
    for title in ["Welcome", "about billing", "Apology"]:
        _make(replies, admin, title)

    assert [r.title for r in replies.list()] == ["about billing", "Apology", "Welcome"]


def test_a_search_finds_the_query_in_a_title_or_a_body_whatever_the_case(replies: SavedReplies, admin: Agent) -> None:
    _make(replies, admin, "Printer fixed", "The toner was empty.")
    _make(replies, admin, "Password reset", "Use the link to choose a new PASSWORD.")
    _make(replies, admin, "Welcome", "Thanks for writing.")

    assert [r.title for r in replies.list("PRINTER")] == ["Printer fixed"]
    assert [r.title for r in replies.list("password")] == ["Password reset"]
    assert [r.title for r in replies.list("e")] == ["Password reset", "Printer fixed", "Welcome"]
    assert replies.list("scanner") == []
    assert len(replies.list("  ")) == 3


@pytest.mark.parametrize("reply_id", ["nope", "", "x" * 3000, "bad\x00id"])
def test_an_unknown_or_implausible_id_is_not_found(replies: SavedReplies, reply_id: str) -> None:
    with pytest.raises(NotFoundError):
        replies.get(reply_id)


def test_an_update_based_on_the_version_read_is_applied_as_the_next_version(
    replies: SavedReplies, admin: Agent, desk: Desk, clock: ManualClock
) -> None:
    reply = _make(replies, admin)
    other = desk.create_agent({"name": "Terry Jeffords", "email": "terry@desk.example.org", "role": "admin"})[0]
    clock.advance(hours=1)

    changed = replies.update(
        reply.id, {"title": "Printer fixed", "body": "Toner replaced.", "status": "resolved", "version": 1}, other
    )

    assert (changed.version, changed.body, changed.status) == (2, "Toner replaced.", "resolved")
    assert (changed.updated_at, changed.updated_by) == (clock.now(), f"agent:{other.id}")
    assert replies.get(reply.id) == changed


def test_an_update_replaces_the_whole_reply(replies: SavedReplies, admin: Agent) -> None:
    macro = replies.create({"title": "Close", "body": "Done.", "status": "resolved", "public": False}, admin)

    changed = replies.update(macro.id, {"title": "Close", "body": "Done.", "version": 1}, admin)

    assert (changed.status, changed.public, changed.is_macro) == (None, True, False)


def test_an_update_based_on_a_stale_version_is_refused_and_nothing_changes(
    replies: SavedReplies, replies_store: FakeSavedReplyStore, admin: Agent
) -> None:
    reply = _make(replies, admin)
    replies.update(reply.id, {"title": "First", "body": "One", "version": 1}, admin)

    with pytest.raises(StaleVersionError) as caught:
        replies.update(reply.id, {"title": "Second", "body": "Two", "version": 1}, admin)

    assert caught.value.details == {"current_version": 2}
    assert (replies.get(reply.id).title, replies.get(reply.id).version) == ("First", 2)


def test_an_update_losing_a_race_after_its_read_is_refused_by_the_store(
    replies_store: FakeSavedReplyStore, desk: Desk, clock: ManualClock, admin: Agent
) -> None:
    class RacingStore(FakeSavedReplyStore):
        """Another admin's change lands between this update's read and its write."""

        def get(self, reply_id: str) -> SavedReply | None:
            read = super().get(reply_id)
            if read is not None and read.version == 1:
                from dataclasses import replace

                self.items[reply_id] = replace(read, title="Theirs", version=2)
            return read

    store = RacingStore()
    racing = SavedReplies(store, desk.config, clock, SequentialIds())
    reply = racing.create({"title": "Mine", "body": "Body"}, admin)

    with pytest.raises(StaleVersionError):
        racing.update(reply.id, {"title": "Also mine", "body": "Body", "version": 1}, admin)

    assert store.items[reply.id].title == "Theirs"


@pytest.mark.parametrize("version", [None, "1", 1.0, True])
def test_an_update_must_say_which_version_it_is_based_on(replies: SavedReplies, admin: Agent, version: object) -> None:
    reply = _make(replies, admin)
    raw = {"title": "x", "body": "y"} if version is None else {"title": "x", "body": "y", "version": version}

    with pytest.raises(ValidationError) as caught:
        replies.update(reply.id, raw, admin)

    assert set(caught.value.errors) == {"version"}


def test_what_a_read_answered_can_be_sent_back_as_it_is(
    replies: SavedReplies, replies_store: FakeSavedReplyStore, admin: Agent
) -> None:
    reply = _make(replies, admin)
    writes = replies_store.writes
    sent = {
        "id": reply.id,
        "title": reply.title,
        "body": reply.body,
        "status": None,
        "priority": None,
        "public": True,
        "version": 1,
        "updated_at": "2026-11-23T09:00:00.000000Z",
        "updated_by": reply.updated_by,
    }

    assert replies.update(reply.id, sent, admin) == reply  # the same content is no change: still version 1
    assert replies_store.writes == writes


def test_updating_an_unknown_reply_is_not_found(replies: SavedReplies, admin: Agent) -> None:
    with pytest.raises(NotFoundError):
        replies.update("nope", {"title": "x", "body": "y", "version": 1}, admin)


def test_deleting_answers_the_reply_and_it_is_gone(replies: SavedReplies, admin: Agent) -> None:
    reply = _make(replies, admin)

    assert replies.delete(reply.id, admin) == reply
    assert replies.list() == []
    with pytest.raises(NotFoundError):
        replies.delete(reply.id, admin)


def test_fill_puts_a_tickets_details_in_the_reply(replies: SavedReplies, admin: Agent) -> None:
    reply = _make(replies, admin, body="Hi {{ requester_name }}, {{ticket_ref}} is fixed. {{agent_name}}")

    assert replies.fill(reply, {"requester_name": "Rosa", "ticket_ref": "HD-1001", "agent_name": "Ray"}) == (
        "Hi Rosa, HD-1001 is fixed. Ray"
    )
